// matmul (torch.matmul semantics: 1-D promotion, broadcast batch dims), bmm and linear against the
// definition (a triple loop in float64), on contiguous, transposed, narrowed and broadcast views, in
// float64 and float32 (small sizes on the JS kernel, larger ones on the wasm/threaded sgemm paths).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bmm, linear, matmul, tensor, zeros, type Tensor } from '../src/index.js';
import { gemmStats } from '../src/tensor/backends/cpu/gemm/index.js';
import { assertClose, assertThrowsMatching, assertValues } from './helpers/check.js';
import { matmulRef, randRef, refOf, toTensor, transposeRef, zipWith, ref, type Ref } from './helpers/ref.js';

const F64 = { atol: 1e-12, rtol: 1e-12 };
const F32 = { atol: 2e-5, rtol: 2e-5 };

const CASES: [number[], number[], number[]][] = [
  [[5, 7], [7, 3], [5, 3]],
  [[2, 4, 6], [6, 5], [2, 4, 5]],
  [[2, 1, 3, 4], [3, 4, 5], [2, 3, 3, 5]],
  [[7], [7, 4], [4]],
  [[4], [4], []],
  [[3, 6, 7], [3, 7, 2], [3, 6, 2]],
  [[2, 3, 4], [4], [2, 3]],
  [[4], [2, 4, 3], [2, 3]],
  [[1, 5], [3, 5, 2], [3, 1, 2]],
];

for (const [sa, sb, so] of CASES) {
  test(`matmul ${JSON.stringify(sa)} @ ${JSON.stringify(sb)} -> ${JSON.stringify(so)} matches the definition (float64 and float32)`, () => {
    const a = randRef(sa, 1);
    const b = randRef(sb, 2);
    const expected = matmulRef(a, b);
    assert.deepEqual(expected.shape, so, 'reference shape');
    const y = matmul(toTensor(a), toTensor(b));
    assertClose(y, expected, F64);
    assertClose(matmul(toTensor(a, { dtype: 'float32' }), toTensor(b, { dtype: 'float32' })), expected, F32);
    assertClose(toTensor(a).matmul(toTensor(b)), expected, F64);
  });
}

test('matmul of transposed views (A^T B, A B^T, A^T B^T) needs no copy and matches the definition', () => {
  const at = randRef([7, 5], 3); // A = at^T : [5, 7]
  const bt = randRef([3, 7], 4); // B = bt^T : [7, 3]
  const A = transposeRef(at, 0, 1);
  const B = transposeRef(bt, 0, 1);
  const expected = matmulRef(A, B);
  assertClose(matmul(toTensor(at).T, toTensor(B)), expected, F64);
  assertClose(matmul(toTensor(A), toTensor(bt).T), expected, F64);
  assertClose(matmul(toTensor(at).T, toTensor(bt).T), expected, F64);
  for (const dtype of ['float32', 'float64'] as const) {
    assertClose(matmul(toTensor(at, { dtype }).T, toTensor(bt, { dtype }).T), expected, dtype === 'float32' ? F32 : F64);
  }
});

test('matmul of batched transposed/permuted views and of narrowed (row-stride > cols) views', () => {
  const x = randRef([6, 3, 7], 5); // permute(1, 0, 2) -> [3, 6, 7] with a non-contiguous batch stride
  const y = randRef([3, 2, 7], 6); // transpose(1, 2) -> [3, 7, 2]
  const xp = toTensor(x).permute(1, 0, 2);
  const yt = toTensor(y).transpose(1, 2);
  const expected = matmulRef(refOf(xp), refOf(yt));
  assertClose(matmul(xp, yt), expected, F64);
  // columns 2..8 of a [5, 10] matrix: row stride 10
  const wide = toTensor(randRef([5, 10], 7));
  const n = wide.narrow(1, 2, 7);
  const b = randRef([7, 4], 8);
  assertClose(matmul(n, toTensor(b)), matmulRef(refOf(n), b), F64);
  // an expanded (stride-0 column) operand is neither row- nor column-major: copied, still correct
  const e = tensor([[1], [2], [3], [4], [5]], { dtype: 'float64' }).expand(5, 7);
  assertClose(matmul(e, toTensor(b)), matmulRef(refOf(e), b), F64);
});

/** C = A B for row-major 2-D refs (a plain loop, fast enough for 100^3). */
function gemmRef(a: Ref, b: Ref): Ref {
  const [M, K] = a.shape as [number, number];
  const N = b.shape[1]!;
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const av = a.data[i * K + k]!;
      for (let j = 0; j < N; j++) out[i * N + j]! += av * b.data[k * N + j]!;
    }
  }
  return { shape: [M, N], data: out };
}

test('float32 matmul on the wasm sgemm path (odd sizes, plain and transposed) matches float64', () => {
  const before = gemmStats();
  for (const [M, K, N] of [
    [37, 53, 29],
    [64, 80, 72],
    [101, 97, 103],
  ] as const) {
    const a = randRef([M, K], M);
    const b = randRef([K, N], N);
    const expected = gemmRef(a, b);
    assertClose(matmul(toTensor(a, { dtype: 'float32' }), toTensor(b, { dtype: 'float32' })), expected, { atol: 1e-4, rtol: 1e-4, what: `${M}x${K}x${N}` });
    // transposed operands on the same path
    const at = transposeRef(a, 0, 1);
    assertClose(matmul(toTensor(at, { dtype: 'float32' }).T, toTensor(b, { dtype: 'float32' })), expected, { atol: 1e-4, rtol: 1e-4, what: `${M}x${K}x${N} A^T` });
    assertClose(matmul(toTensor(a), toTensor(b)), expected, { atol: 1e-11, rtol: 1e-11, what: `${M}x${K}x${N} float64` });
  }
  const after = gemmStats();
  assert.ok(after.wasmSingle + after.wasmThreaded > before.wasmSingle + before.wasmThreaded, 'the larger float32 cases run the wasm kernel');
});

test('matmul with an empty inner dim gives zeros; empty outer dims give empty results', () => {
  assertValues(matmul(zeros([2, 0]), zeros([0, 3])), [2, 3], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...matmul(zeros([0, 4]), zeros([4, 3])).shape], [0, 3]);
  assert.deepEqual([...matmul(zeros([2, 0, 4]), zeros([4, 3])).shape], [2, 0, 3]);
});

test('matmul errors name both shapes: inner mismatch, 0-d operands, batch mismatch, dtype mismatch', () => {
  assertThrowsMatching(() => matmul(zeros([2, 3]), zeros([4, 5])), 'matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 vs 4)');
  assertThrowsMatching(() => matmul(zeros([3]), zeros([4])), 'matmul', '[3]', '[4]');
  assertThrowsMatching(() => matmul(zeros([]), zeros([3])), 'at least 1 dimension', '[]');
  assertThrowsMatching(() => matmul(zeros([2, 3, 4]), zeros([3, 4, 5])), 'matmul', '[2]', '[3]', 'cannot be broadcast');
  assertThrowsMatching(() => matmul(zeros([2, 3]), zeros([3, 2], { dtype: 'float64' })), 'matmul: dtype mismatch');
  assertThrowsMatching(() => matmul(zeros([2, 3], { dtype: 'int32' }), zeros([3, 2], { dtype: 'int32' })), 'expected a float tensor, got int32');
});

test('bmm: [B,M,K] @ [B,K,N] with a batch of 1 broadcasting on either side', () => {
  const a = randRef([1, 3, 4], 9);
  const b = randRef([5, 4, 2], 10);
  assertClose(bmm(toTensor(a), toTensor(b)), matmulRef(a, b), F64);
  assertClose(bmm(toTensor(b).transpose(1, 2), toTensor(randRef([1, 4, 3], 11))), matmulRef(transposeRef(b, 1, 2), randRef([1, 4, 3], 11)), F64);
  assertThrowsMatching(() => bmm(zeros([2, 3, 4]), zeros([3, 4, 2])), 'bmm: batch sizes 2 and 3 do not broadcast');
  assertThrowsMatching(() => bmm(zeros([3, 4]), zeros([4, 2])), 'bmm: expected 3-D tensors, got [3, 4] and [4, 2]');
  assertThrowsMatching(() => bmm(zeros([1, 3, 4]), zeros([1, 3, 2])), 'bmm: inner dimensions differ');
});

test('linear: x @ W^T + b for 1-D, 2-D and 3-D inputs, with and without bias', () => {
  const w = randRef([5, 4], 12);
  const bias = randRef([5], 13);
  const wt = transposeRef(w, 0, 1);
  for (const shape of [[4], [3, 4], [2, 3, 4]]) {
    const x = randRef(shape, 14);
    const noBias = matmulRef(x, wt);
    assertClose(linear(toTensor(x), toTensor(w)), noBias, F64);
    assertClose(linear(toTensor(x), toTensor(w), toTensor(bias)), zipWith((p, q) => p + q, noBias, bias), F64);
    assertClose(linear(toTensor(x), toTensor(w), null), noBias, F64);
  }
  assertThrowsMatching(() => linear(zeros([3, 4]), zeros([5, 3])), 'linear: input [3, 4] has 4 features, weight [5, 3] expects 3');
  assertThrowsMatching(() => linear(zeros([3, 4]), zeros([4])), 'linear: weight must be 2-D [out, in], got [4]');
});

test('linear keeps float32 and is a known small case by hand', () => {
  // [1, 2] @ [[1, 0], [0, 1], [1, 1]]^T + [0.5, 0, -1] = [1.5, 2, 2]
  const y: Tensor = linear(tensor([[1, 2]]), tensor([[1, 0], [0, 1], [1, 1]]), tensor([0.5, 0, -1]));
  assert.equal(y.dtype, 'float32');
  assertValues(y, [1, 3], [1.5, 2, 2]);
  assertClose(refOf(y), ref([1, 3], [1.5, 2, 2]));
});
