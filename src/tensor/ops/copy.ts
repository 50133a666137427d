// Data movement: strided copy (contiguous, clone, copy into a view), dtype cast, device transfer, detach.
// One primitive kernel, 'copy', writes a (possibly strided) output view from a same-shaped input view,
// converting dtype on the way.

import { getDevice, type DeviceLike } from '../device.js';
import type { DType } from '../dtype.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { sameShape, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { elementwiseLoop } from '../backends/cpu/strided.js';

/** out[...] = x[...] for same-shaped views; out may be strided; dtypes may differ (cast). */
export type CopyKernel = (out: Tensor, x: Tensor) => void;

registerKernel<CopyKernel>('copy', 'cpu', (out, x) => {
  const loop = elementwiseLoop(1, out.dtype === 'int32' && x.dtype !== 'int32' ? 'Math.trunc(x0)' : 'x0');
  loop(out.storage.cpuArray, out.offset, [x.storage.cpuArray], [x.offset], out.shape, [out.strides, x.strides], []);
});

/**
 * A float → int32 conversion truncates toward zero; a value that is NaN, infinite or outside the int32
 * range after truncation has no int32 and is an error (naming the op, the first such value and its
 * position) instead of a wrapped or zeroed element. Checked on the host, before the kernel runs.
 */
function checkInt32Values(op: string, x: Tensor): void {
  if (x.dtype === 'int32' || x.size === 0) return;
  const v = x.data();
  for (let i = 0; i < v.length; i++) {
    const t = Math.trunc(v[i]!);
    if (!(t >= -2147483648 && t <= 2147483647)) {
      throw new Error(`${op}: element ${i} of ${shapeStr(x.shape)} is ${v[i]}, which has no int32 value (int32 holds -2147483648..2147483647)`);
    }
  }
}

function copyKernel(out: Tensor, x: Tensor): void {
  if (out.size === 0) return;
  getKernel<CopyKernel>('copy', out.device.name)(out, x);
}

/** Copy `src` into the view `dst` in place (no autograd; shapes must match exactly). */
export function copyInto(dst: Tensor, src: Tensor): void {
  dst.assertAlive('copyInto');
  src.assertAlive('copyInto');
  if (!sameShape(dst.shape, src.shape)) throw new Error(`copyInto: shape ${shapeStr(src.shape)} into ${shapeStr(dst.shape)}`);
  if (dst.device !== src.device) throw new Error(`copyInto: source on '${src.device.name}', destination on '${dst.device.name}'`);
  if (dst.dtype === 'int32') checkInt32Values('copyInto', src);
  copyKernel(dst, src);
}

/** A contiguous tensor with x's values (x itself if already contiguous). */
export function contiguous(x: Tensor): Tensor {
  x.assertAlive('contiguous');
  if (x.isContiguous()) return x;
  return clone(x);
}

/** A new contiguous copy (differentiable). */
export function clone(x: Tensor): Tensor {
  x.assertAlive('clone');
  const out = Tensor.empty(x.shape, x.dtype, x.device);
  copyKernel(out, x);
  return record('clone', [x], out, (g) => [g]);
}

/** Convert to another dtype (differentiable between float types). */
export function cast(x: Tensor, dtype: DType): Tensor {
  x.assertAlive('cast');
  if (x.dtype === dtype) return x;
  if (dtype === 'int32') checkInt32Values('cast', x);
  const out = Tensor.empty(x.shape, dtype, x.device);
  copyKernel(out, x);
  if (dtype === 'int32') return out;
  return record('cast', [x], out, (g) => [cast(g, x.dtype)]);
}

/** The same values on another device (x itself when already there). Differentiable. */
export function to(x: Tensor, device: DeviceLike): Tensor {
  x.assertAlive('to');
  const dev = getDevice(device);
  if (dev === x.device) return x;
  const src = contiguous(x);
  const host = src.device.read(src.storage.handle, src.dtype, src.offset, src.size);
  if (src !== x) src.dispose();
  const out = Tensor.empty(x.shape, x.dtype, dev);
  if (host.length > 0) dev.write(out.storage.handle, out.dtype, 0, host);
  const from = x.device;
  return record('to', [x], out, (g) => [to(g, from)]);
}

/** Same storage, no graph. */
export function detach(x: Tensor): Tensor {
  x.assertAlive('detach');
  return new Tensor(x.storage, x.shape, x.strides, x.offset);
}
