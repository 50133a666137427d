// gradcheck against planted faults, one test per fault class, each asserting the message that names it:
// a small input's wrong gradient beside a large one (fast mode per input, then located), a
// nondeterministic backward, a backward that ignores or offsets its gradOutput, a gradient of the wrong
// dtype, a forgotten graph edge, a wrong gradient in the second of several outputs, routing to the wrong
// elements under column grouping; and the argument checks: non-tensor returns, mixed float dtypes.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  add,
  cast,
  exp,
  gradcheck,
  matmul,
  mean,
  mul,
  noGrad,
  permute,
  record,
  reshape,
  sub,
  sum,
  tanh,
  tensor,
  type Tensor,
} from '../src/index.js';
import { assertThrowsMatching } from './helpers/check.js';
import { randRef, toTensor } from './helpers/ref.js';

const quiet = { throwOnFailure: false } as const;

/** a * b with a backward rule for a scaled by `factorA` (1 is right). */
function mulWithFactor(factorA: number) {
  return (a: Tensor, b: Tensor): Tensor => {
    const y = noGrad(() => mul(a, b));
    return record('mul_custom', [a, b], y, (g) => [mul(mul(g, b), factorA), mul(g, a)]);
  };
}

test('fast mode projects per input: a 50% wrong gradient of a small-contribution input fails, naming it (16 and 1024 elements)', () => {
  for (const n of [16, 1024]) {
    // a is tiny and b large: folded into one projection, a's error would vanish next to b's share
    const a = toTensor(randRef([n], 1, -1e-3, 1e-3), { requiresGrad: true });
    const b = toTensor(randRef([n], 2, 50, 100), { requiresGrad: true });
    const r = gradcheck(mulWithFactor(1.5), [a, b], { ...quiet, mode: 'fast', names: ['a', 'b'] });
    assert.equal(r.ok, false, r.report);
    assert.ok(r.mismatches.every((m) => m.input === 'a'), `only a's projections fail:\n${r.report}`);
    assert.match(r.report, /worst: input a, projection \d/);
    // located: the failing slice re-checked element by element, the worst element named
    assert.ok(r.located.length > 0, r.report);
    assert.equal(r.located[0]!.input, 'a');
    assert.match(r.report, n <= 256 ? /located: input a re-checked in full/ : /located: input a re-checked by projected columns/);
    assert.match(r.report, /located worst: (output y index \d+, )?input a index \d+/);
    assert.ok(gradcheck(mulWithFactor(1), [a, b], { ...quiet, mode: 'fast' }).ok);
  }
});

test('in full the located slice names the exact element of a gradient wrong at one element', () => {
  const x = toTensor(randRef([20], 3), { requiresGrad: true });
  const bump = (t: Tensor): Tensor => {
    const y = noGrad(() => mul(t, t));
    const off = tensor(Array.from({ length: 20 }, (_, k) => (k === 13 ? 0.5 : 0)), { dtype: 'float64' });
    return record('bumped', [t], y, (g) => [mul(g, add(mul(t, 2), off))]);
  };
  const r = gradcheck(bump, [x], { ...quiet, mode: 'fast', names: ['x'] });
  assert.equal(r.ok, false);
  assert.deepEqual([r.located[0]!.outputIndex, r.located[0]!.inputIndex], [13, 13]);
  assert.equal(r.located.length, 1);
});

test('planted: a nondeterministic backward fails the repeatability check (nondetTol)', () => {
  let calls = 0;
  const jitter = (t: Tensor): Tensor => {
    const y = noGrad(() => exp(t));
    return record('jitter', [t], y, (g) => [mul(mul(g, y), 1 + 1e-9 * ++calls)]);
  };
  const x = toTensor(randRef([3], 4), { requiresGrad: true });
  const r = gradcheck(jitter, [x], { ...quiet, names: ['x'] });
  assert.equal(r.ok, false, 'a 1e-9 wobble is inside atol, but not repeatable');
  assert.equal(r.mismatches.length, 0, 'the Jacobian itself matches');
  assert.equal(r.failures[0]!.check, 'nondeterminism');
  assert.match(r.report, /nondeterminism: backward is not repeatable: two passes with the same gradOutput differ by \S+ at x\[\d\] .*nondetTol is 0/);
  assert.equal(gradcheck(jitter, [x], { ...quiet, nondetTol: 1e-6 }).ok, true, 'within nondetTol it passes');
});

test('planted: a backward that ignores its gradOutput passes the Jacobian of a scalar but fails the scaling check', () => {
  const ignoresG = (t: Tensor): Tensor => {
    const y = noGrad(() => sum(mul(t, t)));
    return record('ignores_g', [t], y, () => [mul(t, 2)]);
  };
  const x = toTensor(randRef([4], 5), { requiresGrad: true });
  const r = gradcheck(ignoresG, [x], { ...quiet, names: ['x'] });
  assert.equal(r.mismatches.length, 0, 'one output: gradOutput 1 hides the fault from the Jacobian');
  assert.equal(r.ok, false);
  const checks = r.failures.map((f) => f.check);
  assert.ok(checks.includes('scaling') && checks.includes('zero-grad-output'), checks.join());
  assert.match(r.report, /scaling: backward does not scale with the gradOutput: gradOutput -2·v gives \S+ at x\[\d\], -2 times the gradient of v is \S+/);
  assert.match(r.report, /zero-grad-output: backward is not linear in the gradOutput: a zero gradOutput gives \S+ at x\[\d\] \(expected 0/);
  assert.equal(gradcheck(ignoresG, [x], { ...quiet, checkGradOutputScaling: false }).ok, true, 'the check can be turned off');
});

test('planted: a backward that adds a constant fails the zero-gradOutput check', () => {
  const offset = (t: Tensor): Tensor => {
    const y = noGrad(() => mul(t, 3));
    return record('offset', [t], y, (g) => [add(mul(g, 3), 1e-3)]);
  };
  const r = gradcheck(offset, [toTensor(randRef([3], 6), { requiresGrad: true })], quiet);
  assert.ok(r.failures.some((f) => f.check === 'zero-grad-output'), r.report);
});

test('planted: a float32 gradient for a float64 input is reported, naming the op and both dtypes', () => {
  const wrongDtype = (t: Tensor): Tensor => {
    const y = noGrad(() => mul(t, 2));
    return record('f32_grad', [t], y, (g) => [cast(mul(g, 2), 'float32')]);
  };
  const r = gradcheck(wrongDtype, [toTensor(randRef([3], 7), { requiresGrad: true })], quiet);
  assert.equal(r.ok, false);
  assert.equal(r.failures[0]!.check, 'backward');
  assert.match(r.report, /backward: the backward pass raised: backward of 'f32_grad': gradient for input 0 is float32, input \[3\] is float64/);
});

test('planted: an op computed without its graph edge (analytic 0) fails against the numerical derivative', () => {
  const forgot = (t: Tensor): Tensor => add(mul(t, 2), noGrad(() => exp(t)));
  const r = gradcheck(forgot, [toTensor(randRef([3], 8), { requiresGrad: true })], { ...quiet, names: ['x'] });
  assert.equal(r.ok, false);
  assert.equal(r.mismatches.length, 3);
  // an output that does not require grad at all is compared too (its analytic Jacobian is zero)
  const detached = gradcheck((t) => noGrad(() => exp(t)), [toTensor(randRef([2], 9), { requiresGrad: true })], quiet);
  assert.equal(detached.ok, false);
});

test('several outputs: a wrong gradient in the second output is reported in that output', () => {
  const two = (a: Tensor, b: Tensor): Tensor[] => [tanh(a), mulWithFactor(1.25)(a, b)];
  const a = toTensor(randRef([2, 2], 10), { requiresGrad: true });
  const b = toTensor(randRef([2, 2], 11), { requiresGrad: true });
  const r = gradcheck(two, [a, b], { ...quiet, names: ['a', 'b'], outputNames: ['t', 'p'] });
  assert.equal(r.ok, false);
  assert.ok(r.mismatches.every((m) => m.output === 'p' && m.input === 'a'), r.report);
  assert.match(r.report, /inputs: a \[2, 2\], b \[2, 2\]; outputs: t \[2, 2\], p \[2, 2\]/);
  assert.match(r.report, /worst: output p index \d, input a index \d/);
  assert.equal(gradcheck((x: Tensor, y: Tensor) => [tanh(x), mul(x, y)], [a, b]).ok, true);
  // fast mode over several outputs catches it too
  assert.equal(gradcheck(two, [a, b], { ...quiet, mode: 'fast' }).ok, false);
});

test('an int32 output (indices) is listed as not checked; the float outputs are', () => {
  const x = toTensor(randRef([2, 3], 12), { requiresGrad: true });
  const r = gradcheck((t: Tensor) => {
    const m = t.max(1);
    return [m, t.argmax(1)];
  }, [x]);
  assert.ok(r.ok);
  assert.match(r.report, /outputs: y0 \[2\], y1 \[2\] \(int32, not checked\)/);
});

test('non-tensor returns are rejected with a clear error', () => {
  const x = toTensor(randRef([2], 13), { requiresGrad: true });
  const bad = [
    [() => 3, 'got a number'],
    [() => null, 'got null'],
    [() => [], 'got an array of 0 (nothing)'],
    [(t: Tensor) => [t, 2], 'got an array of 2 (Tensor, number)'],
    [(t: Tensor) => ({ y: t }), 'got an object (Object)'],
  ] as const;
  for (const [fn, msg] of bad) {
    assertThrowsMatching(() => gradcheck(fn as unknown as (t: Tensor) => Tensor, [x]), 'gradcheck: the function must return a Tensor or a non-empty array of Tensors', msg);
  }
  assertThrowsMatching(() => gradcheck((t) => t, [3 as unknown as Tensor]), 'gradcheck: input 0 is a number, not a Tensor');
});

test('mixed float32/float64 inputs are promoted to float64 with a warning (never run silently as float32)', async () => {
  const a = toTensor(randRef([3], 14), { requiresGrad: true });
  const b = toTensor(randRef([3], 15), { dtype: 'float32', requiresGrad: true });
  const seen: string[] = [];
  const onWarning = (w: Error): void => void seen.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const r = gradcheck((x: Tensor, y: Tensor) => {
      assert.equal(y.dtype, 'float64', 'the float32 input reaches fn as float64');
      return mul(x, y);
    }, [a, b], { names: ['a', 'b'] });
    const message = 'gradcheck: inputs mix float32 (b) and float64; the float inputs are promoted to float64 for the check';
    assert.equal(r.dtype, 'float64');
    assert.match(r.report, /\(full, float64, eps=0\.000001/);
    assert.ok(r.report.includes(`warning: ${message}`), r.report);
    assert.deepEqual(r.warnings, [message]);
    // process warnings are emitted on the next turn of the event loop
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [`TsgradGradcheckWarning: ${message}`]);
  } finally {
    process.off('warning', onWarning);
  }
});

test('column grouping never hides a gradient routed to the wrong elements (a permutation)', () => {
  // y = permute(x): the true Jacobian is a permutation; the rule sends g back without permuting (another
  // permutation). Every column is in one group (disjoint supports), yet the random weights expose it.
  const x = toTensor(randRef([3, 4], 16), { requiresGrad: true });
  const noPermute = (t: Tensor): Tensor => {
    const y = noGrad(() => reshape(permute(t, [1, 0]), [3, 4]));
    return record('bad_permute', [t], y, (g) => [g]);
  };
  const r = gradcheck(noPermute, [x], quiet);
  assert.equal(r.ok, false);
  assert.equal(r.mismatches.length, 20, r.report); // 12 entries misplaced twice each, minus the 4 fixed points
  const plain = gradcheck(noPermute, [x], { ...quiet, groupColumns: false });
  assert.deepEqual(
    r.mismatches.map((m) => `${m.outputIndex},${m.inputIndex}`).sort(),
    plain.mismatches.map((m) => `${m.outputIndex},${m.inputIndex}`).sort(),
    'grouped and ungrouped runs report the same entries',
  );
});

test('grouping and batching: a diagonal Jacobian needs one group; a function mixing batch rows is not batched and still checked', () => {
  const x = toTensor(randRef([8, 8], 17), { requiresGrad: true });
  const r = gradcheck((t: Tensor) => mul(exp(t), t), [x]);
  assert.equal(r.stats.groups, 1);
  assert.deepEqual(r.stats.vectorized, ['x0']);
  // sub(x, mean(x, 0)) on a batch [B, 8, 8] would subtract the batch mean: the probe sees it
  const centred = gradcheck((t: Tensor) => sub(t, mean(t, 0)), [x]);
  assert.ok(centred.ok, centred.report);
  assert.deepEqual(centred.stats.vectorized, []);
  // vectorize: false and true
  assert.ok(gradcheck((t: Tensor) => matmul(t, t), [x], { vectorize: false }).stats.vectorized.length === 0);
  assertThrowsMatching(() => gradcheck((t: Tensor) => sum(t), [x], { vectorize: true }), 'vectorize: true, but the function does not map a leading batch dimension of input x0');
});

test("'fwd' mode (JAX modes) checks J·u through the recorded backward, and catches a wrong rule", () => {
  const a = toTensor(randRef([3], 18), { requiresGrad: true });
  const b = toTensor(randRef([3], 19), { requiresGrad: true });
  const ok = gradcheck((x: Tensor, y: Tensor) => mul(tanh(x), y), [a, b], { modes: ['rev', 'fwd'] });
  assert.match(ok.report, /\(full, modes rev\+fwd, float64/);
  const r = gradcheck(mulWithFactor(1.5), [a, b], { ...quiet, modes: ['fwd'], names: ['a', 'b'] });
  assert.equal(r.ok, false);
  assert.ok(r.mismatches.every((m) => m.kind === 'jvp' && m.input === 'a'), r.report);
  // a backward written with unrecorded kernels cannot give J·u
  const unrecorded = (t: Tensor): Tensor => {
    const y = noGrad(() => mul(t, 2));
    return record('unrecorded', [t], y, (g) => [noGrad(() => mul(g, 2))]);
  };
  const u = gradcheck(unrecorded, [a], { ...quiet, modes: ['fwd'] });
  assert.equal(u.failures[0]?.check, 'fwd', u.report);
});

test('a passing check prints finite error maxima (no 1e+290 relative error from zero entries)', () => {
  const x = toTensor(randRef([4, 4], 20), { requiresGrad: true });
  const r = gradcheck((t: Tensor) => matmul(t, t), [x]);
  assert.ok(r.maxRelError < 1e-3, r.report);
  assert.ok(r.maxAbsError < 1e-6);
  assert.doesNotMatch(r.report, /e\+[1-9]\d\d/);
});
