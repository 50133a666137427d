// Shape arithmetic: sizes, contiguous strides, NumPy broadcasting, dim normalisation.

export type Shape = readonly number[];

/**
 * Most elements one tensor may have: 2^31 − 1, the largest int32. Indices (argmax, max/min along a dim,
 * one_hot, maxpool) are int32 and device kernels index with 32-bit integers, so a larger tensor is
 * refused where it is created rather than wrapping an index later.
 */
export const MAX_ELEMENTS = 2 ** 31 - 1;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The shape as a new array, checked: non-negative integer dims and at most MAX_ELEMENTS elements (an
 * error naming `what` and the shape otherwise).
 */
export function checkShape(shape: Shape, what = 'shape'): number[] {
  if (!Array.isArray(shape)) throw new Error(`${what}: expected a list of dimensions, got ${typeof shape}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what} ${shapeStr(shape)}: dimensions must be non-negative integers`);
  }
  const n = sizeOf(shape);
  if (n > MAX_ELEMENTS) {
    throw new Error(`${what} ${shapeStr(shape)}: ${n} elements, more than a tensor can hold (${MAX_ELEMENTS}, the int32 index limit)`);
  }
  return [...shape];
}

/** NumPy broadcasting: shapes aligned on the right, size-1 dims stretch, missing leading dims are 1. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const nd = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = nd - s.length + i;
      const d = s[i]!;
      const o = out[j]!;
      if (o === 1) out[j] = d;
      else if (d !== 1 && d !== o) {
        throw new Error(`${op}: shapes ${shapes.map(shapeStr).join(' and ')} cannot be broadcast together (dim ${j}: ${o} vs ${d})`);
      }
    }
  }
  return out;
}

/** Normalise a possibly negative dim for a tensor of rank `ndim`. */
export function normDim(dim: number, ndim: number, op = 'op'): number {
  const d = dim < 0 ? dim + ndim : dim;
  if (!Number.isInteger(dim) || d < 0 || d >= Math.max(ndim, 1)) {
    throw new Error(`${op}: dim ${dim} out of range for a tensor of rank ${ndim}`);
  }
  return d;
}

/** Normalise dims (number, list or null = all) to a sorted unique list. */
export function normDims(dims: number | readonly number[] | null | undefined, ndim: number, op = 'op'): number[] {
  if (dims === null || dims === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = [...new Set(list.map((d) => normDim(d, ndim, op)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new Error(`${op}: repeated dim in ${JSON.stringify(dims)}`);
  return out;
}
