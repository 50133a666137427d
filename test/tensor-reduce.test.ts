// Reductions against a float64 reference: sum/mean over a dim, a list of dims, everything, keepdim;
// max/min with values and first-occurrence indices (torch.max(x, dim)); amax/amin over lists; argmax
// flattened and per dim; strided inputs; NaN; error messages.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { amax, amin, argmax, argmin, max, mean, min, sum, tensor, zeros, type Tensor } from '../src/index.js';
import { assertClose, assertThrowsMatching, assertValues } from './helpers/check.js';
import { permuteRef, randDistinct, randRef, reduceRef, toTensor } from './helpers/ref.js';

const TOL = { atol: 1e-13, rtol: 1e-13 };
const SHAPE = [2, 3, 4];
const DIM_CASES: (number | number[] | null)[] = [0, 1, 2, -1, -3, [0, 2], [2, 0], [1, 2], [0, 1, 2], [-1, 0], null];

for (const kind of ['sum', 'mean'] as const) {
  const fn = kind === 'sum' ? sum : mean;
  test(`${kind} over single dims, negative dims, lists, all, with and without keepdim matches the reference`, () => {
    const x = randRef(SHAPE, 1);
    const t = toTensor(x);
    for (const dims of DIM_CASES) {
      for (const keepdim of [false, true]) {
        const y = fn(t, dims, keepdim);
        assertClose(y, reduceRef(x, dims, kind, keepdim).values, { ...TOL, what: `${kind}(${JSON.stringify(dims)}, keepdim=${keepdim})` });
      }
    }
    // defaults: everything, 0-d result
    assert.deepEqual([...fn(t).shape], []);
    assert.deepEqual([...fn(t, null, true).shape], [1, 1, 1]);
  });
}

test('sum/mean of strided views (transposed, narrowed, expanded) match the reference', () => {
  const x = randRef([3, 4, 5], 2);
  const p = toTensor(x).permute(2, 0, 1);
  const pr = permuteRef(x, [2, 0, 1]);
  assertClose(sum(p, 1), reduceRef(pr, 1, 'sum').values, TOL);
  assertClose(mean(p, [0, 2], true), reduceRef(pr, [0, 2], 'mean', true).values, TOL);
  const e = tensor([[1], [2]], { dtype: 'float64' }).expand(2, 5);
  assertValues(sum(e, 1), [2], [5, 10]);
  assertValues(sum(e), [], [15]);
});

test('float32 sum of 10k elements stays close to the float64 sum', () => {
  const x = randRef([10000], 3, 0, 1);
  const s32 = sum(toTensor(x, { dtype: 'float32' })).item();
  const s64 = x.data.reduce((a, v) => a + v, 0);
  assert.ok(Math.abs(s32 - s64) / s64 < 1e-5, `${s32} vs ${s64}`);
});

test('sum over an empty dim is 0; mean over size-1 dims is the identity', () => {
  assertValues(sum(zeros([3, 0]), 1), [3], [0, 0, 0]);
  const x = tensor([[1.5], [2.5]], { dtype: 'float64' });
  assertValues(mean(x, 1), [2], [1.5, 2.5]);
});

test('max/min(x, dim) return values and int32 indices like torch.max(x, dim), keepdim included', () => {
  const x = randDistinct([3, 4, 5], 4);
  const t = toTensor(x);
  for (const [name, fn] of [['max', max], ['min', min]] as const) {
    for (const dim of [0, 1, 2, -1]) {
      for (const keepdim of [false, true]) {
        const r = fn(t, dim, keepdim);
        const e = reduceRef(x, dim, name, keepdim);
        assertClose(r.values, e.values, { ...TOL, what: `${name} values dim ${dim}` });
        assert.equal(r.indices.dtype, 'int32');
        assertClose(r.indices, e.indices, { what: `${name} indices dim ${dim}` });
      }
    }
  }
});

test('max/min pick the first occurrence on ties (values and indices)', () => {
  const x = tensor([[3, 1, 3, 0], [2, 2, 2, 2], [-1, 5, 5, -1]], { dtype: 'float64' });
  const r = max(x, 1);
  assertValues(r.values, [3], [3, 2, 5]);
  assertValues(r.indices, [3], [0, 0, 1]);
  const m = min(x, 1);
  assertValues(m.values, [3], [0, 2, -1]);
  assertValues(m.indices, [3], [3, 0, 0]);
  assertValues(argmax(x, 1), [3], [0, 0, 1]);
});

test('amax/amin over a dim, a list of dims (incl. negative), all dims, keepdim match the reference', () => {
  const x = randDistinct(SHAPE, 5);
  const t = toTensor(x);
  for (const dims of DIM_CASES) {
    for (const keepdim of [false, true]) {
      assertClose(amax(t, dims, keepdim), reduceRef(x, dims, 'max', keepdim).values, { ...TOL, what: `amax ${JSON.stringify(dims)}` });
      assertClose(amin(t, dims, keepdim), reduceRef(x, dims, 'min', keepdim).values, { ...TOL, what: `amin ${JSON.stringify(dims)}` });
    }
  }
  // Tensor.max()/min() sugar is amax/amin
  assert.equal(t.max().item(), Math.max(...x.data));
  assert.equal(t.min().item(), Math.min(...x.data));
  assertClose(t.max([0, 2], true), reduceRef(x, [0, 2], 'max', true).values, TOL);
});

test('argmax flattened (no dim) and per dim, with keepdim, on contiguous and transposed inputs', () => {
  const x = randDistinct([4, 6], 6);
  const t = toTensor(x);
  const flat = argmax(t);
  assert.deepEqual([...flat.shape], []);
  assert.equal(flat.dtype, 'int32');
  let best = 0;
  x.data.forEach((v, i) => v > x.data[best]! && (best = i));
  assert.equal(flat.item(), best);
  assertClose(argmax(t, 0), reduceRef(x, 0, 'max').indices);
  assertClose(argmax(t, -1, true), reduceRef(x, 1, 'max', true).indices);
  // transposed input: flattened index is in the row-major order of the view
  const tt = t.T;
  const tflat = argmax(tt).item();
  const tv = tt.toArray();
  assert.equal(tv[tflat], Math.max(...tv));
  assertClose(argmax(tt, 1), reduceRef(permuteRef(x, [1, 0]), 1, 'max').indices);
  assert.equal(argmin(t).item(), x.data.indexOf(Math.min(...x.data)));
  assertClose(t.argmax(1), reduceRef(x, 1, 'max').indices);
});

test('max/amax propagate NaN (NaN wins, as in PyTorch)', () => {
  const x = tensor([[1, Number.NaN, 3], [4, 5, 6]], { dtype: 'float64' });
  const r = max(x, 1);
  assert.ok(Number.isNaN(r.values.toArray()[0]!));
  assert.equal(r.indices.toArray()[0], 1);
  assert.equal(r.values.toArray()[1], 6);
  assert.ok(Number.isNaN(amax(x).item()));
  assert.ok(Number.isNaN(amin(x).item()));
});

test('reduction errors: dim out of range, repeated dims, max over an empty dim', () => {
  const x = zeros([2, 3]);
  assertThrowsMatching(() => sum(x, 2), 'sum: dim 2 out of range for a tensor of rank 2');
  assertThrowsMatching(() => mean(x, [0, -2]), 'repeated dim');
  assertThrowsMatching(() => max(x, -3), 'max: dim -3 out of range');
  assertThrowsMatching(() => amax(zeros([2, 0]), 1), 'cannot reduce over an empty dimension of [2, 0]');
  assertThrowsMatching(() => argmax(x, 5), 'argmax: dim 5 out of range');
});

test('reductions work on float32 and keep the dtype', () => {
  const x: Tensor = toTensor(randRef([5, 7], 7), { dtype: 'float32' });
  assert.equal(sum(x, 1).dtype, 'float32');
  assert.equal(amax(x, 0).dtype, 'float32');
  assertClose(mean(x, 1), reduceRef(randRef([5, 7], 7), 1, 'mean').values, { atol: 1e-6, rtol: 1e-6 });
});
