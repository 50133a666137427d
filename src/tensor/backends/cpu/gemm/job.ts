// One float32 GEMM job, as run by every participating thread (the calling thread and the workers).
//
// The calling thread has written the job's parameters into the control block and is copying the
// stored A, B (and C when beta != 0) into the shared wasm memory, publishing each staged chunk
// (staging.ts). The job has two phases, each a list of items claimed with an atomic counter, so a
// busy or late thread simply takes fewer items (the machine is shared; static splits would wait
// on the slowest core):
//
//   1. pack: item = (k slice, group of MR-row panels of A) or (k slice, group of NR-column panels
//      of B); waits until its chunk is staged, then packs it into the panel layout the
//      micro-kernel reads. Every thread then waits until all pack items are done (a barrier on a
//      done-counter) and until C is staged.
//   2. compute: item = one MC x NC tile of C; for each KC slice, `macro` runs over its panels.
//      Tiles are disjoint, so threads never write the same part of C.
//
// Packed layouts (floats, relative to PA/PB): slice p of A starts at p*KC*Mpad and holds Mpad/MR
// panels of kc*MR floats; slice p of B starts at p*KC*Npad with Npad/NR panels of kc*NR floats.

import type { Blocking } from './blocking.js';
import { itemCount, itemOf, operandPlan, type OperandPlan } from './staging.js';
import type { GemmWasmExports } from './wasm-kernels.js';

// Int32 slots of the control block (a SharedArrayBuffer of CTL_BYTES).
export const C_PACK_NEXT = 0;
export const C_PACK_DONE = 1;
export const C_TILE_NEXT = 2;
export const C_ERROR = 3;
/** Items (pack + tiles) done by workers since load: lets tests see that workers took part. */
export const C_WORKER_ITEMS = 4;
/** Staged chunks of A and of B so far, and 1 once C is staged (staging.ts). */
export const C_STAGED_A = 5;
export const C_STAGED_B = 6;
export const C_STAGED_C = 7;
/** What the assigned threads run: JOB_GEMM (the parameters below) or JOB_TASK (../parallel.ts). */
export const C_KIND = 8;
export const JOB_GEMM = 0;
export const JOB_TASK = 1;
/** Per-worker state, slot C_STATE + worker index. */
export const C_STATE = 16;
export const MAX_WORKERS = 64;
export const STATE_STARTING = 0;
export const STATE_IDLE = 1;
export const STATE_ASSIGNED = 2;

// Job parameters: Int32 slots from P_BASE, two float64 (alpha, beta) at byte F_BASE_BYTES.
const P_BASE = C_STATE + MAX_WORKERS;
export const P = {
  M: P_BASE + 0,
  N: P_BASE + 1,
  K: P_BASE + 2,
  TA: P_BASE + 3,
  TB: P_BASE + 4,
  RAWA: P_BASE + 5,
  LDA: P_BASE + 6,
  RAWB: P_BASE + 7,
  LDB: P_BASE + 8,
  C: P_BASE + 9,
  LDC: P_BASE + 10,
  PA: P_BASE + 11,
  PB: P_BASE + 12,
  MODE: P_BASE + 13,
  SCRATCH: P_BASE + 14,
  KC: P_BASE + 15,
  MC: P_BASE + 16,
  NC: P_BASE + 17,
  GA: P_BASE + 18,
  GB: P_BASE + 19,
} as const;
const P_END = P_BASE + 20;
export const F_BASE_BYTES = P_END * 4 + 8 - ((P_END * 4) % 8);
export const F_ALPHA = F_BASE_BYTES / 8;
export const F_BETA = F_BASE_BYTES / 8 + 1;
export const CTL_BYTES = F_BASE_BYTES + 16;

/** Busy-wait iterations before a thread sleeps on a futex (Atomics.wait). */
const SPIN = 4000;

export interface JobPlan {
  A: OperandPlan;
  B: OperandPlan;
  nTm: number;
  nTn: number;
}

/** Staging/packing plans and tile counts of the job whose parameters are in `ctl`. */
export function jobPlan(ctl: Int32Array, bl: Blocking): JobPlan {
  const M = ctl[P.M]!, N = ctl[P.N]!, K = ctl[P.K]!, KC = ctl[P.KC]!;
  return {
    // op(A) is M x K: stored K x M (k along rows) when transposed. op(B) is K x N: stored K x N
    // (k along rows) unless transposed.
    A: operandPlan(ctl[P.TA]! !== 0, M, K, KC, ctl[P.GA]! * bl.MR),
    B: operandPlan(ctl[P.TB]! === 0, N, K, KC, ctl[P.GB]! * bl.NR),
    nTm: Math.ceil(M / ctl[P.MC]!),
    nTn: Math.ceil(N / ctl[P.NC]!),
  };
}

/** Waits (spinning briefly, then sleeping) until ctl[slot] >= value. */
function waitAtLeast(ctl: Int32Array, slot: number, value: number): void {
  for (let spins = 0; ; spins++) {
    const v = Atomics.load(ctl, slot);
    if (v >= value) return;
    if (spins > SPIN) Atomics.wait(ctl, slot, v, 100);
  }
}

/**
 * Runs this thread's share of the job; returns the number of items it did. `tid` selects the
 * thread's edge scratch block (0 = calling thread, w + 1 = worker w).
 */
export function executeJob(ctl: Int32Array, ctlF: Float64Array, k: GemmWasmExports, bl: Blocking, tid: number): number {
  const { MR, NR } = bl;
  const M = ctl[P.M]!, N = ctl[P.N]!, K = ctl[P.K]!;
  const ta = ctl[P.TA]!, tb = ctl[P.TB]!;
  const rawA = ctl[P.RAWA]!, lda = ctl[P.LDA]!, rawB = ctl[P.RAWB]!, ldb = ctl[P.LDB]!;
  const cBase = ctl[P.C]!, ldc = ctl[P.LDC]!;
  const pA = ctl[P.PA]!, pB = ctl[P.PB]!;
  const mode0 = ctl[P.MODE]!;
  const KC = ctl[P.KC]!, MC = ctl[P.MC]!, NC = ctl[P.NC]!, GA = ctl[P.GA]!, GB = ctl[P.GB]!;
  const scratch = ctl[P.SCRATCH]! + tid * MR * NR * 4;
  const alpha = ctlF[F_ALPHA]!, beta = ctlF[F_BETA]!;
  const Mpad = Math.ceil(M / MR) * MR;
  const Npad = Math.ceil(N / NR) * NR;
  const { A: planA, B: planB, nTm, nTn } = jobPlan(ctl, bl);
  const nPackA = itemCount(planA);
  const nPack = nPackA + itemCount(planB);
  const nKb = planA.nKb;
  const item = { p: 0, g: 0, chunk: 0 };
  let items = 0;

  for (;;) {
    const t = Atomics.add(ctl, C_PACK_NEXT, 1);
    if (t >= nPack) break;
    if (t < nPackA) {
      itemOf(planA, t, item);
      waitAtLeast(ctl, C_STAGED_A, item.chunk + 1);
      const k0 = item.p * KC, kc = Math.min(KC, K - k0);
      const i0 = item.g * GA * MR;
      const panels = Math.min(GA, Math.ceil((M - i0) / MR));
      // op(A)(i, k): A transposed is stored K x M (row k), else M x K (row i).
      const src = rawA + (ta ? k0 * lda + i0 * 4 : i0 * lda + k0 * 4);
      k.packA(src, lda, ta, M - i0, kc, pA + 4 * (item.p * KC * Mpad + i0 * kc), panels);
    } else {
      itemOf(planB, t - nPackA, item);
      waitAtLeast(ctl, C_STAGED_B, item.chunk + 1);
      const k0 = item.p * KC, kc = Math.min(KC, K - k0);
      const j0 = item.g * GB * NR;
      const panels = Math.min(GB, Math.ceil((N - j0) / NR));
      // op(B)(k, j): B transposed is stored N x K (row j), else K x N (row k).
      const src = rawB + (tb ? j0 * ldb + k0 * 4 : k0 * ldb + j0 * 4);
      k.packB(src, ldb, tb, N - j0, kc, pB + 4 * (item.p * KC * Npad + j0 * kc), panels);
    }
    items++;
    if (Atomics.add(ctl, C_PACK_DONE, 1) + 1 === nPack) Atomics.notify(ctl, C_PACK_DONE);
  }

  // Barrier: every pack item must be finished before any tile reads the panels, and C staged.
  waitAtLeast(ctl, C_PACK_DONE, nPack);
  waitAtLeast(ctl, C_STAGED_C, 1);

  const nTiles = nTm * nTn;
  for (;;) {
    const t = Atomics.add(ctl, C_TILE_NEXT, 1);
    if (t >= nTiles) break;
    const tj = Math.floor(t / nTm);
    const ti = t - tj * nTm;
    const ic = ti * MC, mc = Math.min(MC, M - ic);
    const jc = tj * NC, nc = Math.min(NC, N - jc);
    const c = cBase + ic * ldc + jc * 4;
    for (let p = 0; p < nKb; p++) {
      const k0 = p * KC, kc = Math.min(KC, K - k0);
      const a = pA + 4 * (p * KC * Mpad + ic * kc);
      const b = pB + 4 * (p * KC * Npad + jc * kc);
      k.macro(a, b, c, ldc, mc, nc, kc, alpha, beta, p === 0 ? mode0 : 2, scratch);
    }
    items++;
  }
  return items;
}

/** Marks the job failed and releases anyone waiting at the pack barrier. */
export function abortJob(ctl: Int32Array): void {
  Atomics.store(ctl, C_ERROR, 1);
  for (const slot of [C_PACK_DONE, C_STAGED_A, C_STAGED_B, C_STAGED_C]) {
    Atomics.store(ctl, slot, 0x3fffffff);
    Atomics.notify(ctl, slot);
  }
}
