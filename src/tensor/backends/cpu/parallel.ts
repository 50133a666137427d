// Non-GEMM CPU kernels on every core: a task (tasks.ts) over `n` items runs on the calling thread and
// on the GEMM's worker threads (gemm/pool.ts), which claim chunks of items from a shared counter, as
// they claim GEMM tiles. Only data in the shared arena (arena.ts) is visible to the workers, so a kernel
// takes this path when its operands live there (every CPU storage does unless the arena is full) and
// the work is big enough to pay for waking a worker (tens of microseconds); otherwise it runs its serial
// loop. Tasks write disjoint items and never read what another item writes: the bits do not depend on
// which thread ran which item, or on the number of threads.
//
//   parallelFor(task, n, chunk, work, args)   runs TASKS[task] over [0, n) (args fills the control block)
//   arenaIndex(array, offset, bytes)          element index of array[offset] in the shared memory, or -1
//   f64Scratch(n)                             element index of n float64 scratch values in the memory

import type { TypedArray } from '../../dtype.js';
import { arenaAddress, arenaAllocRaw, arenaFree } from './arena.js';
import { gemmThreads } from './gemm/sgemm.js';
import { JOB_TASK } from './gemm/job.js';
import { wasmState, type WasmState } from './gemm/wasm-state.js';
import { memoryViews, runTaskShare, T_CHUNK, T_ID, T_N, T_NEXT } from './task-ctl.js';
import { A0 } from './tasks.js';

interface ParallelTuning {
  /** Work (elements touched) from which a kernel runs on the workers too. */
  minWork: number;
  /** false: every task runs on the calling thread alone (tests compare both). */
  enabled: boolean;
}

const tuning: ParallelTuning = { minWork: 1 << 15, enabled: true };

/** Reads (and with `change`, sets) the knobs; returns the previous values. */
export function parallelTuning(change: Partial<ParallelTuning> = {}): ParallelTuning {
  const previous = { ...tuning };
  Object.assign(tuning, change);
  return previous;
}

const counts = { inline: 0, threaded: 0 };

/** Tasks run on the calling thread alone / with workers, so far. */
export function parallelStats(): { inline: number; threaded: number } {
  return { ...counts };
}

/** Element index of a[off] in the shared memory (bytes per element `bpe`), or -1 when a is not there. */
export function arenaIndex(a: TypedArray, off: number, bpe = 4): number {
  const at = arenaAddress(a);
  return at < 0 ? -1 : at / bpe + off;
}

/** True when every array lives in the shared memory. */
export function allInArena(...arrays: TypedArray[]): boolean {
  for (const a of arrays) if (arenaAddress(a) < 0) return false;
  return true;
}

let scratchAt = -1;
let scratchBytes = 0;

/** Float64 element index of at least n scratch values in the shared memory (reused; contents unspecified), or -1. */
export function f64Scratch(n: number): number {
  const bytes = n * 8;
  if (bytes > scratchBytes) {
    if (scratchAt >= 0) arenaFree(scratchAt);
    scratchBytes = Math.max(bytes, 2 * scratchBytes, 4096);
    scratchAt = arenaAllocRaw(scratchBytes, false);
    if (scratchAt < 0) scratchBytes = 0;
  }
  return scratchAt < 0 ? -1 : scratchAt / 8;
}

/** Views of the whole shared memory on the calling thread (null without wasm). */
export function sharedViews(): ReturnType<typeof memoryViews> | null {
  const w = wasmState();
  return w === null ? null : memoryViews(w.memory);
}

/**
 * Runs TASKS[task] over items [0, n) in chunks of `chunk` items; `args` writes the integer arguments
 * (from slot A0) and float arguments of the control block. `work` (elements touched in all) decides
 * whether the workers join.
 */
export function parallelFor(task: number, n: number, chunk: number, work: number, args: (ia: Int32Array, fa: Float64Array) => void): void {
  if (n <= 0) return;
  const w = wasmState() as WasmState;
  const pool = w.pool;
  const ia = pool.taskCtl;
  const fa = pool.taskCtlF;
  args(ia, fa);
  ia[T_ID] = task;
  ia[T_N] = n;
  ia[T_CHUNK] = Math.max(1, chunk);
  Atomics.store(ia, T_NEXT, 0);
  const threads = gemmThreads();
  if (!tuning.enabled || threads < 2 || work < tuning.minWork || n < 2 || pool.spawnError !== null) {
    counts.inline++;
    runTaskShare(ia, fa, w.memory);
    return;
  }
  pool.ensureWorkers(threads - 1);
  pool.begin(Math.min(threads - 1, n - 1), JOB_TASK);
  if (pool.assignedCount > 0) counts.threaded++;
  else counts.inline++;
  pool.finish();
}

/** Chunk size giving each of `threads` threads about `perThread` chunks of n items. */
export function chunkFor(n: number, perThread = 4): number {
  return Math.max(1, Math.ceil(n / (Math.max(1, gemmThreads()) * perThread)));
}

export { A0 };
