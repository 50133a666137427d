// softmax / logSoftmax on every dim, stability for large logits, crossEntropy for [N, C] and
// [N, C, H, W] with each reduction, mseLoss — all against the float64 definitions.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { crossEntropy, logSoftmax, mseLoss, softmax, sum, tensor, zeros } from '../src/index.js';
import { assertClose, assertThrowsMatching } from './helpers/check.js';
import { crossEntropyRef, mseRef, randRef, ref, softmaxRef, toTensor, type Ref } from './helpers/ref.js';

const F64 = { atol: 1e-14, rtol: 1e-12 };
const F32 = { atol: 1e-6, rtol: 1e-5 };

test('softmax and logSoftmax along every dim (negative dims too) of a 3-D tensor match the definition', () => {
  const x = randRef([2, 3, 4], 1, -3, 3);
  for (const dim of [0, 1, 2, -1, -2, -3]) {
    assertClose(softmax(toTensor(x), dim), softmaxRef(x, dim), { ...F64, what: `softmax dim ${dim}` });
    assertClose(logSoftmax(toTensor(x), dim), softmaxRef(x, dim, true), { ...F64, what: `logSoftmax dim ${dim}` });
    assertClose(softmax(toTensor(x, { dtype: 'float32' }), dim), softmaxRef(x, dim), { ...F32, what: `float32 softmax dim ${dim}` });
  }
});

test('softmax rows sum to 1 and it works on strided inputs', () => {
  const x = randRef([5, 6], 2, -4, 4);
  const t = toTensor(x).T; // [6, 5] transposed view
  const s = softmax(t, 1);
  assertClose(sum(s, 1), ref([6], new Array(6).fill(1)), { atol: 1e-14, rtol: 0 });
  assertClose(logSoftmax(t, 0), softmaxRef({ shape: [6, 5], data: Float64Array.from(t.toArray()) }, 0, true), F64);
});

test('softmax/logSoftmax are stable for large logits (no overflow to NaN/inf)', () => {
  const x = tensor([[1000, 1001, 1002], [-1000, -1000, -1000]]);
  const s = softmax(x, 1).toArray();
  assert.ok(s.every(Number.isFinite), `softmax ${s}`);
  assertClose(s, softmaxRef(ref([2, 3], [1000, 1001, 1002, -1000, -1000, -1000]), 1).data, F32);
  const l = logSoftmax(x, 1).toArray();
  assert.ok(l.every(Number.isFinite), `logSoftmax ${l}`);
  assertClose(l.slice(3), [-Math.log(3), -Math.log(3), -Math.log(3)], F32);
});

test('softmax rejects int32 and out-of-range dims', () => {
  assertThrowsMatching(() => softmax(zeros([2], { dtype: 'int32' }), 0), 'softmax', 'int32');
  assertThrowsMatching(() => logSoftmax(zeros([2, 3]), 2), 'log_softmax: dim 2 out of range');
});

function targets(shape: number[], C: number, seed: number): Ref {
  const r = randRef(shape, seed, 0, C);
  return { shape: r.shape, data: r.data.map(Math.floor) };
}

test('crossEntropy on [N, C] logits: mean, sum and none match -log_softmax[target]', () => {
  const x = randRef([5, 4], 3, -2, 2);
  const t = targets([5], 4, 4);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    const y = crossEntropy(toTensor(x), toTensor(t, { dtype: 'int32' }), reduction);
    assertClose(y, crossEntropyRef(x, t, reduction), { ...F64, what: reduction });
  }
  // default reduction is mean
  assertClose(crossEntropy(toTensor(x), toTensor(t, { dtype: 'int32' })), crossEntropyRef(x, t, 'mean'), F64);
  // a hand case: uniform logits over 4 classes -> log 4
  assert.ok(Math.abs(crossEntropy(zeros([2, 4]), tensor([0, 3], { dtype: 'int32' })).item() - Math.log(4)) < 1e-6);
});

test('crossEntropy on [N, C, H, W] logits with [N, H, W] targets: mean over N*H*W, sum, none', () => {
  const x = randRef([2, 3, 2, 4], 5, -2, 2);
  const t = targets([2, 2, 4], 3, 6);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    const y = crossEntropy(toTensor(x), toTensor(t, { dtype: 'int32' }), reduction);
    assertClose(y, crossEntropyRef(x, t, reduction), { ...F64, what: reduction });
    const y32 = crossEntropy(toTensor(x, { dtype: 'float32' }), toTensor(t, { dtype: 'int32' }), reduction);
    assertClose(y32, crossEntropyRef(x, t, reduction), { ...F32, what: `float32 ${reduction}` });
  }
});

test('crossEntropy errors: wrong target shape, float targets, class index out of range, 1-D input', () => {
  assertThrowsMatching(() => crossEntropy(zeros([4, 3]), zeros([3], { dtype: 'int32' })), 'target shape [3] does not match input [4, 3] (expected [4])');
  assertThrowsMatching(() => crossEntropy(zeros([2, 3, 5]), zeros([2], { dtype: 'int32' })), 'expected [2, 5]');
  assertThrowsMatching(() => crossEntropy(zeros([2, 3]), zeros([2])), 'int32 class indices, got float32');
  assertThrowsMatching(() => crossEntropy(zeros([2, 3]), tensor([0, 3], { dtype: 'int32' })), 'index 3', 'outside [0, 3)');
  assertThrowsMatching(() => crossEntropy(zeros([3]), zeros([3], { dtype: 'int32' })), 'input must be [N, C, ...], got [3]');
});

test('mseLoss: mean, sum and none of (input - target)^2', () => {
  const a = randRef([3, 4], 7);
  const b = randRef([3, 4], 8);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    assertClose(mseLoss(toTensor(a), toTensor(b), reduction), mseRef(a, b, reduction), { ...F64, what: reduction });
  }
  assertClose(mseLoss(toTensor(a), toTensor(b)), mseRef(a, b, 'mean'), F64);
  assert.equal(mseLoss(tensor([1, 2]), tensor([3, 2])).item(), 2);
  assertThrowsMatching(() => mseLoss(zeros([3]), zeros([3, 1])), 'mseLoss: input [3] and target [3, 1] differ');
});
