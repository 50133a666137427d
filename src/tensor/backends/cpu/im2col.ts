// CPU helpers of the convolution kernels (conv2d.ts, local2d.ts): im2col / col2im, im2row / row2im,
// a dtype-dispatching GEMM, and reusable scratch buffers.
//
// Geometry (one image, one group of C channels, plane H x W, kernel kh x kw, stride sh x sw, dilation
// dh x dw, zero padding padTop / padLeft before the first row / column, output OH x OW):
//
//   iy(oy, ky) = oy*sh - padTop  + ky*dh        ix(ox, kx) = ox*sw - padLeft + kx*dw
//   r = (c*kh + ky)*kw + kx                     (the k order of a [O, C, kh, kw] weight row)
//
//   im2col:  col[cOff + r*ldc + oy*OW + ox]     = x[xOff + (c*H + iy)*W + ix]   (0 where iy/ix fall outside)
//   col2im:  dx[dxOff + (c*H + iy)*W + ix]      = sum of col[cOff + r*ldc + oy*OW + ox] over the (r, oy, ox)
//            that im2col copied from (iy, ix) (the adjoint of im2col; overwrites the C planes)
//   im2row:  row[rOff + (oy*OW + ox)*ldr + r]   = x[...]                         (the transpose of im2col)
//   row2im:  dx[...]                           += row[rOff + (oy*OW + ox)*ldr + r]
//
// `ldc` (row stride of the column matrix) lets several images sit side by side in one column matrix
// ([K, b*OH*OW], image i at column offset i*OH*OW) so a single GEMM covers a batch chunk; `ldr` lets
// several images interleave in the row matrix of the local layer ([L, N, K]).
//
// Performance: the valid output range of every (ky, kx) is computed once per kernel row, so the inner
// loops are plain typed-array copies/adds with no bounds tests, no per-element calls and no
// allocation; rows outside the image are cleared with TypedArray.fill. Fast paths: stride-1 "same
// width" im2col copies each tap's block with one native TypedArray.set (~10x the element loop), and
// 3x3 stride-1 col2im gathers 9 taps per pixel with one store (~3x the scatter).

import { arenaAddress, arenaAlloc, arenaFree, arenaView } from './arena.js';
import { dgemm, sgemm } from './gemm/index.js';

export type FloatArray = Float32Array | Float64Array;

/** Geometry of one image (one group) of a 2-D convolution. */
export interface ConvGeometry {
  /** Channels handled (the group's channels). */
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly OH: number;
  readonly OW: number;
}

/** First output index o in [0, n) whose input index o*s + i0 is >= 0. */
function firstValid(i0: number, s: number, n: number): number {
  if (i0 >= 0) return 0;
  return Math.min(n, Math.floor((-i0 + s - 1) / s));
}

/** One past the last output index o in [0, n) whose input index o*s + i0 is < size. */
function endValid(i0: number, s: number, n: number, size: number): number {
  if (i0 >= size) return 0;
  return Math.min(n, Math.floor((size - 1 - i0) / s) + 1);
}

/**
 * Column matrix of one image, restricted to output rows [oyA, oyB): K = C*kh*kw rows of
 * (oyB - oyA)*OW values (row stride ldc); output row oy lands at (oy - oyA)*OW.
 */
export function im2col(x: FloatArray, xOff: number, g: ConvGeometry, col: FloatArray, cOff: number, ldc: number, oyA = 0, oyB = g.OH): void {
  const { C, H, W, kh, kw, sh, sw, dh, dw, padTop, padLeft, OW } = g;
  const Lt = (oyB - oyA) * OW;
  // Stride 1 and OW == W ("same" width): consecutive output rows of one kernel tap read consecutive
  // input rows, so a tap's whole valid block is ONE contiguous copy of the input shifted by ix0. The
  // few columns that wrapped around to a neighbouring row (ox outside [oxLo, oxHi)) are zeroed after.
  const block = sw === 1 && sh === 1 && OW === W;
  let r = cOff;
  for (let c = 0; c < C; c++) {
    const plane = xOff + c * H * W;
    for (let ky = 0; ky < kh; ky++) {
      const iy0 = ky * dh - padTop;
      // output rows of this window whose input row is inside the image
      const oyLo = Math.min(oyB, Math.max(oyA, firstValid(iy0, sh, oyB)));
      const oyHi = Math.max(oyLo, Math.min(oyB, endValid(iy0, sh, oyB, H)));
      for (let kx = 0; kx < kw; kx++, r += ldc) {
        const ix0 = kx * dw - padLeft;
        const oxLo = firstValid(ix0, sw, OW);
        const oxHi = Math.max(oxLo, endValid(ix0, sw, OW, W));
        const lo = r + (oyLo - oyA) * OW, hi = r + (oyHi - oyA) * OW;
        if (lo > r) col.fill(0, r, lo);
        if (hi < r + Lt) col.fill(0, hi, r + Lt);
        if (hi === lo) continue;
        if (oxHi === oxLo) {
          col.fill(0, lo, hi);
          continue;
        }
        if (block) {
          const n = hi - lo;
          const s0 = plane + (oyLo + iy0) * W + ix0;
          // Only wrapped columns can fall outside the array; they are zeroed below anyway.
          const a = Math.max(0, -s0);
          const b = Math.min(n, x.length - s0);
          col.set(x.subarray(s0 + a, s0 + b), lo + a);
          if (oxLo > 0 || oxHi < OW) {
            for (let d = lo; d < hi; d += OW) {
              for (let ox = 0; ox < oxLo; ox++) col[d + ox] = 0;
              for (let ox = oxHi; ox < OW; ox++) col[d + ox] = 0;
            }
          }
          continue;
        }
        for (let oy = oyLo, d = lo; oy < oyHi; oy++, d += OW) {
          // s + ox*sw is the input index of output column ox
          const s = plane + (oy * sh + iy0) * W + ix0;
          for (let ox = 0; ox < oxLo; ox++) col[d + ox] = 0;
          if (sw === 1) {
            for (let ox = oxLo; ox < oxHi; ox++) col[d + ox] = x[s + ox]!;
          } else if (sw === 2) {
            for (let ox = oxLo; ox < oxHi; ox++) col[d + ox] = x[s + 2 * ox]!;
          } else {
            for (let ox = oxLo; ox < oxHi; ox++) col[d + ox] = x[s + sw * ox]!;
          }
          for (let ox = oxHi; ox < OW; ox++) col[d + ox] = 0;
        }
      }
    }
  }
}

/** Output rows [oyA, oyB) that read input rows [iyA, iyB) (the window col2im needs for them). */
export function outputRowsFor(g: ConvGeometry, iyA: number, iyB: number): [number, number] {
  const oyA = Math.max(0, Math.ceil((iyA + g.padTop - (g.kh - 1) * g.dh) / g.sh));
  const oyB = Math.min(g.OH, Math.floor((iyB - 1 + g.padTop) / g.sh) + 1);
  return [Math.min(oyA, g.OH), Math.max(Math.min(oyA, g.OH), oyB)];
}

/**
 * Writes (=, not +=) input rows [iyA, iyB) of the C image planes at dxOff with the adjoint of im2col
 * applied to a column matrix holding output rows [oyA, oyB) (laid out as im2col writes them): every
 * column value is added back to the input pixel it was copied from. [oyA, oyB) must include every
 * output row that reads an input row of [iyA, iyB) (outputRowsFor).
 */
export function col2im(
  col: FloatArray, cOff: number, ldc: number, g: ConvGeometry, dx: FloatArray, dxOff: number,
  oyA = 0, oyB = g.OH, iyA = 0, iyB = g.H,
): void {
  if (g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1) {
    col2im3x3(col, cOff, ldc, g, dx, dxOff, oyA, oyB, iyA, iyB);
    return;
  }
  const { C, H, W, kh, kw, sh, sw, dh, dw, padTop, padLeft, OW } = g;
  for (let c = 0; c < C; c++) dx.fill(0, dxOff + (c * H + iyA) * W, dxOff + (c * H + iyB) * W);
  let r = cOff;
  for (let c = 0; c < C; c++) {
    const plane = dxOff + c * H * W;
    for (let ky = 0; ky < kh; ky++) {
      const iy0 = ky * dh - padTop;
      // output rows of the window whose input row is in [iyA, iyB)
      const oyLo = Math.max(oyA, firstValid(iy0 - iyA, sh, oyB));
      const oyHi = Math.min(oyB, endValid(iy0 - iyA, sh, oyB, iyB - iyA));
      for (let kx = 0; kx < kw; kx++, r += ldc) {
        const ix0 = kx * dw - padLeft;
        const oxLo = firstValid(ix0, sw, OW);
        const oxHi = endValid(ix0, sw, OW, W);
        for (let oy = oyLo; oy < oyHi; oy++) {
          const d = r + (oy - oyA) * OW;
          const s = plane + (oy * sh + iy0) * W + ix0;
          if (sw === 1) {
            for (let ox = oxLo; ox < oxHi; ox++) dx[s + ox] += col[d + ox]!;
          } else {
            for (let ox = oxLo; ox < oxHi; ox++) dx[s + sw * ox] += col[d + ox]!;
          }
        }
      }
    }
  }
}

/** col2im of one pixel (iy, ix) of a 3x3, stride-1, dilation-1 convolution, with bounds checks. */
function gather3x3(col: FloatArray, base: number, ldc: number, iy: number, ix: number, pt: number, pl: number, oyLo: number, oyHi: number, oyA: number, OW: number): number {
  let sum = 0;
  for (let ky = 0; ky < 3; ky++) {
    const oy = iy + pt - ky;
    if (oy < oyLo || oy >= oyHi) continue;
    for (let kx = 0; kx < 3; kx++) {
      const ox = ix + pl - kx;
      if (ox < 0 || ox >= OW) continue;
      sum += col[base + (ky * 3 + kx) * ldc + (oy - oyA) * OW + ox]!;
    }
  }
  return sum;
}

/**
 * col2im for 3x3 kernels, stride 1, dilation 1 (every YOLO 3x3 layer), as a gather: each input pixel
 * is written once with the sum of its (up to) 9 column entries, dx[iy, ix] = sum over (ky, kx) of
 * col[(c, ky, kx), iy + pt - ky, ix + pl - kx]. Interior pixels (all 9 taps inside the output) run a
 * branch-free 9-term loop; the thin border goes through gather3x3. About 3x faster than scattering
 * row by row (one store per pixel instead of nine read-modify-writes).
 */
function col2im3x3(col: FloatArray, cOff: number, ldc: number, g: ConvGeometry, dx: FloatArray, dxOff: number, oyA: number, oyB: number, iyA: number, iyB: number): void {
  const { C, H, W, padTop: pt, padLeft: pl, OH, OW } = g;
  const oyLo = Math.max(0, oyA), oyHi = Math.min(OH, oyB);
  // interior: oy = iy + pt - ky in [oyLo, oyHi) for ky = 0..2, ox = ix + pl - kx in [0, OW) for kx = 0..2
  const iyLo = Math.min(iyB, Math.max(iyA, oyLo + 2 - pt)), iyHi = Math.max(iyLo, Math.min(iyB, oyHi - pt));
  const ixLo = Math.min(W, Math.max(0, 2 - pl)), ixHi = Math.max(ixLo, Math.min(W, OW - pl));
  for (let c = 0; c < C; c++) {
    const plane = dxOff + c * H * W;
    const base = cOff + c * 9 * ldc;
    for (let iy = iyA; iy < iyB; iy++) {
      const s = plane + iy * W;
      if (iy < iyLo || iy >= iyHi) {
        for (let ix = 0; ix < W; ix++) dx[s + ix] = gather3x3(col, base, ldc, iy, ix, pt, pl, oyLo, oyHi, oyA, OW);
        continue;
      }
      for (let ix = 0; ix < ixLo; ix++) dx[s + ix] = gather3x3(col, base, ldc, iy, ix, pt, pl, oyLo, oyHi, oyA, OW);
      for (let ix = ixHi; ix < W; ix++) dx[s + ix] = gather3x3(col, base, ldc, iy, ix, pt, pl, oyLo, oyHi, oyA, OW);
      // tap (ky, kx) reads row base + (3*ky + kx)*ldc at (iy + pt - ky - oyA)*OW + ix + pl - kx
      const a = base + (iy + pt - oyA) * OW + pl;
      const a0 = a, a1 = a + ldc - 1, a2 = a + 2 * ldc - 2;
      const b0 = a + 3 * ldc - OW, b1 = b0 + ldc - 1, b2 = b0 + 2 * ldc - 2;
      const c0 = a + 6 * ldc - 2 * OW, c1 = c0 + ldc - 1, c2 = c0 + 2 * ldc - 2;
      for (let ix = ixLo; ix < ixHi; ix++) {
        dx[s + ix] =
          col[a0 + ix]! + col[a1 + ix]! + col[a2 + ix]! +
          col[b0 + ix]! + col[b1 + ix]! + col[b2 + ix]! +
          col[c0 + ix]! + col[c1 + ix]! + col[c2 + ix]!;
      }
    }
  }
}

/** Row matrix of one image: for each output location l = oy*OW + ox, K values at rOff + l*ldr. */
export function im2row(x: FloatArray, xOff: number, g: ConvGeometry, row: FloatArray, rOff: number, ldr: number): void {
  const { C, H, W, kh, kw, sh, sw, dh, dw, padTop, padLeft, OH, OW } = g;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      let d = rOff + (oy * OW + ox) * ldr;
      const ixb = ox * sw - padLeft;
      // kx range with 0 <= ixb + kx*dw < W
      const kxLo = firstValid(ixb, dw, kw);
      const kxHi = Math.max(kxLo, endValid(ixb, dw, kw, W));
      for (let c = 0; c < C; c++) {
        const plane = xOff + c * H * W;
        for (let ky = 0; ky < kh; ky++, d += kw) {
          const iy = oy * sh - padTop + ky * dh;
          if (iy < 0 || iy >= H) {
            row.fill(0, d, d + kw);
            continue;
          }
          const s = plane + iy * W + ixb;
          for (let kx = 0; kx < kxLo; kx++) row[d + kx] = 0;
          for (let kx = kxLo; kx < kxHi; kx++) row[d + kx] = x[s + kx * dw]!;
          for (let kx = kxHi; kx < kw; kx++) row[d + kx] = 0;
        }
      }
    }
  }
}

/** Adds a row matrix back onto the input: the adjoint of im2row. */
export function row2im(row: FloatArray, rOff: number, ldr: number, g: ConvGeometry, dx: FloatArray, dxOff: number): void {
  const { C, H, W, kh, kw, sh, sw, dh, dw, padTop, padLeft, OH, OW } = g;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      let d = rOff + (oy * OW + ox) * ldr;
      const ixb = ox * sw - padLeft;
      const kxLo = firstValid(ixb, dw, kw);
      const kxHi = endValid(ixb, dw, kw, W);
      for (let c = 0; c < C; c++) {
        const plane = dxOff + c * H * W;
        for (let ky = 0; ky < kh; ky++, d += kw) {
          const iy = oy * sh - padTop + ky * dh;
          if (iy < 0 || iy >= H) continue;
          const s = plane + iy * W + ixb;
          for (let kx = kxLo; kx < kxHi; kx++) dx[s + kx * dw] += row[d + kx]!;
        }
      }
    }
  }
}

/**
 * C = alpha * op(A) @ op(B) + beta * C on whichever float type the arrays hold (sgemm for float32,
 * dgemm for float64; all three must match).
 */
export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, lda: number, B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  if (C instanceof Float32Array) {
    sgemm(transA, transB, M, N, K, alpha, A as Float32Array, aOff, lda, B as Float32Array, bOff, ldb, beta, C, cOff, ldc);
  } else {
    dgemm(transA, transB, M, N, K, alpha, A as Float64Array, aOff, lda, B as Float64Array, bOff, ldb, beta, C, cOff, ldc);
  }
}

// ---------------------------------------------------------------------------------------------
// Scratch buffers: one per (slot, dtype), grown on demand (never shrunk) and reused by every call, so
// a training loop allocates no column matrices after its first step. Kernels are synchronous, so one
// set serves every call; a kernel must not hold a slot across a call of another kernel. They live in the
// shared arena when it has room (im2col then writes straight into the memory the GEMM reads in place).

/** Scratch slots: the column/row matrix, and a gathered/scattered output or gradient block. */
export const SCRATCH_COL = 0;
export const SCRATCH_TMP = 1;

const scratch32: Float32Array[] = [new Float32Array(0), new Float32Array(0)];
const scratch64: Float64Array[] = [new Float64Array(0), new Float64Array(0)];

/** A scratch array like `like` with at least n elements (contents unspecified). */
export function scratchLike(like: FloatArray, slot: number, n: number): FloatArray {
  const pool: FloatArray[] = like instanceof Float32Array ? scratch32 : scratch64;
  let a = pool[slot]!;
  if (a.length < n) {
    // Grow by at least 1/4 so a slowly growing shape sequence does not reallocate every call.
    const size = Math.max(n, Math.ceil(a.length * 1.25));
    dropScratch(a);
    const f32 = like instanceof Float32Array;
    const at = arenaAlloc(size * (f32 ? 4 : 8), false);
    if (at >= 0) a = arenaView(f32 ? 'float32' : 'float64', at, size) as FloatArray;
    else a = f32 ? new Float32Array(size) : new Float64Array(size);
    pool[slot] = a;
  }
  return a;
}

function dropScratch(a: FloatArray): void {
  const at = arenaAddress(a);
  if (at >= 0) arenaFree(at);
}

/** Drops the scratch buffers (they are recreated on the next convolution). */
export function releaseConvScratch(): void {
  for (let i = 0; i < scratch32.length; i++) {
    dropScratch(scratch32[i]!);
    scratch32[i] = new Float32Array(0);
  }
  for (let i = 0; i < scratch64.length; i++) {
    dropScratch(scratch64[i]!);
    scratch64[i] = new Float64Array(0);
  }
}

/** Bytes held by the scratch buffers now. */
export function convScratchBytes(): number {
  let b = 0;
  for (const a of scratch32) b += a.byteLength;
  for (const a of scratch64) b += a.byteLength;
  return b;
}
