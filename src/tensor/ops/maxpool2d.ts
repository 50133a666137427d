// 2-D max pooling over NCHW, with PyTorch semantics (symmetric padding, dilation, ceil mode) and
// Darknet semantics (SEMANTICS 6.4: `padding` cells, padding/2 on the left/top and the rest on the
// right/bottom), plus the argmax indices that the backward pass scatters the gradient to.
//
// One window geometry (Pool2dWindow) serves both: output (i, j) of a plane looks at input rows
// i*sh - padTop + u*dh (u < kh) and columns j*sw - padLeft + v*dw (v < kw). Positions outside the input
// never win (PyTorch pads with -inf, Darknet with -FLT_MAX); the max is over the in-range taps, the first
// maximum in row-major scan order wins ties (both PyTorch's CPU kernel and Darknet do this), NaN propagates.
// A window with no in-range tap (possible only with dilation or a large Darknet `padding`) outputs
// `emptyValue` with index -1 and receives no gradient.
//
// indices: int32, same shape as the output, the flat position h*W + w of the winner inside its (n, c)
// plane (PyTorch's convention for max_pool2d's indices).
//
// Kernels (same names on every device):
//   maxpool2d          (out, indices, x, window, emptyValue)   out and indices written with '='
//   maxpool2d_backward (gx, gout, indices)                     gx written with '=' (zeroed, then += per winner)

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { arenaIndex, chunkFor, parallelFor } from '../backends/cpu/parallel.js';
import { A0, TASK } from '../backends/cpu/tasks.js';
import { checkFloat } from './common.js';
import { contiguous } from './copy.js';

/** Window geometry of a 2-D pooling: kernel, stride, dilation and the four paddings, in input cells. */
export interface Pool2dWindow {
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly padBottom: number;
  readonly padRight: number;
}

/**
 * out [N,C,OH,OW] = max over each window of contiguous x [N,C,H,W]; indices (int32, contiguous, same shape
 * as out) = flat h*W + w of the first maximum, -1 for a window with no in-range tap (out = emptyValue there).
 */
export type MaxPool2dKernel = (out: Tensor, indices: Tensor, x: Tensor, window: Pool2dWindow, emptyValue: number) => void;

/** gx [N,C,H,W] (contiguous) = 0, then gx[plane, indices[k]] += gout[k] for every output k (index -1 skipped). */
export type MaxPool2dBackwardKernel = (gx: Tensor, gout: Tensor, indices: Tensor) => void;

/** Darknet fills positions outside the input with -FLT_MAX. */
export const FLT_MAX = 3.4028234663852886e38;

registerKernel<MaxPool2dKernel>('maxpool2d', 'cpu', (out, indices, x, win, emptyValue) => {
  const H = x.shape[2]!;
  const W = x.shape[3]!;
  const OH = out.shape[2]!;
  const OW = out.shape[3]!;
  const planes = x.shape[0]! * x.shape[1]!;
  const a = x.storage.cpuArray;
  const o = out.storage.cpuArray;
  const idx = indices.storage.cpuArray as Int32Array;
  const { kh, kw, sh, sw, dh, dw, padTop, padLeft } = win;
  // float32 in the shared arena: planes on every core (tasks.ts: the same scan, a branch-free 2x2 case).
  const ix = a instanceof Float32Array ? arenaIndex(a, x.offset) : -1;
  const io = o instanceof Float32Array ? arenaIndex(o, out.offset) : -1;
  const ii = arenaIndex(idx, indices.offset);
  if (ix >= 0 && io >= 0 && ii >= 0) {
    parallelFor(TASK.maxpool, planes, chunkFor(planes), planes * H * W, (ia, fa) => {
      const v = [ix, io, ii, H, W, OH, OW, kh, kw, sh, sw, dh, dw, padTop, padLeft];
      for (let k = 0; k < v.length; k++) ia[A0 + k] = v[k]!;
      fa[0] = emptyValue;
    });
    return;
  }
  // In-range taps of each output row/column: u in [uLo[i], uHi[i]) keeps i*sh - padTop + u*dh inside [0, H).
  const range = (n: number, k: number, s: number, pad: number, d: number, size: number): [Int32Array, Int32Array] => {
    const lo = new Int32Array(n);
    const hi = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const start = i * s - pad;
      lo[i] = Math.min(k, Math.max(0, Math.ceil(-start / d)));
      hi[i] = Math.max(lo[i]!, Math.min(k, Math.ceil((size - start) / d)));
    }
    return [lo, hi];
  };
  const [uLo, uHi] = range(OH, kh, sh, padTop, dh, H);
  const [vLo, vHi] = range(OW, kw, sw, padLeft, dw, W);
  for (let p = 0; p < planes; p++) {
    const xb = x.offset + p * H * W;
    const ob = out.offset + p * OH * OW;
    const ib = indices.offset + p * OH * OW;
    for (let i = 0; i < OH; i++) {
      const h0 = i * sh - padTop;
      const u0 = uLo[i]!;
      const u1 = uHi[i]!;
      for (let j = 0; j < OW; j++) {
        const w0 = j * sw - padLeft;
        const v0 = vLo[j]!;
        const v1 = vHi[j]!;
        let best = emptyValue;
        let at = -1;
        for (let u = u0; u < u1; u++) {
          const row = (h0 + u * dh) * W;
          for (let v = v0; v < v1; v++) {
            const pos = row + w0 + v * dw;
            const val = a[xb + pos]!;
            // The first in-range tap always takes the place; later ones only when strictly greater or NaN.
            if (at < 0 || val > best || (val !== val && best === best)) {
              best = val;
              at = pos;
            }
          }
        }
        o[ob + i * OW + j] = best;
        idx[ib + i * OW + j] = at;
      }
    }
  }
});

registerKernel<MaxPool2dBackwardKernel>('maxpool2d_backward', 'cpu', (gx, gout, indices) => {
  const HW = gx.shape[2]! * gx.shape[3]!;
  const OHW = gout.shape[2]! * gout.shape[3]!;
  const planes = gx.shape[0]! * gx.shape[1]!;
  const d = gx.storage.cpuArray;
  const g = gout.storage.cpuArray;
  const idx = indices.storage.cpuArray as Int32Array;
  const id = d instanceof Float32Array ? arenaIndex(d, gx.offset) : -1;
  const ig = g instanceof Float32Array ? arenaIndex(g, gout.offset) : -1;
  const ii = arenaIndex(idx, indices.offset);
  if (id >= 0 && ig >= 0 && ii >= 0) {
    parallelFor(TASK.maxpoolBackward, planes, chunkFor(planes), planes * (HW + OHW), (ia) => {
      ia[A0] = id;
      ia[A0 + 1] = ig;
      ia[A0 + 2] = ii;
      ia[A0 + 3] = HW;
      ia[A0 + 4] = OHW;
    });
    return;
  }
  d.fill(0, gx.offset, gx.offset + gx.size);
  for (let p = 0; p < planes; p++) {
    const xb = gx.offset + p * HW;
    const ob = p * OHW;
    for (let k = 0; k < OHW; k++) {
      const at = idx[indices.offset + ob + k]!;
      if (at >= 0) d[xb + at] += g[gout.offset + ob + k]!;
    }
  }
});

// ---- options and shape rules ----

export type IntPair = number | readonly [number, number];

export interface MaxPool2dOptions {
  /** Window size (kh, kw). */
  kernel: IntPair;
  /** Default: the kernel size. */
  stride?: IntPair;
  /** PyTorch symmetric padding (top = bottom, left = right); at most half the dilated kernel. Default 0. */
  padding?: IntPair;
  /** Default 1. */
  dilation?: IntPair;
  /** PyTorch's ceil_mode: round the output size up (the last window must still start inside input + left padding). */
  ceilMode?: boolean;
  /**
   * Darknet-style explicit padding [left, right, top, bottom] (any split, -FLT_MAX outside): output
   * floor((H + top + bottom - dilatedKernel) / stride) + 1. Excludes `padding` and `ceilMode`.
   */
  darknetPad?: readonly [number, number, number, number];
}

/** A non-negative (min 0) or positive (min 1) integer pair from a number or a pair. */
export function intPair(op: string, name: string, v: IntPair, min: number): [number, number] {
  let p: [number, number];
  if (typeof v === 'number') p = [v, v];
  else if (Array.isArray(v) && (v as readonly unknown[]).length === 2) p = [v[0], v[1]];
  else throw new Error(`${op}: ${name} must be a number or a pair, got ${JSON.stringify(v)}`);
  for (const x of p) {
    if (!Number.isInteger(x) || x < min) throw new Error(`${op}: ${name} must be ${min > 0 ? 'positive' : 'non-negative'} integers, got ${JSON.stringify(v)}`);
  }
  return p;
}

/**
 * PyTorch's pooling output size: floor((in + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1, and in ceil
 * mode one less when the last window would start at or after in + p.
 */
export function pytorchPoolOutputSize(inSize: number, k: number, s: number, p: number, d: number, ceilMode: boolean): number {
  const span = inSize + 2 * p - d * (k - 1) - 1 + (ceilMode ? s - 1 : 0);
  let out = Math.floor(span / s) + 1;
  if (ceilMode && (out - 1) * s >= inSize + p) out--;
  return out;
}

export function check4d(op: string, x: Tensor): [number, number, number, number] {
  x.assertAlive(op);
  checkFloat(op, x);
  if (x.ndim !== 4) throw new Error(`${op}: expected an NCHW input of rank 4, got ${shapeStr(x.shape)}`);
  return [x.shape[0]!, x.shape[1]!, x.shape[2]!, x.shape[3]!];
}

export interface PoolPlan {
  window: Pool2dWindow;
  outH: number;
  outW: number;
}

/** Window and output size of maxpool2d for an input of spatial size H×W (throws on bad options). */
export function maxpool2dPlan(op: string, H: number, W: number, opts: MaxPool2dOptions): PoolPlan {
  const [kh, kw] = intPair(op, 'kernel', opts.kernel, 1);
  const [sh, sw] = intPair(op, 'stride', opts.stride ?? opts.kernel, 1);
  const [dh, dw] = intPair(op, 'dilation', opts.dilation ?? 1, 1);
  const ekh = dh * (kh - 1) + 1;
  const ekw = dw * (kw - 1) + 1;
  let window: Pool2dWindow;
  let outH: number;
  let outW: number;
  if (opts.darknetPad !== undefined) {
    if (opts.padding !== undefined || opts.ceilMode) throw new Error(`${op}: darknetPad excludes padding and ceilMode`);
    const dp = opts.darknetPad;
    if (!Array.isArray(dp) || dp.length !== 4 || !dp.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new Error(`${op}: darknetPad must be four non-negative integers [left, right, top, bottom], got ${JSON.stringify(dp)}`);
    }
    const [left, right, top, bottom] = dp;
    const spanH = H + top + bottom - ekh;
    const spanW = W + left + right - ekw;
    if (spanH < 0 || spanW < 0) {
      throw new Error(`${op}: window ${kh}x${kw} (dilation ${dh}x${dw}) larger than the padded input ${H}x${W} + pad ${JSON.stringify(dp)}`);
    }
    window = { kh, kw, sh, sw, dh, dw, padTop: top, padLeft: left, padBottom: bottom, padRight: right };
    outH = Math.floor(spanH / sh) + 1;
    outW = Math.floor(spanW / sw) + 1;
  } else {
    const [ph, pw] = intPair(op, 'padding', opts.padding ?? 0, 0);
    if (ph > Math.floor(ekh / 2) || pw > Math.floor(ekw / 2)) {
      throw new Error(`${op}: padding ${ph}x${pw} must be at most half the (dilated) kernel ${ekh}x${ekw}`);
    }
    const ceil = opts.ceilMode ?? false;
    window = { kh, kw, sh, sw, dh, dw, padTop: ph, padLeft: pw, padBottom: ph, padRight: pw };
    outH = pytorchPoolOutputSize(H, kh, sh, ph, dh, ceil);
    outW = pytorchPoolOutputSize(W, kw, sw, pw, dw, ceil);
  }
  if (outH < 1 || outW < 1) {
    throw new Error(`${op}: output size ${outH}x${outW} is too small for input ${H}x${W} with kernel ${kh}x${kw}, stride ${sh}x${sw}`);
  }
  return { window, outH, outW };
}

// ---- public functions ----

/** Max pooling that also returns the int32 argmax indices (flat h*W + w in each plane). */
export function maxpool2dWithIndices(x: Tensor, opts: MaxPool2dOptions): { values: Tensor; indices: Tensor } {
  const op = 'maxpool2d';
  const [N, C, H, W] = check4d(op, x);
  const { window, outH, outW } = maxpool2dPlan(op, H, W, opts);
  const emptyValue = opts.darknetPad !== undefined ? -FLT_MAX : -Infinity;
  const xc = noGrad(() => contiguous(x));
  const values = Tensor.empty([N, C, outH, outW], x.dtype, x.device);
  const indices = Tensor.empty([N, C, outH, outW], 'int32', x.device);
  if (values.size > 0) getKernel<MaxPool2dKernel>('maxpool2d', x.device.name)(values, indices, xc, window, emptyValue);
  if (xc !== x) xc.dispose();
  const inShape = x.shape;
  record(op, [x], values, (g) => [maxpool2dBackward(g, indices, inShape)]);
  // The caller gets its own view of the indices, so disposing it does not free what backward needs.
  return { values, indices: new Tensor(indices.storage, indices.shape) };
}

/** torch.nn.functional.max_pool2d (or Darknet padding with `darknetPad`). */
export function maxpool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  const r = maxpool2dWithIndices(x, opts);
  r.indices.dispose();
  return r.values;
}

/**
 * Darknet's [maxpool] layer (SEMANTICS 6.4): `padding` (default size-1) cells, padding/2 on the left/top,
 * the rest on the right/bottom; output (H + padding - size)/stride + 1. size=2 stride=2 halves an even input
 * and rounds an odd one up; size=2 stride=1 keeps the size.
 */
export function maxpool2dDarknet(x: Tensor, size: number, stride: number, padding = size - 1): Tensor {
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`maxpool2dDarknet: padding must be a non-negative integer, got ${padding}`);
  const lo = Math.floor(padding / 2);
  const hi = padding - lo;
  return maxpool2d(x, { kernel: size, stride, darknetPad: [lo, hi, lo, hi] });
}

/** The gradient of max pooling: gout routed to the argmax positions of an input of shape `inShape`. */
export function maxpool2dBackward(gout: Tensor, indices: Tensor, inShape: readonly number[]): Tensor {
  gout.assertAlive('maxpool2d_backward');
  indices.assertAlive('maxpool2d_backward');
  if (gout.ndim !== 4 || indices.dtype !== 'int32' || gout.shape.some((d, i) => d !== indices.shape[i]) || inShape.length !== 4) {
    throw new Error(`maxpool2d_backward: gout ${shapeStr(gout.shape)} and int32 indices ${shapeStr(indices.shape)} must have one NCHW shape (input ${shapeStr(inShape)})`);
  }
  const gc = contiguous(gout);
  const ic = contiguous(indices);
  const gx = Tensor.empty(inShape, gout.dtype, gout.device);
  if (gx.size > 0) getKernel<MaxPool2dBackwardKernel>('maxpool2d_backward', gout.device.name)(gx, gc, ic);
  if (gc !== gout) gc.dispose();
  if (ic !== indices) ic.dispose();
  return gx;
}
