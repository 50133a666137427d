// Kernel bodies that run on any thread of the GEMM pool (parallel.ts): each takes views of the shared
// memory, its integer and float arguments, and a range [start, end) of items, and does exactly the
// arithmetic of the serial CPU kernel on those items. Items never overlap in what they write and no
// item reads what another writes, so the result has the same bits whichever thread runs which item.
//
// Addresses are element indices into the view of the operand's type (byte address / element size).
// Integer arguments follow the task's own layout (ia[A0 + k]); float arguments are fa[k].

import { elementwiseFlatLoop } from './elementwise-flat.js';

export interface MemoryViews {
  f32: Float32Array;
  f64: Float64Array;
  i32: Int32Array;
}

/** First integer argument slot (slots before it hold the task id, item count, chunk and counter). */
export const A0 = 4;

export type TaskBody = (m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number) => void;

export const TASK = {
  elementwise: 0,
  sgdDarknet: 1,
  sgdTorch: 2,
  maxpool: 3,
  maxpoolBackward: 4,
  bnDarknetStats: 5,
  bnNormalize: 6,
  bnBackward: 7,
  normal: 8,
  philox: 9,
} as const;

const f = Math.fround;

// ---------------------------------------------------------------------------------------------------
// elementwise: out[o + i] = expr(x0 = in0[a0 + i*s0], x1 = ...), s in {0, 1}; the loop of the serial
// kernel (strided.ts) for the same expression. ia: loop id, arity, o, a0, s0, a1, s1; fa: p0, p1, p2.

function elementwise(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const loop = elementwiseFlatLoop(ia[A0]!);
  loop(m.f32, ia[A0 + 2]!, ia[A0 + 3]!, ia[A0 + 4]!, ia[A0 + 5]!, ia[A0 + 6]!, fa[0]!, fa[1]!, fa[2]!, start, end);
}

// ---------------------------------------------------------------------------------------------------
// SGD (nn/optim/sgd.ts), float32 arrays: ia: w, g, v; fa: darknet (step, dec, momentum) or
// pytorch (lr, decay, momentum, firstStep).

function sgdDarknet(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const a = m.f32;
  const pw = ia[A0]!, pg = ia[A0 + 1]!, pv = ia[A0 + 2]!;
  const step = fa[0]!, dec = fa[1]!, momentum = fa[2]!;
  for (let i = start; i < end; i++) {
    const u = a[pv + i]! - a[pg + i]! - dec * a[pw + i]!;
    a[pw + i] = a[pw + i]! + step * u;
    a[pv + i] = momentum * u;
  }
}

function sgdTorch(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const a = m.f32;
  const pw = ia[A0]!, pg = ia[A0 + 1]!, pv = ia[A0 + 2]!;
  const lr = fa[0]!, decay = fa[1]!, momentum = fa[2]!, first = fa[3]! !== 0;
  for (let i = start; i < end; i++) {
    const gi = a[pg + i]! + decay * a[pw + i]!;
    const vi = first ? gi : momentum * a[pv + i]! + gi;
    a[pv + i] = vi;
    a[pw + i] = a[pw + i]! - lr * vi;
  }
}

// ---------------------------------------------------------------------------------------------------
// max pooling (tensor/ops/maxpool2d.ts) over planes [start, end): ia: x, out, idx (int32 element
// index), H, W, OH, OW, kh, kw, sh, sw, dh, dw, padTop, padLeft; fa: emptyValue.

function maxpool(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const a = m.f32;
  const o = m.f32;
  const idx = m.i32;
  const [xo, oo, io, H, W, OH, OW, kh, kw, sh, sw, dh, dw, padTop, padLeft] = [
    ia[A0]!, ia[A0 + 1]!, ia[A0 + 2]!, ia[A0 + 3]!, ia[A0 + 4]!, ia[A0 + 5]!, ia[A0 + 6]!, ia[A0 + 7]!,
    ia[A0 + 8]!, ia[A0 + 9]!, ia[A0 + 10]!, ia[A0 + 11]!, ia[A0 + 12]!, ia[A0 + 13]!, ia[A0 + 14]!,
  ] as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const emptyValue = fa[0]!;
  const fast = kh === 2 && kw === 2 && dh === 1 && dw === 1 && padTop === 0 && padLeft === 0;
  for (let p = start; p < end; p++) {
    const xb = xo + p * H * W;
    const ob = oo + p * OH * OW;
    const ib = io + p * OH * OW;
    for (let i = 0; i < OH; i++) {
      const h0 = i * sh - padTop;
      const u0 = Math.min(kh, Math.max(0, Math.ceil(-h0 / dh)));
      const u1 = Math.max(u0, Math.min(kh, Math.ceil((H - h0) / dh)));
      // 2x2 windows wholly inside the image (all but the last row/column with Darknet's padding): no range tests.
      const full = fast && u0 === 0 && u1 === 2;
      for (let j = 0; j < OW; j++) {
        const w0 = j * sw - padLeft;
        if (full && w0 + 1 < W) {
          const r0 = h0 * W + w0;
          const r1 = r0 + W;
          let best = a[xb + r0]!;
          let at = r0;
          const v1 = a[xb + r0 + 1]!;
          if (v1 > best || (v1 !== v1 && best === best)) {
            best = v1;
            at = r0 + 1;
          }
          const v2 = a[xb + r1]!;
          if (v2 > best || (v2 !== v2 && best === best)) {
            best = v2;
            at = r1;
          }
          const v3 = a[xb + r1 + 1]!;
          if (v3 > best || (v3 !== v3 && best === best)) {
            best = v3;
            at = r1 + 1;
          }
          o[ob + i * OW + j] = best;
          idx[ib + i * OW + j] = at;
          continue;
        }
        const v0 = Math.min(kw, Math.max(0, Math.ceil(-w0 / dw)));
        const v1 = Math.max(v0, Math.min(kw, Math.ceil((W - w0) / dw)));
        let best = emptyValue;
        let at = -1;
        for (let u = u0; u < u1; u++) {
          const row = (h0 + u * dh) * W;
          for (let v = v0; v < v1; v++) {
            const pos = row + w0 + v * dw;
            const val = a[xb + pos]!;
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
}

/** gx planes [start, end) = 0, then += gout at the argmax. ia: gx, gout, idx, HW, OHW. */
function maxpoolBackward(m: MemoryViews, ia: Int32Array, _fa: Float64Array, start: number, end: number): void {
  const d = m.f32;
  const idx = m.i32;
  const gx = ia[A0]!, go = ia[A0 + 1]!, io = ia[A0 + 2]!, HW = ia[A0 + 3]!, OHW = ia[A0 + 4]!;
  d.fill(0, gx + start * HW, gx + end * HW);
  for (let p = start; p < end; p++) {
    const xb = gx + p * HW;
    const ob = p * OHW;
    for (let k = 0; k < OHW; k++) {
      const at = idx[io + ob + k]!;
      if (at >= 0) d[xb + at] += d[go + ob + k]!;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// batch norm (tensor/ops/batchnorm2d.ts), float32 data, channels [start, end).

/**
 * Darknet's float32 training statistics of channels [start, end) (items are groups of 4 channels:
 * channels 4*start .. 4*end, clipped to C): mean = float running sum in (n, h, w) order × (float)(1/n),
 * variance = float running sum of (double)(x − mean)² × (float)(1/(n−1)); four channels side by side.
 * ia: x, mean, var (float32 element indices), N, C, HW.
 */
function bnDarknetStats(m: MemoryViews, ia: Int32Array, _fa: Float64Array, start: number, end: number): void {
  const a = m.f32;
  const xo = ia[A0]!, mo = ia[A0 + 1]!, vo = ia[A0 + 2]!, N = ia[A0 + 3]!, C = ia[A0 + 4]!, HW = ia[A0 + 5]!;
  const n = N * HW;
  const invN = f(1 / n);
  const invN1 = f(1 / (n - 1));
  const cEnd = Math.min(C, 4 * end);
  let c = 4 * start;
  for (; c + 4 <= cEnd; c += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let b = 0; b < N; b++) {
      const p0 = xo + (b * C + c) * HW;
      const p1 = p0 + HW;
      const p2 = p1 + HW;
      const p3 = p2 + HW;
      for (let k = 0; k < HW; k++) {
        s0 = f(s0 + a[p0 + k]!);
        s1 = f(s1 + a[p1 + k]!);
        s2 = f(s2 + a[p2 + k]!);
        s3 = f(s3 + a[p3 + k]!);
      }
    }
    const m0 = f(s0 * invN);
    const m1 = f(s1 * invN);
    const m2 = f(s2 * invN);
    const m3 = f(s3 * invN);
    let q0 = 0;
    let q1 = 0;
    let q2 = 0;
    let q3 = 0;
    for (let b = 0; b < N; b++) {
      const p0 = xo + (b * C + c) * HW;
      const p1 = p0 + HW;
      const p2 = p1 + HW;
      const p3 = p2 + HW;
      for (let k = 0; k < HW; k++) {
        const d0 = f(a[p0 + k]! - m0);
        const d1 = f(a[p1 + k]! - m1);
        const d2 = f(a[p2 + k]! - m2);
        const d3 = f(a[p3 + k]! - m3);
        q0 = f(q0 + d0 * d0);
        q1 = f(q1 + d1 * d1);
        q2 = f(q2 + d2 * d2);
        q3 = f(q3 + d3 * d3);
      }
    }
    a[mo + c] = m0;
    a[mo + c + 1] = m1;
    a[mo + c + 2] = m2;
    a[mo + c + 3] = m3;
    a[vo + c] = f(q0 * invN1);
    a[vo + c + 1] = f(q1 * invN1);
    a[vo + c + 2] = f(q2 * invN1);
    a[vo + c + 3] = f(q3 * invN1);
  }
  for (; c < cEnd; c++) {
    let s = 0;
    for (let b = 0; b < N; b++) {
      const p = xo + (b * C + c) * HW;
      for (let k = 0; k < HW; k++) s = f(s + a[p + k]!);
    }
    const mc = f(s * invN);
    let q = 0;
    for (let b = 0; b < N; b++) {
      const p = xo + (b * C + c) * HW;
      for (let k = 0; k < HW; k++) {
        const d = f(a[p + k]! - mc);
        q = f(q + d * d);
      }
    }
    a[mo + c] = mc;
    a[vo + c] = f(q * invN1);
  }
}

/**
 * y = normalised x for channels [start, end) of float32 data, with the per-channel statistics the
 * serial kernel computed (float64 scratch: mean, den or scale, gamma, beta per channel at `st`, 4C
 * values). ia: x, y, N, C, HW, st (float64 index), darknet (1/0), hasWeight, hasBias.
 * darknet: v = f(f(x − mean)/den), then f(v·γ), f(v + β); pytorch: (x − mean)·scale + β in double.
 */
function bnNormalize(m: MemoryViews, ia: Int32Array, _fa: Float64Array, start: number, end: number): void {
  const a = m.f32;
  const st = m.f64;
  const xo = ia[A0]!, yo = ia[A0 + 1]!, N = ia[A0 + 2]!, C = ia[A0 + 3]!, HW = ia[A0 + 4]!, so = ia[A0 + 5]!;
  const darknet = ia[A0 + 6]! !== 0, hasW = ia[A0 + 7]! !== 0, hasB = ia[A0 + 8]! !== 0;
  for (let c = start; c < end; c++) {
    const mean = st[so + 4 * c]!, den = st[so + 4 * c + 1]!, g = st[so + 4 * c + 2]!, beta = st[so + 4 * c + 3]!;
    for (let b = 0; b < N; b++) {
      const xb = xo + (b * C + c) * HW;
      const yb = yo + (b * C + c) * HW;
      if (darknet) {
        for (let k = 0; k < HW; k++) {
          let v = f(f(a[xb + k]! - mean) / den);
          if (hasW) v = f(v * g);
          if (hasB) v = f(v + beta);
          a[yb + k] = v;
        }
      } else {
        for (let k = 0; k < HW; k++) a[yb + k] = (a[xb + k]! - mean) * den + beta;
      }
    }
  }
}

/**
 * BN backward for channels [start, end) of float32 data: per channel, the sums (Σgy, Σgy(x − mean)) in
 * double, then the coefficients (computed here from the per-channel inputs at `st`: mean, variance,
 * gamma, s = the forward's denominator) and dx = A·gy + B·(x − mean) + D. Writes the sums to the
 * float64 scratch at `out` (2 per channel) for the caller's dγ/dβ. ia: gy, x, dx (or −1), N, C, HW,
 * st, out, mode (0 = constant statistics, 1 = Darknet's rule, 2 = exact); fa: backward eps.
 */
function bnBackward(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const a = m.f32;
  const sc = m.f64;
  const go = ia[A0]!, xo = ia[A0 + 1]!, dxo = ia[A0 + 2]!, N = ia[A0 + 3]!, C = ia[A0 + 4]!, HW = ia[A0 + 5]!;
  const so = ia[A0 + 6]!, oo = ia[A0 + 7]!, mode = ia[A0 + 8]!, darknet = ia[A0 + 9]! !== 0;
  const n = N * HW;
  const bwdEps = fa[0]!;
  for (let c = start; c < end; c++) {
    const mean = sc[so + 4 * c]!, variance = sc[so + 4 * c + 1]!, gamma = sc[so + 4 * c + 2]!, s = sc[so + 4 * c + 3]!;
    let sumG = 0;
    let sumGD = 0;
    for (let b = 0; b < N; b++) {
      const base = (b * C + c) * HW;
      for (let k = 0; k < HW; k++) {
        const gv = a[go + base + k]!;
        sumG += gv;
        sumGD += gv * (a[xo + base + k]! - mean);
      }
    }
    sc[oo + 2 * c] = sumG;
    sc[oo + 2 * c + 1] = sumGD;
    if (dxo < 0) continue;
    const sumGX = sumGD / s;
    let A: number;
    let B: number;
    let D: number;
    if (mode === 0) {
      A = gamma / s;
      B = 0;
      D = 0;
    } else if (mode === 1) {
      const rr = Math.sqrt(variance + bwdEps);
      const dmean = (-gamma * sumG) / rr;
      const dvar = -0.5 * gamma * sumGD * Math.pow(variance + bwdEps, -1.5);
      A = gamma / rr;
      B = (2 * dvar) / n;
      D = dmean / n;
    } else {
      const sigma = Math.sqrt(variance);
      const k = darknet ? (sigma > 0 ? 1 / ((n - 1) * sigma) : 0) : 1 / (n * s);
      A = gamma / s;
      B = -(gamma * sumGX * k) / s;
      D = -(gamma * sumG) / (n * s);
    }
    for (let b = 0; b < N; b++) {
      const base = (b * C + c) * HW;
      for (let k = 0; k < HW; k++) a[dxo + base + k] = A * a[go + base + k]! + B * (a[xo + base + k]! - mean) + D;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// normal samples (tensor/random.ts Rng.normal): out[o + i] = mean + std·sqrt(−2 ln u′(r[2i]))·cos(2π u(r[2i+1]))
// from the Philox words r, already drawn into a uint32 block at `words` (int32 view). ia: out (float32
// or float64 index), words, f64 (1 = float64 output); fa: mean, std.

function normal(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const o = ia[A0]!, w = ia[A0 + 1]!, wide = ia[A0 + 2]! !== 0;
  const words = m.i32;
  const mean = fa[0]!, std = fa[1]!;
  const out = wide ? m.f64 : m.f32;
  for (let i = start; i < end; i++) {
    const u1 = (((words[w + 2 * i]! >>> 8) + 1) * (1 / 16777216));
    const u2 = (words[w + 2 * i + 1]! >>> 8) * (1 / 16777216);
    out[o + i] = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

// Philox4x32-10 blocks (tensor/random.ts philox4x32) for counters base + [start, end), written as 4 words
// each from int32 index `out` + 4*(i - 0): ia: out, key0, key1; fa: base counter (an integer < 2^53).
// The high half of the 32x32-bit products is formed from two exact 16x32-bit products in double.

function philox(m: MemoryViews, ia: Int32Array, fa: Float64Array, start: number, end: number): void {
  const out = m.i32;
  const o = ia[A0]!, k0 = ia[A0 + 1]! >>> 0, k1 = ia[A0 + 2]! >>> 0;
  const base = fa[0]!;
  const M0 = 0xd2511f53, M1 = 0xcd9e8d57, W0 = 0x9e3779b9, W1 = 0xbb67ae85;
  const inv = 1 / 65536;
  for (let i = start; i < end; i++) {
    const c = base + i;
    let x0 = c % 4294967296;
    let x1 = Math.floor(c / 4294967296);
    let x2 = 0;
    let x3 = 0;
    let key0 = k0;
    let key1 = k1;
    for (let round = 0; round < 10; round++) {
      const hi0 = Math.floor((M0 * (x0 >>> 16) + Math.floor(M0 * (x0 & 0xffff) * inv)) * inv);
      const lo0 = Math.imul(M0, x0) >>> 0;
      const hi1 = Math.floor((M1 * (x2 >>> 16) + Math.floor(M1 * (x2 & 0xffff) * inv)) * inv);
      const lo1 = Math.imul(M1, x2) >>> 0;
      const n0 = (hi1 ^ x1 ^ key0) >>> 0;
      const n2 = (hi0 ^ x3 ^ key1) >>> 0;
      x0 = n0;
      x1 = lo1;
      x2 = n2;
      x3 = lo0;
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const d = o + 4 * i;
    out[d] = x0;
    out[d + 1] = x1;
    out[d + 2] = x2;
    out[d + 3] = x3;
  }
}

/** The bodies by TASK id. */
export const TASKS: readonly TaskBody[] = [elementwise, sgdDarknet, sgdTorch, maxpool, maxpoolBackward, bnDarknetStats, bnNormalize, bnBackward, normal, philox];
