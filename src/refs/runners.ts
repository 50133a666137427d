// How each op of the PyTorch reference format maps onto our ops: inputs by name → outputs by name.
// An op missing here is reported as 'unsupported' by the checker; registerRefRunner adds one's own ops
// (cases written by scripts/torch-refs.py for any op PyTorch can express).

import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops/index.js';

export type Runner = (inputs: Record<string, Tensor>, params: Record<string, unknown>) => Record<string, Tensor>;

function need(inputs: Record<string, Tensor>, name: string): Tensor {
  const t = inputs[name];
  if (!t) throw new Error(`missing input '${name}'`);
  return t;
}

function dimParam(p: Record<string, unknown>): number | number[] | null {
  const d = p['dim'];
  if (d === null || d === undefined) return null;
  if (typeof d === 'number') return d;
  if (Array.isArray(d) && d.every((v) => typeof v === 'number')) return d as number[];
  throw new Error(`bad dim parameter ${JSON.stringify(d)}`);
}

function reduction(p: Record<string, unknown>): ops.Reduction {
  const r = p['reduction'] ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`unsupported reduction ${JSON.stringify(r)}`);
  return r;
}

const binary = (f: (a: Tensor, b: Tensor) => Tensor): Runner => (i) => ({ y: f(need(i, 'a'), need(i, 'b')) });
const unary = (f: (x: Tensor) => Tensor): Runner => (i) => ({ y: f(need(i, 'x')) });

export const RUNNERS: Record<string, Runner> = {
  add: binary(ops.add),
  sub: binary(ops.sub),
  mul: binary(ops.mul),
  div: binary(ops.div),
  matmul: binary(ops.matmul),
  exp: unary(ops.exp),
  sqrt: unary(ops.sqrt),
  sigmoid: unary(ops.sigmoid),
  leaky_relu: (i, p) => ({ y: ops.leakyRelu(need(i, 'x'), Number(p['negative_slope'] ?? 0.01)) }),
  softmax: (i, p) => ({ y: ops.softmax(need(i, 'x'), Number(p['dim'])) }),
  log_softmax: (i, p) => ({ y: ops.logSoftmax(need(i, 'x'), Number(p['dim'])) }),
  linear: (i) => ({ y: ops.linear(need(i, 'x'), need(i, 'weight'), i['bias'] ?? null) }),
  sum: (i, p) => ({ y: ops.sum(need(i, 'x'), dimParam(p), Boolean(p['keepdim'])) }),
  mean: (i, p) => ({ y: ops.mean(need(i, 'x'), dimParam(p), Boolean(p['keepdim'])) }),
  max: (i, p) => {
    const x = need(i, 'x');
    const dim = dimParam(p);
    const keepdim = Boolean(p['keepdim']);
    if (typeof dim === 'number') {
      const r = ops.max(x, dim, keepdim);
      return { y: r.values, indices: r.indices } as Record<string, Tensor>;
    }
    return { y: ops.amax(x, dim, keepdim) } as Record<string, Tensor>;
  },
  concat: (i, p) => {
    const xs = Object.keys(i)
      .filter((k) => /^x\d+$/.test(k))
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((k) => i[k]!);
    return { y: ops.cat(xs, Number(p['dim'] ?? 0)) };
  },
  cross_entropy: (i, p) => ({ loss: ops.crossEntropy(need(i, 'input'), need(i, 'target'), reduction(p)) }),
  mse_loss: (i, p) => ({ loss: ops.mseLoss(need(i, 'input'), need(i, 'target'), reduction(p)) }),
  conv2d: (i, p) => ({
    y: ops.conv2d(need(i, 'x'), need(i, 'weight'), p['bias'] === false ? null : (i['bias'] ?? null), {
      stride: num(p, 'stride', 1),
      padding: num(p, 'padding', 0),
      dilation: num(p, 'dilation', 1),
      groups: num(p, 'groups', 1),
    }),
  }),
  batchnorm2d: (i, p) => {
    const rm = need(i, 'running_mean');
    const rv = need(i, 'running_var');
    const r = ops.batchnorm2d(need(i, 'x'), i['weight'] ?? null, i['bias'] ?? null, rm, rv, {
      training: Boolean(p['training']),
      momentum: num(p, 'momentum', 0.1),
      eps: num(p, 'eps', 1e-5),
    });
    const out: Record<string, Tensor> = { y: r.y, running_mean: rm, running_var: rv };
    if (r.batchMean) out['batch_mean'] = r.batchMean;
    if (r.batchVar) out['batch_var_biased'] = r.batchVar;
    return out;
  },
  maxpool2d: (i, p) => ({
    y: ops.maxpool2d(need(i, 'x'), {
      kernel: num(p, 'kernel_size', 2),
      stride: num(p, 'stride', num(p, 'kernel_size', 2)),
      padding: num(p, 'padding', 0),
      dilation: num(p, 'dilation', 1),
      ceilMode: Boolean(p['ceil_mode']),
    }),
  }),
  maxpool2d_darknet: (i, p) => {
    const pad = p['pad'];
    if (!Array.isArray(pad) || pad.length !== 4) throw new Error(`maxpool2d_darknet: pad must be [left, right, top, bottom], got ${JSON.stringify(pad)}`);
    const k = num(p, 'kernel_size', 2);
    return { y: ops.maxpool2d(need(i, 'x'), { kernel: k, stride: num(p, 'stride', k), darknetPad: pad as [number, number, number, number] }) };
  },
  avgpool2d: (i, p) => ({
    y: ops.avgpool2d(need(i, 'x'), {
      kernel: num(p, 'kernel_size', 2),
      stride: num(p, 'stride', num(p, 'kernel_size', 2)),
      padding: num(p, 'padding', 0),
      ceilMode: Boolean(p['ceil_mode']),
      countIncludePad: p['count_include_pad'] === undefined ? true : Boolean(p['count_include_pad']),
    }),
  }),
  global_avgpool: (i) => ({ y: ops.globalAvgPool2d(need(i, 'x')) }),
  reorg_ardi: (i, p) => ({ y: ops.reorgArdi(need(i, 'x'), num(p, 'stride', 2)) }),
  pixel_unshuffle: (i, p) => ({ y: ops.pixelUnshuffle(need(i, 'x'), num(p, 'downscale_factor', 2)) }),
  conv_bn_leaky: (i, p) => {
    const rm = need(i, 'running_mean');
    const rv = need(i, 'running_var');
    const c = ops.conv2d(need(i, 'x'), need(i, 'conv_weight'), null, { stride: num(p, 'stride', 1), padding: num(p, 'padding', 0) });
    const r = ops.batchnorm2d(c, need(i, 'bn_weight'), need(i, 'bn_bias'), rm, rv, {
      training: true,
      momentum: num(p, 'bn_momentum', 0.1),
      eps: num(p, 'bn_eps', 1e-5),
    });
    return { y: ops.leakyRelu(r.y, num(p, 'negative_slope', 0.1)), running_mean: rm, running_var: rv };
  },
};

/**
 * Register the runner of an op of the reference format (one's own op): it receives the case's inputs as
 * tensors by name (those with a reference gradient require grad) and its params, and returns the outputs
 * by name. An op that already has a runner is an error unless `replace`.
 */
export function registerRefRunner(op: string, runner: Runner, opts: { replace?: boolean } = {}): void {
  if (typeof op !== 'string' || op === '') throw new Error('registerRefRunner: the op name must be a non-empty string');
  if (typeof runner !== 'function') throw new Error(`registerRefRunner: the runner of '${op}' must be a function, got ${typeof runner}`);
  if (op in RUNNERS && !opts.replace) throw new Error(`registerRefRunner: op '${op}' already has a runner (pass { replace: true } to replace it)`);
  RUNNERS[op] = runner;
}

function num(p: Record<string, unknown>, key: string, dflt: number): number {
  const v = p[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number') throw new Error(`parameter '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}
