// softmax / log_softmax along any dim, computed stably (max subtracted). Primitive kernel over a
// contiguous [outer, n, inner] layout, so the class axis of NCHW (dim 1) needs no transpose.

import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { normDim, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { mul, sub } from './binary.js';
import { checkFloat } from './common.js';
import { contiguous } from './copy.js';
import { sum } from './reduce.js';
import { exp } from './unary.js';

/** out = (log)softmax of contiguous x viewed as [outer, n, inner] along n. */
export type SoftmaxKernel = (out: Tensor, x: Tensor, n: number, inner: number, log: boolean) => void;

registerKernel<SoftmaxKernel>('softmax', 'cpu', (out, x, n, inner, log) => {
  const o = out.storage.cpuArray;
  const a = x.storage.cpuArray;
  const outer = n * inner === 0 ? 0 : x.size / (n * inner);
  for (let i = 0; i < outer; i++) {
    for (let j = 0; j < inner; j++) {
      const base = i * n * inner + j;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, a[x.offset + base + k * inner]!);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(a[x.offset + base + k * inner]! - m);
      if (log) {
        const ls = Math.log(s) + m;
        for (let k = 0; k < n; k++) o[out.offset + base + k * inner] = a[x.offset + base + k * inner]! - ls;
      } else {
        const inv = 1 / s;
        for (let k = 0; k < n; k++) o[out.offset + base + k * inner] = Math.exp(a[x.offset + base + k * inner]! - m) * inv;
      }
    }
  }
});

function run(x: Tensor, dim: number, log: boolean): Tensor {
  const op = log ? 'log_softmax' : 'softmax';
  x.assertAlive(op);
  checkFloat(op, x);
  const d = normDim(dim, x.ndim, op);
  const xc = contiguous(x);
  const out = Tensor.empty(x.shape, x.dtype, x.device);
  if (out.size > 0) getKernel<SoftmaxKernel>('softmax', x.device.name)(out, xc, x.shape[d] ?? 1, sizeOf(x.shape.slice(d + 1)), log);
  if (xc !== x) xc.dispose();
  return out;
}

export function softmax(x: Tensor, dim: number): Tensor {
  const y = run(x, dim, false);
  return record('softmax', [x], y, (g) => [mul(y, sub(g, sum(mul(g, y), dim, true)))]);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  const y = run(x, dim, true);
  return record('log_softmax', [x], y, (g) => [sub(g, mul(exp(y), sum(g, dim, true)))]);
}
