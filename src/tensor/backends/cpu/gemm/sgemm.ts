// sgemm: float32 C = alpha * op(A) @ op(B) + beta * C, row-major, synchronous.
//
// Path by size:
//   - M, N = 0: nothing. K = 0 or alpha = 0: C = beta * C.
//   - M*N*K < SMALL_MNK, or no WebAssembly SIMD: the JS kernel (js-kernel.ts).
//   - else the wasm SIMD kernel (wasm-kernels.ts) on one shared WebAssembly.Memory: the caller
//     copies the stored A, B (and C if beta != 0) into the memory, the job (job.ts) packs and
//     multiplies on the calling thread plus, when M*N*K >= THREAD_MNK, the worker threads
//     (pool.ts), and the caller copies C back out.
// The memory grows as needed and is reused; nothing is allocated per call once it is big enough.
// Problems whose copies would exceed MEMORY_LIMIT_BYTES are split into column (then row, then k)
// blocks, each an ordinary sgemm call.

import { availableParallelism } from 'node:os';
import { DEFAULT_BLOCKING, type Blocking } from './blocking.js';
import { checkGemmArgs } from './check.js';
import { gemmJs, scaleC } from './js-kernel.js';
import { F_ALPHA, F_BETA, MAX_WORKERS, P } from './job.js';
import { GemmPool } from './pool.js';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';
import { buildGemmWasm, type GemmWasmExports, simdProbeBytes, WASM_MAX_PAGES, WASM_PAGE_BYTES } from './wasm-kernels.js';

/** Below this M*N*K the copies into wasm memory cost more than they save. */
const SMALL_MNK = 24 * 24 * 24;
/** From this M*N*K on, worker threads join (waking one costs tens of microseconds). */
const THREAD_MNK = 96 * 96 * 96;

interface Tuning {
  smallMnk: number;
  threadMnk: number;
  memoryLimitBytes: number;
  KC: number;
  MC: number;
  NC: number;
  /** Use the JS kernel for every size (tests of the fallback; also set when SIMD is missing). */
  forceJs: boolean;
}

const tuning: Tuning = {
  smallMnk: SMALL_MNK,
  threadMnk: THREAD_MNK,
  memoryLimitBytes: 2 ** 31,
  KC: DEFAULT_BLOCKING.KC,
  MC: DEFAULT_BLOCKING.MC,
  NC: DEFAULT_BLOCKING.NC,
  forceJs: false,
};

let threads = Math.min(8, Math.max(2, availableParallelism()));

/** Gets (and with `n`, sets) the number of threads sgemm may use, the calling thread included. */
export function gemmThreads(n?: number): number {
  if (n !== undefined) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS + 1) {
      throw new RangeError(`gemmThreads: ${n} is not an integer in 1..${MAX_WORKERS + 1}`);
    }
    threads = n;
  }
  return threads;
}

// ---------------------------------------------------------------------------------------------
// wasm state, created on the first call that needs it

interface WasmState {
  blocking: Blocking;
  module: WasmModule;
  memory: WasmMemory;
  kernels: GemmWasmExports;
  pool: GemmPool;
  /** View of the whole memory; replaced after every grow. */
  f32: Float32Array;
}

let wasm: WasmState | null | undefined; // undefined = not tried yet, null = unavailable

function simdAvailable(): boolean {
  try {
    return wasmApi !== undefined && wasmApi.validate(simdProbeBytes());
  } catch {
    return false;
  }
}

function wasmState(): WasmState | null {
  if (wasm !== undefined) return wasm;
  const api = wasmApi;
  if (api === undefined || !simdAvailable()) return (wasm = null);
  const blocking = DEFAULT_BLOCKING;
  const initialPages = 256; // 16 MiB
  const module = new api.Module(buildGemmWasm(blocking, initialPages));
  const memory = new api.Memory({ initial: initialPages, maximum: WASM_MAX_PAGES, shared: true });
  const kernels = new api.Instance(module, { env: { mem: memory } }).exports as unknown as GemmWasmExports;
  const pool = new GemmPool(module, memory, kernels, blocking);
  return (wasm = { blocking, module, memory, kernels, pool, f32: new Float32Array(memory.buffer) });
}

function ensureBytes(w: WasmState, bytes: number): void {
  const have = w.memory.buffer.byteLength;
  if (bytes > have) {
    const pages = Math.ceil((bytes - have) / WASM_PAGE_BYTES);
    w.memory.grow(pages);
  }
  if (w.f32.length * 4 !== w.memory.buffer.byteLength) w.f32 = new Float32Array(w.memory.buffer);
}

// ---------------------------------------------------------------------------------------------
// staging of operands into wasm memory

/**
 * How a stored rows x cols matrix (leading dimension ld) is copied: as its whole span with the
 * same ld (one memcpy) when that wastes at most as much again, else row by row densely.
 */
function stagedLd(rows: number, cols: number, ld: number): number {
  const span = (rows - 1) * ld + cols;
  return span <= 2 * rows * cols ? ld : cols;
}

function stagedFloats(rows: number, cols: number, ld: number): number {
  return (rows - 1) * ld + cols;
}

function stage(dst: Float32Array, at: number, X: Float32Array, off: number, rows: number, cols: number, ld: number, dld: number): void {
  if (dld === ld) {
    dst.set(X.subarray(off, off + (rows - 1) * ld + cols), at);
  } else {
    for (let r = 0; r < rows; r++) dst.set(X.subarray(off + r * ld, off + r * ld + cols), at + r * dld);
  }
}

function unstage(src: Float32Array, at: number, C: Float32Array, off: number, M: number, N: number, ldc: number): void {
  if (ldc === N) {
    C.set(src.subarray(at, at + M * N), off);
  } else {
    for (let r = 0; r < M; r++) C.set(src.subarray(at + r * N, at + r * N + N), off + r * ldc);
  }
}

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

// ---------------------------------------------------------------------------------------------

/** Counters of which path sgemm took (tests use them to prove a path ran). */
export interface GemmStats {
  js: number;
  wasmSingle: number;
  wasmThreaded: number;
  /** Work items done by worker threads. */
  workerItems: number;
  /** Worker threads started so far. */
  workers: number;
}

const counts = { js: 0, wasmSingle: 0, wasmThreaded: 0 };

export function gemmStats(): GemmStats {
  const w = wasm ?? null;
  return { ...counts, workerItems: w ? w.pool.workerItems : 0, workers: w ? w.pool.size : 0 };
}

/**
 * Starts the worker threads now (instead of on the first big sgemm) and resolves once they are
 * ready, so the next big sgemm uses all threads. Resolves at once without wasm SIMD or with 1 thread.
 */
export async function gemmWarmup(timeoutMs = 10000): Promise<void> {
  const w = wasmState();
  if (!w || threads < 2) return;
  w.pool.ensureWorkers(threads - 1);
  await w.pool.whenReady(timeoutMs);
}

/** Internal knobs for tests and benchmarks: returns the previous values. */
export function gemmTuning(change: Partial<Tuning> = {}): Tuning {
  const previous = { ...tuning };
  Object.assign(tuning, change);
  const bl = DEFAULT_BLOCKING;
  if (tuning.MC % bl.MR !== 0 || tuning.NC % bl.NR !== 0 || tuning.MC <= 0 || tuning.NC <= 0 || !(tuning.KC >= 1)) {
    Object.assign(tuning, previous);
    throw new RangeError(`gemmTuning: MC must be a positive multiple of ${bl.MR}, NC of ${bl.NR}`);
  }
  return previous;
}

export function sgemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  if (!(A instanceof Float32Array) || !(B instanceof Float32Array) || !(C instanceof Float32Array)) {
    throw new TypeError('sgemm: A, B and C must be Float32Array');
  }
  checkGemmArgs('sgemm', transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  sgemmChecked(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
}

function sgemmChecked(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    scaleC(M, N, beta, C, cOff, ldc);
    return;
  }
  const w = tuning.forceJs ? null : M * N * K < tuning.smallMnk ? null : wasmState();
  if (!w) {
    counts.js++;
    gemmJs(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  const bl = w.blocking;
  const { MR, NR } = bl;
  const Mpad = Math.ceil(M / MR) * MR;
  const Npad = Math.ceil(N / NR) * NR;
  const aRows = transA ? K : M, aCols = transA ? M : K;
  const bRows = transB ? N : K, bCols = transB ? K : N;
  const dlda = stagedLd(aRows, aCols, lda);
  const dldb = stagedLd(bRows, bCols, ldb);
  // Layout (bytes): edge scratch per thread | raw A | raw B | C (M x N dense) | packed A | packed B
  const scratch = 0;
  const rawA = align64(scratch + (MAX_WORKERS + 1) * MR * NR * 4);
  const rawB = align64(rawA + 4 * stagedFloats(aRows, aCols, dlda));
  const cAt = align64(rawB + 4 * stagedFloats(bRows, bCols, dldb));
  const pA = align64(cAt + 4 * M * N);
  const pB = align64(pA + 4 * Mpad * K);
  const end = align64(pB + 4 * Npad * K);
  if (end > Math.min(tuning.memoryLimitBytes, WASM_MAX_PAGES * WASM_PAGE_BYTES - WASM_PAGE_BYTES)) {
    splitAndRun(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  ensureBytes(w, end);
  const mem = w.f32;
  stage(mem, rawA / 4, A, aOff, aRows, aCols, lda, dlda);
  stage(mem, rawB / 4, B, bOff, bRows, bCols, ldb, dldb);
  if (beta !== 0) stage(mem, cAt / 4, C, cOff, M, N, ldc, N);

  const ctl = w.pool.ctl;
  ctl[P.M] = M;
  ctl[P.N] = N;
  ctl[P.K] = K;
  ctl[P.TA] = transA ? 1 : 0;
  ctl[P.TB] = transB ? 1 : 0;
  ctl[P.RAWA] = rawA;
  ctl[P.LDA] = dlda * 4;
  ctl[P.RAWB] = rawB;
  ctl[P.LDB] = dldb * 4;
  ctl[P.C] = cAt;
  ctl[P.LDC] = N * 4;
  ctl[P.PA] = pA;
  ctl[P.PB] = pB;
  ctl[P.MODE] = beta === 0 ? 0 : beta === 1 ? 2 : 1;
  ctl[P.SCRATCH] = scratch;
  ctl[P.KC] = tuning.KC;
  ctl[P.GA] = Math.max(1, Math.round(128 / MR));
  ctl[P.GB] = Math.max(1, Math.round(128 / NR));
  w.pool.ctlF[F_ALPHA] = alpha;
  w.pool.ctlF[F_BETA] = beta;

  let MC = tuning.MC;
  let NC = tuning.NC;
  let extra = 0;
  if (threads > 1 && M * N * K >= tuning.threadMnk) {
    // Enough tiles for every thread to claim several (a shared machine finishes cores unevenly):
    // narrow the tiles first (a thinner B block still streams from L2), then shorten them.
    const want = 4 * threads;
    const tiles = (): number => Math.ceil(M / MC) * Math.ceil(N / NC);
    while (tiles() < want && NC > 8 * NR) NC = Math.max(8 * NR, Math.ceil(NC / 2 / NR) * NR);
    while (tiles() < want && MC > 8 * MR) MC = Math.max(8 * MR, Math.ceil(MC / 2 / MR) * MR);
    extra = Math.min(threads - 1, tiles() - 1);
    if (extra > 0) w.pool.ensureWorkers(threads - 1);
  }
  ctl[P.MC] = MC;
  ctl[P.NC] = NC;
  if (extra > 0 && w.pool.idleWorkers() > 0) counts.wasmThreaded++;
  else counts.wasmSingle++;
  w.pool.run(extra);
  unstage(mem, cAt / 4, C, cOff, M, N, ldc);
}

/** Splits a problem too big for the wasm memory into halves (N, then M, then K) and runs each. */
function splitAndRun(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  if (N >= M && N > 1) {
    const h = Math.ceil(N / 2);
    // columns j of op(B): B[k, j] or, transposed, row j of B
    sgemmChecked(transA, transB, M, h, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    sgemmChecked(transA, transB, M, N - h, K, alpha, A, aOff, lda, B, bOff + (transB ? h * ldb : h), ldb, beta, C, cOff + h, ldc);
  } else if (M > 1) {
    const h = Math.ceil(M / 2);
    sgemmChecked(transA, transB, h, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    sgemmChecked(transA, transB, M - h, N, K, alpha, A, aOff + (transA ? h : h * lda), lda, B, bOff, ldb, beta, C, cOff + h * ldc, ldc);
  } else if (K > 1) {
    const h = Math.ceil(K / 2);
    sgemmChecked(transA, transB, M, N, h, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    sgemmChecked(transA, transB, M, N, K - h, alpha, A, aOff + (transA ? h * lda : h), lda, B, bOff + (transB ? h : h * ldb), ldb, 1, C, cOff, ldc);
  } else {
    throw new RangeError(`sgemm: a 1x1x1 block does not fit in ${tuning.memoryLimitBytes} bytes of wasm memory`);
  }
}
