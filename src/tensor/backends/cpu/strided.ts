// Strided elementwise loops for the CPU backend.
//
// An elementwise kernel writes a contiguous output from inputs that are arbitrary strided views of the
// output's shape (broadcast dims have stride 0). Dims that are contiguous with respect to every operand
// are merged first, so the common cases become one flat loop. Loops are generated once per
// (expression, arity) with `new Function`, so the scalar expression is inlined in a monomorphic loop
// rather than called through a closure per element.

import type { TypedArray } from '../../dtype.js';
import { flatLoopId } from './elementwise-flat.js';
import { arenaIndex, parallelFor } from './parallel.js';
import { A0, TASK } from './tasks.js';

export interface Coalesced {
  shape: number[];
  strides: number[][];
}

/** Merge adjacent dims that are laid out contiguously for every operand; drop size-1 dims. */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Coalesced {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last]! *= n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(n);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(1));
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * out[i] = expr(x0, x1, ...) over `shape`; the output is written through its own strides (so a kernel can
 * copy into a strided view). `expr` uses x0..x{n-1} and attribute parameters p0, p1, p2.
 */
export type ElementwiseLoop = (
  out: TypedArray,
  outOffset: number,
  inputs: readonly TypedArray[],
  offsets: readonly number[],
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  params: readonly number[],
) => void;

const cache = new Map<string, ElementwiseLoop>();

export function elementwiseLoop(arity: number, expr: string): ElementwiseLoop {
  const key = `${arity}|${expr}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const xs = Array.from({ length: arity + 1 }, (_, k) => k); // operand 0 is the output
  const src = `
    const p0 = params[0], p1 = params[1], p2 = params[2];
    ${xs.slice(1).map((k) => `const a${k} = inputs[${k - 1}];`).join('\n')}
    const c = coalesce(shape, [ostr, ${xs.slice(1).map((k) => `istr[${k - 1}]`).join(', ')}]);
    const sh = c.shape, nd = sh.length, n = sh[nd - 1];
    ${xs.map((k) => `const s${k} = c.strides[${k}], in${k} = s${k}[nd - 1];`).join('\n')}
    let q0 = outOffset; ${xs.slice(1).map((k) => `let q${k} = offsets[${k - 1}];`).join(' ')}
    let outer = 1; for (let d = 0; d < nd - 1; d++) outer *= sh[d];
    const idx = new Int32Array(nd);
    for (let r = 0; r < outer; r++) {
      if (${xs.map((k) => `in${k} === 1`).join(' && ')}) {
        for (let i = 0; i < n; i++) {
          ${xs.slice(1).map((k) => `const x${k - 1} = a${k}[q${k} + i];`).join(' ')}
          out[q0 + i] = ${expr};
        }
      } else {
        for (let i = 0; i < n; i++) {
          ${xs.slice(1).map((k) => `const x${k - 1} = a${k}[q${k} + i * in${k}];`).join(' ')}
          out[q0 + i * in0] = ${expr};
        }
      }
      for (let d = nd - 2; d >= 0; d--) {
        idx[d]++;
        ${xs.map((k) => `q${k} += s${k}[d];`).join(' ')}
        if (idx[d] < sh[d]) break;
        ${xs.map((k) => `q${k} -= s${k}[d] * sh[d];`).join(' ')}
        idx[d] = 0;
      }
    }`;
  const make = new Function('coalesce', `return function(out, outOffset, inputs, offsets, shape, strides, params) { const ostr = strides[0]; const istr = strides.slice(1); ${src} }`);
  const fn = make(coalesce) as ElementwiseLoop;
  cache.set(key, fn);
  return fn;
}

/**
 * The elementwise kernel of `expr` on every core when it can: a float32 output and float32 inputs in
 * the shared arena, each input either laid out like the output or one broadcast value, and enough
 * elements. Returns false (nothing done) otherwise; the caller then runs elementwiseLoop.
 */
export function elementwiseParallel(
  expr: string, out: TypedArray, outOffset: number, inputs: readonly TypedArray[], offsets: readonly number[],
  shape: readonly number[], strides: readonly (readonly number[])[], params: readonly number[],
): boolean {
  if (!(out instanceof Float32Array) || inputs.length > 2) return false;
  let n = 1;
  for (const d of shape) n *= d;
  if (n < 4096) return false;
  const c = coalesce(shape, strides);
  if (c.shape.length !== 1 || c.strides[0]![0] !== 1) return false;
  const o = arenaIndex(out, outOffset);
  if (o < 0) return false;
  const idx: number[] = [];
  const st: number[] = [];
  for (let k = 0; k < inputs.length; k++) {
    const a = inputs[k]!;
    const s = c.strides[k + 1]![0]!;
    if (!(a instanceof Float32Array) || (s !== 0 && s !== 1)) return false;
    const i = arenaIndex(a, offsets[k]!);
    if (i < 0) return false;
    idx.push(i);
    st.push(s);
  }
  const id = flatLoopId(inputs.length, expr);
  const chunk = Math.max(2048, Math.ceil(n / 8));
  parallelFor(TASK.elementwise, n, chunk, n * (inputs.length + 1), (ia, fa) => {
    ia[A0] = id;
    ia[A0 + 1] = inputs.length;
    ia[A0 + 2] = o;
    ia[A0 + 3] = idx[0]!;
    ia[A0 + 4] = st[0]!;
    ia[A0 + 5] = idx[1] ?? 0;
    ia[A0 + 6] = st[1] ?? 0;
    fa[0] = params[0] ?? 0;
    fa[1] = params[1] ?? 0;
    fa[2] = params[2] ?? 0;
  });
  return true;
}
