// The two sides of a gradient check, shared by gradcheck, gradgradcheck and checkDevices.
//
// Numerical side (Perturber): central differences (f(x + εd) − f(x − εd)) / 2ε along directions d of one
// input. Every input lives in one working tensor that is perturbed in place and restored (no copy of the
// inputs per evaluation). When the function maps a leading batch dimension of an input independently
// (probed once per input: a batched call must give the rows that separate calls give), the ± points of
// many directions go through one forward as a batch [B, ...shape]; otherwise one forward per point.
//
// Analytic side (AnalyticGraph): one recorded forward, then any number of vector-Jacobian products
// through the retained graph (never a forward per Jacobian row).

import { Tensor } from '../tensor/tensor.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import { scope } from '../tensor/memory.js';
import { fromHost } from '../tensor/ops/creation.js';
import { shapeStr, sameShape, sizeOf } from '../tensor/shape.js';
import { grad } from './engine.js';
import { noGrad, withGradMode } from './grad-mode.js';

/** A function under check: tensors in, a tensor or an array of tensors out. */
export type GradcheckFn = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length} (${[...new Set(v.map((e) => (e instanceof Tensor ? 'Tensor' : typeof e)))].join(', ') || 'nothing'})`;
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof v}`;
}

/** The function's result as a list of tensors; anything else is an error saying what came back. */
export function outputsOf(what: string, r: unknown): Tensor[] {
  if (r instanceof Tensor) return [r];
  if (Array.isArray(r) && r.length > 0 && r.every((t) => t instanceof Tensor)) return [...(r as Tensor[])];
  throw new Error(`${what}: the function must return a Tensor or a non-empty array of Tensors, got ${describeValue(r)}`);
}

/** One input of the check, in the dtype the check runs in. */
export interface CheckInput {
  name: string;
  differentiable: boolean;
  dtype: DType;
  shape: number[];
  size: number;
  /** Its values (float64 copies; exact for float32 and int32). */
  host: Float64Array;
  /** The tensor the numerical side evaluates with (perturbed in place, restored after each point). */
  work: Tensor;
}

export interface PreparedInputs {
  inputs: CheckInput[];
  /** The dtype of the differentiable inputs. */
  dtype: 'float32' | 'float64';
  warnings: string[];
}

function typed(dtype: DType, values: ArrayLike<number>): TypedArray {
  return dtype === 'float64' ? Float64Array.from(values) : dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
}

/**
 * Inputs for a check. Differentiable = requiresGrad and float. Mixed float32/float64 inputs are promoted to
 * float64 (float constants too) with a warning: a check never runs float64 inputs silently as float32.
 * Call inside a scope: the working tensors belong to it.
 */
export function prepareInputs(what: string, inputs: readonly Tensor[], names?: readonly string[]): PreparedInputs {
  if (inputs.length === 0) throw new Error(`${what}: no inputs`);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`${what}: input ${i} is ${describeValue(t)}, not a Tensor`);
    t.assertAlive(what);
  });
  const diff = inputs.map((t) => t.requiresGrad && t.dtype !== 'int32');
  if (!diff.some(Boolean)) throw new Error(`${what}: no input requires grad (call .requireGrad() on the inputs to check)`);
  const nameOf = (i: number): string => names?.[i] ?? `x${i}`;
  const floats = inputs.map((t, i) => [t.dtype, i] as const).filter(([d]) => d !== 'int32');
  const has32 = floats.some(([d]) => d === 'float32');
  const has64 = floats.some(([d]) => d === 'float64');
  const warnings: string[] = [];
  const promote = has32 && has64;
  if (promote) {
    const list = floats.filter(([d]) => d === 'float32').map(([, i]) => nameOf(i));
    warnings.push(`${what}: inputs mix float32 (${list.join(', ')}) and float64; the float inputs are promoted to float64 for the check`);
  }
  const dtype: 'float32' | 'float64' = has64 ? 'float64' : 'float32';
  const prepared = inputs.map((t, i): CheckInput => {
    const runDtype: DType = t.dtype === 'int32' ? 'int32' : dtype;
    const host = Float64Array.from(t.data());
    const work = diff[i] || runDtype !== t.dtype ? fromHost(typed(runDtype, host), t.shape, { device: t.device }) : t;
    return { name: nameOf(i), differentiable: diff[i]!, dtype: runDtype, shape: [...t.shape], size: t.size, host, work };
  });
  return { inputs: prepared, dtype, warnings };
}

/** Shape and dtype of each output of the reference forward. */
export interface OutputInfo {
  name: string;
  shape: number[];
  size: number;
  dtype: DType;
  /** Float outputs are checked; int32 outputs (indices) are not differentiable. */
  checked: boolean;
}

function writeValues(t: Tensor, offset: number, values: ArrayLike<number>): void {
  if (t.device.name === 'cpu') {
    const a = t.storage.cpuArray;
    for (let k = 0; k < values.length; k++) a[t.offset + offset + k] = values[k]!;
  } else {
    t.device.write(t.storage.handle, t.dtype, t.offset + offset, typed(t.dtype, values));
  }
}

/** Set element k of a contiguous working tensor. */
function writeElement(t: Tensor, k: number, v: number): void {
  if (t.device.name === 'cpu') t.storage.cpuArray[t.offset + k] = v;
  else writeValues(t, k, [v]);
}

/** A sparse direction over one input: d[idx[m]] = coef[m]. */
export interface Direction {
  idx: Int32Array;
  coef: Float64Array;
}

export function denseDirection(u: Float64Array): Direction {
  return { idx: Int32Array.from({ length: u.length }, (_, k) => k), coef: u };
}

/** Elements of one batched forward: batch rows × (input + output elements) stays under this. */
const BATCH_ELEMENTS = 1 << 20;

export interface PerturberStats {
  /** Points evaluated (each ± side of a direction counts once). */
  points: number;
  /** Forward calls made for them. */
  forwards: number;
  /** Inputs whose points went through batched forwards. */
  vectorized: string[];
}

/**
 * The numerical side. `vectorize`: 'auto' probes each input, true requires batching (an error when the
 * probe fails), false never batches.
 */
export class Perturber {
  readonly outputs: OutputInfo[];
  readonly stats: PerturberStats = { points: 0, forwards: 0, vectorized: [] };
  private readonly batchable = new Map<number, boolean>();

  constructor(
    private readonly what: string,
    private readonly fn: GradcheckFn,
    private readonly p: PreparedInputs,
    private readonly eps: number,
    private readonly vectorize: boolean | 'auto',
    outputNames?: readonly string[],
  ) {
    const ys = this.forward(p.inputs.map((x) => x.work), true);
    this.outputs = ys.shapes.map((shape, o) => ({
      name: outputNames?.[o] ?? (ys.shapes.length === 1 ? 'y' : `y${o}`),
      shape,
      size: sizeOf(shape),
      dtype: ys.dtypes[o]!,
      checked: ys.dtypes[o] !== 'int32',
    }));
  }

  /** Total elements of the checked outputs. */
  get outputSize(): number {
    return this.outputs.reduce((a, o) => a + (o.checked ? o.size : 0), 0);
  }

  /** Runs fn without a graph; each output's values, shape and dtype. */
  private forward(args: Tensor[], first = false): { values: Float64Array[]; shapes: number[][]; dtypes: DType[] } {
    this.stats.forwards++;
    return noGrad(() =>
      scope(() => {
        const ys = outputsOf(this.what, this.fn(...args));
        if (!first && ys.length !== this.outputs.length) {
          throw new Error(`${this.what}: the function returned ${ys.length} outputs, on its first call ${this.outputs.length}`);
        }
        return { values: ys.map((y) => Float64Array.from(y.data())), shapes: ys.map((y) => [...y.shape]), dtypes: ys.map((y) => y.dtype) };
      }),
    );
  }

  /** The checked outputs of one forward at the current working values, concatenated. */
  private evaluate(args: Tensor[]): Float64Array {
    const r = this.forward(args);
    const out = new Float64Array(this.outputSize);
    let off = 0;
    r.values.forEach((v, o) => {
      const info = this.outputs[o]!;
      if (!sameShape(r.shapes[o]!, info.shape)) {
        throw new Error(`${this.what}: output ${info.name} has shape ${shapeStr(r.shapes[o]!)}, on the first call ${shapeStr(info.shape)}`);
      }
      if (!info.checked) return;
      out.set(v, off);
      off += info.size;
    });
    return out;
  }

  /** Checked outputs at the unperturbed point. */
  base(): Float64Array {
    return this.evaluate(this.p.inputs.map((x) => x.work));
  }

  /** One forward with input i replaced by a batch [B, ...shape] of points; each row's checked outputs, or null when the result is not row-wise. */
  private evaluateBatch(i: number, rows: Float64Array, B: number): Float64Array[] | null {
    const x = this.p.inputs[i]!;
    this.stats.forwards++;
    return noGrad(() =>
      scope(() => {
        const batched = fromHost(typed(x.dtype, rows), [B, ...x.shape], { device: x.work.device });
        const args = this.p.inputs.map((xi, k) => (k === i ? batched : xi.work));
        const ys = outputsOf(this.what, this.fn(...args));
        if (ys.length !== this.outputs.length) return null;
        for (let o = 0; o < ys.length; o++) {
          if (!sameShape(ys[o]!.shape, [B, ...this.outputs[o]!.shape])) return null;
        }
        const out = Array.from({ length: B }, () => new Float64Array(this.outputSize));
        let off = 0;
        ys.forEach((y, o) => {
          const info = this.outputs[o]!;
          if (!info.checked) return;
          const v = y.data();
          for (let b = 0; b < B; b++) for (let k = 0; k < info.size; k++) out[b]![off + k] = v[b * info.size + k]!;
          off += info.size;
        });
        return out;
      }),
    );
  }

  /** Batch sizes must differ from every dim of the inputs and outputs, so that no op takes the batch dim for one of them. */
  private batchSizeOk(b: number): boolean {
    if (!this.dims) this.dims = new Set([...this.p.inputs.flatMap((x) => x.shape), ...this.outputs.flatMap((o) => o.shape)]);
    return b >= 2 && !this.dims.has(b);
  }
  private dims: Set<number> | null = null;

  /** Whether input i's points can be batched: a batch of probe points must reproduce separate forwards, row by row. */
  private canBatch(i: number): boolean {
    const known = this.batchable.get(i);
    if (known !== undefined) return known;
    let ok = false;
    const x = this.p.inputs[i]!;
    if (this.vectorize !== false) {
      let B = 2;
      while (!this.batchSizeOk(B)) B++;
      // Points well away from x (0.1 relative), so that a function mixing the batch rows shows it.
      const pts = Array.from({ length: B }, (_, b) => Float64Array.from(x.host, (v, k) => v + 0.1 * (1 + Math.abs(v)) * Math.sin(1 + k + 2.7 * b)));
      let batched: Float64Array[] | null = null;
      try {
        const rows = new Float64Array(B * x.size);
        pts.forEach((pt, b) => rows.set(pt, b * x.size));
        batched = this.evaluateBatch(i, rows, B);
      } catch {
        batched = null;
      }
      if (batched) {
        const tol = x.dtype === 'float32' ? 1e-4 : 1e-10;
        ok = [0, B - 1].every((b) => {
          writeValues(x.work, 0, pts[b]!);
          try {
            const single = this.evaluate(this.p.inputs.map((xi) => xi.work));
            return single.every((v, k) => Math.abs(v - batched![b]![k]!) <= tol * (1 + Math.abs(v)) || (Number.isNaN(v) && Number.isNaN(batched![b]![k]!)));
          } finally {
            writeValues(x.work, 0, x.host);
          }
        });
      }
    }
    if (this.vectorize === true && !ok) {
      throw new Error(`${this.what}: vectorize: true, but the function does not map a leading batch dimension of input ${x.name} row by row`);
    }
    this.batchable.set(i, ok);
    if (ok) this.stats.vectorized.push(x.name);
    return ok;
  }

  /** One unbatched forward at x + s·ε·d. */
  private point(i: number, d: Direction, sign: number): Float64Array {
    const x = this.p.inputs[i]!;
    for (let q = 0; q < d.idx.length; q++) writeElement(x.work, d.idx[q]!, x.host[d.idx[q]!]! + sign * this.eps * d.coef[q]!);
    try {
      return this.evaluate(this.p.inputs.map((xi) => xi.work));
    } finally {
      if (d.idx.length === x.size) writeValues(x.work, 0, x.host);
      else for (let q = 0; q < d.idx.length; q++) writeElement(x.work, d.idx[q]!, x.host[d.idx[q]!]!);
    }
  }

  /**
   * Central differences of the checked outputs along each direction of input i:
   * (f(x + ε·d) − f(x − ε·d)) / 2ε, concatenated over the checked outputs.
   */
  derivatives(i: number, dirs: readonly Direction[]): Float64Array[] {
    const x = this.p.inputs[i]!;
    const eps = this.eps;
    const nOut = this.outputSize;
    this.stats.points += 2 * dirs.length;
    // points[2m] = x + ε d_m, points[2m + 1] = x − ε d_m
    const values: (Float64Array | null)[] = new Array(2 * dirs.length).fill(null);
    if (dirs.length > 0 && this.canBatch(i)) {
      const cap = Math.max(2, Math.floor(BATCH_ELEMENTS / Math.max(1, x.size + nOut)));
      let start = 0;
      while (start < values.length && this.batchable.get(i)) {
        let B = Math.min(cap, values.length - start);
        while (B >= 2 && !this.batchSizeOk(B)) B--;
        if (B < 2) break;
        const rows = new Float64Array(B * x.size);
        for (let r = 0; r < B; r++) {
          const pt = start + r;
          const d = dirs[pt >> 1]!;
          const sign = pt & 1 ? -1 : 1;
          rows.set(x.host, r * x.size);
          for (let q = 0; q < d.idx.length; q++) rows[r * x.size + d.idx[q]!]! += sign * eps * d.coef[q]!;
        }
        let ys: Float64Array[] | null = null;
        try {
          ys = this.evaluateBatch(i, rows, B);
        } catch {
          ys = null;
        }
        // A batch size the function does not take row by row: the remaining points go one by one.
        if (!ys) {
          this.batchable.set(i, false);
          break;
        }
        ys.forEach((y, r) => (values[start + r] = y));
        start += B;
      }
    }
    for (let pt = 0; pt < values.length; pt++) {
      if (!values[pt]) values[pt] = this.point(i, dirs[pt >> 1]!, pt & 1 ? -1 : 1);
    }
    return dirs.map((_, m) => {
      const yp = values[2 * m]!;
      const ym = values[2 * m + 1]!;
      const dy = new Float64Array(nOut);
      for (let j = 0; j < nOut; j++) dy[j] = (yp[j]! - ym[j]!) / (2 * eps);
      return dy;
    });
  }
}

/** An error raised by the backward pass of the function under check (reported as a failed check). */
export class BackwardError extends Error {}

/**
 * The analytic side: leaves (fresh copies of the differentiable inputs, requiring grad), one recorded
 * forward, and vector-Jacobian products through the retained graph.
 */
export class AnalyticGraph {
  readonly leaves: Tensor[];
  readonly outputs: Tensor[];
  /** One gradOutput tensor per checked output that requires grad, rewritten for every product. */
  private readonly seeds: (Tensor | null)[];

  constructor(
    what: string,
    fn: GradcheckFn,
    private readonly p: PreparedInputs,
    private readonly info: readonly OutputInfo[],
  ) {
    this.leaves = p.inputs.map((x) => (x.differentiable ? fromHost(typed(x.dtype, x.host), x.shape, { device: x.work.device }).requireGrad() : x.work));
    this.outputs = withGradMode(true, () => outputsOf(what, fn(...this.leaves)));
    if (this.outputs.length !== info.length) throw new Error(`${what}: the function returned ${this.outputs.length} outputs, on its first call ${info.length}`);
    this.seeds = this.outputs.map((y, o) => (info[o]!.checked && y.requiresGrad ? fromHost(typed(y.dtype, new Float64Array(y.size)), y.shape, { device: y.device }) : null));
  }

  /** Whether any checked output depends on a differentiable input through the graph. */
  get connected(): boolean {
    return this.seeds.some((s) => s !== null);
  }

  /**
   * Gradients (float64 copies) of Σ_o <v_o, y_o> for every input (zeros for constants and unused
   * inputs), v concatenated over the checked outputs as the numerical side lays them out.
   */
  vjp(v: Float64Array): Float64Array[] {
    const zeros = (): Float64Array[] => this.p.inputs.map((x) => new Float64Array(x.size));
    if (!this.connected) return zeros();
    return scope(() => {
      let off = 0;
      const roots: Tensor[] = [];
      const gos: Tensor[] = [];
      this.outputs.forEach((y, o) => {
        const info = this.info[o]!;
        if (!info.checked) return;
        const seed = this.seeds[o];
        if (seed) {
          writeValues(seed, 0, v.subarray(off, off + info.size));
          roots.push(y);
          gos.push(seed);
        }
        off += info.size;
      });
      const diff = this.leaves.filter((_, i) => this.p.inputs[i]!.differentiable);
      let gs: (Tensor | null)[];
      try {
        gs = grad(roots, diff, { gradOutputs: gos, retainGraph: true, allowUnused: true });
      } catch (e) {
        throw new BackwardError(e instanceof Error ? e.message : String(e));
      }
      const out = zeros();
      let d = 0;
      this.p.inputs.forEach((x, i) => {
        if (!x.differentiable) return;
        const g = gs[d++];
        if (!g) return;
        if (g.dtype !== x.dtype || !sameShape(g.shape, x.shape)) {
          throw new BackwardError(`the gradient of ${x.name} is ${g.dtype} ${shapeStr(g.shape)}, the input is ${x.dtype} ${shapeStr(x.shape)}`);
        }
        out[i]!.set(g.data());
      });
      return out;
    });
  }
}
