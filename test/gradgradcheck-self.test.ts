// gradgradcheck and checkGrads themselves: they pass on twice-differentiable functions, and fail, naming
// the input, on planted second-order faults that first-order gradcheck cannot see (a rule computed with
// unrecorded kernels, a rule whose x-dependence is frozen); given and non-contiguous gradOutputs;
// several outputs; checkGrads of order 3; clear errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { checkGrads, exp, gradcheck, gradgradcheck, mul, noGrad, record, sigmoid, sub, tanh, tensor, unaryRaw, type Tensor } from '../src/index.js';
import { assertThrowsMatching } from './helpers/check.js';
import { randRef, toTensor } from './helpers/ref.js';

const quiet = { throwOnFailure: false } as const;

/** sigmoid with its backward written via unrecorded kernels: right value, no second derivative. */
function sigmoidUnrecorded(x: Tensor): Tensor {
  const y = unaryRaw(x, 'sigmoid');
  return record('sigmoid_unrecorded', [x], y, (g) => [noGrad(() => mul(g, mul(y, sub(1, y))))]);
}

/** sigmoid whose rule freezes y' as a constant: linear in g (so the vjp's v-derivative is right) but wrong in x. */
function sigmoidFrozen(x: Tensor): Tensor {
  const y = unaryRaw(x, 'sigmoid');
  const slope = noGrad(() => mul(y, sub(1, y)));
  return record('sigmoid_frozen', [x], y, (g) => [mul(g, slope)]);
}

test('gradgradcheck passes on twice-differentiable ops and reports as gradgradcheck', () => {
  const x = toTensor(randRef([2, 3], 1), { requiresGrad: true });
  const r = gradgradcheck((t: Tensor) => mul(tanh(t), exp(t)), [x]);
  assert.ok(r.ok);
  assert.match(r.report, /^gradgradcheck \(full, float64/);
  assert.match(r.report, /inputs: x0 \[2, 3\], grad_y \[2, 3\]; outputs: d\/dx0 \[2, 3\]/);
});

test('planted: a backward of unrecorded kernels passes gradcheck but fails gradgradcheck', () => {
  const x = toTensor(randRef([4], 2), { requiresGrad: true });
  assert.ok(gradcheck(sigmoidUnrecorded, [x]).ok);
  const r = gradgradcheck(sigmoidUnrecorded, [x], { ...quiet, names: ['x'] });
  assert.equal(r.ok, false);
  const inputs = new Set(r.mismatches.map((m) => m.input));
  assert.ok(inputs.has('x') && inputs.has('grad_y'), `both x and the gradOutput lose their derivative: ${[...inputs]}`);
});

test('planted: a rule whose x-dependence is frozen fails gradgradcheck in x only, at the diagonal elements', () => {
  const x = toTensor(randRef([4], 3), { requiresGrad: true });
  assert.ok(gradcheck(sigmoidFrozen, [x]).ok);
  const r = gradgradcheck(sigmoidFrozen, [x], { ...quiet, names: ['x'] });
  assert.equal(r.ok, false);
  assert.ok(r.mismatches.every((m) => m.input === 'x' && m.output === 'd/dx' && m.outputIndex === m.inputIndex), r.report);
  assert.equal(gradgradcheck(sigmoid, [x]).ok, true);
  // fast mode finds it as well and names the input
  const f = gradgradcheck(sigmoidFrozen, [x], { ...quiet, mode: 'fast', names: ['x'] });
  assert.equal(f.ok, false);
  assert.ok(f.mismatches.every((m) => m.input === 'x'));
});

test('gradOutputs may be given, and passed as non-contiguous views', () => {
  const x = toTensor(randRef([3, 2], 4), { requiresGrad: true });
  const v = tensor([[1, 0], [0, 2], [-1, 0.5]], { dtype: 'float64' });
  assert.ok(gradgradcheck((t: Tensor) => mul(t, mul(t, t)), [x], { gradOutputs: [v] }).ok);
  assert.ok(gradgradcheck((t: Tensor) => exp(t), [x], { nonContiguousGradOutputs: true }).ok);
  assertThrowsMatching(() => gradgradcheck((t: Tensor) => exp(t), [x], { gradOutputs: [tensor([1], { dtype: 'float64' })] }), 'gradOutput 0 has shape [1], output 0 has [3, 2]');
});

test('several inputs and outputs: the second derivative wrong in one input is named', () => {
  const a = toTensor(randRef([3], 5), { requiresGrad: true });
  const b = toTensor(randRef([3], 6), { requiresGrad: true });
  const r = gradgradcheck((p: Tensor, q: Tensor) => [mul(p, q), sigmoidFrozen(q)], [a, b], { ...quiet, names: ['a', 'b'] });
  assert.equal(r.ok, false);
  assert.ok(r.mismatches.every((m) => m.input === 'b' && m.output === 'd/db'), r.report);
  assert.match(r.report, /inputs: a \[3\], b \[3\], grad_y0 \[3\], grad_y1 \[3\]; outputs: d\/da \[3\], d\/db \[3\]/);
});

test('checkGrads (JAX): every order up to `order`; order 3 of x⁴ passes, and a frozen rule fails at order 2', () => {
  const x = toTensor(randRef([3], 7), { requiresGrad: true });
  const rs = checkGrads((t: Tensor) => mul(mul(t, t), mul(t, t)), [x], { order: 3 });
  assert.deepEqual(rs.map((r) => r.ok), [true, true, true]);
  assert.match(rs[2]!.report, /^order 3: gradcheck/);
  const bad = checkGrads(sigmoidFrozen, [x], { ...quiet, order: 2 });
  assert.deepEqual(bad.map((r) => r.ok), [true, false]);
  assertThrowsMatching(() => checkGrads(sigmoidFrozen, [x], { order: 2 }), 'order 2: gradcheck', 'FAILED');
  assertThrowsMatching(() => checkGrads(exp, [x], { order: 0 }), 'checkGrads: order must be an integer >= 1, got 0');
});

test("gradgradcheck with modes ['fwd'] (PyTorch's check_fwd_over_rev): J·u of the vjp, catching a frozen rule", () => {
  const x = toTensor(randRef([3], 8), { requiresGrad: true });
  const ok = gradgradcheck((t: Tensor) => mul(tanh(t), t), [x], { modes: ['fwd'] });
  assert.match(ok.report, /^gradgradcheck \(full, modes fwd, float64/);
  const bad = gradgradcheck(sigmoidFrozen, [x], { ...quiet, modes: ['fwd'], names: ['x'] });
  assert.equal(bad.ok, false);
  assert.ok(bad.mismatches.every((m) => m.kind === 'jvp' && m.input === 'x'), bad.report);
});
