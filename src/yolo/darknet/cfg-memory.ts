// The memory a parsed cfg asks for, checked before anything is allocated.
//
// A lower bound, counted from the cfg alone (4 bytes a value for float32 networks):
//   parameters   every layer's tensors (cfg `paramCount`); training adds a gradient and the optimiser's
//                slots (momentum for SGD, two moments for Adam) per value
//   activations  every layer's output for `batch` images: Network.forward keeps them all (the caller
//                owns the list); training adds a gradient of each
// The first layer at which the running sum passes the limit is named (file:line) with the bytes it
// needs, so `filters=2147483647`, `size=20001` or a 65536×65536 input fail in one line instead of with
// an engine's "Invalid typed array length" or after minutes of swapping.
//
// The limit is the machine's physical memory (os.totalmem()) unless TSGRAD_MAX_MEMORY sets it
// (bytes, or a number with a K, M, G or T suffix, powers of 1024).

import { totalmem } from 'node:os';

import { MAX_ELEMENTS } from '../../tensor/shape.js';
import type { DarknetNetwork } from './cfg-types.js';
import { DarknetCfgError } from './errors.js';

export interface MemoryCheckOptions {
  /** Images per forward (default: the cfg's mini-batch). */
  readonly batch?: number;
  /** Count gradients and optimiser slots too (default false). */
  readonly training?: boolean;
  /** Optimiser slots per parameter in training (SGD 1, Adam 2; default: 2 with adam=1, else 1). */
  readonly optimizerSlots?: number;
  /** Bytes per value (4 for float32, 8 for float64). Default 4. */
  readonly bytesPerValue?: number;
  /** Limit in bytes (default memoryLimitBytes()). */
  readonly limit?: number;
}

const SUFFIX: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** The memory limit: TSGRAD_MAX_MEMORY when set (see the file comment), else the physical memory. */
export function memoryLimitBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['TSGRAD_MAX_MEMORY'];
  if (raw === undefined || raw.trim() === '') return totalmem();
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(raw);
  const v = m === null ? Number.NaN : Number(m[1]) * SUFFIX[m[2]!.toUpperCase()]!;
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`TSGRAD_MAX_MEMORY='${raw}' is not a size (bytes, or a number with K, M, G or T)`);
  return Math.floor(v);
}

function limitSource(given: number | undefined): string {
  if (given !== undefined) return 'the limit given';
  const env = process.env['TSGRAD_MAX_MEMORY'];
  return env !== undefined && env.trim() !== '' ? `TSGRAD_MAX_MEMORY=${env}` : "the machine's memory; TSGRAD_MAX_MEMORY sets another";
}

/** Bytes as "N bytes (X.Y GiB)". */
export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [2 ** 40, 'TiB'],
    [2 ** 30, 'GiB'],
    [2 ** 20, 'MiB'],
    [2 ** 10, 'KiB'],
  ];
  const u = units.find(([s]) => n >= s);
  return u === undefined ? `${n} bytes` : `${n} bytes (${(n / u[0]).toFixed(1)} ${u[1]})`;
}

/**
 * Throws a DarknetCfgError at the first layer where the network's memory (see the file comment) passes
 * the limit; returns the total estimate in bytes otherwise.
 */
export function checkNetworkMemory(cfg: DarknetNetwork, opts: MemoryCheckOptions = {}): number {
  const batch = opts.batch ?? cfg.net.miniBatch;
  const training = opts.training ?? false;
  const slots = opts.optimizerSlots ?? (cfg.net.adam ? 2 : 1);
  const bytes = opts.bytesPerValue ?? 4;
  const limit = opts.limit ?? memoryLimitBytes();
  const paramCopies = training ? 2 + slots : 1;
  const actCopies = training ? 2 : 1;
  let total = cfg.inputs * batch * bytes;
  for (const l of cfg.layers) {
    const params = l.paramCount * bytes * paramCopies;
    const acts = l.shape.outputs * batch * bytes * actCopies;
    if (l.shape.outputs * batch > MAX_ELEMENTS) {
      throw new DarknetCfgError(
        cfg.file,
        l.source.line,
        `[${l.source.section}] (layer ${l.index}): its output for ${batch} images, ${l.shape.outputs * batch} values, is more than one tensor can hold (${MAX_ELEMENTS}); lower the batch or the input size`,
      );
    }
    total += params + acts;
    if (total > limit) {
      const what = `${training ? 'training' : 'inference'} at batch ${batch}`;
      throw new DarknetCfgError(
        cfg.file,
        l.source.line,
        `[${l.source.section}] (layer ${l.index}): the network needs at least ${formatBytes(total)} up to this layer for ${what} ` +
          `(this layer: ${formatBytes(params)} of parameters, ${formatBytes(acts)} of outputs ${l.out.join('×')}), more than the limit of ` +
          `${formatBytes(limit)} (${limitSource(opts.limit)})`,
      );
    }
  }
  return total;
}
