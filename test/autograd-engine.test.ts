// The backward engine: which tensors record a graph, backward() arguments and errors, accumulation,
// zeroGrad, detach, noGrad, retainGrad, broadcasting reduced back, shared subexpressions (diamond),
// custom ops through record(), and a 10k-op chain (no recursion).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  add,
  cast,
  exp,
  isGradEnabled,
  matmul,
  mean,
  mul,
  noGrad,
  record,
  scope,
  sum,
  tensor,
  withGradMode,
  zeros,
  type Tensor,
} from '../src/index.js';
import { assertClose, assertThrowsMatching, assertValues } from './helpers/check.js';

const f64 = (data: unknown): Tensor => tensor(data, { dtype: 'float64' });
const leaf = (data: unknown): Tensor => tensor(data, { dtype: 'float64', requiresGrad: true });

test('requiresGrad: leaves opt in; results of ops on them record a gradFn; other tensors do not', () => {
  const x = leaf([1, 2]);
  const c = f64([3, 4]);
  assert.equal(x.requiresGrad, true);
  assert.equal(x.isLeaf, true);
  const y = mul(x, c);
  assert.equal(y.requiresGrad, true);
  assert.equal(y.isLeaf, false);
  assert.equal(y.gradFn?.name, 'mul');
  assert.deepEqual(y.gradFn?.inputs, [x, c]);
  const z = mul(c, c);
  assert.equal(z.requiresGrad, false);
  assert.equal(z.gradFn, null);
  // requireGrad(false) turns a leaf off again
  x.requireGrad(false);
  assert.equal(mul(x, c).requiresGrad, false);
});

test('backward() of a scalar fills .grad of the leaves (d/dx sum(x*c) = c)', () => {
  const x = leaf([1, 2, 3]);
  const c = f64([4, 5, 6]);
  sum(mul(x, c)).backward();
  assertValues(x.grad!, [3], [4, 5, 6]);
  assert.equal(c.grad, null, 'a constant gets no gradient');
  assert.equal(x.grad!.requiresGrad, false);
  assert.equal(x.grad!.gradFn, null);
  assert.equal(x.grad!.dtype, 'float64');
});

test('backward() of a non-scalar needs a gradient: a clear error without, grad * dy/dx with', () => {
  const x = leaf([[1, 2], [3, 4]]);
  const y = mul(x, x);
  assertThrowsMatching(() => y.backward(), 'backward(): a gradient must be given for a non-scalar output [2, 2]');
  assertThrowsMatching(() => y.backward(f64([1, 2, 3, 4])), 'gradient shape [4] does not match output shape [2, 2]');
  y.backward(f64([[1, 0], [0.5, 2]]));
  assertValues(x.grad!, [2, 2], [2, 0, 3, 16]);
  // a one-element tensor of any rank counts as a scalar
  const z = leaf([[[2]]]);
  mul(z, z).backward();
  assertValues(z.grad!, [1, 1, 1], [4]);
});

test('backward() on a tensor that does not require grad is an error', () => {
  assertThrowsMatching(() => sum(f64([1, 2])).backward(), 'does not require grad');
  const x = leaf([1]);
  const y = noGrad(() => mul(x, 2));
  assertThrowsMatching(() => y.backward(), 'does not require grad');
});

test('gradients accumulate across two backward() calls; zeroGrad() clears them', () => {
  const x = leaf([1, 2]);
  const loss = (): Tensor => sum(mul(x, x)); // d/dx = 2x
  loss().backward();
  assertValues(x.grad!, [2], [2, 4]);
  loss().backward();
  assertValues(x.grad!, [2], [4, 8]);
  // the same graph can be run twice when the first pass retains it
  const l = loss();
  l.backward({ retainGraph: true });
  l.backward();
  assertValues(x.grad!, [2], [8, 16]);
  const old = x.grad!;
  x.zeroGrad();
  assert.equal(x.grad, null);
  assert.ok(old.isDisposed, 'zeroGrad disposes the old gradient');
  loss().backward();
  assertValues(x.grad!, [2], [2, 4]);
});

test('detach() shares storage, drops the graph and stops the gradient', () => {
  const x = leaf([3, 4]);
  const d = x.detach();
  assert.equal(d.storage, x.storage);
  assert.equal(d.requiresGrad, false);
  assert.equal(d.gradFn, null);
  // y = x * stopgrad(x): dy/dx = x (not 2x)
  sum(mul(x, x.detach())).backward();
  assertValues(x.grad!, [2], [3, 4]);
  const y = exp(x);
  const yd = y.detach();
  assert.equal(yd.gradFn, null);
  assert.deepEqual(yd.toArray(), y.toArray());
});

test('noGrad() records nothing, nests, restores the mode (also after a throw); withGradMode sets it', () => {
  const x = leaf([1, 2]);
  assert.equal(isGradEnabled(), true);
  const y = noGrad(() => {
    assert.equal(isGradEnabled(), false);
    const inner = withGradMode(true, () => {
      assert.equal(isGradEnabled(), true);
      return mul(x, 2);
    });
    assert.equal(inner.requiresGrad, true, 'withGradMode(true) records inside noGrad');
    noGrad(() => assert.equal(isGradEnabled(), false));
    assert.equal(isGradEnabled(), false);
    return mul(x, x);
  });
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  assert.equal(isGradEnabled(), true);
  assert.throws(() => noGrad(() => {
    throw new Error('boom');
  }), /boom/);
  assert.equal(isGradEnabled(), true, 'mode restored after a throw');
});

test('backward runs its rules with recording off and leaves the mode on afterwards', () => {
  const x = leaf([1, 2]);
  let seen: boolean | null = null;
  const y = record('probe', [x], noGrad(() => mul(x, 1)), (g) => {
    seen = isGradEnabled();
    return [g];
  });
  sum(y).backward();
  assert.equal(seen, false);
  assert.equal(isGradEnabled(), true);
});

test('retainGrad() keeps .grad of a non-leaf; other non-leaves get none', () => {
  const x = leaf([1, 2, 3]);
  const h = mul(x, 2).retainGrad();
  const k = mul(h, h); // not retained
  const loss = sum(mul(k, 0.5)); // = 2 x^2; dloss/dk = 0.5, dloss/dh = h = 2x, dloss/dx = 4x
  loss.backward();
  assertValues(h.grad!, [3], [2, 4, 6]);
  assert.equal(k.grad, null);
  assertValues(x.grad!, [3], [4, 8, 12]);
});

test('broadcasting is reduced back: gradients have the shapes of the inputs', () => {
  const a = leaf([[1], [2], [3]]); // [3, 1]
  const b = leaf([10, 20, 30, 40]); // [4]
  const s = leaf(2); // 0-d
  const y = mul(add(a, b), s); // [3, 4]
  sum(y).backward();
  assertValues(a.grad!, [3, 1], [8, 8, 8]); // 4 columns * s
  assertValues(b.grad!, [4], [6, 6, 6, 6]); // 3 rows * s
  // d/ds = sum(a + b) = 4*(1+2+3) + 3*(10+20+30+40)
  assertValues(s.grad!, [], [24 + 300]);
  // leaf gradients are contiguous, own their storage, and match the leaf's size
  for (const t of [a, b, s]) {
    assert.ok(t.grad!.isContiguous());
    assert.equal(t.grad!.storage.size, t.size);
  }
});

test('a diamond graph (x used on two paths and twice in one op) sums the path gradients', () => {
  const x = leaf([1, -2, 3]);
  // y = sum(x*x + 3x + exp(x)) -> dy/dx = 2x + 3 + exp(x)
  const y = sum(add(add(mul(x, x), mul(x, 3)), exp(x)));
  y.backward();
  assertClose(x.grad!, [1, -2, 3].map((v) => 2 * v + 3 + Math.exp(v)), { atol: 1e-14, rtol: 1e-14 });
  // a diamond through a shared intermediate h = 2x: z = h*h + mean(h)
  const w = leaf([1, 2]);
  const h = mul(w, 2);
  sum(add(mul(h, h), mean(h))).backward();
  // mean(h) broadcasts over both elements, so z = sum(h^2) + 2 mean(h): dz/dh = 2h + 1, dz/dw = 8w + 2
  assertValues(w.grad!, [2], [10, 18]);
});

test('gradients flowing to several leaves from one rule (add) are independent tensors', () => {
  const a = leaf([1, 2]);
  const b = leaf([3, 4]);
  sum(add(a, b)).backward();
  assert.notEqual(a.grad, b.grad);
  assert.notEqual(a.grad!.storage, b.grad!.storage);
  a.zeroGrad();
  assertValues(b.grad!, [2], [1, 1]);
  // the caller's gradOutput is never adopted as a leaf's .grad
  const x = leaf([1, 2]);
  const g = f64([5, 6]);
  x.backward(g);
  assert.notEqual(x.grad!.storage, g.storage);
  g.dispose();
  assertValues(x.grad!, [2], [5, 6]);
});

test('gradient of a float32 graph is float32; cast carries gradients between dtypes', () => {
  const x = tensor([1, 2], { requiresGrad: true });
  sum(mul(x, x)).backward();
  assert.equal(x.grad!.dtype, 'float32');
  assertValues(x.grad!, [2], [2, 4]);
  const y = leaf([1.5, 2.5]);
  sum(mul(cast(y, 'float32'), 2)).backward();
  assert.equal(y.grad!.dtype, 'float64');
  assertValues(y.grad!, [2], [2, 2]);
});

test('custom ops via record(): a null gradient skips an input; a wrongly shaped one is an error naming the op', () => {
  const a = leaf([1, 2]);
  const b = leaf([3, 4]);
  const y = record('first_only', [a, b], noGrad(() => add(a, b)), (g) => [g, null]);
  sum(y).backward();
  assertValues(a.grad!, [2], [1, 1]);
  assert.equal(b.grad, null);
  const z = record('bad_shape', [a], noGrad(() => mul(a, 1)), () => [zeros([3], { dtype: 'float64' })]);
  assertThrowsMatching(() => sum(z).backward(), "backward of 'bad_shape': gradient for input 0 has shape [3], input has [2]");
});

test('needs[] tells a rule which inputs want gradients', () => {
  const a = leaf([1]);
  const c = f64([2]);
  let needs: readonly boolean[] = [];
  const y = record('probe', [a, c], noGrad(() => mul(a, c)), (g, n) => {
    needs = n;
    return [g, null];
  });
  y.backward();
  assert.deepEqual(needs, [true, false]);
});

test('gradients flow through views (narrow, permute, expand, reshape) into the right slots', () => {
  const x = leaf([[1, 2, 3], [4, 5, 6]]);
  const v = x.narrow(1, 1, 2).permute(1, 0).reshape(4); // elements [2, 5, 3, 6]
  sum(mul(v, f64([1, 2, 3, 4]))).backward();
  assertValues(x.grad!, [2, 3], [0, 1, 3, 0, 2, 4]);
  const r = leaf([1, 2]);
  sum(r.unsqueeze(0).expand(3, 2)).backward();
  assertValues(r.grad!, [2], [3, 3]);
});

test('a deep chain of 10k ops runs backward without stack overflow', () => {
  const x = leaf([0.5, -1]);
  scope(() => {
    let y: Tensor = x;
    for (let i = 0; i < 10000; i++) y = add(mul(y, 1), 0.0001);
    // y = x + 1, dy/dx = 1 per element
    sum(y).backward();
    assertClose(y.toArray(), [1.5, 0], { atol: 1e-9, rtol: 0 });
  });
  assertValues(x.grad!, [2], [1, 1]);
});

test('matmul gradients by hand: d sum(A B)/dA = 1 B^T, /dB = A^T 1', () => {
  const A = leaf([[1, 2, 3], [4, 5, 6]]);
  const B = leaf([[1, 0], [0, 1], [2, -1]]);
  sum(matmul(A, B)).backward();
  assertValues(A.grad!, [2, 3], [1, 1, 1, 1, 1, 1]);
  assertValues(B.grad!, [3, 2], [5, 5, 7, 7, 9, 9]);
});
