// Gradient checking: the analytic backward of a function against float64 central differences.
//
// Full mode builds the whole Jacobian both ways: analytic rows by backward() with one-hot upstream
// gradients, numerical columns by perturbing each input element by ±eps. Fast mode compares random
// projections vᵀJu (one backward and two forward passes per projection), for tensors too large for the
// full Jacobian. A failure reports the worst element and every mismatch (up to a limit), like PyTorch's
// gradcheck message, so a wrong backward rule points at the element that disagrees.

import { fromHost } from '../tensor/ops/creation.js';
import { scope } from '../tensor/memory.js';
import { Rng } from '../tensor/random.js';
import { shapeStr } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from './grad-mode.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** 'full' (whole Jacobian) or 'fast' (random projections). Default: full up to 4096 Jacobian entries... see below. */
  mode?: 'full' | 'fast';
  /** Projections in fast mode (default 4). */
  projections?: number;
  /** Seed of the projection vectors (default 0). */
  seed?: number;
  /** Names of the inputs in the report (default x0, x1, ...). */
  names?: string[];
  /** Mismatches listed in the report (default 10). */
  maxReport?: number;
  /** Throw an Error carrying the report when the check fails (default true). */
  throwOnFailure?: boolean;
}

export interface Mismatch {
  /** Input name and flat index of the element (full mode) or projection number (fast mode). */
  input: string;
  inputIndex: number;
  /** Flat output index (full mode), -1 for a projection. */
  outputIndex: number;
  numerical: number;
  analytical: number;
  absError: number;
  relError: number;
}

export interface GradcheckResult {
  ok: boolean;
  mode: 'full' | 'fast';
  maxAbsError: number;
  maxRelError: number;
  /** Entries compared. */
  checked: number;
  mismatches: Mismatch[];
  worst: Mismatch | null;
  report: string;
}

type Fn = (...inputs: Tensor[]) => Tensor;

/** Defaults by dtype (float64 is what the check is meant for; float32 gets a coarse check). */
export const GRADCHECK_DEFAULTS = {
  float64: { eps: 1e-6, atol: 1e-5, rtol: 1e-3 },
  float32: { eps: 1e-3, atol: 1e-2, rtol: 1e-2 },
} as const;

interface Prepared {
  hosts: Float64Array[];
  shapes: number[][];
  differentiable: boolean[];
  names: string[];
}

function prepare(inputs: readonly Tensor[], names?: string[]): Prepared {
  return {
    hosts: inputs.map((t) => Float64Array.from(t.data())),
    shapes: inputs.map((t) => [...t.shape]),
    differentiable: inputs.map((t) => t.requiresGrad && t.dtype !== 'int32'),
    names: inputs.map((_, i) => names?.[i] ?? `x${i}`),
  };
}

/** Evaluate f at host values (no graph), returning the output as float64. */
function evaluate(fn: Fn, inputs: readonly Tensor[], p: Prepared, dtype: 'float32' | 'float64'): Float64Array {
  return noGrad(() =>
    scope(() => {
      const xs = inputs.map((t, i) =>
        p.differentiable[i] ? fromHost(dtype === 'float64' ? p.hosts[i]! : Float32Array.from(p.hosts[i]!), p.shapes[i]!, { device: t.device }) : t,
      );
      const y = fn(...xs);
      return Float64Array.from(y.data());
    }),
  );
}

/** Analytic vector-Jacobian product: grads of sum(v * f(x)) for each input (zeros where none flows). */
function vjp(fn: Fn, inputs: readonly Tensor[], p: Prepared, v: Float64Array, dtype: 'float32' | 'float64'): Float64Array[] {
  return scope(() => {
    const xs = inputs.map((t, i) => {
      if (!p.differentiable[i]) return t;
      const arr = dtype === 'float64' ? Float64Array.from(p.hosts[i]!) : Float32Array.from(p.hosts[i]!);
      return fromHost(arr, p.shapes[i]!, { device: t.device }).requireGrad();
    });
    const y = fn(...xs);
    if (!y.requiresGrad) return xs.map((x) => new Float64Array(x.size));
    const g = fromHost(dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), [...y.shape], { device: y.device });
    y.backward(g);
    return xs.map((x, i) => {
      const r = p.differentiable[i] && x.grad ? Float64Array.from(x.grad.data()) : new Float64Array(x.size);
      x.zeroGrad();
      return r;
    });
  });
}

function bad(n: number, a: number, atol: number, rtol: number): boolean {
  return !(Math.abs(a - n) <= atol + rtol * Math.abs(n));
}

function fmt(x: number): string {
  return x.toExponential(6);
}

export function gradcheck(fn: Fn, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  if (inputs.length === 0) throw new Error('gradcheck: no inputs');
  const floatDtypes = inputs.filter((t) => t.requiresGrad).map((t) => t.dtype);
  if (floatDtypes.length === 0) throw new Error('gradcheck: no input requires grad (call .requireGrad() on the inputs to check)');
  const dtype = floatDtypes.includes('float32') ? 'float32' : 'float64';
  const defaults = GRADCHECK_DEFAULTS[dtype];
  const eps = options.eps ?? defaults.eps;
  const atol = options.atol ?? defaults.atol;
  const rtol = options.rtol ?? defaults.rtol;
  const maxReport = options.maxReport ?? 10;
  const p = prepare(inputs, options.names);

  const y0 = evaluate(fn, inputs, p, dtype);
  const nOut = y0.length;
  const nIn = p.hosts.reduce((a, h, i) => a + (p.differentiable[i] ? h.length : 0), 0);
  const mode = options.mode ?? (nOut * nIn <= 1 << 16 ? 'full' : 'fast');

  const mismatches: Mismatch[] = [];
  let maxAbs = 0;
  let maxRel = 0;
  let checked = 0;
  let worst: Mismatch | null = null;
  let worstExcess = -Infinity;
  const consider = (m: Mismatch): void => {
    checked++;
    maxAbs = Math.max(maxAbs, m.absError);
    maxRel = Math.max(maxRel, m.relError);
    if (bad(m.numerical, m.analytical, atol, rtol) || Number.isNaN(m.analytical) || Number.isNaN(m.numerical)) {
      mismatches.push(m);
      const excess = Number.isNaN(m.absError) ? Infinity : m.absError - (atol + rtol * Math.abs(m.numerical));
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = m;
      }
    }
  };
  const entry = (input: string, inputIndex: number, outputIndex: number, numerical: number, analytical: number): Mismatch => {
    const absError = Math.abs(numerical - analytical);
    return { input, inputIndex, outputIndex, numerical, analytical, absError, relError: absError / Math.max(Math.abs(numerical), 1e-300) };
  };

  if (mode === 'full') {
    // Analytic Jacobian rows J[j, :] by backward with one-hot v.
    const rows: Float64Array[][] = [];
    const v = new Float64Array(nOut);
    for (let j = 0; j < nOut; j++) {
      v.fill(0);
      v[j] = 1;
      rows.push(vjp(fn, inputs, p, v, dtype));
    }
    for (let i = 0; i < inputs.length; i++) {
      if (!p.differentiable[i]) continue;
      const h = p.hosts[i]!;
      for (let k = 0; k < h.length; k++) {
        const orig = h[k]!;
        h[k] = orig + eps;
        const yp = evaluate(fn, inputs, p, dtype);
        h[k] = orig - eps;
        const ym = evaluate(fn, inputs, p, dtype);
        h[k] = orig;
        for (let j = 0; j < nOut; j++) {
          consider(entry(p.names[i]!, k, j, (yp[j]! - ym[j]!) / (2 * eps), rows[j]![i]![k]!));
        }
      }
    }
  } else {
    const rng = new Rng(options.seed ?? 0);
    const projections = options.projections ?? 4;
    for (let q = 0; q < projections; q++) {
      const v = Float64Array.from({ length: nOut }, () => rng.normal());
      const us = p.hosts.map((h, i) => (p.differentiable[i] ? Float64Array.from({ length: h.length }, () => rng.normal()) : null));
      const grads = vjp(fn, inputs, p, v, dtype);
      let analytical = 0;
      us.forEach((u, i) => {
        if (u) for (let k = 0; k < u.length; k++) analytical += grads[i]![k]! * u[k]!;
      });
      const shift = (sign: number): Float64Array => {
        const saved = p.hosts.map((h) => Float64Array.from(h));
        us.forEach((u, i) => {
          if (u) for (let k = 0; k < u.length; k++) p.hosts[i]![k]! += sign * eps * u[k]!;
        });
        const y = evaluate(fn, inputs, p, dtype);
        saved.forEach((s, i) => p.hosts[i]!.set(s));
        return y;
      };
      const yp = shift(+1);
      const ym = shift(-1);
      let numerical = 0;
      for (let j = 0; j < nOut; j++) numerical += v[j]! * (yp[j]! - ym[j]!) / (2 * eps);
      consider(entry(`projection`, q, -1, numerical, analytical));
    }
  }

  const ok = mismatches.length === 0;
  const lines: string[] = [];
  lines.push(
    `gradcheck (${mode}, ${dtype}, eps=${eps}, atol=${atol}, rtol=${rtol}): ${ok ? 'passed' : 'FAILED'}; ${checked} entries, ` +
      `${mismatches.length} mismatches, max abs error ${fmt(maxAbs)}, max rel error ${fmt(maxRel)}`,
  );
  lines.push(`inputs: ${p.names.map((n, i) => `${n} ${shapeStr(p.shapes[i]!)}${p.differentiable[i] ? '' : ' (constant)'}`).join(', ')}; output ${nOut} elements`);
  if (worst) {
    const w: Mismatch = worst;
    lines.push(
      mode === 'full'
        ? `worst: output index ${w.outputIndex}, input ${w.input} index ${w.inputIndex}: numerical ${fmt(w.numerical)}, analytical ${fmt(w.analytical)}, abs error ${fmt(w.absError)}, rel error ${fmt(w.relError)}`
        : `worst: projection ${w.inputIndex}: numerical vᵀJu ${fmt(w.numerical)}, analytical ${fmt(w.analytical)}, abs error ${fmt(w.absError)}, rel error ${fmt(w.relError)}`,
    );
    lines.push('mismatches (output, input[index]: numerical vs analytical, abs, rel):');
    for (const m of [...mismatches].sort((a, b) => b.absError - a.absError).slice(0, maxReport)) {
      lines.push(`  ${m.outputIndex}, ${m.input}[${m.inputIndex}]: ${fmt(m.numerical)} vs ${fmt(m.analytical)}, ${fmt(m.absError)}, ${fmt(m.relError)}`);
    }
    if (mismatches.length > maxReport) lines.push(`  ... and ${mismatches.length - maxReport} more`);
  }
  const result: GradcheckResult = { ok, mode, maxAbsError: maxAbs, maxRelError: maxRel, checked, mismatches, worst, report: lines.join('\n') };
  if (!ok && (options.throwOnFailure ?? true)) {
    const err = new Error(result.report) as Error & { result?: GradcheckResult };
    err.result = result;
    throw err;
  }
  return result;
}
