// Batch normalisation over the channels of NCHW maps (PyTorch's BatchNorm2d, or Darknet's variant):
// learnable scale (ones) and shift (zeros), running mean (zeros) and variance (ones) updated in training.

import type { DType } from '../tensor/dtype.js';
import { batchnorm2d, type BatchNormVariant } from '../tensor/ops/batchnorm2d.js';
import { ones, zeros } from '../tensor/ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export interface BatchNorm2dLayerOptions {
  /** Running-statistics update weight of each batch (default 0.1; Darknet 0.01). */
  momentum?: number;
  /** Default 1e-5 (PyTorch), Darknet's rule for 'darknet'. */
  eps?: number;
  /** 'pytorch' (default) or 'darknet' (see the batchnorm2d op). */
  variant?: BatchNormVariant;
  /** Learn the scale and shift (default true). */
  affine?: boolean;
  dtype?: DType;
}

/** BatchNorm2d(numFeatures): batch statistics in training mode, running statistics in eval mode. */
export class BatchNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor;
  runningVar: Tensor;

  constructor(
    readonly numFeatures: number,
    readonly opts: BatchNorm2dLayerOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    const dtype = opts.dtype ?? 'float32';
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', ones([numFeatures], { dtype })) : null;
    this.bias = affine ? this.param('bias', zeros([numFeatures], { dtype })) : null;
    this.runningMean = this.buffer('runningMean', zeros([numFeatures], { dtype }));
    this.runningVar = this.buffer('runningVar', ones([numFeatures], { dtype }));
  }

  protected override onReplace(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
    else if (name === 'bias') this.bias = t;
    else if (name === 'runningMean') this.runningMean = t;
    else if (name === 'runningVar') this.runningVar = t;
  }

  /** x [N, numFeatures, H, W] → same shape. */
  forward(x: Tensor): Tensor {
    const r = batchnorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      ...(this.opts.momentum === undefined ? {} : { momentum: this.opts.momentum }),
      ...(this.opts.eps === undefined ? {} : { eps: this.opts.eps }),
      ...(this.opts.variant === undefined ? {} : { variant: this.opts.variant }),
    });
    r.batchMean?.dispose();
    r.batchVar?.dispose();
    return r.y;
  }
}
