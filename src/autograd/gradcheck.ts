// Gradient checking: the analytic backward of a function against central differences, in float64.
//
// Full mode builds the whole Jacobian both ways: analytic rows by vector-Jacobian products with one-hot
// gradOutputs through one retained graph, numerical columns by perturbing input elements by ±eps. Columns
// whose analytic rows never meet (elementwise ops, convolutions, pooling: sparse Jacobians) are perturbed
// together, each with its own random weight, and a group whose outputs do not match is re-run element by
// element, so grouping never hides or misplaces a mismatch. Fast mode compares random projections
// vᵀ J_i u_i per input i (JAX's check_vjp, one direction per argument), and on a failure re-checks the
// failing input's slice in full (or its projected columns vᵀ J_i when the slice is too large) to name
// the worst element.
//
// Structural checks (PyTorch's), on by default: the backward is repeatable (two passes with one
// gradOutput differ by at most nondetTol) and linear in the gradOutput (a zero gradOutput gives zero
// gradients; -2·v gives -2 times the gradients of v); a gradient whose dtype, shape or device differs
// from its input's is the engine's error, reported as a failed check. A failure reports the worst element
// and the mismatches, naming the output and the input, like PyTorch's gradcheck message.

import { scope } from '../tensor/memory.js';
import { Rng } from '../tensor/random.js';
import { shapeStr } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { mul } from '../tensor/ops/binary.js';
import { fromHost } from '../tensor/ops/creation.js';
import { sum } from '../tensor/ops/reduce.js';
import { grad } from './engine.js';
import { withGradMode } from './grad-mode.js';
import {
  AnalyticGraph,
  BackwardError,
  denseDirection,
  Perturber,
  prepareInputs,
  type Direction,
  type GradcheckFn,
  type PreparedInputs,
} from './gradcheck-eval.js';

export type { GradcheckFn } from './gradcheck-eval.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6 for float64, 1e-3 for float32). */
  eps?: number;
  /** Absolute tolerance (default 1e-5; float32 1e-2). */
  atol?: number;
  /** Relative tolerance (default 1e-3; float32 1e-2). */
  rtol?: number;
  /** 'full' (whole Jacobian) or 'fast' (random projections per input). Default: full up to `fullLimit` Jacobian entries. */
  mode?: 'full' | 'fast';
  /** Jacobian entries (outputs × differentiable input elements) up to which the default mode is full, and up to which fast mode re-checks a failing input's slice in full (65536). */
  fullLimit?: number;
  /** Random projections per input in fast mode, and tangents per input in 'fwd' mode (default 4). */
  projections?: number;
  /** Seed of the random projections, gradOutputs and group weights (default 0). */
  seed?: number;
  /** Names of the inputs in the report (default x0, x1, ...). */
  names?: readonly string[];
  /** Names of the outputs in the report (default y for one output, y0, y1, ... for several). */
  outputNames?: readonly string[];
  /** Mismatches listed in the report (default 10). */
  maxReport?: number;
  /** Throw an Error carrying the result when the check fails (default true; PyTorch's raise_exception). */
  throwOnFailure?: boolean;
  /** How far two backward passes with the same gradOutput may differ, elementwise (default 0; PyTorch's nondet_tol). */
  nondetTol?: number;
  /** Check that the backward is linear in the gradOutput: zero in, zero out; -2·v in, -2 times out (default true). */
  checkGradOutputScaling?: boolean;
  /** 'rev': vector-Jacobian products (the backward, default); 'fwd': Jacobian-vector products J·u (through a recorded backward). */
  modes?: readonly ('rev' | 'fwd')[];
  /** Batch the perturbed points through the function along a new leading dim: 'auto' (probe each input, default), true, false. */
  vectorize?: boolean | 'auto';
  /** Perturb Jacobian columns with disjoint analytic support together (default true). */
  groupColumns?: boolean;
}

export interface Mismatch {
  /** 'jacobian': one entry; 'projection': vᵀ J_i u_i of one input; 'column': (vᵀ J_i)_k; 'jvp': (J_i u)_j. */
  kind: 'jacobian' | 'projection' | 'column' | 'jvp';
  /** Output name and flat index in that output (-1 where projected over the outputs). */
  output: string;
  outputIndex: number;
  /** Input name and flat index of the element (-1 where projected over the input). */
  input: string;
  inputIndex: number;
  /** Projection number (-1 for a Jacobian entry). */
  projection: number;
  numerical: number;
  analytical: number;
  absError: number;
  relError: number;
}

export interface StructuralFailure {
  /**
   * 'backward': the backward raised (among others the engine's error for a rule whose gradient has another
   * dtype, shape or device than its input: PyTorch's check_grad_dtypes, always on); 'nondeterminism',
   * 'scaling', 'zero-grad-output': the structural checks; 'fwd': J·u could not be formed.
   */
  check: 'backward' | 'nondeterminism' | 'scaling' | 'zero-grad-output' | 'fwd';
  message: string;
}

export interface GradcheckResult {
  ok: boolean;
  mode: 'full' | 'fast';
  dtype: 'float32' | 'float64';
  maxAbsError: number;
  /** Largest relative error over the entries whose |numerical| exceeds atol. */
  maxRelError: number;
  /** Entries compared. */
  checked: number;
  mismatches: Mismatch[];
  worst: Mismatch | null;
  /** Fast mode: the failing input's slice re-checked element by element (empty when it passed or was too large). */
  located: Mismatch[];
  failures: StructuralFailure[];
  warnings: string[];
  /** Work done: numerical points, forward calls (batched ones count once), backward passes, batched inputs, column groups. */
  stats: { points: number; forwards: number; backwards: number; vectorized: string[]; groups: number };
  report: string;
}

/** Defaults by dtype (float64 is what the check is meant for; float32 gets a coarse check). */
export const GRADCHECK_DEFAULTS = {
  float64: { eps: 1e-6, atol: 1e-5, rtol: 1e-3 },
  float32: { eps: 1e-3, atol: 1e-2, rtol: 1e-2 },
} as const;

const FULL_LIMIT = 1 << 16;
/** Fast mode locates a failing input's worst element by projected columns up to this many elements. */
const LOCATE_LIMIT = 1 << 16;
/** Column groups kept open at once (bounds the colouring's memory to this many output masks). */
const MAX_GROUPS = 256;

function fmt(x: number): string {
  return x.toExponential(6);
}

/** The comparison of numerical and analytical values: counts, maxima, worst excess over tolerance, mismatches. */
class Tally {
  mismatches: Mismatch[] = [];
  maxAbs = 0;
  maxRel = 0;
  checked = 0;
  worst: Mismatch | null = null;
  private worstExcess = -Infinity;
  constructor(private readonly atol: number, private readonly rtol: number) {}

  bad(n: number, a: number): boolean {
    return !(Math.abs(a - n) <= this.atol + this.rtol * Math.abs(n));
  }

  /**
   * Records one comparison; builds the mismatch (from `where`, called only then) when it is one.
   * Returns true for a mismatch.
   */
  compare(numerical: number, analytical: number, where: () => Omit<Mismatch, 'numerical' | 'analytical' | 'absError' | 'relError'>): boolean {
    this.checked++;
    const absError = Math.abs(numerical - analytical);
    const n = Math.abs(numerical);
    // once NaN, a maximum stays NaN (x > NaN is false)
    if (Number.isNaN(absError) || absError > this.maxAbs) this.maxAbs = absError;
    if (n > this.atol) {
      const rel = absError / n;
      if (Number.isNaN(rel) || rel > this.maxRel) this.maxRel = rel;
    }
    if (absError <= this.atol + this.rtol * n) return false;
    const m: Mismatch = { ...where(), numerical, analytical, absError, relError: n > 0 ? absError / n : absError > 0 ? Infinity : 0 };
    this.mismatches.push(m);
    const excess = Number.isNaN(absError) ? Infinity : absError - (this.atol + this.rtol * n);
    if (excess > this.worstExcess) {
      this.worstExcess = excess;
      this.worst = m;
    }
    return true;
  }
}

/** Where flat index j of the concatenated checked outputs lies: [output name, index in it]. */
function outputAt(names: readonly string[], offsets: readonly number[], j: number): [string, number] {
  let o = 0;
  while (o + 1 < offsets.length && offsets[o + 1]! <= j) o++;
  return [names[o]!, j - offsets[o]!];
}

interface Context {
  what: string;
  p: PreparedInputs;
  perturber: Perturber;
  graph: AnalyticGraph;
  tally: Tally;
  rng: Rng;
  eps: number;
  atol: number;
  rtol: number;
  nOut: number;
  outNames: string[];
  outOffsets: number[];
  backwards: number;
  groups: number;
  groupColumns: boolean;
  fullLimit: number;
}

function vjp(c: Context, v: Float64Array): Float64Array[] {
  c.backwards++;
  return c.graph.vjp(v);
}

/** Analytic Jacobian rows of input i (or of every input): J_i[j * n_i + k] = ∂y_j/∂x_i[k]. */
function analyticRows(c: Context, only: number | null): (Float64Array | null)[] {
  const rows = c.p.inputs.map((x, i) => (x.differentiable && (only === null || only === i) ? new Float64Array(c.nOut * x.size) : null));
  const v = new Float64Array(c.nOut);
  for (let j = 0; j < c.nOut; j++) {
    v.fill(0);
    v[j] = 1;
    const g = vjp(c, v);
    rows.forEach((r, i) => r?.set(g[i]!, j * c.p.inputs[i]!.size));
  }
  return rows;
}

/**
 * Groups of columns of input i whose analytic supports are disjoint (greedy colouring, at most MAX_GROUPS
 * groups; the remaining columns go alone), each member with a random weight in [0.5, 1.5).
 */
function columnGroups(c: Context, J: Float64Array, n: number): { members: number[]; coef: number[] }[] {
  const nOut = c.nOut;
  const support = (k: number): number[] => {
    const s: number[] = [];
    for (let j = 0; j < nOut; j++) if (J[j * n + k] !== 0) s.push(j);
    return s;
  };
  if (!c.groupColumns) return Array.from({ length: n }, (_, k) => ({ members: [k], coef: [1] }));
  const groups: { members: number[]; coef: number[]; used: Uint8Array | null }[] = [];
  for (let k = 0; k < n; k++) {
    const s = support(k);
    let placed = false;
    for (const g of groups) {
      if (!g.used || !s.every((j) => g.used![j] === 0)) continue;
      for (const j of s) g.used[j] = 1;
      g.members.push(k);
      placed = true;
      break;
    }
    if (placed) continue;
    // a dense Jacobian (every column so far alone): no grouping to be had, the rest go alone too
    if (groups.length === k && k >= MAX_GROUPS) {
      for (let r = k; r < n; r++) groups.push({ members: [r], coef: [], used: null });
      break;
    }
    const open = groups.filter((g) => g.used).length;
    const used = open < MAX_GROUPS ? new Uint8Array(nOut) : null;
    if (used) for (const j of s) used[j] = 1;
    groups.push({ members: [k], coef: [], used });
  }
  return groups.map((g) => ({
    members: g.members,
    coef: g.members.length === 1 ? [1] : g.members.map(() => 0.5 + c.rng.uniform()),
  }));
}

/** Numerical columns of input i compared with the analytic rows J (grouped where the supports allow). */
function compareColumns(c: Context, tally: Tally, i: number, J: Float64Array): void {
  const x = c.p.inputs[i]!;
  const n = x.size;
  const nOut = c.nOut;
  const groups = columnGroups(c, J, n);
  c.groups += groups.length;
  const dirs: Direction[] = groups.map((g) => ({ idx: Int32Array.from(g.members), coef: Float64Array.from(g.coef) }));
  const dys = c.perturber.derivatives(i, dirs);
  const column = (k: number, numerical: Float64Array): void => {
    for (let j = 0; j < nOut; j++) {
      tally.compare(numerical[j]!, J[j * n + k]!, () => {
        const [output, outputIndex] = outputAt(c.outNames, c.outOffsets, j);
        return { kind: 'jacobian', output, outputIndex, input: x.name, inputIndex: k, projection: -1 };
      });
    }
  };
  const rerun: number[] = [];
  const col = new Float64Array(nOut);
  const owner = new Int32Array(nOut);
  groups.forEach((g, gi) => {
    const dy = dys[gi]!;
    if (g.members.length === 1) {
      column(g.members[0]!, dy);
      return;
    }
    // owner[j]: the member whose analytic column is non-zero at output j (at most one by construction)
    owner.fill(-1);
    g.members.forEach((k, m) => {
      for (let j = 0; j < nOut; j++) if (J[j * n + k] !== 0) owner[j] = m;
    });
    let clean = true;
    for (let j = 0; j < nOut && clean; j++) {
      const m = owner[j]!;
      clean = m < 0 ? !tally.bad(dy[j]!, 0) : !tally.bad(dy[j]! / g.coef[m]!, J[j * n + g.members[m]!]!);
    }
    if (!clean) {
      rerun.push(...g.members);
      return;
    }
    g.members.forEach((k, m) => {
      for (let j = 0; j < nOut; j++) col[j] = owner[j] === m ? dy[j]! / g.coef[m]! : 0;
      column(k, col);
    });
  });
  if (rerun.length) {
    const single = c.perturber.derivatives(i, rerun.map((k) => ({ idx: Int32Array.of(k), coef: Float64Array.of(1) })));
    rerun.forEach((k, r) => column(k, single[r]!));
  }
}

function normals(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

function fullMode(c: Context): void {
  const rows = analyticRows(c, null);
  c.p.inputs.forEach((x, i) => {
    if (x.differentiable) compareColumns(c, c.tally, i, rows[i]!);
  });
}

/** Fast mode; returns the located mismatches of the first failing input. */
function fastMode(c: Context, projections: number, us: Float64Array[][], tangentDys: Float64Array[][] | null): { located: Mismatch[]; note: string } {
  const vs: Float64Array[] = [];
  const gs: Float64Array[][] = [];
  for (let q = 0; q < projections; q++) {
    vs.push(normals(c.rng, c.nOut));
    gs.push(vjp(c, vs[q]!));
  }
  let failing = -1;
  let failingQ = -1;
  c.p.inputs.forEach((x, i) => {
    if (!x.differentiable) return;
    const dys = tangentDys?.[i] ?? c.perturber.derivatives(i, us[i]!.map(denseDirection));
    for (let q = 0; q < projections; q++) {
      const bad = c.tally.compare(dot(vs[q]!, dys[q]!), dot(gs[q]![i]!, us[i]![q]!), () => ({ kind: 'projection', output: '(all)', outputIndex: -1, input: x.name, inputIndex: -1, projection: q }));
      if (bad && failing < 0) [failing, failingQ] = [i, q];
    }
  });
  if (failing < 0) return { located: [], note: '' };
  const x = c.p.inputs[failing]!;
  const located = new Tally(c.atol, c.rtol);
  if (c.nOut * x.size <= c.fullLimit) {
    const J = analyticRows(c, failing)[failing]!;
    compareColumns(c, located, failing, J);
    return { located: sortMismatches(located.mismatches), note: `input ${x.name} re-checked in full (${c.nOut * x.size} entries)` };
  }
  if (x.size <= LOCATE_LIMIT) {
    const v = vs[failingQ]!;
    const g = gs[failingQ]![failing]!;
    const dys = c.perturber.derivatives(failing, Array.from({ length: x.size }, (_, k) => ({ idx: Int32Array.of(k), coef: Float64Array.of(1) })));
    for (let k = 0; k < x.size; k++) {
      located.compare(dot(v, dys[k]!), g[k]!, () => ({ kind: 'column', output: '(vᵀ·)', outputIndex: -1, input: x.name, inputIndex: k, projection: failingQ }));
    }
    return { located: sortMismatches(located.mismatches), note: `input ${x.name} re-checked by projected columns vᵀJ (projection ${failingQ}, ${x.size} elements)` };
  }
  return { located: [], note: `input ${x.name} (${x.size} elements) is too large to re-check element by element` };
}

function sortMismatches(ms: Mismatch[]): Mismatch[] {
  return [...ms].sort((a, b) => (Number.isNaN(b.absError) ? 1 : 0) - (Number.isNaN(a.absError) ? 1 : 0) || b.absError - a.absError);
}

/** Structural checks of the backward (each failure with its message); throws BackwardError through. */
function structuralChecks(c: Context, opts: GradcheckOptions, failures: StructuralFailure[]): void {
  const v = normals(c.rng, c.nOut);
  const g1 = vjp(c, v);
  const names = c.p.inputs.map((x) => x.name);
  const worstDiff = (a: Float64Array[], b: Float64Array[], scale: number): { d: number; i: number; k: number; a: number; b: number } => {
    let best = { d: -1, i: -1, k: -1, a: 0, b: 0 };
    a.forEach((ai, i) => {
      for (let k = 0; k < ai.length; k++) {
        const bv = scale * b[i]![k]!;
        if (Number.isNaN(ai[k]!) && Number.isNaN(bv)) continue;
        const d = Math.abs(ai[k]! - bv);
        if (d > best.d || Number.isNaN(d)) best = { d: Number.isNaN(d) ? Infinity : d, i, k, a: ai[k]!, b: bv };
      }
    });
    return best;
  };
  const nondetTol = opts.nondetTol ?? 0;
  const g2 = vjp(c, v);
  const nd = worstDiff(g2, g1, 1);
  if (nd.d > nondetTol) {
    failures.push({
      check: 'nondeterminism',
      message: `backward is not repeatable: two passes with the same gradOutput differ by ${fmt(nd.d)} at ${names[nd.i]}[${nd.k}] (${fmt(nd.b)} then ${fmt(nd.a)}); nondetTol is ${nondetTol}`,
    });
  }
  if (opts.checkGradOutputScaling ?? true) {
    const g0 = vjp(c, new Float64Array(c.nOut));
    const z = worstDiff(g0, g1, 0);
    if (z.d > c.atol) {
      failures.push({ check: 'zero-grad-output', message: `backward is not linear in the gradOutput: a zero gradOutput gives ${fmt(z.a)} at ${names[z.i]}[${z.k}] (expected 0, atol ${c.atol})` });
    }
    const gs = vjp(c, v.map((e) => -2 * e));
    let worst = { excess: 0, i: -1, k: -1, a: 0, b: 0 };
    gs.forEach((gi, i) => {
      for (let k = 0; k < gi.length; k++) {
        const want = -2 * g1[i]![k]!;
        if (Number.isNaN(gi[k]!) && Number.isNaN(want)) continue;
        const excess = Math.abs(gi[k]! - want) - (c.atol + c.rtol * Math.abs(want));
        if (excess > worst.excess || Number.isNaN(excess)) worst = { excess: Number.isNaN(excess) ? Infinity : excess, i, k, a: gi[k]!, b: want };
      }
    });
    if (worst.i >= 0) {
      failures.push({
        check: 'scaling',
        message: `backward does not scale with the gradOutput: gradOutput -2·v gives ${fmt(worst.a)} at ${names[worst.i]}[${worst.k}], -2 times the gradient of v is ${fmt(worst.b)}`,
      });
    }
  }
}

/** 'fwd' mode: J_i·u by differentiating the (recorded) vjp with respect to its gradOutput, against the central differences. */
function fwdMode(c: Context, us: Float64Array[][], dys: Float64Array[][], failures: StructuralFailure[]): void {
  const { graph } = c;
  const ys = graph.outputs.filter((y, o) => c.perturber.outputs[o]!.checked);
  c.p.inputs.forEach((x, i) => {
    if (!x.differentiable) return;
    us[i]!.forEach((u, q) => {
      let jv: Float64Array;
      try {
        jv = scope(() =>
          withGradMode(true, () => {
            const live = ys.filter((y) => y.requiresGrad);
            const out = new Float64Array(c.nOut);
            if (live.length === 0) return out;
            const ws = live.map((y) => fromHost(y.dtype === 'float64' ? normals(c.rng, y.size) : Float32Array.from(normals(c.rng, y.size)), y.shape, { device: y.device }).requireGrad());
            const [gi] = grad(live, [graph.leaves[i]!], { gradOutputs: ws, createGraph: true, retainGraph: true, allowUnused: true });
            if (!gi) return out;
            const uT = fromHost(x.dtype === 'float64' ? Float64Array.from(u) : Float32Array.from(u), x.shape, { device: gi.device });
            const s = sum(mul(gi, uT));
            if (!s.requiresGrad) throw new Error(`the gradient of ${x.name} does not depend on the gradOutput (the backward was not recorded)`);
            const jws = grad(s, ws, { allowUnused: true });
            let off = 0;
            let w = 0;
            ys.forEach((y) => {
              if (y.requiresGrad) {
                const jw = jws[w++];
                if (jw) out.set(jw.data(), off);
              }
              off += y.size;
            });
            return out;
          }),
        );
        c.backwards += 2;
      } catch (e) {
        failures.push({ check: 'fwd', message: `fwd mode needs a backward differentiable in its gradOutput (createGraph): ${e instanceof Error ? e.message : String(e)}` });
        return;
      }
      const dy = dys[i]![q]!;
      for (let j = 0; j < c.nOut; j++) {
        c.tally.compare(dy[j]!, jv[j]!, () => {
          const [output, outputIndex] = outputAt(c.outNames, c.outOffsets, j);
          return { kind: 'jvp', output, outputIndex, input: x.name, inputIndex: -1, projection: q };
        });
      }
    });
  });
}

function mismatchLine(m: Mismatch): string {
  const where =
    m.kind === 'jacobian'
      ? `${m.output}[${m.outputIndex}], ${m.input}[${m.inputIndex}]`
      : m.kind === 'column'
        ? `vᵀ${m.input}[${m.inputIndex}]`
        : m.kind === 'jvp'
          ? `${m.output}[${m.outputIndex}], J·u ${m.input} #${m.projection}`
          : `${m.input} projection ${m.projection}`;
  return `  ${where}: ${fmt(m.numerical)} vs ${fmt(m.analytical)}, ${fmt(m.absError)}, ${fmt(m.relError)}`;
}

function describeWorst(m: Mismatch): string {
  const vals = `numerical ${fmt(m.numerical)}, analytical ${fmt(m.analytical)}, abs error ${fmt(m.absError)}, rel error ${fmt(m.relError)}`;
  switch (m.kind) {
    case 'jacobian':
      return `output ${m.output} index ${m.outputIndex}, input ${m.input} index ${m.inputIndex}: ${vals}`;
    case 'projection':
      return `input ${m.input}, projection ${m.projection}: numerical vᵀJu ${fmt(m.numerical)}, analytical ${fmt(m.analytical)}, abs error ${fmt(m.absError)}, rel error ${fmt(m.relError)}`;
    case 'column':
      return `input ${m.input} index ${m.inputIndex} (column vᵀJ of projection ${m.projection}): ${vals}`;
    case 'jvp':
      return `output ${m.output} index ${m.outputIndex}, J·u of input ${m.input} (tangent ${m.projection}): ${vals}`;
  }
}

/**
 * Check the gradients of `fn` at `inputs` (those with requiresGrad are differentiated; the others are
 * constants). `fn` may return one tensor or an array of them (int32 outputs are not checked).
 */
export function gradcheck(fn: GradcheckFn, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  const what = 'gradcheck';
  const result = scope(() => {
    const p = prepareInputs(what, inputs, options.names);
    const defaults = GRADCHECK_DEFAULTS[p.dtype];
    const eps = options.eps ?? defaults.eps;
    const atol = options.atol ?? defaults.atol;
    const rtol = options.rtol ?? defaults.rtol;
    const perturber = new Perturber(what, fn, p, eps, options.vectorize ?? 'auto', options.outputNames);
    const graph = new AnalyticGraph(what, fn, p, perturber.outputs);
    const checkedOuts = perturber.outputs.filter((o) => o.checked);
    const outOffsets: number[] = [];
    checkedOuts.reduce((off, o) => (outOffsets.push(off), off + o.size), 0);
    const nOut = perturber.outputSize;
    const nIn = p.inputs.reduce((a, x) => a + (x.differentiable ? x.size : 0), 0);
    const mode = options.mode ?? (nOut * nIn <= (options.fullLimit ?? FULL_LIMIT) ? 'full' : 'fast');
    const c: Context = {
      what, p, perturber, graph, tally: new Tally(atol, rtol), rng: new Rng(options.seed ?? 0), eps, atol, rtol, nOut,
      outNames: checkedOuts.map((o) => o.name), outOffsets, backwards: 0, groups: 0, groupColumns: options.groupColumns ?? true,
      fullLimit: options.fullLimit ?? FULL_LIMIT,
    };
    const failures: StructuralFailure[] = [];
    const modes = options.modes ?? ['rev'];
    const projections = options.projections ?? 4;
    let located: Mismatch[] = [];
    let locateNote = '';
    try {
      if (graph.connected) structuralChecks(c, options, failures);
      // tangents per input, shared by fast mode and 'fwd' mode (one set of central differences)
      const needTangents = mode === 'fast' || modes.includes('fwd');
      const us = p.inputs.map((x) => (x.differentiable && needTangents ? Array.from({ length: projections }, () => normals(c.rng, x.size)) : []));
      const dys = needTangents ? p.inputs.map((x, i) => (x.differentiable ? perturber.derivatives(i, us[i]!.map(denseDirection)) : [])) : null;
      if (modes.includes('rev')) {
        if (mode === 'full') fullMode(c);
        else ({ located, note: locateNote } = fastMode(c, projections, us, dys));
      }
      if (modes.includes('fwd')) fwdMode(c, us, dys!, failures);
    } catch (e) {
      if (!(e instanceof BackwardError)) throw e;
      failures.push({ check: 'backward', message: `the backward pass raised: ${e.message}` });
    }
    const t = c.tally;
    const ok = t.mismatches.length === 0 && failures.length === 0;
    const lines: string[] = [];
    lines.push(
      `${what} (${mode}${modes.includes('fwd') ? `, modes ${modes.join('+')}` : ''}, ${p.dtype}, eps=${eps}, atol=${atol}, rtol=${rtol}): ${ok ? 'passed' : 'FAILED'}; ` +
        `${t.checked} entries, ${t.mismatches.length} mismatches, max abs error ${fmt(t.maxAbs)}, max rel error ${fmt(t.maxRel)}`,
    );
    const outDesc = perturber.outputs.map((o) => `${o.name} ${shapeStr(o.shape)}${o.checked ? '' : ` (${o.dtype}, not checked)`}`).join(', ');
    lines.push(`inputs: ${p.inputs.map((x) => `${x.name} ${shapeStr(x.shape)}${x.differentiable ? '' : ' (constant)'}`).join(', ')}; outputs: ${outDesc}`);
    for (const w of p.warnings) lines.push(`warning: ${w}`);
    for (const f of failures) lines.push(`${f.check}: ${f.message}`);
    const maxReport = options.maxReport ?? 10;
    if (t.worst) {
      lines.push(`worst: ${describeWorst(t.worst)}`);
      lines.push(mode === 'full' ? 'mismatches (output[index], input[index]: numerical vs analytical, abs, rel):' : 'mismatches (numerical vs analytical, abs, rel):');
      for (const m of sortMismatches(t.mismatches).slice(0, maxReport)) lines.push(mismatchLine(m));
      if (t.mismatches.length > maxReport) lines.push(`  ... and ${t.mismatches.length - maxReport} more`);
    }
    if (locateNote) lines.push(`located: ${locateNote}${located.length ? '' : ': every element within tolerance (the error is spread over many elements)'}`);
    if (located.length) {
      lines.push(`located worst: ${describeWorst(located[0]!)}`);
      for (const m of located.slice(0, maxReport)) lines.push(mismatchLine(m));
      if (located.length > maxReport) lines.push(`  ... and ${located.length - maxReport} more`);
    }
    const stats = { ...perturber.stats, vectorized: [...perturber.stats.vectorized], backwards: c.backwards, groups: c.groups };
    const r: GradcheckResult = {
      ok, mode, dtype: p.dtype, maxAbsError: t.maxAbs, maxRelError: t.maxRel, checked: t.checked, mismatches: t.mismatches,
      worst: t.worst, located, failures, warnings: p.warnings, stats, report: lines.join('\n'),
    };
    return r;
  });
  for (const w of result.warnings) process.emitWarning(w, 'TsgradGradcheckWarning');
  if (!result.ok && (options.throwOnFailure ?? true)) {
    const err = new Error(result.report) as Error & { result?: GradcheckResult };
    err.result = result;
    throw err;
  }
  return result;
}

