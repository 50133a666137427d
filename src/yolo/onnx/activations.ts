// Darknet's activations (src/yolo/net/activations.ts) as ONNX nodes, one table row per cfg name.
//
//   linear    no node                         relu      Relu
//   leaky     LeakyRelu(alpha = 0.1)          relie     LeakyRelu(alpha = 0.01)
//   logistic  Sigmoid                         tanh      Tanh
//   elu       Elu(alpha = 1)                  selu      Selu(alpha = 1.6732, gamma = 1.0507)
//   hardtan   Clip(-1, 1)                     ramp      Relu(x) + 0.1·x
//   loggy     2·Sigmoid(x) − 1
//   plse      Where(x < −4, 0.01·(x + 4), Where(x > 4, 0.01·(x − 4) + 1, 0.125·x + 0.5))
//   lhtan     Where(x < 0, 0.001·x, Where(x > 1, 0.001·(x − 1) + 1, x))
//   stair     n = Floor(x), half = Floor(0.5·x); n odd (n − 2·Floor(0.5·n) ≠ 0) ? (x − n) + half : half
//
// Slope arithmetic of leaky/relie: Darknet computes (float)(0.1 * (double)x), the slope a double literal.
// LeakyRelu multiplies in float by alpha = (float)0.1, which rounds differently by one ulp on a fraction
// of the negative inputs. With `exactLeaky` the negative branch is Cast(x → double) · 0.1 → Cast(float),
// which is Darknet's arithmetic bit for bit (at the price of double ops that runtimes do not fuse).

import type { Activation } from '../darknet/cfg-types.js';
import type { GraphBuilder } from './graph.js';

export interface ActivationExportOptions {
  /** Darknet's double-precision slope product for leaky/relie (default: the LeakyRelu op). */
  readonly exactLeaky: boolean;
}

type ActivationExporter = (g: GraphBuilder, x: string, opts: ActivationExportOptions) => string;

function leaky(slope: number): ActivationExporter {
  return (g, x, opts) => {
    const s = g.shape(x);
    if (!opts.exactLeaky) return g.node('LeakyRelu', [x], s, { alpha: { f: slope } });
    const xd = g.node('Cast', [x], s, { to: { i: 11 } });
    const neg = g.node('Cast', [g.node('Mul', [xd, g.scalarDouble(slope)], s)], s, { to: { i: 1 } });
    return g.node('Where', [g.node('Greater', [x, g.scalar(0)], s), x, neg], s);
  };
}

/** a·x + b as Mul then Add (each rounded, as the composed tsgrad ops). */
function affine(g: GraphBuilder, x: string, a: number, b: number): string {
  const s = g.shape(x);
  const ax = a === 1 ? x : g.node('Mul', [x, g.scalar(a)], s);
  return b === 0 ? ax : g.node('Add', [ax, g.scalar(b)], s);
}

function where(g: GraphBuilder, cond: string, a: string, b: string): string {
  return g.node('Where', [cond, a, b], g.shape(a));
}

function cmp(g: GraphBuilder, op: 'Less' | 'Greater', x: string, v: number): string {
  return g.node(op, [x, g.scalar(v)], g.shape(x));
}

/** The ONNX form of every activation tsgrad builds (see the file comment). */
export const ACTIVATION_EXPORTERS: Readonly<Record<Activation, ActivationExporter>> = {
  linear: (_g, x) => x,
  leaky: leaky(0.1),
  relie: leaky(0.01),
  logistic: (g, x) => g.node('Sigmoid', [x], g.shape(x)),
  relu: (g, x) => g.node('Relu', [x], g.shape(x)),
  tanh: (g, x) => g.node('Tanh', [x], g.shape(x)),
  elu: (g, x) => g.node('Elu', [x], g.shape(x), { alpha: { f: 1 } }),
  selu: (g, x) => g.node('Selu', [x], g.shape(x), { alpha: { f: 1.6732 }, gamma: { f: 1.0507 } }),
  hardtan: (g, x) => g.node('Clip', [x, g.scalar(-1), g.scalar(1)], g.shape(x)),
  ramp: (g, x) => g.node('Add', [g.node('Relu', [x], g.shape(x)), g.node('Mul', [x, g.scalar(0.1)], g.shape(x))], g.shape(x)),
  loggy: (g, x) => affine(g, g.node('Sigmoid', [x], g.shape(x)), 2, -1),
  plse: (g, x) =>
    where(g, cmp(g, 'Less', x, -4), affine(g, affine(g, x, 1, 4), 0.01, 0), where(g, cmp(g, 'Greater', x, 4), affine(g, affine(g, x, 1, -4), 0.01, 1), affine(g, x, 0.125, 0.5))),
  lhtan: (g, x) => where(g, cmp(g, 'Less', x, 0), affine(g, x, 0.001, 0), where(g, cmp(g, 'Greater', x, 1), affine(g, affine(g, x, 1, -1), 0.001, 1), x)),
  stair: (g, x) => {
    const s = g.shape(x);
    const n = g.node('Floor', [x], s);
    const half = g.node('Floor', [g.node('Mul', [x, g.scalar(0.5)], s)], s);
    const twiceHalfN = g.node('Mul', [g.node('Floor', [g.node('Mul', [n, g.scalar(0.5)], s)], s), g.scalar(2)], s);
    const even = g.node('Equal', [g.node('Sub', [n, twiceHalfN], s), g.scalar(0)], s);
    return where(g, even, half, g.node('Add', [g.node('Sub', [x, n], s), half], s));
  },
};

/** Appends activation `act` applied to x; returns the result (x itself for linear). */
export function exportActivation(g: GraphBuilder, x: string, act: Activation, opts: ActivationExportOptions): string {
  const fn = ACTIVATION_EXPORTERS[act] as ActivationExporter | undefined;
  if (fn === undefined) throw new Error(`no ONNX form for activation '${String(act)}'`);
  return fn(g, x, opts);
}
