// What both YOLO loss ops share: the checks, the call of the (op, device) kernel that writes delta, cost
// and stats, and the autograd record whose backward sends −delta·g to the layer output.

import { record } from '../../autograd/record.js';
import { getKernel } from '../../tensor/registry.js';
import { shapeStr } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { mul } from '../../tensor/ops/binary.js';
import { contiguous } from '../../tensor/ops/copy.js';
import { neg } from '../../tensor/ops/unary.js';
import { LOSS_STATS } from './stats.js';

/** delta [N, outputs], cost [], stats [LOSS_STATS] from output [N, outputs] and truth; float32, contiguous. */
export type LossKernel<A> = (delta: Tensor, cost: Tensor, stats: Tensor, output: Tensor, truth: Tensor, a: A) => void;

export interface LossResult {
  /** Scalar (shape []): Darknet's cost of the batch. Backward sends −delta·g to `output`. */
  loss: Tensor;
  /** Darknet's l.delta, [N, outputs]. */
  delta: Tensor;
  /** [LOSS_STATS] sums (see stats.ts). */
  stats: Tensor;
}

export interface LossLayout {
  /** Kernel / autograd name, e.g. 'region_loss'. */
  op: string;
  /** For messages, e.g. 'region loss'. */
  what: string;
  /** Output values per image and how they are made up (for messages). */
  outputs: number;
  outputsRule: string;
  /** Truth values per image and their layout (for messages). */
  truths: number;
  truthsRule: string;
}

/** Checks the inputs, runs the loss kernel of `output`'s device and records the backward. */
export function runLoss<A>(output: Tensor, truth: Tensor, layout: LossLayout, a: A): LossResult {
  const { op, what, outputs, truths } = layout;
  output.assertAlive(op);
  truth.assertAlive(op);
  const n = output.shape[0] ?? 0;
  if (output.ndim < 2 || n === 0 || output.size !== n * outputs) {
    throw new Error(`${what}: output ${shapeStr(output.shape)} does not hold N images of ${layout.outputsRule} = ${outputs} values`);
  }
  if (truth.size !== n * truths) throw new Error(`${what}: truth ${shapeStr(truth.shape)} must hold ${n}×${truths} values (${layout.truthsRule})`);
  if (truth.device !== output.device) throw new Error(`${what}: output on '${output.device.name}', truth on '${truth.device.name}'`);
  if (output.dtype !== 'float32' || truth.dtype !== 'float32') throw new Error(`${what}: float32 output and truth required, got ${output.dtype} and ${truth.dtype}`);
  const oc = contiguous(output);
  const tc = contiguous(truth);
  const delta = Tensor.empty([n, outputs], 'float32', output.device);
  const cost = Tensor.empty([], 'float32', output.device);
  const stats = Tensor.empty([LOSS_STATS], 'float32', output.device);
  try {
    getKernel<LossKernel<A>>(op, output.device.name)(delta, cost, stats, oc, tc, a);
  } finally {
    if (oc !== output) oc.dispose();
    if (tc !== truth) tc.dispose();
  }
  // −delta is Darknet's descent direction, not a derivative of the cost: no second derivative exists.
  const loss = record(op, [output], cost, (g) => [neg(mul(delta, g)).reshape(...output.shape)], { onceDifferentiable: true });
  return { loss, delta, stats };
}
