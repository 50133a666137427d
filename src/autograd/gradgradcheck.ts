// Higher-order gradient checks. The vector-Jacobian product of a function is a function itself:
//
//   vjp_fn(x..., v...) = grad(fn(x...), x_differentiable, { gradOutputs: v, createGraph })
//
// which is linear in v and, when every backward rule is written with recorded ops, differentiable in x.
// gradgradcheck (PyTorch's) is gradcheck of vjp_fn at (x, v) with random v; checkGrads (JAX's check_grads)
// applies the construction order − 1 times and checks every order up to `order`.

import { isGradEnabled, withGradMode } from './grad-mode.js';
import { grad } from './engine.js';
import { gradcheck, type GradcheckOptions, type GradcheckResult } from './gradcheck.js';
import { outputsOf, type GradcheckFn } from './gradcheck-eval.js';
import { scope } from '../tensor/memory.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { cat } from '../tensor/ops/cat.js';
import { fromHost, zerosLike } from '../tensor/ops/creation.js';
import { noGrad } from './grad-mode.js';
import { select, unsqueeze } from '../tensor/ops/views.js';

export interface GradgradcheckOptions extends GradcheckOptions {
  /** The gradOutputs v (one per float output of fn; default: standard normal, from `seed`). They are checked as inputs too. */
  gradOutputs?: readonly Tensor[];
  /** Pass the gradOutputs to the backward as non-contiguous views (PyTorch's gen_non_contig_grad_outputs). */
  nonContiguousGradOutputs?: boolean;
}

/** A non-contiguous view with v's values (every other element of a doubled copy), differentiable. */
function nonContiguous(v: Tensor): Tensor {
  if (v.ndim === 0) return v;
  const u = unsqueeze(v, -1);
  return select(cat([u, u], -1), -1, 0);
}

export interface VjpFunction {
  fn: GradcheckFn;
  /** fn's inputs followed by the gradOutputs (requiring grad). */
  inputs: Tensor[];
  names: string[];
  outputNames: string[];
}

/**
 * The vjp of `fn` at `inputs` as a function of (inputs..., gradOutputs...). Its outputs are the gradients of
 * the differentiable inputs (zeros where fn does not depend on one). The gradOutputs it returns in `inputs`
 * belong to the caller's scope.
 */
export function vjpFunction(fn: GradcheckFn, inputs: readonly Tensor[], opts: GradgradcheckOptions = {}, names?: readonly string[], outputNames?: readonly string[]): VjpFunction {
  const what = 'gradgradcheck';
  const nameOf = (i: number): string => names?.[i] ?? opts.names?.[i] ?? `x${i}`;
  const diff = inputs.map((x) => x.requiresGrad && x.dtype !== 'int32');
  if (!diff.some(Boolean)) throw new Error(`${what}: no input requires grad (call .requireGrad() on the inputs to check)`);
  // The float outputs of fn (their shapes and dtypes, from one unrecorded call).
  const outs = noGrad(() =>
    scope(() => outputsOf(what, fn(...inputs)).map((y) => ({ shape: [...y.shape], dtype: y.dtype, device: y.device }))),
  );
  const floatOut = outs.map((o, k) => [o, k] as const).filter(([o]) => o.dtype !== 'int32');
  if (floatOut.length === 0) throw new Error(`${what}: the function has no float output to differentiate`);
  const floatDtype = inputs.some((x) => x.dtype === 'float64') ? 'float64' : 'float32';
  let vs: Tensor[];
  if (opts.gradOutputs) {
    if (opts.gradOutputs.length !== floatOut.length) throw new Error(`${what}: ${opts.gradOutputs.length} gradOutputs for ${floatOut.length} float outputs`);
    vs = opts.gradOutputs.map((v, k) => {
      const [o] = floatOut[k]!;
      if (v.shape.length !== o.shape.length || v.shape.some((d, i) => d !== o.shape[i])) {
        throw new Error(`${what}: gradOutput ${k} has shape [${v.shape.join(', ')}], output ${floatOut[k]![1]} has [${o.shape.join(', ')}]`);
      }
      return v.requiresGrad ? v : v.detach().requireGrad();
    });
  } else {
    const rng = new Rng((opts.seed ?? 0) + 7919);
    vs = floatOut.map(([o]) => {
      const n = o.shape.reduce((a, b) => a * b, 1);
      const host = Float64Array.from({ length: n }, () => rng.normal());
      return fromHost(floatDtype === 'float64' ? host : Float32Array.from(host), o.shape, { device: o.device }).requireGrad();
    });
  }
  const nx = inputs.length;
  const nonContig = opts.nonContiguousGradOutputs ?? false;
  const vjpFn: GradcheckFn = (...args: Tensor[]) => {
    // Recording (the analytic side): the gradients keep their graph. Not recording (central differences):
    // plain values, through leaves made here.
    const create = isGradEnabled();
    return withGradMode(true, () => {
      const xs = args.slice(0, nx).map((x, i) => (diff[i] && !x.requiresGrad ? x.detach().requireGrad() : x));
      const gs = args.slice(nx).map((v) => (nonContig ? nonContiguous(v) : v));
      const ys = outputsOf(what, fn(...xs));
      const live: Tensor[] = [];
      const liveV: Tensor[] = [];
      floatOut.forEach(([, k], m) => {
        const y = ys[k]!;
        if (y.requiresGrad) {
          live.push(y);
          liveV.push(gs[m]!.dtype === y.dtype ? gs[m]! : gs[m]!.cast(y.dtype));
        }
      });
      const targets = xs.filter((_, i) => diff[i]);
      const result = live.length ? grad(live, targets, { gradOutputs: liveV, createGraph: create, allowUnused: true }) : targets.map(() => null);
      return result.map((g, k) => g ?? zerosLike(targets[k]!));
    });
  };
  const diffNames = inputs.map((_, i) => nameOf(i)).filter((_, i) => diff[i]);
  const outName = (k: number): string => outputNames?.[k] ?? (outs.length === 1 ? 'y' : `y${k}`);
  return {
    fn: vjpFn,
    inputs: [...inputs, ...vs],
    names: [...inputs.map((_, i) => nameOf(i)), ...floatOut.map(([, k]) => `grad_${outName(k)}`)],
    outputNames: diffNames.map((n) => `d/d${n}`),
  };
}

/**
 * Second derivatives: gradcheck of the vjp (x, v) ↦ Jᵀ(x)·v, differentiated in x and v, with random
 * gradOutputs v unless given. Needs every backward rule on the way to be recorded (twice differentiable).
 */
export function gradgradcheck(fn: GradcheckFn, inputs: readonly Tensor[], opts: GradgradcheckOptions = {}): GradcheckResult {
  return scope(() => {
    const v = vjpFunction(fn, inputs, opts);
    const r = gradcheck(v.fn, v.inputs, { ...opts, names: v.names, outputNames: v.outputNames, throwOnFailure: false });
    const result = { ...r, report: r.report.replace(/^gradcheck/, 'gradgradcheck') };
    if (!result.ok && (opts.throwOnFailure ?? true)) {
      const err = new Error(result.report) as Error & { result?: GradcheckResult };
      err.result = result;
      throw err;
    }
    return result;
  });
}

export interface CheckGradsOptions extends GradgradcheckOptions {
  /** Highest derivative order to check (default 2, as JAX's check_grads). */
  order?: number;
}

/**
 * JAX's check_grads: the derivatives of every order 1..order, each by gradcheck of the repeated vjp
 * construction. `modes` ('rev', 'fwd') applies at each order. One result per order.
 */
export function checkGrads(fn: GradcheckFn, inputs: readonly Tensor[], opts: CheckGradsOptions = {}): GradcheckResult[] {
  const order = opts.order ?? 2;
  if (!Number.isInteger(order) || order < 1) throw new Error(`checkGrads: order must be an integer >= 1, got ${order}`);
  return scope(() => {
    const results: GradcheckResult[] = [];
    let f: GradcheckFn = fn;
    let xs: Tensor[] = [...inputs];
    let names: string[] | undefined = opts.names ? [...opts.names] : undefined;
    let outNames: string[] | undefined = opts.outputNames ? [...opts.outputNames] : undefined;
    for (let k = 1; k <= order; k++) {
      if (k > 1) {
        const v = vjpFunction(f, xs, { ...opts, seed: (opts.seed ?? 0) + k }, names, outNames);
        [f, xs, names, outNames] = [v.fn, v.inputs, v.names, v.outputNames];
      }
      const r = gradcheck(f, xs, { ...opts, names, outputNames: outNames, throwOnFailure: false });
      const result = { ...r, report: `order ${k}: ${r.report}` };
      results.push(result);
      if (!result.ok && (opts.throwOnFailure ?? true)) {
        const err = new Error(result.report) as Error & { result?: GradcheckResult };
        err.result = result;
        throw err;
      }
    }
    return results;
  });
}
