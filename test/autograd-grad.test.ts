// grad() (torch.autograd.grad) and higher-order gradients: results returned instead of accumulated,
// several outputs with gradOutputs, gradients of intermediates, allowUnused, createGraph (second
// derivatives, Hessian-vector products, a gradient penalty through backward()), and the graph-lifetime
// rules: a second pass through a freed graph, and backward() on a result whose graph a scope() freed.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { add, exp, grad, memoryInfo, mul, noGrad, record, scope, sum, tanh, tensor, type Tensor } from '../src/index.js';
import { assertClose, assertThrowsMatching, assertValues } from './helpers/check.js';

const f64 = (data: unknown): Tensor => tensor(data, { dtype: 'float64' });
const leaf = (data: unknown): Tensor => tensor(data, { dtype: 'float64', requiresGrad: true });

test('grad() returns d outputs/d inputs and leaves .grad untouched', () => {
  const x = leaf([1, 2, 3]);
  const c = f64([4, 5, 6]);
  const [g] = grad(sum(mul(mul(x, x), c)), [x]);
  assertValues(g!, [3], [8, 20, 36]); // 2 x c
  assert.equal(x.grad, null);
  assert.equal(g!.requiresGrad, false, 'without createGraph the result carries no graph');
});

test('grad() of several outputs sums them weighted by their gradOutputs; one input given twice gets two tensors', () => {
  const x = leaf([1, 2]);
  const y0 = mul(x, 3);
  const y1 = mul(x, x);
  const [g, again] = grad([y0, y1], [x, x], { gradOutputs: [f64([1, 1]), f64([0.5, 2])] });
  assertValues(g!, [2], [3 + 1, 3 + 8]); // 3 + 2x·w
  assert.notEqual(g, again);
  assertValues(again!, [2], [4, 11]);
});

test('grad() with respect to an intermediate tensor gives the gradient arriving there', () => {
  const x = leaf([1, -1]);
  const h = mul(x, 2);
  const y = sum(exp(h));
  const [gh, gx] = grad(y, [h, x]);
  assertClose(gh!, [Math.exp(2), Math.exp(-2)], { atol: 1e-14 });
  assertClose(gx!, [2 * Math.exp(2), 2 * Math.exp(-2)], { atol: 1e-14 });
});

test('grad(): an input the outputs do not use is an error unless allowUnused, which gives null', () => {
  const x = leaf([1]);
  const z = leaf([2]);
  assertThrowsMatching(() => grad(sum(mul(x, 2)), [x, z]), 'grad(): input 1 [1] is not used by the outputs (allowUnused: true returns null for it)');
  const [gx, gz] = grad(sum(mul(x, 2)), [x, z], { allowUnused: true });
  assertValues(gx!, [1], [2]);
  assert.equal(gz, null);
  assertThrowsMatching(() => grad(sum(mul(x, 2)), [f64([1])]), 'grad(): input 0 [1] does not require grad');
  assertThrowsMatching(() => grad(mul(x, 2), [x], { gradOutputs: [f64([1, 2])] }), 'grad(): gradient shape [2] does not match output shape [1]');
  assertThrowsMatching(() => grad(mul(x, 2), [x], { gradOutputs: [tensor([1])] }), 'grad(): gradient is float32, output [1] is float64');
});

test('createGraph: the gradient is differentiable (d²/dx² x³ = 6x, third derivative 6)', () => {
  const x = leaf([0.5, -2]);
  const y = sum(mul(mul(x, x), x));
  const [g1] = grad(y, [x], { createGraph: true });
  assert.equal(g1!.requiresGrad, true);
  assertClose(g1!, [0.75, 12], { atol: 1e-14 });
  const [g2] = grad(sum(g1!), [x], { createGraph: true });
  assertClose(g2!, [3, -12], { atol: 1e-14 });
  const [g3] = grad(sum(g2!), [x]);
  assertValues(g3!, [2], [6, 6]);
});

test('createGraph: a Hessian-vector product of tanh(x)·w through two grad() calls', () => {
  // f = sum(tanh(x) * w): ∇f = (1 - t²) w, H = diag(-2 t (1 - t²) w)
  const xs = [0.3, -0.8, 1.1];
  const ws = [1.5, -0.5, 2];
  const x = leaf(xs);
  const w = f64(ws);
  const v = f64([1, 2, 3]);
  const [g] = grad(sum(mul(tanh(x), w)), [x], { createGraph: true });
  const [hv] = grad(sum(mul(g!, v)), [x]);
  assertClose(hv!, xs.map((xi, i) => {
    const t = Math.tanh(xi);
    return -2 * t * (1 - t * t) * ws[i]! * (i + 1);
  }), { atol: 1e-14, rtol: 1e-12 });
});

test('a gradient penalty: backward() through |∇f|² accumulates its gradient into .grad', () => {
  // f = sum(x³): ∇f = 3x², penalty p = sum((3x²)²) = 9 sum(x⁴), dp/dx = 36 x³
  const x = leaf([1, -0.5]);
  scope(() => {
    const [g] = grad(sum(mul(mul(x, x), x)), [x], { createGraph: true });
    sum(mul(g!, g!)).backward();
  });
  assertClose(x.grad!, [36, -4.5], { atol: 1e-13 });
});

test('backward(createGraph) leaves a .grad with a graph (PyTorch create_graph=True)', () => {
  const x = leaf([2]);
  sum(mul(x, x)).backward({ createGraph: true });
  const g = x.grad!;
  assert.equal(g.requiresGrad, true);
  x.grad = null;
  g.backward();
  assertValues(x.grad!, [1], [2]); // d(2x)/dx
});

test('a second pass through a freed graph is an error naming the op; retainGraph keeps it', () => {
  const x = leaf([1, 2]);
  const y = sum(exp(x));
  y.backward();
  assertThrowsMatching(() => y.backward(), "backward(): the graph through 'sum'", 'was already freed by an earlier backward pass', 'retainGraph: true');
  const z = sum(exp(x));
  grad(z, [x]);
  assertThrowsMatching(() => grad(z, [x]), "grad(): the graph through 'sum'", 'already freed');
  const r = sum(exp(x));
  r.backward({ retainGraph: true });
  r.backward({ retainGraph: true });
  grad(r, [x]);
  assertThrowsMatching(() => r.backward(), 'already freed');
});

test('backward() on a result returned from scope(): a clear error naming the freed tensor, and nothing leaks', () => {
  const x = leaf([1, 2, 3]);
  const before = memoryInfo('cpu');
  for (let i = 0; i < 3; i++) {
    const y = scope(() => {
      const h = exp(x); // freed when the scope returns
      return sum(mul(h, h));
    });
    assertThrowsMatching(() => y.backward(), 'backward(): tensor #', "input 0 of 'sum'", 'was disposed before the backward pass', 'run backward() inside the scope that built the graph');
    assert.equal(x.grad, null, 'no gradient was computed silently');
    y.dispose();
  }
  assert.deepEqual(memoryInfo('cpu'), before, 'no tensor per call leaks');
  // inside the scope the same graph works
  scope(() => sum(mul(exp(x), exp(x))).backward());
  assertClose(x.grad!, [1, 2, 3].map((v) => 2 * Math.exp(2 * v)), { rtol: 1e-14 });
});

test('a tensor a rule saved (not an input) freed by scope(): the error names the op and the scope rule', () => {
  const x = leaf([1, 2]);
  // the custom op saves a constant it made itself; the scope frees it
  const y = scope(() => {
    const k = f64([3, 4]);
    return record('saves_k', [x], noGrad(() => mul(x, k)), (g) => [mul(g, k)]);
  });
  assertThrowsMatching(() => sum(y).backward(), "backward of 'saves_k'", 'was disposed', 'run backward() inside the scope');
});

test('grad() with createGraph keeps intermediate gradients in the caller scope; without it frees them', () => {
  const x = leaf([1, 2]);
  const before = memoryInfo('cpu').tensors;
  scope(() => {
    const [g] = grad(sum(mul(exp(x), x)), [x]);
    g!.dispose();
  });
  assert.equal(memoryInfo('cpu').tensors, before);
  scope(() => {
    const [g] = grad(sum(add(mul(exp(x), x), x)), [x], { createGraph: true });
    grad(sum(g!), [x]);
  });
  assert.equal(memoryInfo('cpu').tensors, before, 'the scope frees the recorded backward graph');
});

test('a once-differentiable rule: first-order gradients as usual; differentiating its gradient is a clear error', () => {
  const x = leaf([0.5, 1.5]);
  const surrogate = (t: Tensor): Tensor => record('surrogate', [t], noGrad(() => sum(mul(t, t))), (g) => [mul(g, mul(t, 2))], { onceDifferentiable: true });
  const [g1] = grad(surrogate(x), [x]);
  assertValues(g1!, [2], [1, 3]);
  const [g] = grad(surrogate(x), [x], { createGraph: true });
  assertValues(g!, [2], [1, 3]);
  assert.equal(g!.requiresGrad, true);
  assertThrowsMatching(() => grad(sum(g!), [x]), "backward of 'surrogate': its gradient is differentiable once");
});
