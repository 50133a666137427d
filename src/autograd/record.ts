// Attach a backward rule to an op's output when any input needs a gradient.

import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './grad-mode.js';
import type { BackwardFn } from './node.js';

export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

export interface RecordOptions {
  /**
   * The rule is not differentiable itself (PyTorch's once_differentiable: a surrogate gradient, or one
   * computed with kernels only): under createGraph its results carry a node that raises a clear error
   * when differentiated, instead of a silently missing second derivative.
   */
  onceDifferentiable?: boolean;
}

/**
 * Record `output = op(inputs)` in the graph if gradients are being recorded and an input requires one.
 * Returns `output`.
 */
export function record(name: string, inputs: readonly Tensor[], output: Tensor, backward: BackwardFn, opts: RecordOptions = {}): Tensor {
  if (!needsGrad(inputs)) return output;
  output.requiresGrad = true;
  output.gradFn = { name, inputs, backward, released: false, ...(opts.onceDifferentiable ? { onceDifferentiable: true } : {}) };
  return output;
}
