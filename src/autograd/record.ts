// Attach a backward rule to an op's output when any input needs a gradient.

import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './grad-mode.js';
import type { BackwardFn } from './node.js';

export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Record `output = op(inputs)` in the graph if gradients are being recorded and an input requires one.
 * Returns `output`.
 */
export function record(name: string, inputs: readonly Tensor[], output: Tensor, backward: BackwardFn): Tensor {
  if (!needsGrad(inputs)) return output;
  output.requiresGrad = true;
  output.gradFn = { name, inputs, backward, released: false };
  return output;
}
