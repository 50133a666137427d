// Dropout layer: zeroes each value with probability p in training and scales the rest by 1/(1-p);
// identity in eval mode.

import { dropout } from '../tensor/ops/dropout.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export class Dropout extends Module {
  /** Stream of the masks (one seed per forward in training). */
  readonly rng: Rng;

  constructor(
    readonly p = 0.5,
    opts: { rng?: Rng } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.rng = opts.rng ?? new Rng(0);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, rng: this.rng });
  }
}
