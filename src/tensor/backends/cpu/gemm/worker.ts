// Entry point of a GEMM worker thread (started by pool.ts; not imported by anything else).
//
// The worker instantiates the same compiled module on the same shared memory as the calling
// thread, says it is idle, then sleeps on its state slot. When the calling thread marks it
// ASSIGNED it runs its share of the job (job.ts) and goes back to IDLE, waking the caller.

import { workerData } from 'node:worker_threads';
import type { Blocking } from './blocking.js';
import {
  abortJob, C_STATE, C_WORKER_ITEMS, executeJob, F_BASE_BYTES, STATE_ASSIGNED, STATE_IDLE,
} from './job.js';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';
import type { GemmWasmExports } from './wasm-kernels.js';

export interface GemmWorkerData {
  module: WasmModule;
  memory: WasmMemory;
  ctl: SharedArrayBuffer;
  index: number;
  blocking: Blocking;
}

/** Busy-wait iterations for the next job before sleeping (back-to-back GEMMs skip the futex). */
const IDLE_SPIN = 20000;

const data = workerData as GemmWorkerData;
if (wasmApi === undefined) throw new Error('gemm worker: this runtime has no WebAssembly');
const instance = new wasmApi.Instance(data.module, { env: { mem: data.memory } });
const kernels = instance.exports as unknown as GemmWasmExports;
const ctl = new Int32Array(data.ctl);
const ctlF = new Float64Array(data.ctl, 0, F_BASE_BYTES / 8 + 2);
const slot = C_STATE + data.index;

Atomics.store(ctl, slot, STATE_IDLE);
Atomics.notify(ctl, slot);
for (;;) {
  let spins = 0;
  while (Atomics.load(ctl, slot) !== STATE_ASSIGNED) {
    if (++spins > IDLE_SPIN) Atomics.wait(ctl, slot, STATE_IDLE);
  }
  try {
    const items = executeJob(ctl, ctlF, kernels, data.blocking, data.index + 1);
    Atomics.add(ctl, C_WORKER_ITEMS, items);
  } catch {
    abortJob(ctl);
  }
  Atomics.store(ctl, slot, STATE_IDLE);
  Atomics.notify(ctl, slot);
}
