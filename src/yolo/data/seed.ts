// Seeds derived from (seed, stream, index): a pure function, so that a sample's augmentation, an
// epoch's order or a multi-scale interval's size never depends on what was drawn before it (worker
// scheduling, resuming from a checkpoint). One Philox4x32-10 block keyed by the seed, with the
// counter (index, stream).

import { philox4x32 } from '../../tensor/random.js';

const block = new Uint32Array(4);

/** Named streams, so that two uses of the same (seed, index) never share numbers. */
export const SeedStream = {
  sample: 1,
  epochOrder: 2,
  multiScale: 3,
  synthImage: 4,
  synthSplit: 5,
} as const;

/**
 * A seed for `new Rng(...)` derived from `seed`, a stream id and a non-negative integer index.
 * The result is an integer below 2^53.
 */
export function deriveSeed(seed: number, stream: number, index: number): number {
  if (!Number.isFinite(seed) || !Number.isInteger(index) || index < 0) {
    throw new Error(`deriveSeed: need a finite seed and an integer index >= 0, got ${seed}, ${index}`);
  }
  const s = Math.trunc(seed);
  philox4x32(index >>> 0, Math.floor(index / 4294967296) >>> 0, stream >>> 0, 0x7d4a7a11, s >>> 0, Math.floor(s / 4294967296) >>> 0, block);
  return block[0]! + (block[1]! & 0x1fffff) * 4294967296;
}
