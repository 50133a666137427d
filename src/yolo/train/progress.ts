// Progress reporting for training: Darknet's running loss average, a smoothed throughput meter and
// the one-line progress report printed every iteration.

/**
 * Darknet's running average of the loss. The first loss starts it; after that
 * avg = 0.9·avg + 0.1·loss. Like AlexeyAB's Darknet, an average that is not a finite number (a NaN
 * or infinite loss got in) restarts from the next loss instead of staying NaN forever.
 *
 * Serialised as { avg, count } with avg null when there is nothing (or nothing finite) to carry
 * over; since a non-finite average restarts on the next update anyway, a resumed average behaves
 * exactly like the original one.
 */
export class LossAverage {
  private avg: number | null = null;
  private n = 0;

  constructor(readonly momentum = 0.9) {
    if (!(momentum >= 0 && momentum < 1)) throw new Error(`LossAverage: momentum ${momentum} is not in [0, 1)`);
  }

  /** Fold in one loss value; returns the new average. */
  update(loss: number): number {
    if (typeof loss !== 'number') throw new Error(`LossAverage.update: loss is ${typeof loss}, expected a number`);
    this.avg = this.avg === null || !Number.isFinite(this.avg) ? loss : this.momentum * this.avg + (1 - this.momentum) * loss;
    this.n++;
    return this.avg;
  }

  /** The current average (NaN before the first update). */
  get value(): number {
    return this.avg ?? Number.NaN;
  }

  /** True once a value has been folded in. */
  get started(): boolean {
    return this.avg !== null;
  }

  /** Number of losses folded in. */
  get count(): number {
    return this.n;
  }

  toJSON(): { avg: number | null; count: number; momentum: number } {
    return { avg: this.avg !== null && Number.isFinite(this.avg) ? this.avg : null, count: this.n, momentum: this.momentum };
  }

  static fromJSON(json: unknown): LossAverage {
    const bad = (why: string): never => {
      throw new Error(`LossAverage.fromJSON: ${why} in ${JSON.stringify(json)}`);
    };
    if (!json || typeof json !== 'object') return bad('expected an object');
    const j = json as Record<string, unknown>;
    const momentum = j['momentum'] === undefined ? 0.9 : j['momentum'];
    if (typeof momentum !== 'number') return bad('"momentum" is not a number');
    if (j['avg'] !== null && typeof j['avg'] !== 'number') return bad('"avg" is neither a number nor null');
    if (!Number.isSafeInteger(j['count']) || (j['count'] as number) < 0) return bad('"count" is not a non-negative integer');
    const a = new LossAverage(momentum);
    a.avg = j['avg'] as number | null;
    a.n = j['count'] as number;
    return a;
  }
}

export interface ThroughputOptions {
  /** Weight of the old average in the exponential moving average (default 0.9). */
  smoothing?: number;
  /** Leading iterations left out of the average (default 1). */
  warmupIterations?: number;
}

/**
 * Smoothed seconds per iteration and images per second.
 *
 * Both are exponential moving averages (new = s·old + (1−s)·sample, s = 0.9 by default), started by
 * the first counted sample rather than from 0, so there is no start-up bias. The first iteration
 * is left out by default: it pays for one-off work (JIT warm-up, device initialisation, allocator
 * growth, the data loader filling its queue) and can be many times slower than the rest, which
 * would inflate the ETA for dozens of iterations. Until a counted sample exists the meter reports
 * the latest raw sample, so something sensible is shown from the first line.
 *
 * images/s is the ratio of the two averages (EMA of images per iteration / EMA of seconds), which
 * weights iterations by their duration as a true rate does.
 *
 * It is not serialised: after a resume the first iteration is a warm-up again.
 */
export class ThroughputMeter {
  readonly smoothing: number;
  readonly warmupIterations: number;
  private seen = 0;
  private emaSeconds: number | null = null;
  private emaImages: number | null = null;
  private lastSecs = Number.NaN;
  private lastImgs = Number.NaN;

  constructor(opts: ThroughputOptions = {}) {
    this.smoothing = opts.smoothing ?? 0.9;
    this.warmupIterations = opts.warmupIterations ?? 1;
    if (!(this.smoothing >= 0 && this.smoothing < 1)) throw new Error(`ThroughputMeter: smoothing ${this.smoothing} is not in [0, 1)`);
    if (!Number.isSafeInteger(this.warmupIterations) || this.warmupIterations < 0) {
      throw new Error(`ThroughputMeter: warmupIterations ${this.warmupIterations} is not a non-negative integer`);
    }
  }

  /** Record one iteration that took `seconds` and processed `images` images. */
  update(seconds: number, images: number): void {
    if (!(Number.isFinite(seconds) && seconds >= 0)) throw new Error(`ThroughputMeter.update: seconds ${seconds} is not a finite non-negative number`);
    if (!(Number.isFinite(images) && images >= 0)) throw new Error(`ThroughputMeter.update: images ${images} is not a finite non-negative number`);
    this.seen++;
    this.lastSecs = seconds;
    this.lastImgs = images;
    if (this.seen <= this.warmupIterations) return;
    const s = this.smoothing;
    this.emaSeconds = this.emaSeconds === null ? seconds : s * this.emaSeconds + (1 - s) * seconds;
    this.emaImages = this.emaImages === null ? images : s * this.emaImages + (1 - s) * images;
  }

  /** Iterations recorded, warm-up included. */
  get iterations(): number {
    return this.seen;
  }

  /** Duration of the latest iteration (NaN before any). */
  get lastSeconds(): number {
    return this.lastSecs;
  }

  /** Smoothed seconds per iteration (the latest raw sample during warm-up; NaN before any). */
  get secondsPerIteration(): number {
    return this.emaSeconds ?? this.lastSecs;
  }

  /** Smoothed images per second (NaN before any iteration, Infinity if iterations took 0 s). */
  get imagesPerSecond(): number {
    const imgs = this.emaImages ?? this.lastImgs;
    const secs = this.secondsPerIteration;
    if (Number.isNaN(imgs) || Number.isNaN(secs)) return Number.NaN;
    return secs > 0 ? imgs / secs : imgs > 0 ? Number.POSITIVE_INFINITY : 0;
  }

  /** Estimated seconds for `remainingIterations` more iterations (NaN before any iteration). */
  etaSeconds(remainingIterations: number): number {
    return Math.max(0, remainingIterations) * this.secondsPerIteration;
  }
}

/**
 * A duration as whole seconds: "42s", "26m 38s", "3h 05m 09s", "2d 04h 10m" (seconds dropped once
 * it runs to days). Rounded to the nearest second; NaN, infinite or negative → "--".
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const total = Math.round(seconds);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (x: number): string => String(x).padStart(2, '0');
  if (d > 0) return `${d}d ${two(h)}h ${two(m)}m`;
  if (h > 0) return `${h}h ${two(m)}m ${two(s)}s`;
  if (m > 0) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

/** An integer with comma thousands separators, independent of the locale: 2448000 → "2,448,000". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return fixed(n, 0);
  const r = Math.round(n);
  const digits = String(Math.abs(r));
  const grouped = digits.replace(/\B(?=(\d{3})+$)/g, ',');
  return r < 0 ? `-${grouped}` : grouped;
}

/** toFixed that spells non-finite values "nan", "inf", "-inf" (as Darknet's printf does). */
function fixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return x.toFixed(digits);
}

/** A learning rate: six decimals, or 3 significant digits in exponent form when below 1e-4 (burn-in). */
function formatLr(lr: number): string {
  if (Number.isFinite(lr) && lr !== 0 && Math.abs(lr) < 1e-4) return lr.toExponential(2);
  return fixed(lr, 6);
}

export interface ProgressInfo {
  /** Iterations done (1-based for the one just finished). */
  iteration: number;
  maxIterations: number;
  loss: number;
  avgLoss: number;
  lr: number;
  /** Smoothed images per second (ThroughputMeter.imagesPerSecond). */
  imagesPerSecond: number;
  /** Smoothed seconds per iteration (ThroughputMeter.secondsPerIteration); also drives the ETA. */
  secondsPerIteration: number;
  /** Images seen since the start of training. */
  seen: number;
  /** Appended after a comma (e.g. "mAP 45.21%"). */
  extra?: string;
}

/**
 * The per-iteration line:
 * ` 120/4000: loss 3.412, avg 3.871, lr 0.001000, 0.412 s/it, 155.3 img/s, 2,448,000 images, ETA 26m 39s`
 * The iteration is right-aligned to the width of maxIterations; ETA = remaining iterations ×
 * secondsPerIteration.
 */
export function formatProgress(p: ProgressInfo): string {
  const width = String(Math.max(0, Math.round(p.maxIterations))).length;
  const remaining = Math.max(0, p.maxIterations - p.iteration);
  const eta = remaining === 0 ? 0 : remaining * p.secondsPerIteration;
  const parts = [
    `loss ${fixed(p.loss, 3)}`,
    `avg ${fixed(p.avgLoss, 3)}`,
    `lr ${formatLr(p.lr)}`,
    `${fixed(p.secondsPerIteration, 3)} s/it`,
    `${fixed(p.imagesPerSecond, 1)} img/s`,
    `${formatCount(p.seen)} images`,
    `ETA ${formatDuration(eta)}`,
  ];
  if (p.extra) parts.push(p.extra);
  return `${String(p.iteration).padStart(width)}/${p.maxIterations}: ${parts.join(', ')}`;
}

/**
 * A float32 value as the cfg most likely wrote it: the shortest decimal that rounds to the same float32
 * (Math.fround(0.002) = 0.0020000000949949026 prints as "0.002").
 */
export function float32Text(x: number): string {
  if (!Number.isFinite(x) || Math.fround(x) !== x) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

/** What a trainer tells whoever shows its progress, and how it is asked to stop. */
export interface TrainHooks {
  /** Called after every iteration instead of logging formatProgress(info) (terminal status line, --log-every). */
  progress?: (info: ProgressInfo) => void;
  /** Once aborted, training stops at the next iteration boundary, writes its checkpoint and returns 'interrupted'. */
  stop?: AbortSignal;
  /** Called when a checkpoint has been written completely. */
  checkpoint?: (c: { iteration: number; weights: string; state: string | null }) => void;
}
