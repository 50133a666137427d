// Activation layers (elementwise, no parameters): ReLU, LeakyReLU, Sigmoid, Tanh.

import { leakyRelu, relu, sigmoid, tanh } from '../tensor/ops/unary.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** max(x, 0). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** x for x > 0, slope·x otherwise (default slope 0.01, PyTorch's; Darknet's leaky uses 0.1). */
export class LeakyReLU extends Module {
  constructor(readonly slope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.slope);
  }
}

/** 1 / (1 + e^-x). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** tanh(x). */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
