// Shared test helpers: value comparison with a message that names the first bad element, and `checkOp`,
// the one-line op test: forward (float64 and float32) against a float64 reference, the finite-difference
// gradcheck of the backward, and a leak check (everything the check created is gone afterwards).

import assert from 'node:assert/strict';

import { gradcheck, type GradcheckOptions, type GradcheckResult } from '../../src/autograd/gradcheck.js';
import { memoryInfo, scope } from '../../src/tensor/memory.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ref, refOf, toTensor, type Ref } from './ref.js';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Prefix of the failure message. */
  what?: string;
}

function asRef(x: Tensor | Ref | ArrayLike<number>): Ref {
  if (x instanceof Tensor) return refOf(x);
  if ('shape' in x && 'data' in x) return x as Ref;
  const arr = x as ArrayLike<number>;
  return ref([arr.length], arr);
}

/**
 * Assert equal shapes (when both sides carry one) and |a - e| <= atol + rtol*|e| everywhere (NaN must
 * match NaN). The message names the first differing element with both values.
 */
export function assertClose(actual: Tensor | Ref | ArrayLike<number>, expected: Tensor | Ref | ArrayLike<number>, opts: CloseOptions = {}): void {
  const atol = opts.atol ?? 1e-12;
  const rtol = opts.rtol ?? 1e-9;
  const what = opts.what ? `${opts.what}: ` : '';
  const hasShape = (x: unknown): boolean => x instanceof Tensor || (typeof x === 'object' && x !== null && 'shape' in x);
  const a = asRef(actual);
  const e = asRef(expected);
  if (hasShape(actual) && hasShape(expected)) {
    assert.deepEqual(a.shape, e.shape, `${what}shape [${a.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
  }
  assert.equal(a.data.length, e.data.length, `${what}${a.data.length} elements, expected ${e.data.length}`);
  for (let i = 0; i < a.data.length; i++) {
    const av = a.data[i]!;
    const ev = e.data[i]!;
    if (Number.isNaN(ev) && Number.isNaN(av)) continue;
    const ok = av === ev || Math.abs(av - ev) <= atol + rtol * Math.abs(ev);
    if (!ok) assert.fail(`${what}element ${i} is ${av}, expected ${ev} (atol ${atol}, rtol ${rtol})`);
  }
}

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

export type OpInput = Ref | Tensor;

export interface CheckOpOptions {
  /** Gradcheck mode ('full' on small shapes, 'fast' for large ones); false skips the gradcheck. */
  mode?: 'full' | 'fast' | false;
  /** Extra gradcheck options (tolerances, projections). */
  gradcheck?: GradcheckOptions;
  /** Forward tolerance for float64 (default atol 1e-12, rtol 1e-10). */
  atol?: number;
  rtol?: number;
  /** Also run the forward in float32 and compare (default true) with these tolerances. */
  float32?: boolean;
  atol32?: number;
  rtol32?: number;
  /** Which Ref inputs are differentiable (default: all). */
  differentiable?: boolean[];
  what?: string;
}

/**
 * The one-line op test. `inputs`: Refs become float64 tensors that require grad (float32 for the float32
 * forward); Tensors are passed as they are (constants such as int32 targets). `reference` receives the
 * same inputs as Refs. Checks: output shape and values in float64 and float32 against the reference, the
 * gradcheck of every differentiable input, and that nothing created during the check stays alive.
 */
export function checkOp(fn: (...xs: Tensor[]) => Tensor, inputs: readonly OpInput[], reference: (...xs: Ref[]) => Ref, opts: CheckOpOptions = {}): GradcheckResult | null {
  const what = opts.what ?? fn.name ?? 'op';
  const refs = inputs.map((x) => (x instanceof Tensor ? refOf(x) : x));
  const expected = reference(...refs);
  const before = memoryInfo('cpu');
  const result = scope(() => {
    const make = (dtype: 'float32' | 'float64'): Tensor[] =>
      inputs.map((x, i) => (x instanceof Tensor ? x : toTensor(x, { dtype, requiresGrad: opts.differentiable?.[i] ?? true })));
    const xs64 = make('float64');
    const y64 = fn(...xs64);
    assert.equal(y64.dtype, 'float64', `${what}: float64 inputs give ${y64.dtype}`);
    assertClose(y64, expected, { atol: opts.atol ?? 1e-12, rtol: opts.rtol ?? 1e-10, what: `${what} float64 forward` });
    if (opts.float32 ?? true) {
      const y32 = fn(...make('float32'));
      assert.equal(y32.dtype, 'float32', `${what}: float32 inputs give ${y32.dtype}`);
      assertClose(y32, expected, { atol: opts.atol32 ?? 1e-5, rtol: opts.rtol32 ?? 1e-5, what: `${what} float32 forward` });
    }
    if (opts.mode === false) return null;
    const r = gradcheck(fn, xs64, { mode: opts.mode ?? 'full', ...opts.gradcheck });
    assert.ok(r.ok, r.report);
    return r;
  });
  const after = memoryInfo('cpu');
  assert.deepEqual(after, before, `${what}: tensors/storages/bytes alive before and after the check`);
  return result;
}
