// Multi-scale training sizes (Darknet detector.c with `random=1`): every 10 batches the network input
// becomes a random multiple of 32 between 320 and 608 (`(rand() % 10 + 10) * 32`), and the last 200
// batches before `max_batches` use the largest size. Here the size of an interval is a pure function of
// (seed, interval index), so a resumed run picks the same sizes.

import { Rng } from '../../tensor/random.js';
import { deriveSeed, SeedStream } from './seed.js';

export interface MultiScaleOptions {
  seed: number;
  /** Batches per size. Default 10. */
  every?: number;
  /** Smallest and largest size, and the step (all multiples of `step`). Defaults 320, 608, 32. */
  min?: number;
  max?: number;
  step?: number;
  /** With `maxBatches`, the last `finalBatches` batches (default 200) use `max`. */
  maxBatches?: number;
  finalBatches?: number;
}

/** The square input size for batch `batch` (0-based). */
export function multiScaleSize(batch: number, opts: MultiScaleOptions): number {
  const every = opts.every ?? 10;
  const min = opts.min ?? 320;
  const max = opts.max ?? 608;
  const step = opts.step ?? 32;
  if (!(Number.isInteger(batch) && batch >= 0)) throw new Error(`multiScaleSize: batch must be an integer >= 0, got ${batch}`);
  if (!(every >= 1 && step >= 1 && min >= step && max >= min && min % step === 0 && max % step === 0)) {
    throw new Error(`multiScaleSize: bad options every=${every} min=${min} max=${max} step=${step}`);
  }
  if (opts.maxBatches !== undefined && batch + (opts.finalBatches ?? 200) > opts.maxBatches) return max;
  const interval = Math.floor(batch / every);
  const choices = (max - min) / step + 1;
  return min + step * new Rng(deriveSeed(opts.seed, SeedStream.multiScale, interval)).int(choices);
}
