// gradcheck itself: it must fail, with a report naming the worst element, on deliberately wrong backward
// rules (off by a factor; transposed), in full and in fast mode; pass on correct custom ops; treat
// constant inputs as constants; and use coarse defaults for float32.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  gradcheck,
  GRADCHECK_DEFAULTS,
  matmul,
  mul,
  noGrad,
  record,
  tanh,
  tensor,
  transpose,
  type GradcheckResult,
  type Tensor,
} from '../src/index.js';
import { assertThrowsMatching } from './helpers/check.js';
import { randRef, toTensor } from './helpers/ref.js';

/** x^2 with a backward rule of `factor` * x * g (2 is right). */
function squareWithFactor(factor: number) {
  return (x: Tensor): Tensor => {
    const y = noGrad(() => mul(x, x));
    return record('square_custom', [x], y, (g) => [mul(g, mul(x, factor))]);
  };
}

/** X @ W (W constant) with a backward rule g @ W instead of g @ W^T when `wrong`. */
function matmulConst(W: Tensor, wrong: boolean) {
  return (X: Tensor): Tensor => {
    const y = noGrad(() => matmul(X, W));
    return record('matmul_custom', [X], y, (g) => [matmul(g, wrong ? W : transpose(W, 0, 1))]);
  };
}

function failure(fn: () => unknown): Error & { result: GradcheckResult } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.ok('result' in e, 'the thrown error carries the result');
    return e as Error & { result: GradcheckResult };
  }
  assert.fail('gradcheck did not throw on a wrong backward rule');
}

const WORST = /worst: output y index (\d+), input (\S+) index (\d+): numerical (\S+), analytical (\S+), abs error/;

test('gradcheck fails on a backward rule off by a factor and names the worst element with both values', () => {
  const x = tensor([0.5, -1.5, 2.0, 1.0], { dtype: 'float64', requiresGrad: true });
  const err = failure(() => gradcheck(squareWithFactor(3), [x], { names: ['x'] }));
  assert.match(err.message, /gradcheck \(full, float64, eps=0\.000001, atol=0\.00001, rtol=0\.001\): FAILED; 16 entries, 4 mismatches/);
  assert.match(err.message, /inputs: x \[4\]; outputs: y \[4\]/);
  const m = WORST.exec(err.message);
  assert.ok(m, `no worst line in:\n${err.message}`);
  // dy_k/dx_k = 2 x_k but the rule says 3 x_k: the error |x_k| is largest at x = 2.0 (index 2)
  assert.equal(Number(m[1]), 2, 'output index');
  assert.equal(m[2], 'x');
  assert.equal(Number(m[3]), 2, 'input index');
  assert.ok(Math.abs(Number(m[4]) - 4) < 1e-6, `numerical ${m[4]}`);
  assert.ok(Math.abs(Number(m[5]) - 6) < 1e-12, `analytical ${m[5]}`);
  // the structured result agrees, and every diagonal entry is listed as a mismatch
  const r = err.result;
  assert.equal(r.ok, false);
  assert.deepEqual([r.worst!.outputIndex, r.worst!.inputIndex, r.worst!.input], [2, 2, 'x']);
  assert.equal(r.mismatches.length, 4);
  assert.equal(r.checked, 16);
  assert.match(err.message, /mismatches \(output\[index\], input\[index\]: numerical vs analytical, abs, rel\):\n {2}y\[2\], x\[2\]: 4\.0+e\+0 vs 6\.0+e\+0/);
});

test('gradcheck fails on a transposed backward rule; the worst entry is a true worst Jacobian entry', () => {
  const W = toTensor(randRef([3, 3], 1));
  const X = toTensor(randRef([2, 3], 2), { requiresGrad: true });
  const err = failure(() => gradcheck(matmulConst(W, true), [X]));
  const m = WORST.exec(err.message);
  assert.ok(m, err.message);
  const [out, inp] = [Number(m[1]), Number(m[3])];
  // Jacobian of Y = X W: dY[r, c]/dX[r', k] = [r = r'] W[k, c]; the wrong rule gives [r = r'] W[c, k]
  const w = W.toArray();
  const { atol, rtol } = GRADCHECK_DEFAULTS.float64;
  const entry = (o: number, i: number): [number, number] => {
    const [r, c] = [Math.floor(o / 3), o % 3];
    const [r2, k] = [Math.floor(i / 3), i % 3];
    return r === r2 ? [w[k * 3 + c]!, w[c * 3 + k]!] : [0, 0];
  };
  let maxExcess = -Infinity;
  for (let o = 0; o < 6; o++) {
    for (let i = 0; i < 6; i++) {
      const [num, ana] = entry(o, i);
      maxExcess = Math.max(maxExcess, Math.abs(num - ana) - (atol + rtol * Math.abs(num)));
    }
  }
  const [num, ana] = entry(out, inp);
  assert.ok(Math.abs(Number(m[4]) - num) < 1e-6, `numerical ${m[4]} vs ${num}`);
  assert.ok(Math.abs(Number(m[5]) - ana) < 1e-6, `analytical ${m[5]} vs ${ana}`);
  const excess = Math.abs(num - ana) - (atol + rtol * Math.abs(num));
  assert.ok(Math.abs(excess - maxExcess) < 1e-6, `reported entry exceeds the tolerance by ${excess}, the worst by ${maxExcess}`);
  assert.ok(num !== ana, 'the reported entry is off the symmetric part of W');
});

test('fast mode (random projections) catches both wrong rules too', () => {
  const x = toTensor(randRef([40, 30], 3), { requiresGrad: true });
  const e1 = failure(() => gradcheck(squareWithFactor(3), [x], { mode: 'fast' }));
  assert.match(e1.message, /gradcheck \(fast, float64/);
  assert.match(e1.message, /worst: input x0, projection \d+: numerical vᵀJu \S+, analytical \S+/);
  assert.equal(e1.result.mode, 'fast');
  const W = toTensor(randRef([30, 30], 4));
  const e2 = failure(() => gradcheck(matmulConst(W, true), [x], { mode: 'fast', projections: 2 }));
  assert.equal(e2.result.ok, false);
  // and a large input picks fast mode by itself
  const e3 = failure(() => gradcheck(squareWithFactor(3), [x]));
  assert.equal(e3.result.mode, 'fast');
});

test('gradcheck passes on correct custom ops (full and fast) with tiny errors', () => {
  const x = toTensor(randRef([3, 4], 5), { requiresGrad: true });
  const r = gradcheck(squareWithFactor(2), [x]);
  assert.equal(r.ok, true);
  assert.equal(r.mode, 'full');
  assert.equal(r.checked, 12 * 12);
  assert.ok(r.maxAbsError < 1e-8, `max abs error ${r.maxAbsError}`);
  assert.match(r.report, /passed/);
  const W = toTensor(randRef([4, 4], 6));
  assert.equal(gradcheck(matmulConst(W, false), [x]).ok, true);
  assert.equal(gradcheck(matmulConst(W, false), [x], { mode: 'fast', projections: 6 }).ok, true);
});

test('an error confined to one element is reported at that element', () => {
  const x = tensor([0.3, -0.7, 1.1, 0.9, -1.3], { dtype: 'float64', requiresGrad: true });
  const onlyThree = (t: Tensor): Tensor => {
    const y = noGrad(() => mul(t, t));
    const bump = tensor([0, 0, 0, 0.5, 0], { dtype: 'float64' });
    return record('bumped', [t], y, (g) => [mul(g, noGrad(() => mul(t, 2)).add(bump))]);
  };
  const err = failure(() => gradcheck(onlyThree, [x]));
  assert.deepEqual([err.result.worst!.outputIndex, err.result.worst!.inputIndex], [3, 3]);
  assert.equal(err.result.mismatches.length, 1);
});

test('constant inputs are passed through and reported as constants; no differentiable input is an error', () => {
  const x = toTensor(randRef([2, 3], 7), { requiresGrad: true });
  const c = toTensor(randRef([2, 3], 8));
  const r = gradcheck((a, b) => mul(a, b), [x, c], { names: ['x', 'c'] });
  assert.equal(r.ok, true);
  assert.equal(r.checked, 6 * 6, 'only the differentiable input gets Jacobian columns');
  assert.match(r.report, /inputs: x \[2, 3\], c \[2, 3\] \(constant\)/);
  assertThrowsMatching(() => gradcheck((a) => mul(a, 2), [c]), 'no input requires grad');
  assertThrowsMatching(() => gradcheck(() => c, []), 'no inputs');
});

test('float32 inputs get coarse defaults (eps 1e-3, atol/rtol 1e-2); float64 defaults would misfire on them', () => {
  const x32 = toTensor(randRef([3, 3], 9), { dtype: 'float32', requiresGrad: true });
  const r = gradcheck(tanh, [x32]);
  assert.equal(r.ok, true, r.report);
  assert.match(r.report, /\(full, float32, eps=0\.001, atol=0\.01, rtol=0\.01\)/);
  assert.deepEqual(GRADCHECK_DEFAULTS.float32, { eps: 1e-3, atol: 1e-2, rtol: 1e-2 });
  // with the float64 step, float32 rounding swamps the central difference
  const strict = gradcheck(tanh, [x32], { ...GRADCHECK_DEFAULTS.float64, throwOnFailure: false });
  assert.equal(strict.ok, false, 'float32 with eps 1e-6 should not pass');
  // the coarse check still catches a wrong rule in float32
  const bad = gradcheck(squareWithFactor(3), [x32], { throwOnFailure: false });
  assert.equal(bad.ok, false);
});

test('throwOnFailure: false returns the failed result; maxReport limits the listed mismatches', () => {
  const x = toTensor(randRef([6], 10, 0.5, 1), { requiresGrad: true });
  const r = gradcheck(squareWithFactor(2.5), [x], { throwOnFailure: false, maxReport: 2 });
  assert.equal(r.ok, false);
  assert.equal(r.mismatches.length, 6);
  assert.match(r.report, /\.\.\. and 4 more/);
});

test('a NaN in the analytical gradient is a mismatch', () => {
  const x = toTensor(randRef([3], 11), { requiresGrad: true });
  const nanRule = (t: Tensor): Tensor => {
    const y = noGrad(() => mul(t, 1));
    return record('nan_rule', [t], y, (g) => [mul(g, Number.NaN)]);
  };
  const r = gradcheck(nanRule, [x], { throwOnFailure: false });
  assert.equal(r.ok, false);
  assert.ok(r.worst && Number.isNaN(r.worst.analytical));
});
