// PyTorch float64 reference cases (format: shared torch-refs/README.md): load a case, run the op with
// our library on a device, compare forward outputs and input gradients, report per tensor.

import { readdirSync } from 'node:fs';
import { readInputText } from '../io/input.js';
import { basename, join } from 'node:path';
import { scope } from '../tensor/memory.js';
import { fromHost } from '../tensor/ops/creation.js';
import { shapeStr, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { RUNNERS } from './runners.js';

export interface RefTensor {
  shape: number[];
  dtype: 'float32' | 'int64';
  data: number[];
}

export interface RefCase {
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, RefTensor>;
  outputs: Record<string, RefTensor>;
  grads: Record<string, RefTensor>;
  meta: {
    seed?: number;
    differentiable_output?: string;
    torch_f32_max_abs_diff?: Record<string, number>;
    absmax?: Record<string, number>;
  };
}

export interface TensorReport {
  key: string;
  maxAbs: number;
  maxRel: number;
  ok: boolean;
  /** On a FAIL: the flat index of the element furthest over the tolerance, our value and the reference's. */
  worst?: { index: number; got: number; expected: number };
  /** The reference tensor's shape (names the worst element by its indices). */
  shape?: number[];
  note?: string;
}

export type CaseStatus = 'pass' | 'FAIL' | 'unsupported';

export interface CaseReport {
  name: string;
  op: string;
  status: CaseStatus;
  tensors: TensorReport[];
  message?: string;
}

export interface CheckOptions {
  device?: string;
  dtype?: 'float32' | 'float64';
  /** Extra tolerance factor (devices whose reduction order differs from the CPU's). */
  tolFactor?: number;
}

function loadCase(file: string): RefCase {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readInputText(file, 'reference case'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const c = parsed as RefCase;
  for (const key of ['op', 'inputs', 'outputs'] as const) {
    if (!(key in (c as object))) throw new Error(`${file}: missing "${key}"`);
  }
  c.grads ??= {};
  c.params ??= {};
  c.meta ??= {};
  return c;
}

function toTensor(t: RefTensor, device: string, dtype: 'float32' | 'float64', name: string, file: string): Tensor {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new Error(`${file}: ${name} has ${t.data.length} values for shape ${shapeStr(t.shape)}`);
  const host = t.dtype === 'int64' ? Int32Array.from(t.data) : dtype === 'float64' ? Float64Array.from(t.data, Math.fround) : Float32Array.from(t.data);
  return fromHost(host, t.shape, { device });
}

/**
 * The README's bound for a float32 implementation: |mine - ref| <= 1e-5*max(1, absmax) + 1e-4*|ref|,
 * x10 where PyTorch's own float32 run is far from the reference (long accumulations).
 */
function compare(key: string, mine: Tensor, ref: RefTensor, c: RefCase, tolFactor: number): TensorReport {
  return { ...compareValues(key, mine, ref, c, tolFactor), shape: [...ref.shape] };
}

function compareValues(key: string, mine: Tensor, ref: RefTensor, c: RefCase, tolFactor: number): TensorReport {
  if (!sameShape(mine.shape, ref.shape)) {
    return { key, maxAbs: Infinity, maxRel: Infinity, ok: false, note: `shape ${shapeStr(mine.shape)} vs reference ${shapeStr(ref.shape)}` };
  }
  const got = mine.data();
  if (ref.dtype === 'int64') {
    let wrong = 0;
    let first = -1;
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== ref.data[i]) {
        wrong++;
        if (first < 0) first = i;
      }
    }
    if (!wrong) return { key, maxAbs: 0, maxRel: 0, ok: true };
    return { key, maxAbs: 1, maxRel: 0, ok: false, worst: { index: first, got: got[first]!, expected: ref.data[first]! }, note: `${wrong} indices differ` };
  }
  const absmax = c.meta.absmax?.[key] ?? ref.data.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  const base = 1e-5 * Math.max(1, absmax);
  const torchDiff = c.meta.torch_f32_max_abs_diff?.[key] ?? 0;
  const loosen = torchDiff > 0.25 * base ? 10 : 1;
  const atol = base * loosen * tolFactor;
  const rtol = 1e-4 * loosen * tolFactor;
  let maxAbs = 0;
  let maxRel = 0;
  let ok = true;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < got.length; i++) {
    const r = ref.data[i]!;
    const d = Math.abs(got[i]! - r);
    const excess = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(r));
    if (excess > 0) ok = false;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    const rel = d / Math.max(Math.abs(r), 1e-12);
    if (rel > maxRel) maxRel = rel;
  }
  return {
    key, maxAbs, maxRel, ok,
    ...(!ok ? { worst: { index: worst, got: got[worst]!, expected: ref.data[worst]! } } : {}),
    ...(loosen > 1 ? { note: 'x10 (long accumulation)' } : {}),
  };
}

/** Run one case file. */
export function checkCase(file: string, opts: CheckOptions = {}): CaseReport {
  const name = basename(file, '.json');
  let c: RefCase;
  try {
    c = loadCase(file);
  } catch (e) {
    return { name, op: '?', status: 'FAIL', tensors: [], message: (e as Error).message };
  }
  const runner = RUNNERS[c.op];
  if (!runner) return { name, op: c.op, status: 'unsupported', tensors: [], message: `no runner for op '${c.op}'` };
  const device = opts.device ?? 'cpu';
  const dtype = opts.dtype ?? 'float32';
  try {
    return scope(() => {
      const inputs: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(c.inputs)) {
        if (k === 'gout') continue;
        inputs[k] = toTensor(t, device, dtype, k, file);
        if (k in c.grads) inputs[k].requireGrad();
      }
      const outputs = runner(inputs, c.params);
      const tensors: TensorReport[] = [];
      for (const [k, ref] of Object.entries(c.outputs)) {
        const mine = outputs[k];
        if (!mine) throw new Error(`runner for '${c.op}' produced no output '${k}'`);
        tensors.push(compare(`out:${k}`, mine, ref, c, opts.tolFactor ?? 1));
      }
      const gradKeys = Object.keys(c.grads);
      if (gradKeys.length) {
        const diffName = c.meta.differentiable_output ?? 'y';
        const y = outputs[diffName];
        if (!y) throw new Error(`runner for '${c.op}' produced no differentiable output '${diffName}'`);
        const goutRef = c.inputs['gout'];
        if (!goutRef) throw new Error(`${file}: grads given but no "gout" input`);
        y.backward(toTensor(goutRef, device, dtype, 'gout', file).cast(y.dtype));
        for (const k of gradKeys) {
          const g = inputs[k]?.grad;
          if (!g) {
            tensors.push({ key: `grad:${k}`, maxAbs: Infinity, maxRel: Infinity, ok: false, note: 'no gradient' });
            continue;
          }
          tensors.push(compare(`grad:${k}`, g, c.grads[k]!, c, opts.tolFactor ?? 1));
        }
      }
      const ok = tensors.every((t) => t.ok);
      return { name, op: c.op, status: ok ? ('pass' as const) : ('FAIL' as const), tensors };
    });
  } catch (e) {
    return { name, op: c.op, status: 'FAIL', tensors: [], message: (e as Error).message };
  }
}

/** Every `*.json` case in a folder, sorted by name. */
export function caseFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new Error(`cannot read reference folder ${dir}: ${(e as Error).message}`);
  }
  return names.filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
}

function e(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

/** The element of a tensor of `shape` at flat index i, as [i, j, ...]. */
function at(shape: readonly number[], i: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return `[${idx.join(', ')}]`;
}

export function formatReport(r: CaseReport): string {
  const parts = r.tensors.map((t) => {
    const worst = t.worst ? ` at ${t.shape ? at(t.shape, t.worst.index) : `[${t.worst.index}]`}: ${t.worst.got} vs ${t.worst.expected}` : '';
    return `${t.key} abs=${e(t.maxAbs)} rel=${e(t.maxRel)}${t.ok ? '' : ` <-- over tolerance${worst}`}${t.note ? ` (${t.note})` : ''}`;
  });
  return `${r.name.padEnd(24)} ${r.status.padEnd(11)} ${parts.join('  ')}${r.message ? `  ${r.message}` : ''}`;
}
