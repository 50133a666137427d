import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { dgemm, gemmStats, gemmThreads, gemmTuning, gemmWarmup, sgemm } from '../src/tensor/backends/cpu/gemm/index.js';
import { buildGemmWasm } from '../src/tensor/backends/cpu/gemm/wasm-kernels.js';
import { makeBlocking } from '../src/tensor/backends/cpu/gemm/blocking.js';
import { sleb, uleb } from '../src/tensor/backends/cpu/gemm/wasm-emitter.js';

type Real = Float32Array | Float64Array;
type Gemm = typeof sgemm | typeof dgemm;

/** Small deterministic generator (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function filled(make: typeof Float32Array | typeof Float64Array, n: number, rand: () => number): Real {
  const a = new make(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra elements per stored row (leading dimension - row length). */
  pad: number;
  /** Offsets of A, B, C into their arrays. */
  off: number;
  /** Fill C with NaN before the call (only meaningful with beta = 0). */
  nanC?: boolean;
}

/**
 * Runs `gemm` on random operands laid out per `c` and compares every element of C with a float64
 * triple loop: |C - ref| <= tol * (|alpha| sum_k |a||b| + |beta c0|) + tiny. Also checks that the
 * padding between and around rows of C was not written.
 */
function checkCase(gemm: Gemm, make: typeof Float32Array | typeof Float64Array, c: Case, tol: number, seed = 1): void {
  const { transA, transB, M, N, K, alpha, beta, pad, off } = c;
  const rand = rng(seed);
  // cblas rule: a leading dimension is at least max(1, stored row length)
  const lda = Math.max(1, transA ? M : K) + pad, ldb = Math.max(1, transB ? K : N) + pad, ldc = Math.max(1, N) + pad;
  const aRows = transA ? K : M, bRows = transB ? N : K;
  const A = filled(make, off + aRows * lda, rand);
  const B = filled(make, off + bRows * ldb, rand);
  const C = filled(make, off + M * ldc + 3, rand);
  if (c.nanC) C.fill(NaN);
  const C0 = C.slice();
  (gemm as (...args: unknown[]) => void)(transA, transB, M, N, K, alpha, A, off, lda, B, off, ldb, beta, C, off, ldc);
  const label = `${gemm.name} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} M=${M} N=${N} K=${K} alpha=${alpha} beta=${beta} pad=${pad} off=${off}`;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0, mag = 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? A[off + k * lda + i]! : A[off + i * lda + k]!;
        const b = transB ? B[off + j * ldb + k]! : B[off + k * ldb + j]!;
        sum += a * b;
        mag += Math.abs(a * b);
      }
      const c0 = C0[off + i * ldc + j]!;
      const want = alpha * sum + (beta === 0 ? 0 : beta * c0);
      const bound = tol * (Math.abs(alpha) * mag + (beta === 0 ? 0 : Math.abs(beta * c0))) + 1e-30;
      const got = C[off + i * ldc + j]!;
      if (!(Math.abs(got - want) <= bound)) {
        assert.fail(`${label}: C[${i},${j}] = ${got}, want ${want} (bound ${bound})`);
      }
    }
  }
  // Nothing outside the M x N window of C changed.
  for (let p = 0; p < C.length; p++) {
    const row = Math.floor((p - off) / ldc), col = (p - off) % ldc;
    const inside = p >= off && row < M && col < N;
    if (!inside && !Object.is(C[p], C0[p])) assert.fail(`${label}: C[${p}] outside the result was written`);
  }
}

const TRANS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
const ODD_SIZES: [number, number, number][] = [
  [1, 1, 1], [1, 17, 3], [3, 1, 17], [17, 3, 1], [3, 17, 33], [33, 65, 17], [65, 33, 130], [130, 65, 33], [17, 130, 65],
];

test('sgemm: all four transpose combos match a float64 reference on odd sizes 1..130', () => {
  for (const [M, N, K] of ODD_SIZES) {
    for (const [transA, transB] of TRANS) checkCase(sgemm, Float32Array, { transA, transB, M, N, K, alpha: 1, beta: 0, pad: 0, off: 0 }, 1e-5);
  }
});

test('sgemm: offsets and leading dimensions larger than the row, with alpha and beta', () => {
  for (const [M, N, K] of ODD_SIZES) {
    for (const [transA, transB] of TRANS) {
      checkCase(sgemm, Float32Array, { transA, transB, M, N, K, alpha: -1.5, beta: 0.75, pad: 3, off: 5 }, 1e-5);
      // a leading dimension far larger than the row (staged row by row instead of as one span)
      checkCase(sgemm, Float32Array, { transA, transB, M, N, K, alpha: 0.5, beta: 1, pad: 150, off: 2 }, 1e-5);
    }
  }
});

test('sgemm: beta = 0 overwrites C even when it holds NaN', () => {
  for (const [M, N, K] of [[5, 7, 3], [33, 17, 65], [130, 65, 33]] as const) {
    for (const [transA, transB] of TRANS) {
      checkCase(sgemm, Float32Array, { transA, transB, M, N, K, alpha: 2, beta: 0, pad: 1, off: 1, nanC: true }, 1e-5);
    }
  }
});

test('sgemm: K = 0 or alpha = 0 gives beta * C without reading A or B; M = 0 or N = 0 writes nothing', () => {
  const C = new Float32Array([1, 2, 3, 4, 5, 6]);
  const nan = new Float32Array(64).fill(NaN);
  sgemm(false, false, 2, 3, 0, 1, nan, 0, 1, nan, 0, 3, 2, C, 0, 3);
  assert.deepEqual([...C], [2, 4, 6, 8, 10, 12]);
  sgemm(false, false, 2, 3, 4, 0, nan, 0, 4, nan, 0, 3, 0.5, C, 0, 3);
  assert.deepEqual([...C], [1, 2, 3, 4, 5, 6]);
  const D = new Float32Array([NaN, NaN, 7]);
  sgemm(true, true, 1, 2, 5, 0, nan, 0, 1, nan, 0, 5, 0, D, 0, 2);
  assert.deepEqual([...D], [0, 0, 7]);
  const E = new Float32Array([1, 2]);
  sgemm(false, false, 0, 2, 3, 1, nan, 0, 3, nan, 0, 2, 0, E, 0, 2);
  sgemm(false, false, 2, 0, 3, 1, nan, 0, 3, nan, 0, 1, 0, E, 0, 1);
  assert.deepEqual([...E], [1, 2]);
});

test('sgemm: single-thread wasm path (1 thread) on a size above the threading threshold', () => {
  const before = gemmStats();
  const previous = gemmThreads();
  gemmThreads(1);
  try {
    checkCase(sgemm, Float32Array, { transA: false, transB: true, M: 130, N: 129, K: 131, alpha: 1, beta: 0.5, pad: 2, off: 3 }, 1e-5);
  } finally {
    gemmThreads(previous);
  }
  const after = gemmStats();
  if (after.workers === 0 && after.js > before.js) return; // no WebAssembly SIMD here: JS fallback ran
  assert.equal(after.wasmSingle, before.wasmSingle + 1);
  assert.equal(after.workerItems, before.workerItems);
});

test('sgemm: threaded path (2 threads, workers take items) matches the reference in all combos', async () => {
  const previous = gemmThreads();
  gemmThreads(2);
  try {
    await gemmWarmup();
    const before = gemmStats();
    if (before.workers === 0) return; // no WebAssembly SIMD: nothing to thread
    for (const [transA, transB] of TRANS) {
      checkCase(sgemm, Float32Array, { transA, transB, M: 197, N: 211, K: 163, alpha: 1.25, beta: -0.5, pad: 1, off: 7 }, 1e-5, 3);
    }
    // tall-skinny, small M x N with a long k (the weight-gradient shape of a convolution)
    checkCase(sgemm, Float32Array, { transA: false, transB: true, M: 24, N: 36, K: 2000, alpha: 1, beta: 0, pad: 0, off: 0 }, 1e-5, 4);
    const after = gemmStats();
    assert.equal(after.wasmThreaded, before.wasmThreaded + 5);
    assert.ok(after.workerItems > before.workerItems, `workers did no items (${before.workerItems} -> ${after.workerItems})`);
  } finally {
    gemmThreads(previous);
  }
});

test('sgemm: threaded results equal single-thread results bit for bit on 40 random shapes (no races)', async () => {
  // Each element of C is summed in the same order whichever thread computes its tile, so any
  // difference would mean a race (a tile read before its panels were packed, a C tile written twice).
  const previous = gemmThreads();
  gemmThreads(2);
  try {
    await gemmWarmup();
    const rand = rng(99);
    const before = gemmStats();
    for (let run = 0; run < 40; run++) {
      const M = 40 + Math.floor(rand() * 200), N = 40 + Math.floor(rand() * 200), K = 40 + Math.floor(rand() * 200);
      const transA = rand() < 0.5, transB = rand() < 0.5;
      const beta = [0, 1, -0.5][run % 3]!;
      const A = filled(Float32Array, M * K, rand) as Float32Array;
      const B = filled(Float32Array, K * N, rand) as Float32Array;
      const C0 = filled(Float32Array, M * N, rand) as Float32Array;
      const threaded = C0.slice(), single = C0.slice();
      const lda = transA ? M : K, ldb = transB ? K : N;
      sgemm(transA, transB, M, N, K, 0.75, A, 0, lda, B, 0, ldb, beta, threaded, 0, N);
      gemmThreads(1);
      sgemm(transA, transB, M, N, K, 0.75, A, 0, lda, B, 0, ldb, beta, single, 0, N);
      gemmThreads(2);
      for (let i = 0; i < M * N; i++) {
        if (!Object.is(threaded[i], single[i])) {
          assert.fail(`run ${run} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${M}x${N}x${K} beta=${beta}: C[${i}] threaded ${threaded[i]} != single ${single[i]}`);
        }
      }
    }
    const after = gemmStats();
    if (after.workers > 0) assert.ok(after.workerItems > before.workerItems, 'workers never took an item');
  } finally {
    gemmThreads(previous);
  }
});

test('sgemm: the JS kernel (fallback without wasm SIMD) matches the reference', () => {
  const previous = gemmTuning({ forceJs: true });
  const before = gemmStats();
  try {
    for (const [M, N, K] of [[1, 1, 1], [17, 33, 65], [65, 130, 300]] as const) {
      for (const [transA, transB] of TRANS) {
        checkCase(sgemm, Float32Array, { transA, transB, M, N, K, alpha: 0.5, beta: 0, pad: 2, off: 1, nanC: true }, 1e-5);
        checkCase(sgemm, Float32Array, { transA, transB, M, N, K, alpha: 1, beta: 2, pad: 0, off: 0 }, 1e-5);
      }
    }
  } finally {
    gemmTuning(previous);
  }
  assert.equal(gemmStats().js, before.js + 24);
});

test('sgemm: problems bigger than the wasm memory budget are split into blocks and stay correct', () => {
  // 1 MiB budget: every one of these must be cut in N, M and (for the 1 x 1 x K case) K.
  const previous = gemmTuning({ memoryLimitBytes: 1 << 20, smallMnk: 1 });
  try {
    for (const [transA, transB] of TRANS) {
      checkCase(sgemm, Float32Array, { transA, transB, M: 70, N: 300, K: 500, alpha: 1, beta: 0.5, pad: 1, off: 2 }, 1e-5);
    }
    checkCase(sgemm, Float32Array, { transA: true, transB: false, M: 1, N: 1, K: 200000, alpha: 1, beta: 0.25, pad: 0, off: 0 }, 1e-5);
  } finally {
    gemmTuning(previous);
  }
});

test('sgemm: property — random shapes, layouts, alpha and beta match the reference', () => {
  fc.assert(
    fc.property(
      fc.record({
        transA: fc.boolean(),
        transB: fc.boolean(),
        M: fc.integer({ min: 0, max: 40 }),
        N: fc.integer({ min: 0, max: 40 }),
        K: fc.integer({ min: 0, max: 40 }),
        alpha: fc.constantFrom(1, -1, 0.5, 2, 0),
        beta: fc.constantFrom(0, 1, -0.5, 3),
        pad: fc.integer({ min: 0, max: 5 }),
        off: fc.integer({ min: 0, max: 9 }),
        nanC: fc.boolean(),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      (c) => {
        const nanC = c.nanC && c.beta === 0 && c.alpha !== 0 && c.K > 0;
        checkCase(sgemm, Float32Array, { ...c, nanC }, 1e-5, c.seed);
      },
    ),
    { numRuns: 200 },
  );
});

test('dgemm: all combos, offsets, leading dims, alpha/beta match the float64 reference to rounding', () => {
  for (const [M, N, K] of [...ODD_SIZES, [70, 300, 300]] as [number, number, number][]) {
    for (const [transA, transB] of TRANS) {
      checkCase(dgemm, Float64Array, { transA, transB, M, N, K, alpha: -0.75, beta: 1.5, pad: 2, off: 3 }, 1e-13);
      checkCase(dgemm, Float64Array, { transA, transB, M, N, K, alpha: 1, beta: 0, pad: 0, off: 0, nanC: true }, 1e-13);
    }
  }
});

test('dgemm: an exactly representable product comes out exact', () => {
  // Small integers: every product and partial sum is exact in float64, whatever the order.
  const M = 37, N = 29, K = 300;
  const A = new Float64Array(M * K).map((_, i) => (i % 7) - 3);
  const B = new Float64Array(K * N).map((_, i) => (i % 5) - 2);
  const C = new Float64Array(M * N);
  dgemm(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, C, 0, N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[i * K + k]! * B[k * N + j]!;
      assert.equal(C[i * N + j], s);
    }
  }
});

test('gemm: bad arguments throw one clear error naming the operand and shape', () => {
  const A = new Float32Array(12), B = new Float32Array(12), C = new Float32Array(16);
  assert.throws(() => sgemm(false, false, 3, 4, 4, 1, A, 0, 3, B, 0, 4, 0, C, 0, 4), /lda=3 < max\(1, 4\) for the stored 3x4 A/);
  assert.throws(() => sgemm(false, false, 5, 4, 3, 1, A, 0, 3, B, 0, 4, 0, C, 0, 4), /A stored as 5x3 \(ld=3, offset=0\) needs 15 elements, array has 12/);
  assert.throws(() => sgemm(true, true, 2, 4, 3, 1, A, 0, 2, B, 0, 4, 0, C, 0, 4), /B stored as 4x3 \(ld=4, offset=0\) needs 15 elements, array has 12/);
  assert.throws(() => sgemm(false, false, 3, 4, 4, 1, A, 0, 4, C, 0, 4, 0, C, 5, 4), /C stored as 3x4 \(ld=4, offset=5\) needs 17 elements, array has 16/);
  assert.throws(() => sgemm(false, false, -1, 4, 4, 1, A, 0, 4, B, 0, 4, 0, C, 0, 4), /M=-1, N=4, K=4 must be non-negative integers/);
  assert.throws(() => sgemm(false, false, 2, 2, 2, 1, new Float64Array(4) as unknown as Float32Array, 0, 2, B, 0, 2, 0, C, 0, 2), /Float32Array/);
  assert.throws(() => dgemm(false, false, 2, 2, 2, 1, A as unknown as Float64Array, 0, 2, new Float64Array(4), 0, 2, 0, new Float64Array(4), 0, 2), /Float64Array/);
});

test('gemmThreads: reads and sets the thread count, rejects non-integers and 0', () => {
  const previous = gemmThreads();
  assert.ok(previous >= 1 && previous <= 65);
  assert.equal(gemmThreads(3), 3);
  assert.equal(gemmThreads(), 3);
  gemmThreads(previous);
  assert.throws(() => gemmThreads(0), /not an integer in 1\.\./);
  assert.throws(() => gemmThreads(1.5), /not an integer in 1\.\./);
});

test('wasm emitter: LEB128 encodings and a generated module that validates for other tile shapes', () => {
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(-1), [0x7f]);
  const WA = (globalThis as unknown as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly;
  if (!WA) return;
  for (const shape of [{ MR: 4, NV: 2, U: 1 }, { MR: 3, NV: 3, U: 2 }, { MR: 5, NV: 1, U: 4 }]) {
    const bytes = buildGemmWasm(makeBlocking(shape, 64, shape.MR * 4, shape.NV * 16), 1);
    assert.ok(WA.validate(bytes), `module for ${JSON.stringify(shape)} does not validate`);
  }
});
