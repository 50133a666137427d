// Locally connected 2-D layer (Darknet [local]): a convolution whose weights are not shared, every
// output location (i, j) has its own filter bank.
//
//   y[n, o, i, j] = bias[o, i, j] + sum_{c, u, v} w[i, j, o, c, u, v] * xpad[n, c, i*sh + u, j*sw + v]
//   OH = floor((H + padTop + padBottom - kh)/sh) + 1 (OW likewise)
//
// Layouts are exactly Darknet's (local_layer.c): `weights` is locations x n x (c*size*size), i.e.
// w[OH, OW, O, C, kh, kw] in row-major order with the location l = i*OW + j outermost, and `biases` is
// one value per output element, b[O, OH, OW] (Darknet presets the output buffer with it). Darknet's
// cfg `pad` is used literally as pixels of padding on every side: see darknetLocalOptions.
//
// Primitive kernels (registered for 'cpu'; a device backend registers the same names), each
// overwriting its output, contiguous inputs:
//   local2d                  out = local(x, w) (+ bias)          Local2dKernel
//   local2d_backward_input   dx = adjoint in x applied to gout   Local2dBackwardInputKernel
//   local2d_backward_weight  dw = adjoint in w applied to gout   Local2dBackwardWeightKernel
// The bias gradient is sum(gout, 0) (composite).
//
// CPU algorithm: im2row of every image into rows [L, N, K] (location-major, so the N patches of one
// location are one [N, K] matrix), then per location l one GEMM over the batch:
//   forward  Y_l [O, N] = W_l [O, K] @ rows_l^T;  dW_l = G_l [O, N] @ rows_l;  drows_l = G_l^T @ W_l
// with G_l gathered from gout into [L, O, N]; dx = row2im(drows).

import { record } from '../../autograd/record.js';
import { gemm, im2row, row2im, scratchLike, SCRATCH_COL, SCRATCH_TMP, type ConvGeometry, type FloatArray } from '../backends/cpu/im2col.js';
import { getKernel, registerKernel } from '../registry.js';
import { sameShape, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkFloat, checkSame } from './common.js';
import { contiguous } from './copy.js';
import { conv2dParams, convOutSize } from './conv2d.js';
import { sum } from './reduce.js';

/** Normalised attributes of a local layer. */
export interface Local2dParams {
  /** [sh, sw], each >= 1. */
  readonly stride: readonly [number, number];
  /** [top, bottom, left, right], each >= 0. */
  readonly padding: readonly [number, number, number, number];
}

export interface Local2dOptions {
  stride?: number | readonly [number, number];
  /** A number or [ph, pw] (symmetric) or [top, bottom, left, right]. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number];
}

export function local2dParams(opts: Local2dOptions | Local2dParams = {}, op = 'local2d'): Local2dParams {
  const p = conv2dParams({ stride: opts.stride, padding: opts.padding }, op);
  return { stride: p.stride, padding: p.padding };
}

/**
 * Options reproducing a Darknet [local] section (size, stride, pad): `pad` pixels on every side. Darknet
 * sizes its output as (H - 1)/stride + 1 when pad != 0 but lays out its columns with
 * (H + 2*pad - size)/stride + 1; the two agree only for size = 2*pad + 1, so other combinations are
 * rejected (Darknet would read past its column buffer).
 */
export function darknetLocalOptions(size: number, stride: number, pad: number): Local2dParams {
  if (pad !== 0 && size !== 2 * pad + 1) {
    throw new Error(`local2d: Darknet [local] with size=${size} pad=${pad} is inconsistent (needs pad=0 or size=2*pad+1)`);
  }
  return local2dParams({ stride, padding: pad });
}

/** Checks x [N,C,H,W] and weight [OH,OW,O,C,kh,kw]; returns the output shape [N,O,OH,OW]. */
export function local2dOutputShape(op: string, xShape: readonly number[], wShape: readonly number[], p: Local2dParams): [number, number, number, number] {
  if (xShape.length !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${shapeStr(xShape)}`);
  if (wShape.length !== 6) throw new Error(`${op}: weight must be 6-D [OH, OW, O, C, kh, kw], got ${shapeStr(wShape)}`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [WH, WW, O, Cw, kh, kw] = wShape as [number, number, number, number, number, number];
  if (Cw !== C) throw new Error(`${op}: input ${shapeStr(xShape)} has ${C} channels, weight ${shapeStr(wShape)} expects ${Cw}`);
  if (kh < 1 || kw < 1) throw new Error(`${op}: empty kernel in weight ${shapeStr(wShape)}`);
  const [pt, pb, pl, pr] = p.padding;
  const OH = convOutSize(H, kh, p.stride[0], pt, pb, 1);
  const OW = convOutSize(W, kw, p.stride[1], pl, pr, 1);
  if (OH < 1 || OW < 1) throw new Error(`${op}: input ${shapeStr(xShape)} padded to ${H + pt + pb}x${W + pl + pr} is smaller than the ${kh}x${kw} kernel of weight ${shapeStr(wShape)}`);
  if (WH !== OH || WW !== OW) {
    throw new Error(`${op}: input ${shapeStr(xShape)} gives a ${OH}x${OW} output, weight ${shapeStr(wShape)} has filters for ${WH}x${WW} locations`);
  }
  return [N, O, OH, OW];
}

/** out [N,O,OH,OW] = local(x [N,C,H,W], weight [OH,OW,O,C,kh,kw]) + bias [O,OH,OW] (if given). */
export type Local2dKernel = (out: Tensor, x: Tensor, weight: Tensor, bias: Tensor | null, p: Local2dParams) => void;
/** dx [N,C,H,W] = d<gout, local(x, weight)>/dx. */
export type Local2dBackwardInputKernel = (dx: Tensor, gout: Tensor, weight: Tensor, p: Local2dParams) => void;
/** dw [OH,OW,O,C,kh,kw] = d<gout, local(x, w)>/dw, summed over the batch. */
export type Local2dBackwardWeightKernel = (dw: Tensor, x: Tensor, gout: Tensor, p: Local2dParams) => void;

interface Plan {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  K: number;
  L: number;
  geo: ConvGeometry;
}

function planOf(xShape: readonly number[], wShape: readonly number[], p: Local2dParams): Plan {
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [OH, OW, O, , kh, kw] = wShape as [number, number, number, number, number, number];
  const geo: ConvGeometry = { C, H, W, kh, kw, sh: p.stride[0], sw: p.stride[1], dh: 1, dw: 1, padTop: p.padding[0], padLeft: p.padding[2], OH, OW };
  return { N, C, H, W, O, K: C * kh * kw, L: OH * OW, geo };
}

/** rows [L, N, K]: every image's patches, location-major. */
function buildRows(X: FloatArray, xOff: number, pl: Plan): FloatArray {
  const { N, C, H, W, K, L, geo } = pl;
  const rows = scratchLike(X, SCRATCH_COL, L * N * K);
  for (let n = 0; n < N; n++) im2row(X, xOff + n * C * H * W, geo, rows, n * K, N * K);
  return rows;
}

/** gout [N, O, L] regathered as [L, O, N]. */
function gatherLocations(Gd: FloatArray, gOff: number, pl: Plan): FloatArray {
  const { N, O, L } = pl;
  const t = scratchLike(Gd, SCRATCH_TMP, L * O * N);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const s = gOff + (n * O + o) * L;
      for (let l = 0, d = o * N + n; l < L; l++, d += O * N) t[d] = Gd[s + l]!;
    }
  }
  return t;
}

registerKernel<Local2dKernel>('local2d', 'cpu', (out, x, weight, bias, p) => {
  const pl = planOf(x.shape, weight.shape, p);
  const { N, O, K, L } = pl;
  const X = x.storage.cpuArray as FloatArray;
  const Wt = weight.storage.cpuArray as FloatArray;
  const Y = out.storage.cpuArray as FloatArray;
  const rows = buildRows(X, x.offset, pl);
  const t = scratchLike(Y, SCRATCH_TMP, L * O * N);
  for (let l = 0; l < L; l++) {
    gemm(false, true, O, N, K, 1, Wt, weight.offset + l * O * K, K, rows, l * N * K, K, 0, t, l * O * N, N);
  }
  const Bs = bias ? (bias.storage.cpuArray as FloatArray) : null;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const d = out.offset + (n * O + o) * L;
      const bOff = bias ? bias.offset + o * L : 0;
      for (let l = 0, s = o * N + n; l < L; l++, s += O * N) Y[d + l] = Bs ? Bs[bOff + l]! + t[s]! : t[s]!;
    }
  }
});

registerKernel<Local2dBackwardInputKernel>('local2d_backward_input', 'cpu', (dx, gout, weight, p) => {
  const pl = planOf(dx.shape, weight.shape, p);
  const { N, C, H, W, O, K, L, geo } = pl;
  const D = dx.storage.cpuArray as FloatArray;
  const Wt = weight.storage.cpuArray as FloatArray;
  const t = gatherLocations(gout.storage.cpuArray as FloatArray, gout.offset, pl);
  const drows = scratchLike(D, SCRATCH_COL, L * N * K);
  for (let l = 0; l < L; l++) {
    gemm(true, false, N, K, O, 1, t, l * O * N, N, Wt, weight.offset + l * O * K, K, 0, drows, l * N * K, K);
  }
  D.fill(0, dx.offset, dx.offset + N * C * H * W);
  for (let n = 0; n < N; n++) row2im(drows, n * K, N * K, geo, D, dx.offset + n * C * H * W);
});

registerKernel<Local2dBackwardWeightKernel>('local2d_backward_weight', 'cpu', (dw, x, gout, p) => {
  const pl = planOf(x.shape, dw.shape, p);
  const { N, O, K, L } = pl;
  const DW = dw.storage.cpuArray as FloatArray;
  const rows = buildRows(x.storage.cpuArray as FloatArray, x.offset, pl);
  const t = gatherLocations(gout.storage.cpuArray as FloatArray, gout.offset, pl);
  for (let l = 0; l < L; l++) {
    gemm(false, false, O, K, N, 1, t, l * O * N, N, rows, l * N * K, K, 0, DW, dw.offset + l * O * K, K);
  }
});

function withContiguous<T>(ts: Tensor[], f: (cs: Tensor[]) => T): T {
  const cs = ts.map((t) => contiguous(t));
  try {
    return f(cs);
  } finally {
    cs.forEach((c, i) => {
      if (c !== ts[i]) c.dispose();
    });
  }
}

function checkGout(op: string, gout: Tensor, expected: readonly number[]): void {
  if (!sameShape(gout.shape, expected)) throw new Error(`${op}: gout ${shapeStr(gout.shape)} does not match the local2d output ${shapeStr(expected)}`);
}

/**
 * Locally connected layer: x [N, C, H, W], weight [OH, OW, O, C, kh, kw], bias [O, OH, OW] or null ->
 * y [N, O, OH, OW]. Differentiable in x, weight and bias (twice).
 */
export function local2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Local2dOptions | Local2dParams = {}): Tensor {
  const op = 'local2d';
  checkSame(op, x, weight, ...(bias ? [bias] : []));
  checkFloat(op, x);
  const p = local2dParams(opts, op);
  const outShape = local2dOutputShape(op, x.shape, weight.shape, p);
  const biasShape = outShape.slice(1);
  if (bias && !sameShape(bias.shape, biasShape)) {
    throw new Error(`${op}: bias must be ${shapeStr(biasShape)} (one per output element) for weight ${shapeStr(weight.shape)}, got ${shapeStr(bias.shape)}`);
  }
  const out = Tensor.empty(outShape, x.dtype, x.device);
  if (out.size > 0) {
    withContiguous(bias ? [x, weight, bias] : [x, weight], ([xc, wc, bc]) => getKernel<Local2dKernel>(op, x.device.name)(out, xc!, wc!, bc ?? null, p));
  }
  return record(op, bias ? [x, weight, bias] : [x, weight], out, (g, needs) => [
    needs[0] ? local2dBackwardInput(g, weight, x.shape, p) : null,
    needs[1] ? local2dBackwardWeight(x, g, weight.shape, p) : null,
    needs[2] ? sum(g, 0) : null,
  ]);
}

/** Gradient of local2d with respect to its input. Differentiable in gout and weight. */
export function local2dBackwardInput(gout: Tensor, weight: Tensor, inputShape: readonly number[], opts: Local2dOptions | Local2dParams = {}): Tensor {
  const op = 'local2d_backward_input';
  checkSame(op, gout, weight);
  checkFloat(op, gout);
  const p = local2dParams(opts, op);
  checkGout(op, gout, local2dOutputShape(op, inputShape, weight.shape, p));
  const dx = Tensor.empty(inputShape, gout.dtype, gout.device);
  if (dx.size > 0) {
    if (gout.size === 0) getKernel('fill', dx.device.name)(dx, 0);
    else withContiguous([gout, weight], ([gc, wc]) => getKernel<Local2dBackwardInputKernel>(op, gout.device.name)(dx, gc!, wc!, p));
  }
  return record(op, [gout, weight], dx, (u, needs) => [
    needs[0] ? local2d(u, weight, null, p) : null,
    needs[1] ? local2dBackwardWeight(u, gout, weight.shape, p) : null,
  ]);
}

/** Gradient of local2d with respect to its weight, summed over the batch. Differentiable in x and gout. */
export function local2dBackwardWeight(x: Tensor, gout: Tensor, weightShape: readonly number[], opts: Local2dOptions | Local2dParams = {}): Tensor {
  const op = 'local2d_backward_weight';
  checkSame(op, x, gout);
  checkFloat(op, x);
  const p = local2dParams(opts, op);
  checkGout(op, gout, local2dOutputShape(op, x.shape, weightShape, p));
  const dw = Tensor.empty(weightShape, x.dtype, x.device);
  if (dw.size > 0) {
    if (gout.size === 0) getKernel('fill', dw.device.name)(dw, 0);
    else withContiguous([x, gout], ([xc, gc]) => getKernel<Local2dBackwardWeightKernel>(op, x.device.name)(dw, xc!, gc!, p));
  }
  return record(op, [x, gout], dw, (v, needs) => [
    needs[0] ? local2dBackwardInput(gout, v, x.shape, p) : null,
    needs[1] ? local2d(x, v, null, p) : null,
  ]);
}
