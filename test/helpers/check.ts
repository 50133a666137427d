// Shared test helpers: value comparison with a message that names the first bad element, and `checkOp`,
// the one-line op test of tsgrad/testing: forward (float64 and float32) against a float64 reference, the
// finite-difference gradcheck of the backward (and optionally of the second derivatives), and a leak check.

import assert from 'node:assert/strict';

import type { Tensor } from '../../src/tensor/tensor.js';

export { assertClose, type CloseOptions } from '../../src/testing/check-op.js';

/** Exact element equality, shape included. */
export function assertValues(actual: Tensor, shape: readonly number[], values: readonly number[], what = ''): void {
  assert.deepEqual([...actual.shape], [...shape], `${what} shape`);
  assert.deepEqual(actual.toArray(), [...values], `${what} values`);
}

/** Assert that fn throws an Error whose message matches every pattern. */
export function assertThrowsMatching(fn: () => unknown, ...patterns: (RegExp | string)[]): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, 'expected an Error to be thrown');
  for (const p of patterns) {
    const ok = typeof p === 'string' ? caught.message.includes(p) : p.test(caught.message);
    assert.ok(ok, `error message ${JSON.stringify(caught.message)} does not match ${String(p)}`);
  }
}

export { checkOp, type CheckOpOptions, type OpInput } from '../../src/testing/check-op.js';
