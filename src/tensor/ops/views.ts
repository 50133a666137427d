// Views: new shape/strides/offset over the same storage, no copy. Each records how to send the gradient
// back to the viewed tensor's shape.

import { record } from '../../autograd/record.js';
import { broadcastShapes, checkShape, contiguousStrides, normDim, sameShape, shapeStr, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { contiguous, copyInto } from './copy.js';
import { zeros } from './creation.js';
import { sumToShape } from './reduce.js';

function makeView(x: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  return new Tensor(x.storage, shape, strides, offset);
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const inferred = out.indexOf(-1);
  if (out.lastIndexOf(-1) !== inferred) throw new Error(`${op}: only one dimension can be -1 in ${shapeStr(shape)}`);
  if (inferred >= 0) {
    const known = out.reduce((a, d, i) => (i === inferred ? a : a * d), 1);
    if (known === 0 || x.size % known !== 0) throw new Error(`${op}: cannot infer -1 in ${shapeStr(shape)} for ${x.size} elements ${shapeStr(x.shape)}`);
    out[inferred] = x.size / known;
  }
  checkShape(out, op);
  if (sizeOf(out) !== x.size) throw new Error(`${op}: shape ${shapeStr(shape)} is invalid for input of size ${x.size} ${shapeStr(x.shape)}`);
  return out;
}

/**
 * Strides for viewing x as `shape` without a copy, or null when the layout does not allow it. Walks the
 * old dims from the right in "chunks" whose elements are evenly spaced, and requires each chunk to be
 * covered exactly by a run of new dims.
 */
function viewStrides(x: Tensor, shape: number[]): number[] | null {
  if (x.isContiguous() || x.size === 0) return contiguousStrides(shape);
  const os = x.shape;
  const ost = x.strides;
  const ns = new Array<number>(shape.length).fill(1);
  let vd = shape.length - 1;
  let base = ost[os.length - 1]!;
  let tn = 1;
  let vn = 1;
  for (let td = os.length - 1; td >= 0; td--) {
    tn *= os[td]!;
    const chunkEnds = td === 0 || (os[td - 1] !== 1 && ost[td - 1] !== tn * base);
    if (!chunkEnds) continue;
    while (vd >= 0 && (vn < tn || shape[vd] === 1)) {
      ns[vd] = vn * base;
      vn *= shape[vd]!;
      vd--;
    }
    if (vn !== tn) return null;
    if (td > 0) {
      base = ost[td - 1]!;
      tn = 1;
      vn = 1;
    }
  }
  return vd === -1 ? ns : null;
}

/** A view with a new shape; throws if the layout needs a copy (use reshape). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('view');
  const s = resolveShape('view', x, shape);
  const strides = viewStrides(x, s);
  if (!strides) throw new Error(`view: shape ${shapeStr(s)} is incompatible with the strides of ${shapeStr(x.shape)}; use reshape()`);
  const out = makeView(x, s, strides, x.offset);
  const inShape = x.shape;
  return record('view', [x], out, (g) => [reshape(g, inShape)]);
}

/** A view when possible, else a contiguous copy with the new shape. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('reshape');
  const s = resolveShape('reshape', x, shape);
  if (sameShape(s, x.shape)) return x;
  if (viewStrides(x, s)) return view(x, s);
  const c = contiguous(x);
  const v = view(c, s);
  // Without a graph the copy is only reachable through the view: release its own reference.
  if (v.gradFn === null) c.dispose();
  return v;
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, 'flatten');
  const e = normDim(endDim, x.ndim, 'flatten');
  if (e < s) throw new Error(`flatten: endDim ${endDim} before startDim ${startDim}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.assertAlive('permute');
  if (dims.length !== x.ndim) throw new Error(`permute: ${dims.length} dims given for a tensor of rank ${x.ndim}`);
  const d = dims.map((v) => normDim(v, x.ndim, 'permute'));
  if (new Set(d).size !== d.length) throw new Error(`permute: repeated dim in [${dims.join(', ')}]`);
  const out = makeView(x, d.map((i) => x.shape[i]!), d.map((i) => x.strides[i]!), x.offset);
  const inverse = new Array<number>(d.length);
  d.forEach((v, i) => (inverse[v] = i));
  return record('permute', [x], out, (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const a = normDim(d0, x.ndim, 'transpose');
  const b = normDim(d1, x.ndim, 'transpose');
  const dims = Array.from({ length: x.ndim }, (_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Broadcast to `shape` (size-1 dims stretch with stride 0; -1 keeps a dim). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('expand');
  if (shape.length < x.ndim) throw new Error(`expand: target ${shapeStr(shape)} has fewer dims than ${shapeStr(x.shape)}`);
  const lead = shape.length - x.ndim;
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const j = i - lead;
    const want = shape[i]!;
    if (j < 0) {
      if (want < 0) throw new Error(`expand: -1 not allowed for a new leading dim in ${shapeStr(shape)}`);
      outShape.push(want);
      strides.push(0);
      continue;
    }
    const have = x.shape[j]!;
    if (want === -1 || want === have) {
      outShape.push(have);
      strides.push(x.strides[j]!);
    } else if (have === 1) {
      outShape.push(want);
      strides.push(0);
    } else {
      throw new Error(`expand: cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)} (dim ${i}: ${have} vs ${want})`);
    }
  }
  if (sameShape(outShape, x.shape)) return x;
  const out = makeView(x, outShape, strides, x.offset);
  const inShape = x.shape;
  return record('expand', [x], out, (g) => [sumToShape(g, inShape)]);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  broadcastShapes('broadcastTo', x.shape, shape);
  return expand(x, shape);
}

/** Elements [start, start+length) along `dim`, as a view. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  x.assertAlive('narrow');
  const d = normDim(dim, x.ndim, 'narrow');
  const n = x.shape[d]!;
  if (start < 0) start += n;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    throw new Error(`narrow: [${start}, ${start + length}) out of range for dim ${d} of size ${n} in ${shapeStr(x.shape)}`);
  }
  const shape = [...x.shape];
  shape[d] = length;
  const out = makeView(x, shape, x.strides, x.offset + start * x.strides[d]!);
  const inShape = x.shape;
  return record('narrow', [x], out, (g) => [narrowBackward(g, inShape, d, start)]);
}

/**
 * The adjoint of narrow: g in the slot [start, start + g.shape[dim]) along `dim` of zeros of `inShape`.
 * Differentiable (its gradient is narrow), so narrow is twice differentiable.
 */
export function narrowBackward(g: Tensor, inShape: readonly number[], dim: number, start: number): Tensor {
  g.assertAlive('narrow_backward');
  const gx = zeros(inShape, { dtype: g.dtype, device: g.device });
  const slot = new Tensor(gx.storage, g.shape, gx.strides, gx.offset + start * gx.strides[dim]!);
  copyInto(slot, g);
  slot.dispose();
  const len = g.shape[dim]!;
  return record('narrow_backward', [g], gx, (u) => [narrow(u, dim, start, len)]);
}

/** Take one index along `dim`, dropping the dim. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim(dim, x.ndim, 'select');
  const n = narrow(x, d, index, 1);
  const s = squeeze(n, d);
  if (s.gradFn === null && s !== n) n.dispose();
  return s;
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  x.assertAlive('squeeze');
  const keep = x.shape.map((s, i) => (dim === undefined ? s !== 1 : i !== normDim(dim, x.ndim, 'squeeze') || s !== 1));
  const shape = x.shape.filter((_, i) => keep[i]);
  if (shape.length === x.ndim) return x;
  const out = makeView(x, shape, x.strides.filter((_, i) => keep[i]), x.offset);
  const inShape = x.shape;
  return record('squeeze', [x], out, (g) => [reshape(g, inShape)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  x.assertAlive('unsqueeze');
  const d = normDim(dim, x.ndim + 1, 'unsqueeze');
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.ndim ? x.strides[d]! * x.shape[d]! : 1);
  const out = makeView(x, shape, strides, x.offset);
  return record('unsqueeze', [x], out, (g) => [squeeze(g, d)]);
}
