// A node of the dynamic graph: the op that produced a tensor, its inputs, and its backward rule.

import type { Tensor } from '../tensor/tensor.js';

/**
 * Backward rule: given the gradient of the op's output, the gradients of its inputs (null where an input
 * needs none). `needs[i]` says whether input i needs a gradient, so rules can skip work. Rules are written
 * with ops, so they run on whatever device the tensors live on; they run with gradient recording off.
 */
export type BackwardFn = (gradOut: Tensor, needs: readonly boolean[]) => readonly (Tensor | null)[];

export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly backward: BackwardFn;
}
