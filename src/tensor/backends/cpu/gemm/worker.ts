// Entry point of a GEMM worker thread (started by pool.ts; not imported by anything else).
//
// The worker instantiates the same compiled module on the same shared memory as the calling
// thread, says it is idle, then sleeps on its state slot. When the calling thread marks it
// ASSIGNED it runs its share of the job (job.ts) and goes back to IDLE, waking the caller.

import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { installFlatLoop, setFlatLoopHooks } from '../elementwise-flat.js';
import { runTaskShare, taskFloats } from '../task-ctl.js';
import type { Blocking } from './blocking.js';
import {
  abortJob, C_KIND, C_STATE, C_WORKER_ITEMS, executeJob, F_BASE_BYTES, JOB_TASK, STATE_ASSIGNED, STATE_IDLE,
} from './job.js';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';
import type { GemmWasmExports } from './wasm-kernels.js';

export interface GemmWorkerData {
  module: WasmModule;
  memory: WasmMemory;
  ctl: SharedArrayBuffer;
  /** Control block of task jobs (../task-ctl.ts). */
  taskCtl: SharedArrayBuffer;
  /** Receives elementwise loop definitions made after the worker started. */
  port: MessagePort;
  /** The definitions made before. */
  loops: { id: number; arity: number; expr: string }[];
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
const taskCtl = new Int32Array(data.taskCtl);
const taskCtlF = taskFloats(data.taskCtl);
for (const d of data.loops) installFlatLoop(d.id, d.arity, d.expr);
setFlatLoopHooks(null, () => {
  for (let m = receiveMessageOnPort(data.port); m !== undefined; m = receiveMessageOnPort(data.port)) {
    const d = m.message as { id: number; arity: number; expr: string };
    installFlatLoop(d.id, d.arity, d.expr);
  }
});

Atomics.store(ctl, slot, STATE_IDLE);
Atomics.notify(ctl, slot);
for (;;) {
  let spins = 0;
  while (Atomics.load(ctl, slot) !== STATE_ASSIGNED) {
    if (++spins > IDLE_SPIN) Atomics.wait(ctl, slot, STATE_IDLE);
  }
  try {
    const items =
      Atomics.load(ctl, C_KIND) === JOB_TASK
        ? runTaskShare(taskCtl, taskCtlF, data.memory)
        : executeJob(ctl, ctlF, kernels, data.blocking, data.index + 1);
    Atomics.add(ctl, C_WORKER_ITEMS, items);
  } catch {
    abortJob(ctl);
  }
  Atomics.store(ctl, slot, STATE_IDLE);
  Atomics.notify(ctl, slot);
}
