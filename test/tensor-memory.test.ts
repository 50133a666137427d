// Explicit memory: scope() disposes what it created and did not return, nested scopes hand returned
// tensors outward, keep() exempts, storages are refcounted across views, memoryInfo() returns to its
// baseline after a training-like step (no leak), and a disposed tensor gives a clear error.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  add,
  amax,
  argmax,
  bmm,
  cat,
  clamp,
  clone,
  contiguous,
  cpu,
  crossEntropy,
  exp,
  flatten,
  keep,
  linear,
  logSoftmax,
  matmul,
  max,
  mean,
  memoryInfo,
  mseLoss,
  mul,
  noGrad,
  randn,
  relu,
  scope,
  select,
  softmax,
  stack,
  sub,
  sum,
  tensor,
  where,
  gt,
  zeros,
  type Tensor,
} from '../src/index.js';
import { assertThrowsMatching, assertValues } from './helpers/check.js';

const live = (): number => memoryInfo('cpu').tensors;

test('scope() disposes intermediates and keeps the returned tensor', () => {
  const x = tensor([1, 2, 3]);
  let inner: Tensor | null = null;
  const before = memoryInfo('cpu');
  const y = scope(() => {
    inner = exp(x);
    return add(inner, 1);
  });
  assert.ok(inner!.isDisposed, 'the intermediate is disposed');
  assert.ok(!y.isDisposed);
  assert.ok(!x.isDisposed, 'tensors created outside the scope are untouched');
  const after = memoryInfo('cpu');
  assert.equal(after.tensors, before.tensors + 1);
  assert.equal(after.storages, before.storages + 1);
  assert.equal(after.bytes, before.bytes + 12);
  y.dispose();
  assert.deepEqual(memoryInfo('cpu'), before);
});

test('scope() keeps tensors returned in arrays, plain objects and Maps', () => {
  const x = tensor([1, 2]);
  const r = scope(() => {
    const a = mul(x, 2);
    const b = mul(x, 3);
    const c = mul(x, 4);
    mul(x, 5); // dropped
    return { list: [a], nested: { b }, map: new Map([['c', c]]) };
  });
  assertValues(r.list[0]!, [2], [2, 4]);
  assertValues(r.nested.b, [2], [3, 6]);
  assertValues(r.map.get('c')!, [2], [4, 8]);
});

test('nested scopes: a tensor returned by the inner scope belongs to the outer one', () => {
  const x = tensor([1]);
  let fromInner: Tensor | null = null;
  let innerTemp: Tensor | null = null;
  const before = live();
  const out = scope(() => {
    fromInner = scope(() => {
      innerTemp = exp(x);
      return add(innerTemp, 1);
    });
    assert.ok(innerTemp!.isDisposed, 'inner temporary freed when the inner scope ends');
    assert.ok(!fromInner.isDisposed, 'inner result alive in the outer scope');
    return mul(fromInner, 2);
  });
  assert.ok(fromInner!.isDisposed, 'the inner result is freed by the outer scope since it was not returned again');
  assert.equal(live(), before + 1);
  out.dispose();
  assert.equal(live(), before);
});

test('keep() exempts a tensor from every open scope', () => {
  const x = tensor([1]);
  let kept: Tensor | null = null;
  scope(() => {
    scope(() => {
      kept = keep(exp(x));
    });
  });
  assert.ok(!kept!.isDisposed);
  kept!.dispose();
});

test('scope() disposes on a throw and rethrows; an async function is rejected', () => {
  const before = memoryInfo('cpu');
  assert.throws(
    () =>
      scope(() => {
        exp(tensor([1, 2]));
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.deepEqual(memoryInfo('cpu'), before);
  assertThrowsMatching(() => scope(() => Promise.resolve(1) as unknown as number), 'scopes are synchronous');
  assert.deepEqual(memoryInfo('cpu'), before);
});

test('storages are refcounted: a view keeps the storage alive after its base is disposed', () => {
  const before = memoryInfo('cpu');
  const base = tensor([[1, 2], [3, 4]]);
  const v = base.T;
  base.dispose();
  assert.ok(base.isDisposed);
  assert.equal(memoryInfo('cpu').storages, before.storages + 1, 'storage alive while a view holds it');
  assertValues(v, [2, 2], [1, 3, 2, 4]);
  v.dispose();
  assert.deepEqual(memoryInfo('cpu'), before);
  assert.equal(cpu.memoryStats().allocated >= 0, true);
  // dispose is idempotent
  v.dispose();
  assert.deepEqual(memoryInfo('cpu'), before);
});

test('memoryInfo and the device allocation return to the baseline after forward+backward in a scope', () => {
  const w = randn([4, 3], { seed: 1, requiresGrad: true });
  const b = zeros([4], { requiresGrad: true });
  const x = randn([5, 3], { seed: 2 });
  const target = tensor([0, 1, 2, 3, 0], { dtype: 'int32' });
  const step = (): number =>
    scope(() => {
      const h = relu(linear(x, w, b));
      const loss = add(crossEntropy(h, target), mul(sum(mul(w, w)), 0.01));
      loss.backward();
      return loss.item();
    });
  const baseline = memoryInfo('cpu');
  const baseBytes = cpu.memoryStats().allocated;
  step();
  // the gradients (and only they) survive the scope
  assert.ok(w.grad && b.grad);
  const withGrads = memoryInfo('cpu');
  assert.equal(withGrads.tensors, baseline.tensors + 2);
  assert.equal(withGrads.bytes, baseline.bytes + (12 + 4) * 4);
  // further steps accumulate into the same grads: no growth
  step();
  step();
  assert.deepEqual(memoryInfo('cpu'), withGrads);
  w.zeroGrad();
  b.zeroGrad();
  assert.deepEqual(memoryInfo('cpu'), baseline);
  assert.equal(cpu.memoryStats().allocated, baseBytes);
});

test('ops outside any scope (no grad), primitive and composite, leave nothing alive but their output', () => {
  const x = randn([2, 3, 4], { seed: 3, dtype: 'float64' });
  const y = randn([4], { seed: 4, dtype: 'float64' });
  // the test's own view is disposed after the op, so only the op's leftovers would show
  const onView = (v: Tensor, op: (v: Tensor) => Tensor): Tensor => {
    const out = op(v);
    v.dispose();
    return out;
  };
  const cases: [string, () => Tensor | Tensor[]][] = [
    ['exp', () => exp(x)],
    ['add with broadcast', () => add(x, y)],
    ['sub with a number', () => sub(1, x)],
    ['clamp', () => clamp(x, -0.5, 0.5)],
    ['sum over dims', () => sum(x, [0, 2])],
    ['sum of a transposed view', () => onView(x.transpose(0, 2), (v) => sum(v, 1))],
    ['amax', () => amax(x, 1)],
    ['max values+indices', () => {
      const r = max(x, 2, true);
      return [r.values, r.indices];
    }],
    ['argmax flattened', () => argmax(x)],
    ['argmax per dim', () => argmax(x, 1)],
    ['softmax', () => softmax(x, 1)],
    ['logSoftmax of a transposed view', () => onView(x.transpose(0, 1), (v) => logSoftmax(v, -1))],
    ['where with a number', () => noGrad(() => {
      const m = gt(x, 0);
      const r = where(m, x, 0);
      m.dispose();
      return r;
    })],
    ['bmm with a transposed operand', () => onView(x.transpose(1, 2), (v) => bmm(x, v))],
    ['cat', () => cat([x, x], 1)],
    ['contiguous of a permuted view', () => onView(x.permute(2, 1, 0), contiguous)],
    ['clone', () => clone(x)],
  ];
  // composite ops (built from other ops) free their intermediates when no graph is recorded
  const w = randn([5, 4], { seed: 5, dtype: 'float64' });
  const bias = randn([5], { seed: 6, dtype: 'float64' });
  const z = randn([3, 4, 5], { seed: 7, dtype: 'float64' });
  const t = tensor([[0, 1, 2, 2], [2, 0, 1, 2]], { dtype: 'int32' }); // [N=2, 4] targets for x as [N, C=3, 4]
  cases.push(
    ['mean over dims', () => mean(x, [0, 2])],
    ['matmul 3-D @ transposed 2-D', () => onView(w.T, (v) => matmul(x, v))],
    ['matmul with 1-D promotion', () => matmul(x, y)],
    ['matmul with batch broadcasting', () => onView(x.unsqueeze(1), (v) => matmul(v, z))],
    ['bmm with an expanded (copied) operand', () => onView(y.reshape(1, 4, 1), (r) => onView(r.expand(2, 4, 3), (v) => bmm(x, v)))],
    ['linear with bias', () => linear(x, w, bias)],
    ['crossEntropy [N,C,W]', () => crossEntropy(x, t)],
    ['mseLoss', () => mseLoss(x, x)],
    ['reshape of a transposed view (copy)', () => onView(x.transpose(0, 2), (v) => v.reshape(-1))],
    ['flatten of a permuted view', () => onView(x.permute(1, 0, 2), (v) => flatten(v))],
    ['select', () => select(x, 1, 2)],
    ['stack', () => stack([x, x], 1)],
  );
  for (const [name, run] of cases) {
    const before = memoryInfo('cpu');
    const out = run();
    for (const t of Array.isArray(out) ? out : [out]) t.dispose();
    assert.deepEqual(memoryInfo('cpu'), before, `${name} left tensors or storage behind`);
  }
});

test('using a disposed tensor is a clear error naming the op, the tensor and its shape', () => {
  const x = tensor([[1, 2, 3]]);
  const other = tensor([1, 2, 3]);
  x.dispose();
  assertThrowsMatching(() => add(x, other), 'add', `tensor #${x.id} [1, 3] was disposed`);
  assertThrowsMatching(() => exp(x), 'exp', 'was disposed');
  assertThrowsMatching(() => x.data(), 'data', 'was disposed');
  assertThrowsMatching(() => x.reshape(3), 'reshape', 'was disposed');
  assertThrowsMatching(() => sum(x), 'sum', 'was disposed');
  const y = tensor([2], { requiresGrad: true });
  const z = mul(y, y);
  z.dispose();
  assertThrowsMatching(() => z.backward(), 'backward', 'was disposed');
});
