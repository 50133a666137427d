// Sequential: layers applied in order, registered as children "0", "1", ... (so parameters are named
// "0.weight", "1.bias", ... as in PyTorch), and Flatten, the usual bridge from maps to a Linear head.

import { flatten } from '../tensor/ops/views.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Layer } from './layer.js';
import { Module } from './module.js';

export class Sequential extends Module {
  readonly layers: readonly Layer[];

  constructor(...layers: Layer[]) {
    super();
    layers.forEach((l, i) => this.child(String(i), l));
    this.layers = layers;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}

/** Flattens dims startDim..endDim into one (default: everything after the batch dim). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}
