// Pooling layers: MaxPool2d, AvgPool2d (PyTorch's options) and GlobalAvgPool2d.

import { avgpool2d, globalAvgPool2d, type AvgPool2dOptions } from '../tensor/ops/avgpool2d.js';
import { maxpool2d, type IntPair, type MaxPool2dOptions } from '../tensor/ops/maxpool2d.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** Max over `kernel` windows (stride default the kernel; padding, dilation, ceilMode as PyTorch's). */
export class MaxPool2d extends Module {
  readonly options: MaxPool2dOptions;

  constructor(kernel: IntPair, opts: Omit<MaxPool2dOptions, 'kernel'> = {}) {
    super();
    this.options = { ...opts, kernel };
  }

  forward(x: Tensor): Tensor {
    return maxpool2d(x, this.options);
  }
}

/** Mean over `kernel` windows (stride default the kernel; padding, ceilMode, countIncludePad as PyTorch's). */
export class AvgPool2d extends Module {
  readonly options: AvgPool2dOptions;

  constructor(kernel: IntPair, opts: Omit<AvgPool2dOptions, 'kernel'> = {}) {
    super();
    this.options = { ...opts, kernel };
  }

  forward(x: Tensor): Tensor {
    return avgpool2d(x, this.options);
  }
}

/** Mean of each whole map: [N, C, H, W] → [N, C, 1, 1] (Darknet's [avgpool]). */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }
}
