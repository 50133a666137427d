// 2-D convolution layer y = conv2d(x, W) + b, weight [out, in/groups, kh, kw], PyTorch's default init
// (uniform ±1/sqrt(fan_in) for weight and bias, fan_in = in/groups · kh · kw).

import type { DType } from '../tensor/dtype.js';
import { conv2d, type Conv2dOptions } from '../tensor/ops/conv2d.js';
import { rand } from '../tensor/ops/creation.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export interface Conv2dLayerOptions extends Conv2dOptions {
  /** Learn a bias (default true). */
  bias?: boolean;
  /** Stream of the initial values (default a fresh Rng(0)). */
  rng?: Rng;
  dtype?: DType;
}

/** A convolution of `inChannels` → `outChannels` maps with a `kernel` (number or [kh, kw]) window. */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly options: Conv2dOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number | readonly [number, number],
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
    const groups = opts.groups ?? 1;
    for (const [name, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['kernel', kh], ['kernel', kw], ['groups', groups]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Conv2d: ${name} must be a positive integer, got ${v}`);
    }
    if (inChannels % groups !== 0 || outChannels % groups !== 0) throw new Error(`Conv2d: groups=${groups} must divide inChannels=${inChannels} and outChannels=${outChannels}`);
    const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    const rng = opts.rng ?? new Rng(0);
    const dtype = opts.dtype ?? 'float32';
    this.weight = this.param('weight', rand([outChannels, inChannels / groups, kh, kw], { rng, low: -bound, high: bound, dtype }));
    this.bias = opts.bias === false ? null : this.param('bias', rand([outChannels], { rng, low: -bound, high: bound, dtype }));
    const { bias: _b, rng: _r, dtype: _d, ...conv } = opts;
    this.options = conv;
  }

  protected override onReplace(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
    else if (name === 'bias') this.bias = t;
  }

  /** x [N, inChannels, H, W] → [N, outChannels, OH, OW]. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}
