// The contract of a layer built from code: a Module with a one-tensor forward.

import type { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

/** A module that maps one tensor to one tensor (what Sequential chains). */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}
