// Fully connected layer y = x Wᵀ + b, weight [out, in], PyTorch's default init (uniform ±1/sqrt(in)).

import { rand } from '../tensor/ops/creation.js';
import { linear } from '../tensor/ops/matmul.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { Module } from './module.js';

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; rng?: Rng; dtype?: DType } = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const rng = opts.rng ?? new Rng(0);
    const dtype = opts.dtype ?? 'float32';
    this.weight = this.param('weight', rand([outFeatures, inFeatures], { rng, low: -bound, high: bound, dtype }));
    this.bias = opts.bias === false ? null : this.param('bias', rand([outFeatures], { rng, low: -bound, high: bound, dtype }));
  }

  protected override onReplace(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
    else if (name === 'bias') this.bias = t;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
