// checkOp: the one-line op test. For an op and its inputs it checks, throwing one Error that says what
// failed: the forward in float64 and float32 against a float64 reference function, the gradcheck of every
// differentiable input in float64, optionally the second derivatives (gradgradcheck), and that nothing the
// check created stays alive.

import { gradcheck, type GradcheckOptions, type GradcheckResult } from '../autograd/gradcheck.js';
import { gradgradcheck, type GradgradcheckOptions } from '../autograd/gradgradcheck.js';
import { memoryInfo, scope } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';
import { toTensor, type HostTensor } from './arbitraries.js';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Prefix of the failure message. */
  what?: string;
}

function asHost(x: Tensor | HostTensor | ArrayLike<number>): HostTensor {
  if (x instanceof Tensor) return { shape: [...x.shape], data: Float64Array.from(x.data()) };
  if (typeof x === 'object' && x !== null && 'shape' in x && 'data' in x) return x as HostTensor;
  const arr = x as ArrayLike<number>;
  return { shape: [arr.length], data: Float64Array.from(arr) };
}

/**
 * Throws unless shapes match (when both sides carry one) and |a − e| ≤ atol + rtol·|e| everywhere (NaN
 * must match NaN). The message names the first differing element with both values.
 */
export function assertClose(actual: Tensor | HostTensor | ArrayLike<number>, expected: Tensor | HostTensor | ArrayLike<number>, opts: CloseOptions = {}): void {
  const atol = opts.atol ?? 1e-12;
  const rtol = opts.rtol ?? 1e-9;
  const what = opts.what ? `${opts.what}: ` : '';
  const hasShape = (x: unknown): boolean => x instanceof Tensor || (typeof x === 'object' && x !== null && 'shape' in x);
  const a = asHost(actual);
  const e = asHost(expected);
  if (hasShape(actual) && hasShape(expected) && (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i]))) {
    throw new Error(`${what}shape [${a.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
  }
  if (a.data.length !== e.data.length) throw new Error(`${what}${a.data.length} elements, expected ${e.data.length}`);
  for (let i = 0; i < a.data.length; i++) {
    const av = a.data[i]!;
    const ev = e.data[i]!;
    if (Number.isNaN(ev) && Number.isNaN(av)) continue;
    if (!(av === ev || Math.abs(av - ev) <= atol + rtol * Math.abs(ev))) throw new Error(`${what}element ${i} is ${av}, expected ${ev} (atol ${atol}, rtol ${rtol})`);
  }
}

/** An op input: a host tensor (made float64/float32, differentiable) or a Tensor passed as it is (a constant such as int32 targets). */
export type OpInput = HostTensor | Tensor;

export interface CheckOpOptions {
  /** Gradcheck mode ('full' on small shapes, 'fast' for large ones); false skips the gradient checks. */
  mode?: 'full' | 'fast' | false;
  /** Extra gradcheck options (tolerances, projections). */
  gradcheck?: GradcheckOptions;
  /** Also check the second derivatives: true, or gradgradcheck options (default false). */
  gradgradcheck?: boolean | GradgradcheckOptions;
  /** Forward tolerance for float64 (default atol 1e-12, rtol 1e-10). */
  atol?: number;
  rtol?: number;
  /** Also run the forward in float32 and compare (default true) with these tolerances (default 1e-5). */
  float32?: boolean;
  atol32?: number;
  rtol32?: number;
  /** Which host-tensor inputs are differentiable (default: all). */
  differentiable?: boolean[];
  /** Name in the messages (default: the function's name). */
  what?: string;
}

/**
 * The one-line op test. Host-tensor inputs become float64 tensors that require grad (float32 for the
 * float32 forward); Tensors are passed as they are. `reference` (optional) receives every input as a host
 * tensor and returns the expected output. Returns the first-order gradcheck result (null without one).
 */
export function checkOp(fn: (...xs: Tensor[]) => Tensor, inputs: readonly OpInput[], reference?: ((...xs: HostTensor[]) => HostTensor) | null, opts: CheckOpOptions = {}): GradcheckResult | null {
  const what = opts.what ?? (fn.name || 'op');
  const hosts = inputs.map((x) => (x instanceof Tensor ? asHost(x) : x));
  const expected = reference ? reference(...hosts) : null;
  const before = memoryInfo('cpu');
  const result = scope(() => {
    const make = (dtype: 'float32' | 'float64'): Tensor[] =>
      inputs.map((x, i) => (x instanceof Tensor ? x : toTensor(x, { dtype, requiresGrad: opts.differentiable?.[i] ?? true })));
    const xs64 = make('float64');
    const y64 = fn(...xs64);
    if (y64.dtype !== 'float64') throw new Error(`${what}: float64 inputs give ${y64.dtype}`);
    if (expected) assertClose(y64, expected, { atol: opts.atol ?? 1e-12, rtol: opts.rtol ?? 1e-10, what: `${what} float64 forward` });
    if (opts.float32 ?? true) {
      const y32 = fn(...make('float32'));
      if (y32.dtype !== 'float32') throw new Error(`${what}: float32 inputs give ${y32.dtype}`);
      if (expected) assertClose(y32, expected, { atol: opts.atol32 ?? 1e-5, rtol: opts.rtol32 ?? 1e-5, what: `${what} float32 forward` });
    }
    if (opts.mode === false) return null;
    const r = gradcheck(fn, xs64, { mode: opts.mode ?? 'full', ...opts.gradcheck, throwOnFailure: false });
    if (!r.ok) throw new Error(`${what}: ${r.report}`);
    if (opts.gradgradcheck) {
      const gg = gradgradcheck(fn, xs64, { mode: opts.mode ?? 'full', ...opts.gradcheck, ...(opts.gradgradcheck === true ? {} : opts.gradgradcheck), throwOnFailure: false });
      if (!gg.ok) throw new Error(`${what}: ${gg.report}`);
    }
    return r;
  });
  const after = memoryInfo('cpu');
  if (after.tensors !== before.tensors || after.storages !== before.storages || after.bytes !== before.bytes) {
    throw new Error(`${what}: the check leaked: ${JSON.stringify(before)} alive before, ${JSON.stringify(after)} after`);
  }
  return result;
}
