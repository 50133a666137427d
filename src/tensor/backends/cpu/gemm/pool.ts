// The worker threads of the float32 GEMM, and the synchronous "run a job on N threads" call.
//
// Protocol (control block = one SharedArrayBuffer, slots in job.ts): worker w owns the Int32 slot
// C_STATE + w: STARTING (spawned, not yet running) -> IDLE -> ASSIGNED (by the caller) -> IDLE ...
// The caller writes the job's parameters only while no worker is ASSIGNED, assigns IDLE workers
// (compare-and-swap, so a worker still starting up is simply not used this time), stages the
// operands while they start packing, runs its own share, then sleeps until each assigned worker
// is IDLE again. Because items are claimed from a
// shared counter, the caller never waits for a worker that has not started: the job completes with
// whoever is there. Node lets the main thread block in Atomics.wait, which keeps gemm synchronous.
//
// Workers are spawned on the first job that wants them, are unref()'d (they never keep the process
// alive) and live until the process exits.

import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { flatLoopDefinitions, setFlatLoopHooks } from '../elementwise-flat.js';
import { runTaskShare, TASK_CTL_BYTES, taskFloats } from '../task-ctl.js';
import type { Blocking } from './blocking.js';
import {
  abortJob, C_ERROR, C_KIND, C_PACK_DONE, C_PACK_NEXT, C_STAGED_A, C_STAGED_B, C_STAGED_C, C_STATE, C_TILE_NEXT,
  C_WORKER_ITEMS, CTL_BYTES, executeJob, F_BASE_BYTES, JOB_GEMM, JOB_TASK, MAX_WORKERS, STATE_ASSIGNED, STATE_IDLE,
} from './job.js';
import type { WasmMemory, WasmModule } from './wasm-api.js';
import type { GemmWasmExports } from './wasm-kernels.js';
import type { GemmWorkerData } from './worker.js';

/** Busy-wait iterations before the caller sleeps waiting for a worker to finish. */
const SPIN = 4000;

export class GemmPool {
  readonly ctl: Int32Array;
  readonly ctlF: Float64Array;
  /** Control block of a task job (../task-ctl.ts): id, item count, chunk, counter, arguments. */
  readonly taskCtl: Int32Array;
  readonly taskCtlF: Float64Array;
  private readonly workers: Worker[] = [];
  /** Our end of each worker's channel (elementwise loop definitions go through it). */
  private readonly ports: MessagePort[] = [];
  /** Messages of workers that died (error event); reported by the next run. */
  private readonly failures: string[] = [];
  /** Why workers could not be created (then every job runs on the calling thread). */
  spawnError: string | null = null;

  constructor(
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    private readonly kernels: GemmWasmExports,
    private readonly blocking: Blocking,
  ) {
    const sab = new SharedArrayBuffer(CTL_BYTES);
    this.ctl = new Int32Array(sab);
    this.ctlF = new Float64Array(sab, 0, F_BASE_BYTES / 8 + 2);
    const tsab = new SharedArrayBuffer(TASK_CTL_BYTES);
    this.taskCtl = new Int32Array(tsab);
    this.taskCtlF = taskFloats(tsab);
    setFlatLoopHooks((id, arity, expr) => {
      for (const port of this.ports) port.postMessage({ id, arity, expr });
    }, null);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Items done by workers since the pool was made. */
  get workerItems(): number {
    return Atomics.load(this.ctl, C_WORKER_ITEMS);
  }

  /** Starts workers until there are `n` (at most MAX_WORKERS). Returns at once; they boot async. */
  ensureWorkers(n: number): void {
    if (this.spawnError !== null) return;
    n = Math.min(n, MAX_WORKERS);
    while (this.workers.length < n) {
      const index = this.workers.length;
      const channel = new MessageChannel();
      const workerData: GemmWorkerData = {
        module: this.module,
        memory: this.memory,
        ctl: this.ctl.buffer as SharedArrayBuffer,
        taskCtl: this.taskCtl.buffer as SharedArrayBuffer,
        port: channel.port2,
        loops: flatLoopDefinitions(),
        index,
        blocking: this.blocking,
      };
      let w: Worker;
      try {
        w = new Worker(new URL('./worker.js', import.meta.url), { workerData, transferList: [channel.port2] });
      } catch (e) {
        // No worker threads here (e.g. the compiled worker.js is missing): stay single-threaded.
        this.spawnError = `gemm worker could not start: ${(e as Error).message}`;
        return;
      }
      w.on('error', (e: Error) => this.failures.push(`gemm worker ${index}: ${e.message}`));
      w.unref();
      channel.port1.unref();
      this.workers.push(w);
      this.ports.push(channel.port1);
    }
  }

  /** Number of workers that have started and are waiting for work. */
  idleWorkers(): number {
    let n = 0;
    for (let w = 0; w < this.workers.length; w++) if (Atomics.load(this.ctl, C_STATE + w) === STATE_IDLE) n++;
    return n;
  }

  /** Resolves when all started workers have booted (or after `timeoutMs`, rejecting). */
  async whenReady(timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while (this.idleWorkers() < this.workers.length) {
      if (this.failures.length > 0) throw new Error(this.failures.join('; '));
      if (Date.now() - t0 > timeoutMs) throw new Error(`gemm workers not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private assigned: number[] = [];

  /**
   * Starts the job whose parameters are in `ctl` on up to `extra` idle workers. The caller then
   * stages the operands (publishing chunks) and calls finish(); workers pack what is staged.
   */
  begin(extra: number, kind = JOB_GEMM): void {
    const ctl = this.ctl;
    for (const slot of [C_PACK_NEXT, C_PACK_DONE, C_TILE_NEXT, C_ERROR, C_STAGED_A, C_STAGED_B, C_STAGED_C]) {
      Atomics.store(ctl, slot, 0);
    }
    Atomics.store(ctl, C_KIND, kind);
    this.assigned.length = 0;
    for (let w = 0; w < this.workers.length && this.assigned.length < extra; w++) {
      if (Atomics.compareExchange(ctl, C_STATE + w, STATE_IDLE, STATE_ASSIGNED) === STATE_IDLE) {
        Atomics.notify(ctl, C_STATE + w);
        this.assigned.push(w);
      }
    }
  }

  /** Workers that took part in the current job. */
  get assignedCount(): number {
    return this.assigned.length;
  }

  /**
   * Runs the calling thread's share of the job, then sleeps until every assigned worker is idle.
   * With `failure` (staging went wrong) it only releases the workers and rethrows it.
   */
  finish(failure: unknown = null): void {
    const ctl = this.ctl;
    if (failure === null) {
      try {
        if (Atomics.load(ctl, C_KIND) === JOB_TASK) runTaskShare(this.taskCtl, this.taskCtlF, this.memory);
        else executeJob(ctl, this.ctlF, this.kernels, this.blocking, 0);
      } catch (e) {
        failure = e;
      }
    }
    if (failure !== null) abortJob(ctl);
    for (const w of this.assigned) {
      for (let spins = 0; Atomics.load(ctl, C_STATE + w) === STATE_ASSIGNED; spins++) {
        if (spins > SPIN) Atomics.wait(ctl, C_STATE + w, STATE_ASSIGNED, 100);
      }
    }
    this.assigned.length = 0;
    if (failure !== null) throw failure;
    if (Atomics.load(ctl, C_ERROR) !== 0) {
      throw new Error(`sgemm: a worker thread failed while running the job${this.failures.length ? ` (${this.failures.join('; ')})` : ''}`);
    }
  }
}
