// 2-D convolution (cross-correlation, PyTorch F.conv2d semantics) with stride, dilation, groups and
// symmetric or per-side zero padding, and its two backward primitives.
//
//   y[n, o, i, j] = bias[o] + sum_{c<Cg, u<kh, v<kw} w[o, c, u, v] * xpad[n, g*Cg + c, i*sh + u*dh, j*sw + v*dw]
//   with g = floor(o / Og), Cg = C/groups, Og = O/groups, xpad = x with padTop/padBottom/padLeft/padRight
//   zero rows/columns, OH = floor((H + padTop + padBottom - dh*(kh-1) - 1)/sh) + 1 (OW likewise).
//
// Primitive kernels (all registered for 'cpu'; a device backend registers the same names):
//   conv2d                  out = conv(x, w) (+ bias)                       Conv2dKernel
//   conv2d_backward_input   dx  = the adjoint of conv in x, applied to gout  Conv2dBackwardInputKernel
//   conv2d_backward_weight  dw  = the adjoint of conv in w, applied to gout  Conv2dBackwardWeightKernel
//   conv2d_backward_bias    db[o] = sum over n, i, j of gout[n, o, i, j]   Conv2dBackwardBiasKernel
// Every kernel overwrites its output (=, not +=) and takes contiguous tensors (offsets allowed).
//
// CPU algorithm (per tile of GEMM columns, per group): im2col of the tile into a column matrix
// col [K = Cg*kh*kw, columns] (a scratch buffer reused across tiles and calls), then
//   forward          Y[Og, cols]  = W_g [Og, K] @ col
//   backward input   dcol         = W_g^T [K, Og] @ G [Og, cols],  dx = col2im(dcol)
//   backward weight  dW_g        += G [Og, cols] @ col^T
// A tile is either several whole small images side by side (late YOLO layers, 13x13: each GEMM
// gets >= targetCols columns, and the weight gradient is one GEMM per chunk, not per image), or a
// band of output rows of one large image sized so the column matrix stays in cache (tileElems);
// one-image tiles read/write Y and G in place (leading dimension OH*OW). The backward input cuts
// large images into bands of input rows instead, so col2im can gather each input pixel once.
// A 1x1, stride-1, unpadded convolution needs no im2col for a single image: the input planes ARE the
// column matrix (and dcol IS dx).
//
// Autograd: conv2d's rule calls conv2dBackwardInput / conv2dBackwardWeight / conv2dBackwardBias, which
// are differentiable themselves (each is linear in each argument, and its derivatives are again these
// three ops), so double backward works too.

import { record } from '../../autograd/record.js';
import { col2im, gemm, im2col, outputRowsFor, scratchLike, SCRATCH_COL, SCRATCH_TMP, type ConvGeometry, type FloatArray } from '../backends/cpu/im2col.js';
import { getKernel, registerKernel } from '../registry.js';
import { shapeStr, sameShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkFloat, checkSame } from './common.js';
import { contiguous } from './copy.js';
import { expand, reshape } from './views.js';

// ---------------------------------------------------------------------------------------------
// attributes

/** Normalised attributes of a convolution (what the kernels receive). */
export interface Conv2dParams {
  /** [sh, sw], each >= 1. */
  readonly stride: readonly [number, number];
  /** [top, bottom, left, right], each >= 0. */
  readonly padding: readonly [number, number, number, number];
  /** [dh, dw], each >= 1. */
  readonly dilation: readonly [number, number];
  /** >= 1; divides C and O. */
  readonly groups: number;
}

/** User-facing options: numbers apply to both axes; padding [ph, pw] is symmetric, [t, b, l, r] per side. */
export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number] | readonly [number, number, number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

function pair(op: string, name: string, v: number | readonly number[] | undefined, dflt: number, min: number): [number, number] {
  const arr = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [...v];
  if (arr.length !== 2 || !arr.every((e) => Number.isInteger(e) && e >= min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [arr[0]!, arr[1]!];
}

/** Normalise options (or pass already-normalised params through). */
export function conv2dParams(opts: Conv2dOptions | Conv2dParams = {}, op = 'conv2d'): Conv2dParams {
  const stride = pair(op, 'stride', opts.stride, 1, 1);
  const dilation = pair(op, 'dilation', opts.dilation, 1, 1);
  const p = opts.padding;
  let padding: [number, number, number, number];
  if (p === undefined || typeof p === 'number' || p.length === 2) {
    const [ph, pw] = pair(op, 'padding', p as number | readonly number[] | undefined, 0, 0);
    padding = [ph, ph, pw, pw];
  } else if (p.length === 4 && p.every((e) => Number.isInteger(e) && e >= 0)) {
    padding = [p[0]!, p[1]!, p[2]!, p[3]!];
  } else {
    throw new Error(`${op}: padding must be an integer >= 0, [ph, pw] or [top, bottom, left, right], got ${JSON.stringify(p)}`);
  }
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be an integer >= 1, got ${groups}`);
  return { stride, padding, dilation, groups };
}

/** Output size of one spatial axis. */
export function convOutSize(size: number, k: number, stride: number, padBefore: number, padAfter: number, dilation: number): number {
  return Math.floor((size + padBefore + padAfter - dilation * (k - 1) - 1) / stride) + 1;
}

/** Checks x [N,C,H,W] against a weight shape [O, C/groups, kh, kw]; returns the output shape. */
export function conv2dOutputShape(op: string, xShape: readonly number[], wShape: readonly number[], p: Conv2dParams): [number, number, number, number] {
  if (xShape.length !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${shapeStr(xShape)}`);
  if (wShape.length !== 4) throw new Error(`${op}: weight must be 4-D [O, C/groups, kh, kw], got ${shapeStr(wShape)}`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cg, kh, kw] = wShape as [number, number, number, number];
  const G = p.groups;
  if (C % G !== 0 || O % G !== 0) {
    throw new Error(`${op}: groups=${G} must divide input channels and output channels: input ${shapeStr(xShape)}, weight ${shapeStr(wShape)}`);
  }
  if (Cg * G !== C) {
    throw new Error(`${op}: input ${shapeStr(xShape)} has ${C} channels, weight ${shapeStr(wShape)} with groups=${G} expects ${Cg * G}`);
  }
  if (kh < 1 || kw < 1 || O < 1) throw new Error(`${op}: empty kernel or no output channels in weight ${shapeStr(wShape)}`);
  const [sh, sw] = p.stride;
  const [pt, pb, pl, pr] = p.padding;
  const [dh, dw] = p.dilation;
  const OH = convOutSize(H, kh, sh, pt, pb, dh);
  const OW = convOutSize(W, kw, sw, pl, pr, dw);
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${op}: input ${shapeStr(xShape)} padded to ${H + pt + pb}x${W + pl + pr} is smaller than the ` +
        `${kh}x${kw} kernel (weight ${shapeStr(wShape)}) dilated by ${dh}x${dw}`,
    );
  }
  return [N, O, OH, OW];
}

// ---------------------------------------------------------------------------------------------
// kernel signatures

/** out [N,O,OH,OW] = conv(x [N,C,H,W], weight [O,C/groups,kh,kw]) + bias [O] (if given). */
export type Conv2dKernel = (out: Tensor, x: Tensor, weight: Tensor, bias: Tensor | null, p: Conv2dParams) => void;
/** dx [N,C,H,W] = d<gout, conv(x, weight)>/dx for gout [N,O,OH,OW] (the transposed convolution). */
export type Conv2dBackwardInputKernel = (dx: Tensor, gout: Tensor, weight: Tensor, p: Conv2dParams) => void;
/** dw [O,C/groups,kh,kw] = d<gout, conv(x, w)>/dw, summed over the batch. */
export type Conv2dBackwardWeightKernel = (dw: Tensor, x: Tensor, gout: Tensor, p: Conv2dParams) => void;
/** db [O] = sum of gout [N,O,OH,OW] over n, i, j. */
export type Conv2dBackwardBiasKernel = (db: Tensor, gout: Tensor) => void;

// ---------------------------------------------------------------------------------------------
// CPU kernels

/** CPU tiling knobs (see planOf). */
export interface Conv2dTuning {
  /** Columns a GEMM aims for at least: small images are batched up to this many columns (2048). */
  targetCols: number;
  /**
   * Elements of one column-matrix tile (2^20 = 4 MiB of float32). Large images are cut into bands of
   * output rows whose column matrix is about this big, so im2col's output is still in cache when the
   * GEMM copies and packs it: measured 1.3-1.7x faster than one whole-image GEMM on the 416..104-pixel
   * YOLO layers, and the scratch stays small.
   */
  tileElems: number;
}

const tuning: Conv2dTuning = { targetCols: 2048, tileElems: 1 << 20 };

/** Reads (and with `change`, sets) the CPU tiling knobs; returns the previous values. Tests use tiny values to exercise every tiling path on small shapes. */
export function conv2dTuning(change: Partial<Conv2dTuning> = {}): Conv2dTuning {
  const previous = { ...tuning };
  const next = { ...tuning, ...change };
  if (!(Number.isInteger(next.targetCols) && next.targetCols >= 1 && Number.isInteger(next.tileElems) && next.tileElems >= 1)) {
    throw new RangeError(`conv2dTuning: targetCols and tileElems must be integers >= 1, got ${JSON.stringify(change)}`);
  }
  Object.assign(tuning, next);
  return previous;
}

interface Plan {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  G: number;
  Cg: number;
  Og: number;
  K: number;
  L: number;
  geo: ConvGeometry;
  /** 1x1 kernel, stride 1, no padding: the input planes are the column matrix. */
  pointwise: boolean;
  /** Images per chunk (> 1 only for small images). */
  nb: number;
  /** Output rows per band (OH unless large images are cut into bands). */
  rows: number;
}

function planOf(xShape: readonly number[], wShape: readonly number[], oShape: readonly number[], p: Conv2dParams): Plan {
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cg, kh, kw] = wShape as [number, number, number, number];
  const [OH, OW] = [oShape[2]!, oShape[3]!];
  const G = p.groups;
  const K = Cg * kh * kw;
  const L = OH * OW;
  const [pt, pb, pl, pr] = p.padding;
  const pointwise = kh === 1 && kw === 1 && p.stride[0] === 1 && p.stride[1] === 1 && pt === 0 && pb === 0 && pl === 0 && pr === 0;
  let nb = 1;
  let rows = OH;
  const { targetCols, tileElems } = tuning;
  if (L < targetCols) {
    nb = Math.max(1, Math.min(N, Math.floor(targetCols / Math.max(1, L)), Math.floor((4 * tileElems) / Math.max(1, K * L))));
  } else if (!pointwise) {
    const want = Math.max(Math.ceil(targetCols / OW), Math.floor(tileElems / (K * OW)));
    const bands = Math.ceil(OH / Math.max(1, want));
    rows = Math.ceil(OH / bands);
  }
  const geo: ConvGeometry = {
    C: Cg, H, W, kh, kw, sh: p.stride[0], sw: p.stride[1], dh: p.dilation[0], dw: p.dilation[1], padTop: pt, padLeft: pl, OH, OW,
  };
  return { N, C, H, W, O, G, Cg, Og: O / G, K, L, geo, pointwise, nb, rows };
}

/** A block of GEMM columns: images [n0, n0+b) whole (b > 1), or output rows [oyA, oyB) of image n0. */
interface Tile {
  n0: number;
  b: number;
  oyA: number;
  oyB: number;
}

function outputTiles(pl: Plan): Tile[] {
  const tiles: Tile[] = [];
  for (let n0 = 0; n0 < pl.N; n0 += pl.nb) {
    const b = Math.min(pl.nb, pl.N - n0);
    for (let oyA = 0; oyA < pl.geo.OH; oyA += pl.rows) tiles.push({ n0, b, oyA, oyB: Math.min(pl.geo.OH, oyA + pl.rows) });
  }
  return tiles;
}

function copyRun(dst: FloatArray, d: number, src: FloatArray, s: number, n: number): void {
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
}

/**
 * Group g of a [N, O, OH*OW] tensor over a tile, as a [Og, columns] matrix: in place (row stride L)
 * for one image, else gathered into scratch. Returns [array, offset, ld].
 */
function tileRows(a: FloatArray, aOff: number, pl: Plan, t: Tile, g: number): [FloatArray, number, number] {
  const { O, Og, L } = pl;
  if (t.b === 1) return [a, aOff + (t.n0 * O + g * Og) * L + t.oyA * pl.geo.OW, L];
  const ld = t.b * L;
  const m = scratchLike(a, SCRATCH_TMP, Og * ld);
  for (let o = 0; o < Og; o++) {
    for (let i = 0; i < t.b; i++) copyRun(m, o * ld + i * L, a, aOff + ((t.n0 + i) * O + g * Og + o) * L, L);
  }
  return [m, 0, ld];
}

/** Column matrix of a tile, group g: [K, columns] in scratch, or x itself for one whole pointwise image. */
function tileColumns(x: FloatArray, xOff: number, pl: Plan, t: Tile, g: number): [FloatArray, number, number] {
  const { C, H, W, Cg, K, geo } = pl;
  const Lt = (t.oyB - t.oyA) * geo.OW;
  if (pl.pointwise && t.b === 1 && t.oyA === 0 && t.oyB === geo.OH) return [x, xOff + (t.n0 * C + g * Cg) * H * W, Lt];
  const ld = t.b * Lt;
  const col = scratchLike(x, SCRATCH_COL, K * ld);
  for (let i = 0; i < t.b; i++) im2col(x, xOff + ((t.n0 + i) * C + g * Cg) * H * W, geo, col, i * Lt, ld, t.oyA, t.oyB);
  return [col, 0, ld];
}

registerKernel<Conv2dKernel>('conv2d', 'cpu', (out, x, weight, bias, p) => {
  const pl = planOf(x.shape, weight.shape, out.shape, p);
  const { N, O, G, Og, K, L } = pl;
  const X = x.storage.cpuArray as FloatArray;
  const Wt = weight.storage.cpuArray as FloatArray;
  const Y = out.storage.cpuArray as FloatArray;
  const yOff = out.offset;
  for (const t of outputTiles(pl)) {
    const cols = t.b * (t.oyB - t.oyA) * pl.geo.OW;
    for (let g = 0; g < G; g++) {
      const [B, bOff, ldb] = tileColumns(X, x.offset, pl, t, g);
      const aOff = weight.offset + g * Og * K;
      if (t.b === 1) {
        gemm(false, false, Og, cols, K, 1, Wt, aOff, K, B, bOff, ldb, 0, Y, yOff + (t.n0 * O + g * Og) * L + t.oyA * pl.geo.OW, L);
      } else {
        const m = scratchLike(Y, SCRATCH_TMP, Og * cols);
        gemm(false, false, Og, cols, K, 1, Wt, aOff, K, B, bOff, ldb, 0, m, 0, cols);
        for (let o = 0; o < Og; o++) {
          for (let i = 0; i < t.b; i++) copyRun(Y, yOff + ((t.n0 + i) * O + g * Og + o) * L, m, o * cols + i * L, L);
        }
      }
    }
  }
  if (bias) {
    const Bs = bias.storage.cpuArray as FloatArray;
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        const v = Bs[bias.offset + o]!;
        const s = yOff + (n * O + o) * L;
        for (let l = 0; l < L; l++) Y[s + l] += v;
      }
    }
  }
});

registerKernel<Conv2dBackwardInputKernel>('conv2d_backward_input', 'cpu', (dx, gout, weight, p) => {
  const pl = planOf(dx.shape, weight.shape, gout.shape, p);
  const { N, C, H, W, O, G, Cg, Og, K, L, geo } = pl;
  const D = dx.storage.cpuArray as FloatArray;
  const Gd = gout.storage.cpuArray as FloatArray;
  const Wt = weight.storage.cpuArray as FloatArray;
  if (pl.pointwise) {
    // dx_g [Cg, HW] = W_g^T @ G_g, written straight into dx.
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        gemm(true, false, Cg, L, Og, 1, Wt, weight.offset + g * Og * K, K, Gd, gout.offset + (n * O + g * Og) * L, L, 0, D, dx.offset + (n * C + g * Cg) * L, L);
      }
    }
    return;
  }
  if (pl.nb > 1 || pl.rows >= geo.OH) {
    // whole images (several per GEMM when small)
    for (const t of outputTiles(pl)) {
      const cols = t.b * L;
      for (let g = 0; g < G; g++) {
        const [B, bOff, ldb] = tileRows(Gd, gout.offset, pl, t, g);
        const col = scratchLike(D, SCRATCH_COL, K * cols);
        gemm(true, false, K, cols, Og, 1, Wt, weight.offset + g * Og * K, K, B, bOff, ldb, 0, col, 0, cols);
        for (let i = 0; i < t.b; i++) col2im(col, i * L, cols, geo, D, dx.offset + ((t.n0 + i) * C + g * Cg) * H * W);
      }
    }
    return;
  }
  // Large images: bands of input rows; each band's dcol covers the output rows that read it (a few
  // rows overlap with the neighbouring bands), so col2im writes every input row exactly once.
  const bands = Math.ceil(geo.OH / pl.rows);
  for (let n = 0; n < N; n++) {
    for (let band = 0; band < bands; band++) {
      const iyA = Math.floor((band * H) / bands), iyB = Math.floor(((band + 1) * H) / bands);
      const [oyA, oyB] = outputRowsFor(geo, iyA, iyB);
      const cols = (oyB - oyA) * geo.OW;
      for (let g = 0; g < G; g++) {
        const col = scratchLike(D, SCRATCH_COL, K * cols);
        if (cols > 0) {
          gemm(true, false, K, cols, Og, 1, Wt, weight.offset + g * Og * K, K, Gd, gout.offset + (n * O + g * Og) * L + oyA * geo.OW, L, 0, col, 0, cols);
        }
        col2im(col, 0, cols, geo, D, dx.offset + (n * C + g * Cg) * H * W, oyA, oyB, iyA, iyB);
      }
    }
  }
});

registerKernel<Conv2dBackwardWeightKernel>('conv2d_backward_weight', 'cpu', (dw, x, gout, p) => {
  const pl = planOf(x.shape, dw.shape, gout.shape, p);
  const { N, G, Og, K } = pl;
  const X = x.storage.cpuArray as FloatArray;
  const Gd = gout.storage.cpuArray as FloatArray;
  const DW = dw.storage.cpuArray as FloatArray;
  if (N === 0) {
    DW.fill(0, dw.offset, dw.offset + dw.size);
    return;
  }
  let first = true;
  for (const t of outputTiles(pl)) {
    const cols = t.b * (t.oyB - t.oyA) * pl.geo.OW;
    for (let g = 0; g < G; g++) {
      // Columns first: tileRows and tileColumns use different scratch slots.
      const [B, bOff, ldb] = tileColumns(X, x.offset, pl, t, g);
      const [A, aOff, lda] = tileRows(Gd, gout.offset, pl, t, g);
      gemm(false, true, Og, K, cols, 1, A, aOff, lda, B, bOff, ldb, first ? 0 : 1, DW, dw.offset + g * Og * K, K);
    }
    first = false;
  }
});

registerKernel<Conv2dBackwardBiasKernel>('conv2d_backward_bias', 'cpu', (db, gout) => {
  const [N, O] = gout.shape as [number, number];
  const L = (gout.shape[2] ?? 1) * (gout.shape[3] ?? 1);
  const Gd = gout.storage.cpuArray as FloatArray;
  const B = db.storage.cpuArray as FloatArray;
  for (let o = 0; o < O; o++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const base = gout.offset + (n * O + o) * L;
      for (let l = 0; l < L; l++) s += Gd[base + l]!;
    }
    B[db.offset + o] = s;
  }
});

// ---------------------------------------------------------------------------------------------
// public functions

/** Runs `f` on contiguous versions of `ts`, disposing any copies made. */
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

/**
 * 2-D convolution of x [N, C, H, W] with weight [O, C/groups, kh, kw] and optional bias [O]:
 * y [N, O, OH, OW]. float32 or float64; differentiable in x, weight and bias (twice).
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions | Conv2dParams = {}): Tensor {
  const op = 'conv2d';
  checkSame(op, x, weight, ...(bias ? [bias] : []));
  checkFloat(op, x);
  const p = conv2dParams(opts, op);
  const outShape = conv2dOutputShape(op, x.shape, weight.shape, p);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outShape[1])) {
    throw new Error(`${op}: bias must be [${outShape[1]}] for weight ${shapeStr(weight.shape)}, got ${shapeStr(bias.shape)}`);
  }
  const out = Tensor.empty(outShape, x.dtype, x.device);
  if (out.size > 0) {
    withContiguous(bias ? [x, weight, bias] : [x, weight], ([xc, wc, bc]) =>
      getKernel<Conv2dKernel>('conv2d', x.device.name)(out, xc!, wc!, bc ?? null, p),
    );
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(op, inputs, out, (g, needs) => [
    needs[0] ? conv2dBackwardInput(g, weight, x.shape, p) : null,
    needs[1] ? conv2dBackwardWeight(x, g, weight.shape, p) : null,
    needs[2] ? conv2dBackwardBias(g) : null,
  ]);
}

function checkGout(op: string, gout: Tensor, expected: readonly number[], what: string): void {
  if (!sameShape(gout.shape, expected)) {
    throw new Error(`${op}: gout ${shapeStr(gout.shape)} does not match the conv2d output ${shapeStr(expected)} for ${what}`);
  }
}

/**
 * Gradient of conv2d with respect to its input: dx [inputShape] from gout [N, O, OH, OW] and weight
 * (the transposed convolution). Differentiable in gout and weight.
 */
export function conv2dBackwardInput(gout: Tensor, weight: Tensor, inputShape: readonly number[], opts: Conv2dOptions | Conv2dParams = {}): Tensor {
  const op = 'conv2d_backward_input';
  checkSame(op, gout, weight);
  checkFloat(op, gout);
  const p = conv2dParams(opts, op);
  const outShape = conv2dOutputShape(op, inputShape, weight.shape, p);
  checkGout(op, gout, outShape, `input ${shapeStr(inputShape)} and weight ${shapeStr(weight.shape)}`);
  const dx = Tensor.empty(inputShape, gout.dtype, gout.device);
  if (dx.size > 0) {
    if (gout.size === 0 || weight.size === 0) getKernel('fill', dx.device.name)(dx, 0);
    else withContiguous([gout, weight], ([gc, wc]) => getKernel<Conv2dBackwardInputKernel>(op, gout.device.name)(dx, gc!, wc!, p));
  }
  // <u, dx(g, w)> = <conv(u, w), g>
  return record(op, [gout, weight], dx, (u, needs) => [
    needs[0] ? conv2d(u, weight, null, p) : null,
    needs[1] ? conv2dBackwardWeight(u, gout, weight.shape, p) : null,
  ]);
}

/**
 * Gradient of conv2d with respect to its weight: dw [weightShape] from the input x and gout, summed over
 * the batch. Differentiable in x and gout.
 */
export function conv2dBackwardWeight(x: Tensor, gout: Tensor, weightShape: readonly number[], opts: Conv2dOptions | Conv2dParams = {}): Tensor {
  const op = 'conv2d_backward_weight';
  checkSame(op, x, gout);
  checkFloat(op, x);
  const p = conv2dParams(opts, op);
  const outShape = conv2dOutputShape(op, x.shape, weightShape, p);
  checkGout(op, gout, outShape, `input ${shapeStr(x.shape)} and weight ${shapeStr(weightShape)}`);
  const dw = Tensor.empty(weightShape, x.dtype, x.device);
  if (dw.size > 0) {
    if (gout.size === 0) getKernel('fill', dw.device.name)(dw, 0);
    else withContiguous([x, gout], ([xc, gc]) => getKernel<Conv2dBackwardWeightKernel>(op, x.device.name)(dw, xc!, gc!, p));
  }
  // <v, dw(x, g)> = <conv(x, v), g>
  return record(op, [x, gout], dw, (v, needs) => [
    needs[0] ? conv2dBackwardInput(gout, v, x.shape, p) : null,
    needs[1] ? conv2d(x, v, null, p) : null,
  ]);
}

/** Gradient of conv2d with respect to its bias: gout [N, O, OH, OW] summed to [O]. Differentiable. */
export function conv2dBackwardBias(gout: Tensor): Tensor {
  const op = 'conv2d_backward_bias';
  gout.assertAlive(op);
  checkFloat(op, gout);
  if (gout.ndim !== 4) throw new Error(`${op}: gout must be 4-D [N, O, OH, OW], got ${shapeStr(gout.shape)}`);
  const O = gout.shape[1]!;
  const db = Tensor.empty([O], gout.dtype, gout.device);
  if (O > 0) withContiguous([gout], ([gc]) => getKernel<Conv2dBackwardBiasKernel>(op, gout.device.name)(db, gc!));
  const gShape = gout.shape;
  return record(op, [gout], db, (u) => [expand(reshape(u, [1, O, 1, 1]), gShape)]);
}
