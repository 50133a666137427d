// Dropout (inverted, as PyTorch and Darknet): in training, each element is zeroed with probability p and
// the survivors are scaled by 1/(1-p); at inference it is the identity.
//
// The mask is counter-based, so every device draws the same one: element k (flat row-major index of the
// contiguous input) draws u_k = the k-th uniform of the Philox stream `new Rng(seed)` (block floor(k/4),
// word k%4, key (seed, 0): see random.ts), and is dropped when u_k < p (Darknet's `rand < probability`).
// The mask tensor holds 0 or the scale 1/(1-p) (rounded to the data type), and y = x·mask, so the backward
// is g·mask.
//
// Kernel (same name on every device):
//   dropout (out, mask, x, p, seed)   out and mask written with '='; x contiguous; seed a uint32.

import { needsGrad, record } from '../../autograd/record.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { getKernel, registerKernel } from '../registry.js';
import { philox4x32, u32ToUnit, type Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { mul } from './binary.js';
import { checkFloat } from './common.js';
import { contiguous } from './copy.js';

export type DropoutKernel = (out: Tensor, mask: Tensor, x: Tensor, p: number, seed: number) => void;

registerKernel<DropoutKernel>('dropout', 'cpu', (out, mask, x, p, seed) => {
  const a = x.storage.cpuArray;
  const o = out.storage.cpuArray;
  const m = mask.storage.cpuArray;
  const scale = 1 / (1 - p);
  const block = new Uint32Array(4);
  const n = x.size;
  for (let k = 0; k < n; k++) {
    if ((k & 3) === 0) philox4x32(k / 4, 0, 0, 0, seed, 0, block);
    const keep = u32ToUnit(block[k & 3]!) >= p;
    m[mask.offset + k] = keep ? scale : 0;
    // Reading the stored mask back gives the dtype-rounded scale (Darknet multiplies by a float scale).
    o[out.offset + k] = keep ? a[x.offset + k]! * m[mask.offset + k]! : 0;
  }
});

export interface DropoutOptions {
  /** Dropout only in training; identity otherwise. */
  training: boolean;
  /** Draw the mask seed from this stream (advances it by one uint32). */
  rng?: Rng;
  /** Or use this mask seed (an integer in [0, 2^32)). */
  seed?: number;
}

/** Dropout with drop probability p (0 <= p <= 1); returns x itself when not training or p = 0. */
export function dropout(x: Tensor, p: number, opts: DropoutOptions): Tensor {
  const op = 'dropout';
  x.assertAlive(op);
  checkFloat(op, x);
  if (!(p >= 0 && p <= 1)) throw new Error(`${op}: probability must be in [0, 1], got ${p}`);
  if (!opts.training || p === 0) return x;
  let seed: number;
  if (opts.seed !== undefined) {
    if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new Error(`${op}: seed must be an integer in [0, 2^32), got ${opts.seed}`);
    seed = opts.seed;
  } else if (opts.rng) {
    seed = opts.rng.nextU32();
  } else {
    throw new Error(`${op}: training needs a mask source: pass { rng } or { seed }`);
  }
  const xc = noGrad(() => contiguous(x));
  const out = Tensor.empty(x.shape, x.dtype, x.device);
  const mask = Tensor.empty(x.shape, x.dtype, x.device);
  if (out.size > 0) getKernel<DropoutKernel>(op, x.device.name)(out, mask, xc, p, seed);
  if (xc !== x) xc.dispose();
  if (!needsGrad([x])) {
    mask.dispose();
    return out;
  }
  return record(op, [x], out, (g) => [mul(g, mask)]);
}
