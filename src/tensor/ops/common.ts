// Small helpers shared by the op files: input checks, scalar promotion, composite-op memory handling.

import { needsGrad } from '../../autograd/record.js';
import { scope } from '../memory.js';
import { shapeStr } from '../shape.js';
import type { Tensor, TensorOrScalar } from '../tensor.js';
import { scalarLike } from './creation.js';

/** Every tensor alive, on one device and of one dtype; returns that device name. */
export function checkSame(op: string, ...xs: Tensor[]): void {
  const first = xs[0]!;
  for (const x of xs) {
    x.assertAlive(op);
    if (x.device !== first.device) {
      throw new Error(`${op}: tensors on different devices ('${first.device.name}' ${shapeStr(first.shape)} and '${x.device.name}' ${shapeStr(x.shape)}); move one with .to()`);
    }
    if (x.dtype !== first.dtype) {
      throw new Error(`${op}: dtype mismatch (${first.dtype} ${shapeStr(first.shape)} and ${x.dtype} ${shapeStr(x.shape)}); convert one with .cast()`);
    }
  }
}

export function checkFloat(op: string, x: Tensor): void {
  if (x.dtype === 'int32') throw new Error(`${op}: expected a float tensor, got int32 ${shapeStr(x.shape)}`);
}

/** Promote numbers to 0-d tensors like the first tensor operand. */
export function promote(op: string, a: TensorOrScalar, b: TensorOrScalar): [Tensor, Tensor, Tensor[]] {
  const created: Tensor[] = [];
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  let ta: Tensor;
  let tb: Tensor;
  if (typeof a === 'number') {
    tb = b as Tensor;
    ta = scalarLike(a, tb);
    created.push(ta);
  } else ta = a;
  if (typeof b === 'number') {
    tb = scalarLike(b, ta);
    created.push(tb);
  } else tb = b;
  return [ta, tb, created];
}

/**
 * Run the body of a composite op (one built from other ops). When no graph will be recorded, its
 * intermediates are freed at once (a scope around the body); otherwise the graph needs them and they
 * belong to the caller's scope like every recorded tensor.
 */
export function composite(inputs: readonly (Tensor | null | undefined)[], body: () => Tensor): Tensor {
  return needsGrad(inputs) ? body() : scope(body);
}
