// The control block of a task job on the GEMM pool (parallel.ts): Int32 slots T_ID (which TASKS body),
// T_N (items), T_CHUNK (items per claim), T_NEXT (the shared claim counter), then the task's integer
// arguments from A0; float64 arguments in a second view. runTaskShare is what every participating
// thread runs: claim chunks until none is left.

import type { WasmMemory } from './gemm/wasm-api.js';
import { A0, type MemoryViews, TASKS } from './tasks.js';

export const T_ID = 0;
export const T_N = 1;
export const T_CHUNK = 2;
export const T_NEXT = 3;
export const INT_ARGS = 28;
export const FLOAT_ARGS = 8;
const FLOAT_BYTE = (A0 + INT_ARGS) * 4;
export const TASK_CTL_BYTES = FLOAT_BYTE + FLOAT_ARGS * 8;

export function taskFloats(sab: SharedArrayBuffer): Float64Array {
  return new Float64Array(sab, FLOAT_BYTE, FLOAT_ARGS);
}

let views: MemoryViews | null = null;

/** Views of the whole memory on this thread, renewed when it has grown. */
export function memoryViews(memory: WasmMemory): MemoryViews {
  const buf = memory.buffer;
  if (views === null || views.f32.buffer !== buf) {
    views = { f32: new Float32Array(buf), f64: new Float64Array(buf, 0, buf.byteLength >> 3), i32: new Int32Array(buf) };
  }
  return views;
}

/** Runs chunks of the current task until none is left; returns how many chunks this thread ran. */
export function runTaskShare(ctl: Int32Array, ctlF: Float64Array, memory: WasmMemory): number {
  const body = TASKS[ctl[T_ID]!]!;
  const n = ctl[T_N]!, chunk = ctl[T_CHUNK]!;
  const m = memoryViews(memory);
  let done = 0;
  for (;;) {
    const start = Atomics.add(ctl, T_NEXT, 1) * chunk;
    if (start >= n) break;
    body(m, ctl, ctlF, start, Math.min(n, start + chunk));
    done++;
  }
  return done;
}
