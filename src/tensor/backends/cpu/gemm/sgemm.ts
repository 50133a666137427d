// sgemm: float32 C = alpha * op(A) @ op(B) + beta * C, row-major, synchronous.
//
// Path by size:
//   - M, N = 0: nothing. K = 0 or alpha = 0: C = beta * C.
//   - M*N*K < SMALL_MNK, or no WebAssembly SIMD: the JS kernel (js-kernel.ts).
//   - else the wasm SIMD kernel (wasm-kernels.ts) on one shared WebAssembly.Memory. Operands that
//     already live in that memory (CPU tensors do: ../arena.ts) are read and written in place; the
//     caller copies any other A, B (and C if beta != 0) into the GEMM's workspace (staging.ts) while
//     the job (job.ts) packs what has arrived and then multiplies, on the calling thread plus, when
//     M*N*K >= THREAD_MNK, the worker threads (pool.ts); a staged C is copied back out.
// The workspace (edge scratch, staged operands, packed panels) is one arena block, grown as needed
// and reused; nothing is allocated per call once it is big enough. Problems whose workspace would
// exceed tuning.memoryLimitBytes (2 GiB) are split into column (then row, then k) blocks, each an
// ordinary sgemm call.

import { availableParallelism } from 'node:os';
import { arenaAddress, arenaAllocRaw, arenaFree } from '../arena.js';
import { DEFAULT_BLOCKING } from './blocking.js';
import { checkGemmArgs } from './check.js';
import { gemmJs, scaleC } from './js-kernel.js';
import { C_STAGED_A, C_STAGED_B, C_STAGED_C, F_ALPHA, F_BETA, jobPlan, MAX_WORKERS, P } from './job.js';
import { copyRows, stagedFloats, stagedLd, stageOperand } from './staging.js';
import { WASM_MAX_PAGES, WASM_PAGE_BYTES } from './wasm-kernels.js';
import { loadedWasmState, wasmState, type WasmState } from './wasm-state.js';

/** Below this M*N*K the copies into wasm memory cost more than they save. */
const SMALL_MNK = 8 * 8 * 8;
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

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

/** The GEMM's workspace block in the arena: address and size (0 / 0 before the first call). */
let wsAt = 0;
let wsBytes = 0;

/** Address of a workspace of at least `bytes` bytes (the old block is dropped when too small), or -1. */
function workspace(w: WasmState, bytes: number): number {
  if (bytes <= wsBytes) return wsAt;
  if (wsBytes > 0) arenaFree(wsAt);
  const want = Math.max(bytes, Math.ceil(wsBytes * 1.25));
  const at = arenaAllocRaw(want, false);
  if (at < 0) {
    wsAt = wsBytes = 0;
    return -1;
  }
  wsAt = at;
  wsBytes = want;
  if (w.f32.length * 4 !== w.memory.buffer.byteLength) w.f32 = new Float32Array(w.memory.buffer);
  return at;
}

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
  const w = loadedWasmState();
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
  // Operands in the shared memory are used in place; the others are staged in the workspace.
  const aAt = arenaAddress(A), bAt = arenaAddress(B), cIn = arenaAddress(C);
  const dlda = aAt >= 0 ? lda : stagedLd(aRows, aCols, lda);
  const dldb = bAt >= 0 ? ldb : stagedLd(bRows, bCols, ldb);
  // Workspace layout (bytes): edge scratch per thread | [staged A] | [staged B] | [C (M x N dense)] | packed A | packed B
  const scratch = 0;
  const rawA = align64(scratch + (MAX_WORKERS + 1) * MR * NR * 4);
  const rawB = align64(rawA + (aAt >= 0 ? 0 : 4 * stagedFloats(aRows, aCols, dlda)));
  const cStage = align64(rawB + (bAt >= 0 ? 0 : 4 * stagedFloats(bRows, bCols, dldb)));
  const pA = align64(cStage + (cIn >= 0 ? 0 : 4 * M * N));
  const pB = align64(pA + 4 * Mpad * K);
  const end = align64(pB + 4 * Npad * K);
  if (end > Math.min(tuning.memoryLimitBytes, WASM_MAX_PAGES * WASM_PAGE_BYTES - WASM_PAGE_BYTES)) {
    splitAndRun(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  const ws = workspace(w, end);
  if (ws < 0) {
    // The arena is full: the JS kernel needs no workspace.
    counts.js++;
    gemmJs(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  const mem = w.f32;
  const aAddr = aAt >= 0 ? aAt + 4 * aOff : ws + rawA;
  const bAddr = bAt >= 0 ? bAt + 4 * bOff : ws + rawB;
  const cAt = cIn >= 0 ? cIn + 4 * cOff : ws + cStage;
  const cLd = cIn >= 0 ? ldc : N;

  const ctl = w.pool.ctl;
  ctl[P.M] = M;
  ctl[P.N] = N;
  ctl[P.K] = K;
  ctl[P.TA] = transA ? 1 : 0;
  ctl[P.TB] = transB ? 1 : 0;
  ctl[P.RAWA] = aAddr;
  ctl[P.LDA] = dlda * 4;
  ctl[P.RAWB] = bAddr;
  ctl[P.LDB] = dldb * 4;
  ctl[P.C] = cAt;
  ctl[P.LDC] = cLd * 4;
  ctl[P.PA] = ws + pA;
  ctl[P.PB] = ws + pB;
  ctl[P.MODE] = beta === 0 ? 0 : beta === 1 ? 2 : 1;
  ctl[P.SCRATCH] = ws + scratch;
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
    // halve the tile's longer side (in micro-tiles) until there are, down to 2 x 2 micro-tiles.
    // Small tiles cost little: each still runs whole KC slices through the micro-kernel.
    const want = 4 * threads;
    const tiles = (): number => Math.ceil(M / MC) * Math.ceil(N / NC);
    while (tiles() < want) {
      const mTiles = Math.min(MC, Mpad) / MR, nTiles = Math.min(NC, Npad) / NR;
      if (nTiles > 2 && nTiles >= mTiles) NC = Math.ceil(Math.min(NC, Npad) / 2 / NR) * NR;
      else if (mTiles > 2) MC = Math.ceil(Math.min(MC, Mpad) / 2 / MR) * MR;
      else break;
    }
    extra = Math.min(threads - 1, tiles() - 1);
    if (extra > 0) w.pool.ensureWorkers(threads - 1);
  }
  ctl[P.MC] = MC;
  ctl[P.NC] = NC;

  w.pool.begin(extra);
  if (w.pool.assignedCount > 0) counts.wasmThreaded++;
  else counts.wasmSingle++;
  let failure: unknown = null;
  try {
    const plan = jobPlan(ctl, bl);
    if (aAt >= 0) publishAll(ctl, C_STAGED_A);
    else stageOperand(mem, aAddr / 4, A, aOff, lda, dlda, plan.A, ctl, C_STAGED_A);
    if (bAt >= 0) publishAll(ctl, C_STAGED_B);
    else stageOperand(mem, bAddr / 4, B, bOff, ldb, dldb, plan.B, ctl, C_STAGED_B);
    if (beta !== 0 && cIn < 0) copyRows(mem, cAt / 4, N, C, cOff, ldc, M, N);
    Atomics.store(ctl, C_STAGED_C, 1);
    Atomics.notify(ctl, C_STAGED_C);
  } catch (e) {
    failure = e;
  }
  w.pool.finish(failure);
  if (cIn < 0) copyRows(C, cOff, ldc, mem, cAt / 4, N, M, N);
}

/** Marks every chunk of an operand staged (it is read in place). */
function publishAll(ctl: Int32Array, slot: number): void {
  Atomics.store(ctl, slot, 0x3fffffff);
  Atomics.notify(ctl, slot);
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
