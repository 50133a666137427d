// How each op of the PyTorch reference format maps onto our ops: inputs by name → outputs by name.
// An op missing here is reported as 'unsupported' by the checker.

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
};
