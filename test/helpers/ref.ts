// A tiny float64 reference for tests: row-major arrays with a shape, and the textbook definition of every
// op the tensor core implements (plain index loops, no strides, no kernels). Tests compare the tensor ops
// against these. Nothing here shares code with src/tensor.

import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { fromHost } from '../../src/tensor/ops/creation.js';
import type { DType } from '../../src/tensor/dtype.js';

export interface Ref {
  shape: number[];
  data: Float64Array;
}

export function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function ref(shape: readonly number[], data: ArrayLike<number>): Ref {
  if (sizeOfShape(shape) !== data.length) throw new Error(`ref: ${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: [...shape], data: Float64Array.from(data) };
}

/** A tensor's values and shape as a float64 reference. */
export function refOf(t: Tensor): Ref {
  return { shape: [...t.shape], data: Float64Array.from(t.data()) };
}

/** A tensor holding a reference's values. */
export function toTensor(r: Ref, opts: { dtype?: DType; requiresGrad?: boolean } = {}): Tensor {
  const dtype = opts.dtype ?? 'float64';
  const host = dtype === 'float64' ? Float64Array.from(r.data) : dtype === 'float32' ? Float32Array.from(r.data) : Int32Array.from(r.data);
  return fromHost(host, r.shape, { requiresGrad: opts.requiresGrad ?? false });
}

/** Seeded values in [lo, hi) (a test's own data; uses the library's Rng only as a number source). */
export function randRef(shape: readonly number[], seed: number, lo = -1, hi = 1): Ref {
  const rng = new Rng(seed);
  return ref(shape, Array.from({ length: sizeOfShape(shape) }, () => rng.range(lo, hi)));
}

/** Seeded values with |v| in [lo, hi) and a random sign: away from 0 (kinks of relu/abs, poles of div). */
export function randAwayFromZero(shape: readonly number[], seed: number, lo = 0.2, hi = 1.5): Ref {
  const rng = new Rng(seed);
  return ref(shape, Array.from({ length: sizeOfShape(shape) }, () => (rng.uniform() < 0.5 ? -1 : 1) * rng.range(lo, hi)));
}

/** Distinct values (a shuffled grid with spacing `gap`): no ties for max/min. */
export function randDistinct(shape: readonly number[], seed: number, gap = 0.1): Ref {
  const n = sizeOfShape(shape);
  const rng = new Rng(seed);
  const vals = rng.shuffle(Array.from({ length: n }, (_, i) => (i - n / 2) * gap));
  return ref(shape, vals);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    idx[d] = i % n;
    i = Math.floor(i / n);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d]! + idx[d]!;
  return i;
}

/** NumPy broadcast of shapes (the definition, right-aligned). Throws on incompatible shapes. */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < nd; k++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - nd + k] ?? 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new Error('incompatible');
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

/** Value of r at an index of a (broadcast) output shape. */
export function atBroadcast(r: Ref, outIdx: readonly number[]): number {
  const lead = outIdx.length - r.shape.length;
  let i = 0;
  for (let d = 0; d < r.shape.length; d++) i = i * r.shape[d]! + (r.shape[d] === 1 ? 0 : outIdx[d + lead]!);
  return r.data[i]!;
}

/** Elementwise n-ary function with broadcasting. */
export function zipWith(f: (...v: number[]) => number, ...xs: Ref[]): Ref {
  const shape = broadcastShape(...xs.map((x) => x.shape));
  const n = sizeOfShape(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    data[i] = f(...xs.map((x) => atBroadcast(x, idx)));
  }
  return { shape, data };
}

export function mapRef(x: Ref, f: (v: number) => number): Ref {
  return { shape: [...x.shape], data: x.data.map(f) };
}

export const rsigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

function normDimRef(d: number, nd: number): number {
  return d < 0 ? d + nd : d;
}

/** Reduce over `dims` (null = all): sum / mean / max / min with first-occurrence indices (flat over dims). */
export function reduceRef(x: Ref, dims: number | number[] | null, kind: 'sum' | 'mean' | 'max' | 'min', keepdim = false): { values: Ref; indices: Ref } {
  const nd = x.shape.length;
  const red = dims === null ? x.shape.map((_, i) => i) : (typeof dims === 'number' ? [dims] : dims).map((d) => normDimRef(d, nd));
  const keptShape = x.shape.filter((_, i) => !red.includes(i));
  const redShape = red.slice().sort((a, b) => a - b).map((i) => x.shape[i]!);
  const sortedRed = red.slice().sort((a, b) => a - b);
  const outN = sizeOfShape(keptShape);
  const R = sizeOfShape(redShape);
  const values = new Float64Array(outN);
  const indices = new Float64Array(outN);
  for (let o = 0; o < outN; o++) {
    const keptIdx = unravel(o, keptShape);
    let acc = kind === 'max' ? -Infinity : kind === 'min' ? Infinity : 0;
    let at = 0;
    for (let r = 0; r < R; r++) {
      const rIdx = unravel(r, redShape);
      const full: number[] = [];
      let ki = 0;
      let ri = 0;
      for (let d = 0; d < nd; d++) full.push(sortedRed.includes(d) ? rIdx[ri++]! : keptIdx[ki++]!);
      const v = x.data[ravel(full, x.shape)]!;
      if (kind === 'sum' || kind === 'mean') acc += v;
      else if ((kind === 'max' && v > acc) || (kind === 'min' && v < acc) || r === 0) {
        acc = v;
        at = r;
      }
    }
    values[o] = kind === 'mean' ? acc / R : acc;
    indices[o] = at;
  }
  const shape = keepdim ? x.shape.map((s, i) => (red.includes(i) ? 1 : s)) : keptShape;
  return { values: { shape, data: values }, indices: { shape, data: indices } };
}

/** torch.matmul by definition: 1-D promotion, broadcast batch dims, triple loop. */
export function matmulRef(a: Ref, b: Ref): Ref {
  const aShape = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bShape = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const M = aShape[aShape.length - 2]!;
  const K = aShape[aShape.length - 1]!;
  const N = bShape[bShape.length - 1]!;
  if (bShape[bShape.length - 2] !== K) throw new Error('matmulRef: inner dims differ');
  const batch = broadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  const A: Ref = { shape: aShape, data: a.data };
  const B: Ref = { shape: bShape, data: b.data };
  const outShape = [...batch, M, N];
  const data = new Float64Array(sizeOfShape(outShape));
  for (let o = 0; o < data.length; o++) {
    const idx = unravel(o, outShape);
    const bi = idx.slice(0, -2);
    const i = idx[idx.length - 2]!;
    const j = idx[idx.length - 1]!;
    let s = 0;
    for (let k = 0; k < K; k++) s += atBroadcast(A, [...bi, i, k]) * atBroadcast(B, [...bi, k, j]);
    data[o] = s;
  }
  let shape = outShape;
  if (a.shape.length === 1) shape = [...shape.slice(0, -2), shape[shape.length - 1]!];
  if (b.shape.length === 1) shape = shape.slice(0, -1);
  return { shape, data };
}

export function transposeRef(x: Ref, d0: number, d1: number): Ref {
  const perm = x.shape.map((_, i) => i);
  const a = normDimRef(d0, x.shape.length);
  const b = normDimRef(d1, x.shape.length);
  perm[a] = b;
  perm[b] = a;
  return permuteRef(x, perm);
}

export function permuteRef(x: Ref, perm: readonly number[]): Ref {
  const shape = perm.map((p) => x.shape[p]!);
  const data = new Float64Array(x.data.length);
  for (let o = 0; o < data.length; o++) {
    const idx = unravel(o, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, k) => (src[p] = idx[k]!));
    data[o] = x.data[ravel(src, x.shape)]!;
  }
  return { shape, data };
}

/** Elements [start, start+length) along dim. */
export function narrowRef(x: Ref, dim: number, start: number, length: number): Ref {
  const d = normDimRef(dim, x.shape.length);
  const shape = [...x.shape];
  shape[d] = length;
  const data = new Float64Array(sizeOfShape(shape));
  for (let o = 0; o < data.length; o++) {
    const idx = unravel(o, shape);
    idx[d]! += start;
    data[o] = x.data[ravel(idx, x.shape)]!;
  }
  return { shape, data };
}

/** Broadcast x to shape (copying values). */
export function expandRef(x: Ref, shape: readonly number[]): Ref {
  return zipWith((v) => v, x, { shape: [...shape], data: new Float64Array(sizeOfShape(shape)) });
}

export function reshapeRef(x: Ref, shape: readonly number[]): Ref {
  return { shape: [...shape], data: Float64Array.from(x.data) };
}

/** (log)softmax along dim by definition (max subtracted for stability). */
export function softmaxRef(x: Ref, dim: number, log = false): Ref {
  const d = normDimRef(dim, x.shape.length);
  const data = new Float64Array(x.data.length);
  for (let o = 0; o < data.length; o++) {
    const idx = unravel(o, x.shape);
    let m = -Infinity;
    const vals: number[] = [];
    for (let k = 0; k < x.shape[d]!; k++) {
      idx[d] = k;
      vals.push(x.data[ravel(idx, x.shape)]!);
    }
    for (const v of vals) m = Math.max(m, v);
    const s = vals.reduce((a, v) => a + Math.exp(v - m), 0);
    const v = x.data[o]!;
    data[o] = log ? v - m - Math.log(s) : Math.exp(v - m) / s;
  }
  return { shape: [...x.shape], data };
}

/** Cross entropy of logits [N, C, ...] against class indices [N, ...] (values of `target`). */
export function crossEntropyRef(x: Ref, target: Ref, reduction: 'mean' | 'sum' | 'none'): Ref {
  const logp = softmaxRef(x, 1, true);
  const tShape = target.shape;
  const per = new Float64Array(target.data.length);
  for (let o = 0; o < per.length; o++) {
    const tIdx = unravel(o, tShape);
    const full = [tIdx[0]!, target.data[o]!, ...tIdx.slice(1)];
    per[o] = -logp.data[ravel(full, x.shape)]!;
  }
  if (reduction === 'none') return { shape: [...tShape], data: per };
  const s = per.reduce((a, v) => a + v, 0);
  return { shape: [], data: Float64Array.of(reduction === 'sum' ? s : s / per.length) };
}

export function mseRef(a: Ref, b: Ref, reduction: 'mean' | 'sum' | 'none'): Ref {
  const d = zipWith((x, y) => (x - y) * (x - y), a, b);
  if (reduction === 'none') return d;
  const s = d.data.reduce((acc, v) => acc + v, 0);
  return { shape: [], data: Float64Array.of(reduction === 'sum' ? s : s / d.data.length) };
}

/** Concatenate along dim. */
export function catRef(xs: Ref[], dim: number): Ref {
  const d = normDimRef(dim, xs[0]!.shape.length);
  const shape = [...xs[0]!.shape];
  shape[d] = xs.reduce((a, x) => a + x.shape[d]!, 0);
  const data = new Float64Array(sizeOfShape(shape));
  for (let o = 0; o < data.length; o++) {
    const idx = unravel(o, shape);
    let k = idx[d]!;
    let which = 0;
    while (k >= xs[which]!.shape[d]!) k -= xs[which++]!.shape[d]!;
    idx[d] = k;
    data[o] = xs[which]!.data[ravel(idx, xs[which]!.shape)]!;
  }
  return { shape, data };
}
