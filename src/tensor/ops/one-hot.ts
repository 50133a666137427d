// One-hot encoding of int32 class indices (not differentiable): [...] -> [..., n].

import { getKernel, registerKernel } from '../registry.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';

/** out [N, n] (zero-initialised by the caller's fill) gets 1 at (i, idx[i]); idx int32 [N] contiguous. */
export type OneHotKernel = (out: Tensor, indices: Tensor, n: number) => void;

registerKernel<OneHotKernel>('one_hot', 'cpu', (out, indices, n) => {
  const o = out.storage.cpuArray;
  const idx = indices.storage.cpuArray;
  o.fill(0, out.offset, out.offset + out.size);
  const N = indices.size;
  for (let i = 0; i < N; i++) {
    const c = idx[indices.offset + i]!;
    if (c < 0 || c >= n || !Number.isInteger(c)) throw new Error(`oneHot: index ${c} at position ${i} is outside [0, ${n})`);
    o[out.offset + i * n + c] = 1;
  }
});

export function oneHot(indices: Tensor, n: number, dtype: DType = 'float32'): Tensor {
  indices.assertAlive('oneHot');
  if (indices.dtype !== 'int32') throw new Error(`oneHot: indices must be int32, got ${indices.dtype} ${shapeStr(indices.shape)}`);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`oneHot: number of classes must be a positive integer, got ${n}`);
  const idx = indices.isContiguous() ? indices : indices.contiguous();
  const out = Tensor.empty([...indices.shape, n], dtype, indices.device);
  if (idx.size > 0) getKernel<OneHotKernel>('one_hot', indices.device.name)(out, idx, n);
  if (idx !== indices) idx.dispose();
  return out;
}
