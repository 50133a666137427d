// checkDevices: a function's forward and backward on each device against the CPU float64 result.
//
// The reference runs on the CPU in float64 (float inputs converted, int32 inputs as they are): outputs and
// the gradients of every input that requires grad, for seeded random gradOutputs. Each device then runs
// the same function on copies of the inputs in the inputs' dtype, or in float32 where the device stores no
// float64 (said once per device), and every output and gradient is compared elementwise:
// |got − ref| ≤ atol + rtol·|ref|, the worst element reported per tensor. This is the check for one's own
// device kernels: the float64 gradcheck proves the CPU rule, checkDevices carries it to the device.

import { availableDevices, getDevice } from '../tensor/device.js';
import type { DType } from '../tensor/dtype.js';
import { scope } from '../tensor/memory.js';
import { Rng } from '../tensor/random.js';
import { shapeStr } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromHost } from '../tensor/ops/creation.js';
import { grad } from './engine.js';
import { withGradMode } from './grad-mode.js';
import { outputsOf, type GradcheckFn } from './gradcheck-eval.js';

export interface CheckDevicesOptions {
  /** Devices to check (default: every available device; the CPU in float64 is the reference itself and is skipped). */
  devices?: readonly string[];
  /** Absolute tolerance (default 1e-5·max(1, |ref|max) per tensor for float32 runs, 1e-10·max(1, |ref|max) for float64). */
  atol?: number;
  /** Relative tolerance (default 1e-4 for float32 runs, 1e-8 for float64). */
  rtol?: number;
  /** Seed of the gradOutputs (default 0). */
  seed?: number;
  names?: readonly string[];
  outputNames?: readonly string[];
  /** Throw an Error carrying the result when a device disagrees (default true). */
  throwOnFailure?: boolean;
}

export interface TensorComparison {
  /** 'y' / 'y0'..., or 'grad x0'... */
  name: string;
  shape: number[];
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** Flat index of the element furthest over the tolerance (of the largest error when every element passes); -1 when empty. */
  worstIndex: number;
  got: number;
  expected: number;
  atol: number;
  rtol: number;
  note?: string;
}

export interface DeviceReport {
  device: string;
  dtype: 'float32' | 'float64';
  ok: boolean;
  tensors: TensorComparison[];
  /** Why the device runs in float32, when it does for float64 inputs. */
  note?: string;
  /** The error the function raised on the device, if it did. */
  error?: string;
}

export interface CheckDevicesResult {
  ok: boolean;
  devices: DeviceReport[];
  report: string;
}

interface Run {
  outputs: { name: string; shape: number[]; values: Float64Array; dtype: DType }[];
  grads: { name: string; shape: number[]; values: Float64Array | null }[];
}

function typedFor(dtype: DType, v: ArrayLike<number>): Float32Array | Float64Array | Int32Array {
  return dtype === 'float64' ? Float64Array.from(v) : dtype === 'float32' ? Float32Array.from(v) : Int32Array.from(v);
}

/** fn on copies of the inputs on `device` in `dtype` (int32 inputs stay int32); outputs and gradients as float64. */
function runOn(fn: GradcheckFn, inputs: readonly Tensor[], hosts: Float64Array[], device: string, dtype: 'float32' | 'float64', vs: Float64Array[] | null, names: string[], outNames: readonly string[] | undefined): Run {
  return scope(() =>
    withGradMode(true, () => {
      const xs = inputs.map((x, i) => {
        const t = fromHost(typedFor(x.dtype === 'int32' ? 'int32' : dtype, hosts[i]!), x.shape, { device });
        return x.requiresGrad && x.dtype !== 'int32' ? t.requireGrad() : t;
      });
      const ys = outputsOf('checkDevices', fn(...xs));
      const outputs = ys.map((y, o) => ({ name: outNames?.[o] ?? (ys.length === 1 ? 'y' : `y${o}`), shape: [...y.shape], values: Float64Array.from(y.data()), dtype: y.dtype }));
      const diff = xs.map((x, i) => [x, i] as const).filter(([x]) => x.requiresGrad);
      const live = ys.map((y, o) => [y, o] as const).filter(([y]) => y.dtype !== 'int32' && y.requiresGrad);
      let gs: (Tensor | null)[] = diff.map(() => null);
      if (diff.length && live.length && vs) {
        const gos = live.map(([y, o]) => fromHost(typedFor(y.dtype, vs[o]!), y.shape, { device }));
        gs = grad(live.map(([y]) => y), diff.map(([x]) => x), { gradOutputs: gos, allowUnused: true });
      }
      const grads = diff.map(([x, i], k) => ({ name: `grad ${names[i]}`, shape: [...x.shape], values: gs[k] ? Float64Array.from(gs[k]!.data()) : null }));
      return { outputs, grads };
    }),
  );
}

function compare(name: string, shape: number[], got: Float64Array | null, ref: Float64Array | null, dtype: 'float32' | 'float64', opts: CheckDevicesOptions): TensorComparison {
  const refMax = ref ? ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0) : 0;
  const atol = opts.atol ?? (dtype === 'float32' ? 1e-5 : 1e-10) * Math.max(1, refMax);
  const rtol = opts.rtol ?? (dtype === 'float32' ? 1e-4 : 1e-8);
  const base = { name, shape, atol, rtol };
  if (!got || !ref) {
    const missing = !got && !ref;
    return { ...base, ok: missing, maxAbsError: missing ? 0 : Infinity, maxRelError: missing ? 0 : Infinity, worstIndex: -1, got: NaN, expected: NaN, note: missing ? 'no gradient on either side' : got ? 'the reference has no gradient' : 'no gradient on the device' };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let largest = ref.length ? 0 : -1;
  let worst = -1;
  let worstExcess = -Infinity;
  let ok = true;
  for (let k = 0; k < ref.length; k++) {
    const bothNaN = Number.isNaN(got[k]!) && Number.isNaN(ref[k]!);
    const d = bothNaN ? 0 : Math.abs(got[k]! - ref[k]!);
    const excess = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(ref[k]!));
    if (excess > 0) ok = false;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = k;
    }
    if (Number.isNaN(d) || d > maxAbs) {
      maxAbs = Number.isNaN(d) ? Infinity : d;
      largest = k;
    }
    if (Math.abs(ref[k]!) > atol) maxRel = Math.max(maxRel, d / Math.abs(ref[k]!));
  }
  // the element furthest over the tolerance when one is, else the largest error
  const at = ok ? largest : worst;
  return { ...base, ok, maxAbsError: maxAbs, maxRelError: maxRel, worstIndex: at, got: at >= 0 ? got[at]! : NaN, expected: at >= 0 ? ref[at]! : NaN };
}

function e(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

/**
 * Forward and backward of `fn` on each device against the CPU float64 result (see the file header).
 * `inputs` may live anywhere; those with requiresGrad get gradients.
 */
export function checkDevices(fn: GradcheckFn, inputs: readonly Tensor[], opts: CheckDevicesOptions = {}): CheckDevicesResult {
  if (inputs.length === 0) throw new Error('checkDevices: no inputs');
  inputs.forEach((x) => x.assertAlive('checkDevices'));
  const names = inputs.map((_, i) => opts.names?.[i] ?? `x${i}`);
  const hosts = inputs.map((x) => Float64Array.from(x.data()));
  const inputDtype: 'float32' | 'float64' = inputs.some((x) => x.dtype === 'float64') ? 'float64' : 'float32';
  const rng = new Rng(opts.seed ?? 0);
  // The reference and the gradOutputs (drawn once the output shapes are known).
  const probe = runOn(fn, inputs, hosts, 'cpu', 'float64', null, names, opts.outputNames);
  const vs = probe.outputs.map((o) => Float64Array.from({ length: o.values.length }, () => rng.normal()));
  const ref = runOn(fn, inputs, hosts, 'cpu', 'float64', vs, names, opts.outputNames);
  const wanted = opts.devices ?? availableDevices().map((d) => d.name);
  const reports: DeviceReport[] = [];
  for (const name of wanted) {
    const dev = getDevice(name);
    const dtype: 'float32' | 'float64' = inputDtype === 'float64' && dev.dtypes.includes('float64') ? 'float64' : 'float32';
    if (dev.name === 'cpu' && dtype === 'float64' && opts.devices === undefined) continue;
    const note = inputDtype === 'float64' && dtype === 'float32' ? `'${dev.name}' stores no float64 (${dev.dtypes.join(', ')}): run in float32 against the CPU float64 result` : undefined;
    const report: DeviceReport = { device: dev.name, dtype, ok: false, tensors: [], ...(note ? { note } : {}) };
    try {
      const run = runOn(fn, inputs, hosts, dev.name, dtype, vs, names, opts.outputNames);
      if (run.outputs.length !== ref.outputs.length) throw new Error(`the function returned ${run.outputs.length} outputs, on the CPU ${ref.outputs.length}`);
      ref.outputs.forEach((r, o) => {
        const got = run.outputs[o]!;
        if (got.shape.join() !== r.shape.join()) {
          report.tensors.push({ name: r.name, shape: got.shape, ok: false, maxAbsError: Infinity, maxRelError: Infinity, worstIndex: -1, got: NaN, expected: NaN, atol: 0, rtol: 0, note: `shape ${shapeStr(got.shape)}, on the CPU ${shapeStr(r.shape)}` });
        } else {
          report.tensors.push(compare(r.name, r.shape, got.values, r.values, r.dtype === 'int32' ? 'float64' : dtype, r.dtype === 'int32' ? { ...opts, atol: 0, rtol: 0 } : opts));
        }
      });
      ref.grads.forEach((r, k) => report.tensors.push(compare(r.name, r.shape, run.grads[k]!.values, r.values, dtype, opts)));
      report.ok = report.tensors.every((t) => t.ok);
    } catch (err) {
      report.error = err instanceof Error ? err.message : String(err);
    }
    reports.push(report);
  }
  const ok = reports.every((r) => r.ok);
  const lines = [`checkDevices: ${ok ? 'passed' : 'FAILED'} on ${reports.map((r) => `${r.device} (${r.dtype})`).join(', ') || 'no device'} against the CPU float64 result`];
  for (const r of reports) {
    if (r.note) lines.push(`note: ${r.note}`);
    if (r.error) {
      lines.push(`${r.device}: ERROR ${r.error}`);
      continue;
    }
    for (const t of r.tensors) {
      const where = t.worstIndex >= 0 ? `, ${t.ok ? 'largest' : 'worst'} at [${t.worstIndex}]: ${t.got.toPrecision(8)} vs ${t.expected.toPrecision(8)}` : '';
      lines.push(`${r.device} ${t.name} ${shapeStr(t.shape)}: ${t.ok ? 'ok' : 'FAIL'} max abs ${e(t.maxAbsError)}, max rel ${e(t.maxRelError)}${where} (atol ${e(t.atol)}, rtol ${e(t.rtol)})${t.note ? ` ${t.note}` : ''}`);
    }
  }
  const result: CheckDevicesResult = { ok, devices: reports, report: lines.join('\n') };
  if (!ok && (opts.throwOnFailure ?? true)) {
    const err = new Error(result.report) as Error & { result?: CheckDevicesResult };
    err.result = result;
    throw err;
  }
  return result;
}
