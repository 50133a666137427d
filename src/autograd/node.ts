// A node of the dynamic graph: the op that produced a tensor, its inputs, and its backward rule.

import type { Tensor } from '../tensor/tensor.js';

/**
 * Backward rule: given the gradient of the op's output, the gradients of its inputs (null where an input
 * needs none). `needs[i]` says whether input i needs a gradient, so rules can skip work. Rules are written
 * with ops, so they run on whatever device the tensors live on. They run with gradient recording off,
 * except under `createGraph`, where the ops they call are recorded too (that is what makes a gradient
 * differentiable): a rule must therefore compute with recorded ops wherever its result depends on
 * `gradOut` or on an input, and may use unrecorded kernels only for quantities whose derivative is zero
 * (masks, signs, indices).
 */
export type BackwardFn = (gradOut: Tensor, needs: readonly boolean[]) => readonly (Tensor | null)[];

export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /** The rule; replaced by one that throws once a backward pass without retainGraph went through. */
  backward: BackwardFn;
  /** True once a backward pass without retainGraph has run this rule (its saved tensors are let go). */
  released: boolean;
  /** The rule has no derivative of its own (see RecordOptions.onceDifferentiable). */
  readonly onceDifferentiable?: boolean;
}
