// Batch loader: decodes and augments samples in worker threads ahead of the consumer.
//
// Which image fills which slot, and with which random numbers, is fixed by (seed, batch index) alone:
//   global sample position p = batch·B + slot, epoch e = ⌊p/N⌋,
//   item = perm_e[p mod N]  (perm_e a seeded shuffle of 0..N−1, or the identity without shuffling),
//   sample seed = deriveSeed(seed, 'sample', p).
// So the batches do not depend on the number of workers or their timing, and `loadBatchDirect` (one
// batch, in this thread) is the reference the threaded loader must equal byte for byte.
//
// Each batch: images Float32Array [B, 3, H, W] and truths Float32Array [B, maxBoxes·5] in Darknet's
// region truth layout (x, y, w, h, class per box, zero-filled).
//
// An image that exists in the list but cannot be decoded (damaged, not an image, over the pixel limit)
// fails the loader by default (`undecodable: 'fail'`). With 'skip' its slot takes the next item by index
// (item + 1, + 2, ... modulo N) that decodes, with the same sample seed, so the batch is still a pure
// function of (seed, index); `onSkip` hears of each such image once.
//
// Life cycle: `next()` returns batches in order (batch k for the k-th call); up to `prefetch` batches
// are being prepared beyond those asked for. A failed sample (unreadable image, ...) fails the loader
// when the consumer reaches its batch (the batches before it are still delivered, as the reference
// would): that and every later `next()` reject with one error naming the image. `close()` stops the
// workers and waits until they have exited. Idle workers do not keep the process alive, so a loader
// that is never closed does not hang the exit either.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Rng } from '../../tensor/random.js';
import type { DatasetItem } from './labels.js';
import type { WorkerReply, WorkerRequest } from './loader-worker.js';
import { isUndecodable, loadSample, type SampleAugment, type SampleJob, type SampleOutput } from './sample.js';
import { deriveSeed, SeedStream } from './seed.js';
import { REGION_TRUTH_STRIDE } from './truth.js';

export interface LoaderOptions {
  items: readonly DatasetItem[];
  batchSize: number;
  seed: number;
  augment: SampleAugment;
  /** Fixed input size (used when `sizeForBatch` is absent). */
  width?: number;
  height?: number;
  /** Input size per batch (multi-scale training); a number means a square size. */
  sizeForBatch?: (batch: number) => number | { width: number; height: number };
  /** Truth slots per image (Darknet's region `max`, default 30). */
  maxBoxes?: number;
  /** Shuffle the items every epoch. Default true. */
  shuffle?: boolean;
  /** Worker threads; 0 runs the samples in this thread (one at a time). Default min(4, cores − 1), at least 1. */
  workers?: number;
  /** Batches prepared beyond those asked for. Default 2. */
  prefetch?: number;
  /** Index of the first batch `next()` returns (to resume). Default 0. */
  startBatch?: number;
  /** An image that cannot be decoded: 'fail' the loader (default) or 'skip' it (see the file comment). */
  undecodable?: 'fail' | 'skip';
  /** Called once per image skipped under undecodable 'skip', with the decoder's message. */
  onSkip?: (image: string, reason: string) => void;
  /** Pixel limit of the image decode (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

/** A sample's failure: the message, and whether the image itself is unusable (skippable). */
interface SampleFailure {
  message: string;
  undecodable: boolean;
}

export interface Batch {
  index: number;
  batchSize: number;
  width: number;
  height: number;
  maxBoxes: number;
  /** [batchSize, 3, height, width] */
  images: Float32Array;
  /** [batchSize, maxBoxes·5]: x, y, w, h, class per box. */
  truths: Float32Array;
  /** Boxes per image. */
  counts: Int32Array;
  /** Image file per slot. */
  paths: string[];
}

/** The item index and seed of every slot of a batch (see the file comment). */
export interface SlotPlan {
  item: number;
  seed: number;
}

function checkOptions(o: LoaderOptions): void {
  if (o.items.length === 0) throw new Error('BatchLoader: no items');
  if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${o.batchSize}`);
  if (o.sizeForBatch === undefined && (o.width === undefined || o.height === undefined)) throw new Error('BatchLoader: give width and height, or sizeForBatch');
  const mb = o.maxBoxes ?? 30;
  if (!(Number.isInteger(mb) && mb > 0)) throw new Error(`BatchLoader: maxBoxes must be a positive integer, got ${mb}`);
}

/** Input size of batch `batch`. */
export function batchInputSize(o: LoaderOptions, batch: number): { width: number; height: number } {
  let s: { width: number; height: number };
  if (o.sizeForBatch !== undefined) {
    const r = o.sizeForBatch(batch);
    s = typeof r === 'number' ? { width: r, height: r } : r;
  } else {
    s = { width: o.width!, height: o.height! };
  }
  if (!(Number.isInteger(s.width) && Number.isInteger(s.height) && s.width > 0 && s.height > 0)) {
    throw new Error(`BatchLoader: bad input size ${s.width}x${s.height} for batch ${batch}`);
  }
  return s;
}

/** Epoch permutations, cached (a loader touches at most two epochs at a time). */
class EpochOrder {
  private readonly cache = new Map<number, Int32Array>();
  constructor(
    private readonly n: number,
    private readonly seed: number,
    private readonly shuffle: boolean,
  ) {}
  item(position: number): number {
    const epoch = Math.floor(position / this.n);
    const k = position - epoch * this.n;
    if (!this.shuffle) return k;
    let perm = this.cache.get(epoch);
    if (perm === undefined) {
      const order = Array.from({ length: this.n }, (_, i) => i);
      new Rng(deriveSeed(this.seed, SeedStream.epochOrder, epoch)).shuffle(order);
      perm = Int32Array.from(order);
      if (this.cache.size >= 4) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(epoch, perm);
    }
    return perm[k]!;
  }
}

function planWith(order: EpochOrder, o: LoaderOptions, batch: number): SlotPlan[] {
  const plan: SlotPlan[] = [];
  for (let s = 0; s < o.batchSize; s++) {
    const p = batch * o.batchSize + s;
    plan.push({ item: order.item(p), seed: deriveSeed(o.seed, SeedStream.sample, p) });
  }
  return plan;
}

/** The slot plan of batch `batch`. */
export function planBatch(o: LoaderOptions, batch: number): SlotPlan[] {
  checkOptions(o);
  return planWith(new EpochOrder(o.items.length, o.seed, o.shuffle ?? true), o, batch);
}

function newBatch(o: LoaderOptions, index: number, plan: SlotPlan[]): Batch {
  const { width, height } = batchInputSize(o, index);
  const B = o.batchSize;
  const maxBoxes = o.maxBoxes ?? 30;
  return {
    index,
    batchSize: B,
    width,
    height,
    maxBoxes,
    images: new Float32Array(B * 3 * width * height),
    truths: new Float32Array(B * maxBoxes * REGION_TRUTH_STRIDE),
    counts: new Int32Array(B),
    paths: plan.map((p) => o.items[p.item]!.image),
  };
}

function jobFor(o: LoaderOptions, batch: Batch, slot: SlotPlan, itemIndex: number = slot.item): SampleJob {
  const item = o.items[itemIndex]!;
  return {
    image: item.image,
    boxes: item.boxes,
    seed: slot.seed,
    width: batch.width,
    height: batch.height,
    augment: o.augment,
    maxBoxes: batch.maxBoxes,
    ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
  };
}

/**
 * Images found undecodable under undecodable 'skip', and the replacement rule. Which item replaces
 * which depends only on which images decode, never on timing: `knownBad` only saves decoding a bad
 * image twice.
 */
class SkipList {
  private readonly bad = new Map<string, string>();
  constructor(private readonly o: LoaderOptions) {}
  get size(): number {
    return this.bad.size;
  }
  isBad(item: number): boolean {
    return this.bad.has(this.o.items[item]!.image);
  }
  /** Records a bad image (onSkip on its first report). */
  mark(item: number, reason: string): void {
    const image = this.o.items[item]!.image;
    if (this.bad.has(image)) return;
    this.bad.set(image, reason);
    this.o.onSkip?.(image, reason);
  }
  /**
   * The item after `current` (cyclically, by index) not known to be bad, for a slot whose plan item
   * was `start`; -1 once the scan is back at `start` (every item failed).
   */
  next(start: number, current: number): number {
    const n = this.o.items.length;
    for (let j = (current + 1) % n; j !== start; j = (j + 1) % n) if (!this.isBad(j)) return j;
    return -1;
  }
}

function allBadError(o: LoaderOptions): Error {
  return new Error(`data loader: none of the ${o.items.length} images decodes (every one was skipped as undecodable)`);
}

function storeSample(batch: Batch, slot: number, out: SampleOutput): void {
  const n = 3 * batch.width * batch.height;
  if (out.image.length !== n) throw new Error(`BatchLoader: sample for slot ${slot} has ${out.image.length} floats, expected ${n}`);
  batch.images.set(out.image, slot * n);
  batch.truths.set(out.truth, slot * batch.maxBoxes * REGION_TRUTH_STRIDE);
  batch.counts[slot] = out.count;
}

/** One batch computed in this thread, sample after sample: the reference for BatchLoader. */
export async function loadBatchDirect(o: LoaderOptions, index: number): Promise<Batch> {
  const plan = planBatch(o, index);
  const batch = newBatch(o, index, plan);
  const skips = new SkipList(o);
  for (let s = 0; s < plan.length; s++) {
    const start = plan[s]!.item;
    let item = start;
    for (;;) {
      const job = jobFor(o, batch, plan[s]!, item);
      let out: SampleOutput;
      try {
        out = await loadSample(job);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (o.undecodable === 'skip' && isUndecodable(e)) {
          skips.mark(item, message);
          item = skips.next(start, item);
          if (item < 0) throw allBadError(o);
          continue;
        }
        throw new Error(`data loader: batch ${index} slot ${s} (${job.image}): ${message}`);
      }
      batch.paths[s] = job.image;
      storeSample(batch, s, out);
      break;
    }
  }
  return batch;
}

interface Pending {
  batch: Batch;
  remaining: number;
  /** Failed slots and their messages (the lowest slot's error is the batch's error). */
  errors: Map<number, string>;
}

interface QueuedJob {
  id: number;
  batchIndex: number;
  slot: number;
  /** The slot's planned item, and the item the job loads (the planned one, or its replacement). */
  start: number;
  item: number;
  job: SampleJob;
}

interface Deferred {
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
}

interface WorkerSlot {
  worker: Worker;
  inflight: Map<number, QueuedJob>;
  exited: boolean;
  exitPromise: Promise<void>;
}

/** Jobs each worker holds at once (one decoding while another augments). */
const JOBS_PER_WORKER = 2;

export class BatchLoader {
  private readonly opts: LoaderOptions;
  private readonly order: EpochOrder;
  private readonly prefetch: number;
  private nextSchedule: number;
  private nextHandOut: number;
  private readonly building = new Map<number, Pending>();
  private readonly ready = new Map<number, Batch>();
  /** Batches that failed before the consumer reached them: the error is raised when it does. */
  private readonly failed = new Map<number, Error>();
  private readonly waiting = new Map<number, Deferred>();
  private readonly queue: QueuedJob[] = [];
  private readonly workers: WorkerSlot[] = [];
  private nextJobId = 0;
  private failure: Error | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private inlineBusy = false;
  private readonly skips: SkipList;

  constructor(opts: LoaderOptions) {
    checkOptions(opts);
    this.opts = opts;
    this.order = new EpochOrder(opts.items.length, opts.seed, opts.shuffle ?? true);
    this.skips = new SkipList(opts);
    this.prefetch = Math.max(0, opts.prefetch ?? 2);
    this.nextSchedule = opts.startBatch ?? 0;
    this.nextHandOut = this.nextSchedule;
    const n = opts.workers ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    if (!(Number.isInteger(n) && n >= 0)) throw new Error(`BatchLoader: workers must be an integer >= 0, got ${n}`);
    for (let i = 0; i < n; i++) this.workers.push(this.startWorker(i));
    this.pump();
  }

  /** The next batch in order. Rejects with the loader's error after a failure, or once closed. */
  next(): Promise<Batch> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('BatchLoader: next() after close()'));
    const index = this.nextHandOut++;
    const failed = this.failed.get(index);
    if (failed !== undefined) {
      this.fail(failed);
      return Promise.reject(failed);
    }
    const p = new Promise<Batch>((resolve, reject) => {
      const b = this.ready.get(index);
      if (b !== undefined) {
        this.ready.delete(index);
        resolve(b);
      } else {
        this.waiting.set(index, { resolve, reject });
      }
    });
    try {
      this.pump();
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
    }
    return p;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    for (;;) yield await this.next();
  }

  /** Stops the workers (waiting for them to exit). Pending `next()` calls reject. Safe to call twice. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    this.rejectWaiting(new Error('BatchLoader: closed while a batch was pending'));
    this.queue.length = 0;
    this.closing = Promise.all(this.workers.map((w) => this.stopWorker(w))).then(() => undefined);
    return this.closing;
  }

  /** Batches being prepared (asked for or ahead), for tests and logs. */
  get inFlight(): number {
    return this.building.size;
  }

  /** Images skipped as undecodable so far (undecodable 'skip'). */
  get skipped(): number {
    return this.skips.size;
  }

  /** Worker threads that have not exited yet. */
  get liveWorkers(): number {
    return this.workers.filter((w) => !w.exited).length;
  }

  private startWorker(i: number): WorkerSlot {
    const worker = new Worker(new URL('./loader-worker.js', import.meta.url), { name: `tsgrad-data-${i}` });
    let markExited: () => void = () => undefined;
    const slot: WorkerSlot = { worker, inflight: new Map(), exited: false, exitPromise: new Promise<void>((r) => (markExited = r)) };
    worker.on('message', (msg: WorkerReply) => this.onReply(slot, msg));
    worker.on('error', (err: Error) => this.fail(new Error(`data loader: worker ${i} crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      slot.exited = true;
      markExited();
      if (!this.closed && this.failure === null) this.fail(new Error(`data loader: worker ${i} exited unexpectedly (code ${code})`));
    });
    worker.unref();
    return slot;
  }

  private async stopWorker(w: WorkerSlot): Promise<void> {
    if (w.exited) return;
    w.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    // A worker in the middle of a decode finishes it first; don't wait forever for one that hangs.
    const timer = setTimeout(() => void w.worker.terminate(), 5000);
    await w.exitPromise;
    clearTimeout(timer);
  }

  /** Schedules batches up to the prefetch window, then hands queued jobs to idle workers. */
  private pump(): void {
    if (this.failure !== null || this.closed) return;
    while (this.nextSchedule < this.nextHandOut + this.prefetch || this.nextSchedule < this.nextHandOut) {
      const index = this.nextSchedule++;
      const plan = planWith(this.order, this.opts, index);
      const batch = newBatch(this.opts, index, plan);
      this.building.set(index, { batch, remaining: plan.length, errors: new Map() });
      plan.forEach((slot, s) => this.queue.push({ id: this.nextJobId++, batchIndex: index, slot: s, start: slot.item, item: slot.item, job: jobFor(this.opts, batch, slot) }));
    }
    if (this.workers.length === 0) {
      void this.runInline();
      return;
    }
    for (const w of this.workers) {
      while (w.inflight.size < JOBS_PER_WORKER && this.queue.length > 0) {
        const q = this.queue.shift()!;
        w.inflight.set(q.id, q);
        w.worker.postMessage({ type: 'job', id: q.id, job: q.job } satisfies WorkerRequest);
      }
      // Busy workers keep the process alive (a next() is waiting on them); idle ones don't.
      if (w.inflight.size > 0) w.worker.ref();
      else w.worker.unref();
    }
  }

  private async runInline(): Promise<void> {
    if (this.inlineBusy) return;
    this.inlineBusy = true;
    try {
      while (this.queue.length > 0 && this.failure === null && !this.closed) {
        const q = this.queue.shift()!;
        let out: SampleOutput | SampleFailure;
        try {
          out = await loadSample(q.job);
        } catch (e) {
          out = { message: e instanceof Error ? e.message : String(e), undecodable: isUndecodable(e) };
        }
        this.complete(q, out);
      }
    } finally {
      this.inlineBusy = false;
    }
  }

  private onReply(w: WorkerSlot, msg: WorkerReply): void {
    const q = w.inflight.get(msg.id);
    if (q === undefined) return;
    w.inflight.delete(msg.id);
    if (this.failure !== null || this.closed) return;
    this.complete(q, msg.type === 'error' ? { message: msg.message, undecodable: msg.undecodable } : { image: msg.image, truth: msg.truth, count: msg.count });
    this.pump();
  }

  /**
   * Stores one sample's result (or its error message). When the batch is complete it goes to its
   * waiter or the ready map; a batch with failed samples fails with its lowest slot's error (as the
   * in-thread reference would), raised when the consumer reaches that batch.
   */
  private complete(q: QueuedJob, out: SampleOutput | SampleFailure): void {
    const pending = this.building.get(q.batchIndex);
    if (pending === undefined) return;
    if ('message' in out) {
      if (out.undecodable && this.opts.undecodable === 'skip') {
        this.skips.mark(q.item, out.message);
        const item = this.skips.next(q.start, q.item);
        if (item < 0) {
          this.fail(allBadError(this.opts));
          return;
        }
        // The slot tries the next item, ahead of the other queued jobs (its batch is the oldest).
        this.queue.unshift({ ...q, id: this.nextJobId++, item, job: { ...q.job, image: this.opts.items[item]!.image, boxes: this.opts.items[item]!.boxes } });
        if (this.workers.length === 0) void this.runInline();
        return;
      }
      pending.errors.set(q.slot, out.message);
    } else {
      pending.batch.paths[q.slot] = q.job.image;
      try {
        storeSample(pending.batch, q.slot, out);
      } catch (e) {
        pending.errors.set(q.slot, e instanceof Error ? e.message : String(e));
      }
    }
    if (--pending.remaining > 0) return;
    this.building.delete(q.batchIndex);
    const d = this.waiting.get(q.batchIndex);
    if (pending.errors.size > 0) {
      const slot = Math.min(...pending.errors.keys());
      const err = new Error(`data loader: batch ${q.batchIndex} slot ${slot} (${pending.batch.paths[slot]}): ${pending.errors.get(slot)}`);
      if (d !== undefined) this.fail(err);
      else this.failed.set(q.batchIndex, err);
      return;
    }
    if (d !== undefined) {
      this.waiting.delete(q.batchIndex);
      d.resolve(pending.batch);
    } else {
      this.ready.set(q.batchIndex, pending.batch);
    }
  }

  private rejectWaiting(err: Error): void {
    for (const d of this.waiting.values()) d.reject(err);
    this.waiting.clear();
  }

  /** First failure wins: it is kept, every waiter gets it, the workers are stopped. */
  private fail(err: Error): void {
    if (this.failure !== null || this.closed) return;
    this.failure = err;
    this.rejectWaiting(err);
    this.queue.length = 0;
    this.building.clear();
    this.ready.clear();
    this.failed.clear();
    void this.close().catch(() => undefined);
  }
}
