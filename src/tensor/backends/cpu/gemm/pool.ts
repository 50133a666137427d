// The worker threads of the float32 GEMM, and the synchronous "run a job on N threads" call.
//
// Protocol (control block = one SharedArrayBuffer, slots in job.ts): worker w owns the Int32 slot
// C_STATE + w: STARTING (spawned, not yet running) -> IDLE -> ASSIGNED (by the caller) -> IDLE ...
// The caller writes the job's parameters only while no worker is ASSIGNED, assigns IDLE workers
// (compare-and-swap, so a worker still starting up is simply not used this time), runs its own
// share, then sleeps until each assigned worker is IDLE again. Because items are claimed from a
// shared counter, the caller never waits for a worker that has not started: the job completes with
// whoever is there. Node lets the main thread block in Atomics.wait, which keeps gemm synchronous.
//
// Workers are spawned on the first job that wants them, are unref()'d (they never keep the process
// alive) and live until the process exits.

import { Worker } from 'node:worker_threads';
import type { Blocking } from './blocking.js';
import {
  abortJob, C_ERROR, C_PACK_DONE, C_PACK_NEXT, C_STATE, C_TILE_NEXT, C_WORKER_ITEMS, CTL_BYTES, executeJob,
  F_BASE_BYTES, MAX_WORKERS, STATE_ASSIGNED, STATE_IDLE,
} from './job.js';
import type { WasmMemory, WasmModule } from './wasm-api.js';
import type { GemmWasmExports } from './wasm-kernels.js';
import type { GemmWorkerData } from './worker.js';

/** Busy-wait iterations before the caller sleeps waiting for a worker to finish. */
const SPIN = 4000;

export class GemmPool {
  readonly ctl: Int32Array;
  readonly ctlF: Float64Array;
  private readonly workers: Worker[] = [];
  /** Messages of workers that died (error event); reported by the next run. */
  private readonly failures: string[] = [];

  constructor(
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    private readonly kernels: GemmWasmExports,
    private readonly blocking: Blocking,
  ) {
    const sab = new SharedArrayBuffer(CTL_BYTES);
    this.ctl = new Int32Array(sab);
    this.ctlF = new Float64Array(sab, 0, F_BASE_BYTES / 8 + 2);
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
    n = Math.min(n, MAX_WORKERS);
    while (this.workers.length < n) {
      const index = this.workers.length;
      const workerData: GemmWorkerData = {
        module: this.module,
        memory: this.memory,
        ctl: this.ctl.buffer as SharedArrayBuffer,
        index,
        blocking: this.blocking,
      };
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData });
      w.on('error', (e: Error) => this.failures.push(`gemm worker ${index}: ${e.message}`));
      w.unref();
      this.workers.push(w);
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

  /**
   * Runs the job whose parameters are in `ctl` on the calling thread plus up to `extra` idle
   * workers; returns when the whole job is done.
   */
  run(extra: number): void {
    const ctl = this.ctl;
    Atomics.store(ctl, C_PACK_NEXT, 0);
    Atomics.store(ctl, C_PACK_DONE, 0);
    Atomics.store(ctl, C_TILE_NEXT, 0);
    Atomics.store(ctl, C_ERROR, 0);
    const assigned: number[] = [];
    for (let w = 0; w < this.workers.length && assigned.length < extra; w++) {
      if (Atomics.compareExchange(ctl, C_STATE + w, STATE_IDLE, STATE_ASSIGNED) === STATE_IDLE) {
        Atomics.notify(ctl, C_STATE + w);
        assigned.push(w);
      }
    }
    let failure: unknown = null;
    try {
      executeJob(ctl, this.ctlF, this.kernels, this.blocking, 0);
    } catch (e) {
      failure = e;
      abortJob(ctl);
    }
    for (const w of assigned) {
      for (let spins = 0; Atomics.load(ctl, C_STATE + w) === STATE_ASSIGNED; spins++) {
        if (spins > SPIN) Atomics.wait(ctl, C_STATE + w, STATE_ASSIGNED, 100);
      }
    }
    if (failure !== null) throw failure;
    if (Atomics.load(ctl, C_ERROR) !== 0) {
      throw new Error(`sgemm: a worker thread failed while running the job${this.failures.length ? ` (${this.failures.join('; ')})` : ''}`);
    }
  }
}
