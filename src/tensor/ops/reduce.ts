// Reductions over one dim, a list of dims or everything: sum, mean, max/min (values and indices), argmax.
//
// One primitive kernel: 'reduce' over the last axis of a contiguous [outer, R] matrix. Any set of dims is
// brought there by a permutation (non-reduced dims first, in order) and a contiguous copy when needed.

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { contiguousStrides, normDim, normDims, sameShape, shapeStr, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { mul } from './binary.js';
import { composite } from './common.js';
import { contiguous } from './copy.js';
import { oneHot } from './one-hot.js';
import { expand, permute, reshape } from './views.js';

export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * out[i] = op over x[i, 0..R) for a contiguous x of outer*R elements; with `indices` (int32 [outer]),
 * also the position of the first max/min.
 */
export type ReduceKernel = (out: Tensor, x: Tensor, R: number, op: ReduceOp, indices: Tensor | null) => void;

registerKernel<ReduceKernel>('reduce', 'cpu', (out, x, R, op, indices) => {
  const o = out.storage.cpuArray;
  const a = x.storage.cpuArray;
  const idx = indices ? (indices.storage.cpuArray as Int32Array) : null;
  const outer = out.size;
  for (let i = 0; i < outer; i++) {
    let p = x.offset + i * R;
    if (op === 'sum') {
      let s = 0;
      for (let r = 0; r < R; r++) s += a[p++]!;
      o[out.offset + i] = s;
    } else {
      let best = a[p]!;
      let at = 0;
      const isMax = op === 'max';
      for (let r = 1; r < R; r++) {
        const v = a[p + r]!;
        // NaN propagates and wins, as in PyTorch.
        if ((isMax ? v > best : v < best) || (v !== v && best === best)) {
          best = v;
          at = r;
        }
      }
      o[out.offset + i] = best;
      if (idx) idx[indices!.offset + i] = at;
    }
  }
});

interface Plan {
  /** Permutation putting kept dims first, reduced dims last. */
  perm: number[];
  outer: number;
  R: number;
  keptShape: number[];
  keepdimShape: number[];
}

function plan(op: string, x: Tensor, dims: number | readonly number[] | null): Plan {
  const red = normDims(dims, x.ndim, op);
  const kept = Array.from({ length: x.ndim }, (_, i) => i).filter((i) => !red.includes(i));
  const keptShape = kept.map((i) => x.shape[i]!);
  const keepdimShape = x.shape.map((s, i) => (red.includes(i) ? 1 : s));
  return { perm: [...kept, ...red], outer: sizeOf(keptShape), R: sizeOf(red.map((i) => x.shape[i]!)), keptShape, keepdimShape };
}

/** x permuted (reduced dims last) and contiguous: a [outer, R] matrix in memory. */
function asMatrix(x: Tensor, p: Plan): Tensor {
  return noGrad(() => {
    const v = permute(x, p.perm);
    const m = contiguous(v);
    // The permuted view holds a reference to x's storage: drop it once a copy was made.
    if (m !== v) v.dispose();
    return m;
  });
}

function reduceRaw(op: ReduceOp, x: Tensor, p: Plan, withIndices: boolean): { values: Tensor; indices: Tensor | null } {
  if (op !== 'sum' && p.R === 0) throw new Error(`${op}: cannot reduce over an empty dimension of ${shapeStr(x.shape)}`);
  const m = asMatrix(x, p);
  const values = Tensor.empty([p.outer], x.dtype, x.device);
  const indices = withIndices ? Tensor.empty([p.outer], 'int32', x.device) : null;
  if (p.outer > 0) getKernel<ReduceKernel>('reduce', x.device.name)(values, m, p.R, op, indices);
  if (m !== x) m.dispose();
  return { values, indices };
}

function shaped(t: Tensor, shape: number[]): Tensor {
  if (sameShape(t.shape, shape)) return t;
  const v = noGrad(() => reshape(t, shape));
  t.dispose();
  return v;
}

/** Sum over `dim` (a dim, a list, or null = all). */
export function sum(x: Tensor, dim: number | readonly number[] | null = null, keepdim = false): Tensor {
  x.assertAlive('sum');
  const p = plan('sum', x, dim);
  const { values } = reduceRaw('sum', x, p, false);
  const out = shaped(values, keepdim ? p.keepdimShape : p.keptShape);
  const inShape = x.shape;
  return record('sum', [x], out, (g) => [expand(reshape(g, p.keepdimShape), inShape)]);
}

/** Mean over `dim` (a dim, a list, or null = all). */
export function mean(x: Tensor, dim: number | readonly number[] | null = null, keepdim = false): Tensor {
  const p = plan('mean', x, dim);
  return composite([x], () => mul(sum(x, dim, keepdim), 1 / p.R));
}

/**
 * Gradient of a max/min: the whole upstream gradient goes to the selected position, the first maximum in
 * row-major order on ties. (PyTorch: max(x, dim)/min(x, dim) do the same through their indices; amax,
 * amin and the full reduction x.max() split the gradient evenly among tied elements.)
 */
function selectBackward(g: Tensor, indices: Tensor, p: Plan, x: Tensor): Tensor {
  const mask = oneHot(indices, p.R, x.dtype); // [outer, R]
  const gm = mul(mask, reshape(g, [p.outer, 1]));
  const permutedShape = p.perm.map((i) => x.shape[i]!);
  const inverse = new Array<number>(p.perm.length);
  p.perm.forEach((v, i) => (inverse[v] = i));
  return contiguous(permute(reshape(gm, permutedShape), inverse));
}

function extreme(op: 'max' | 'min', x: Tensor, dim: number | readonly number[] | null, keepdim: boolean): { values: Tensor; indices: Tensor } {
  x.assertAlive(op);
  const p = plan(op, x, dim);
  const r = reduceRaw(op, x, p, true);
  const shape = keepdim ? p.keepdimShape : p.keptShape;
  const values = shaped(r.values, shape);
  const idxFlat = r.indices!;
  record(op, [x], values, (g) => [selectBackward(g, idxFlat, p, x)]);
  // The returned indices are always a tensor of their own (a view of idxFlat's storage): callers dispose
  // them (amax, argmax) while the backward rule may still need idxFlat.
  const indices = new Tensor(idxFlat.storage, shape, contiguousStrides(shape), idxFlat.offset);
  if (values.gradFn === null) idxFlat.dispose();
  return { values, indices };
}

/** Max along one dim: values and int32 indices (first occurrence), as torch.max(x, dim). */
export function max(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  return extreme('max', x, normDim(dim, x.ndim, 'max'), keepdim);
}

export function min(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  return extreme('min', x, normDim(dim, x.ndim, 'min'), keepdim);
}

/** Max over dims (a dim, list, or null = all), values only; the gradient goes to the first maximum (PyTorch splits it among ties). */
export function amax(x: Tensor, dim: number | readonly number[] | null = null, keepdim = false): Tensor {
  const r = extreme('max', x, dim, keepdim);
  r.indices.dispose();
  return r.values;
}

export function amin(x: Tensor, dim: number | readonly number[] | null = null, keepdim = false): Tensor {
  const r = extreme('min', x, dim, keepdim);
  r.indices.dispose();
  return r.values;
}

/** Index of the max along `dim` (over the flattened tensor when dim is undefined), int32. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return noGrad(() => {
    if (dim === undefined) {
      const flat = reshape(x, [x.size]);
      const r = extreme('max', flat, 0, false);
      r.values.dispose();
      if (flat !== x) flat.dispose();
      return r.indices;
    }
    const r = extreme('max', x, normDim(dim, x.ndim, 'argmax'), keepdim);
    r.values.dispose();
    return r.indices;
  });
}

export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return noGrad(() => {
    const src = dim === undefined ? reshape(x, [x.size]) : x;
    const r = extreme('min', src, dim === undefined ? 0 : normDim(dim, x.ndim, 'argmin'), keepdim);
    r.values.dispose();
    if (src !== x) src.dispose();
    return r.indices;
  });
}

/** Sum a broadcast gradient back to `shape` (leading dims and stretched size-1 dims). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  if (lead < 0) throw new Error(`sumToShape: ${shapeStr(g.shape)} has fewer dims than ${shapeStr(shape)}`);
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const s = dims.length ? sum(g, dims, true) : g;
  return reshape(s, shape);
}
