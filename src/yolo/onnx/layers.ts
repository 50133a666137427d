// One ONNX exporter per Darknet layer type, through a table (section type → exporter), mirroring the
// layer modules of src/yolo/net/layers.ts: every exporter gets the previous layer's output (shaped
// [N, ...prev.out], as the Network's outputs are) and returns its own output shaped [N, ...layer.out].
//
//   convolutional  Conv (pads size/2 or `padding`, strides, group) with the biases, or without them and
//                  then BatchNormalization; or, with foldBn, one Conv whose weights and biases absorb BN
//   connected      Gemm(x, W, transB=1) (+ bias or BatchNormalization / folded) → Reshape [out, 1, 1]
//   local          Pad → one strided Slice per kernel tap → Concat: patches [N, C·k², L] → Transpose
//                  [L, N, K] → MatMul with per-location weights [L, K, O] → Transpose → [N, O, OH, OW] + biases
//   maxpool        MaxPool with pads [p/2, p/2, p − p/2, p − p/2] (top, left, bottom, right); when a pad
//                  reaches the window size or a window lies wholly in the padding, Pad(−FLT_MAX) then MaxPool
//                  (Darknet's value for an empty window)
//   avgpool        GlobalAveragePool
//   softmax        Reshape [groups, inputs/groups] → (Div temperature) → Softmax(last axis)
//   route          Concat on channels (equal H×W) or of the flattened outputs
//   reorg          Darknet's reorg_cpu order: Reshape [C/s², H, s, W, s] → Transpose → [s, s, C/s², H, W]
//                  (reverse: the inverse permutation of the same dims)
//   region         Reshape [n, coords+1+classes, H·W] → Sigmoid on x, y (and objectness), Softmax or
//                  Sigmoid on the classes, tw/th raw → Concat
//   detection      identity, or Softmax over each cell's classes
//   dropout        identity (no node)
//   crop           centre Slice (then 2x − 1 unless noadjust)
//   cost           not exported: its inference output is zeros, so only trailing cost layers (which the
//                  network's output skips) are allowed
//
// Darknet's batch norm at inference is y = (x − mean)/(sqrt(var) + 1e-6f)·scale + beta; ONNX's is
// (x − mean)/sqrt(var' + epsilon)·scale + beta, so the export writes var' = (sqrt(var) + 1e-6f)² and
// epsilon 0. Folding: W'[f] = W[f]·s_f, b'[f] = beta_f − mean_f·s_f, s_f = scale_f/(sqrt(var_f) + 1e-6f),
// computed in double and rounded once.

import { DARKNET_BN_EPS } from '../../tensor/ops/batchnorm2d.js';
import { FLT_MAX } from '../../tensor/ops/maxpool2d.js';
import { darknetLocalOptions } from '../../tensor/ops/local2d.js';
import type {
  Activation,
  AvgpoolLayer,
  ConnectedLayer,
  ConvolutionalLayer,
  CropLayer,
  DarknetLayer,
  DetectionLayer,
  LayerOf,
  LayerType,
  LocalLayer,
  MaxpoolLayer,
  RegionLayer,
  ReorgLayer,
  RouteLayer,
  SoftmaxLayer,
  TensorName,
} from '../darknet/cfg-types.js';
import type { LayerModule } from '../net/layers.js';
import { exportActivation, type ActivationExportOptions } from './activations.js';
import type { GraphBuilder } from './graph.js';

/** A layer that has no ONNX form (or a bad combination of export options for it). */
export class OnnxExportError extends Error {}

export interface LayerExportOptions extends ActivationExportOptions {
  /** Fold batch norm into the preceding Conv/Gemm weights. */
  readonly foldBn: boolean;
  readonly opset: number;
}

export interface LayerExportContext {
  readonly g: GraphBuilder;
  readonly opts: LayerExportOptions;
  /** ONNX value of every earlier layer's output, by layer index. */
  readonly outputs: readonly string[];
}

export type LayerExporter<T extends LayerType> = (l: LayerOf<T>, m: LayerModule, x: string, ctx: LayerExportContext) => string;

/** A layer's parameter tensor as float32 host values. */
function weights(m: LayerModule, name: TensorName): Float32Array {
  const t = m.weightTensor(name);
  if (t === null) throw new OnnxExportError(`${m.where}: has no '${name}' tensor`);
  const d = t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Softmax over `axis` of x; below opset 13 a non-last axis goes through Transposes (Softmax then flattened the trailing axes). */
export function softmaxAxis(g: GraphBuilder, x: string, axis: number, opset: number): string {
  const s = g.shape(x);
  const rank = s.length + 1;
  if (opset >= 13 || axis === rank - 1) return g.node('Softmax', [x], s, { axis: { i: axis } });
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[axis] = rank - 1;
  perm[rank - 1] = axis;
  const ts = perm.slice(1).map((p) => s[p - 1]!);
  const t = g.node('Transpose', [x], ts, { perm: { ints: perm } });
  const y = g.node('Softmax', [t], ts, { axis: { i: rank - 1 } });
  return g.node('Transpose', [y], s, { perm: { ints: perm } });
}

/** x[:, ..., start:end, ...] along `axis` (a batch axis 0 in front of the per-item shape). */
export function slice(g: GraphBuilder, x: string, axis: number, start: number, end: number, step = 1): string {
  const s = g.shape(x).slice();
  s[axis - 1] = Math.floor((end - start - 1) / step) + 1;
  const inputs = [x, g.int64s([start]), g.int64s([end]), g.int64s([axis])];
  if (step !== 1) inputs.push(g.int64s([step]));
  return g.node('Slice', inputs, s);
}

/** Darknet's inference batch norm of `name` statistics as BatchNormalization inputs (see the file comment). */
function bnInputs(m: LayerModule): { scale: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array } {
  const rv = weights(m, 'rollingVariance');
  const variance = new Float32Array(rv.length);
  for (let i = 0; i < rv.length; i++) variance[i] = (Math.sqrt(rv[i]!) + DARKNET_BN_EPS) ** 2;
  return { scale: weights(m, 'scales'), beta: weights(m, 'biases'), mean: weights(m, 'rollingMean'), variance };
}

/** W and b with BN folded in: one row of `per` weights per output channel. */
function foldBn(m: LayerModule, w: Float32Array, per: number): { w: Float32Array; b: Float32Array } {
  const scale = weights(m, 'scales');
  const beta = weights(m, 'biases');
  const mean = weights(m, 'rollingMean');
  const rv = weights(m, 'rollingVariance');
  const n = scale.length;
  const fw = new Float32Array(w.length);
  const fb = new Float32Array(n);
  for (let f = 0; f < n; f++) {
    const s = scale[f]! / (Math.sqrt(rv[f]!) + DARKNET_BN_EPS);
    for (let k = f * per; k < (f + 1) * per; k++) fw[k] = w[k]! * s;
    fb[f] = beta[f]! - mean[f]! * s;
  }
  return { w: fw, b: fb };
}

/** BatchNormalization over axis 1 of y with the layer's statistics. */
function batchNorm(g: GraphBuilder, m: LayerModule, y: string): string {
  const bn = bnInputs(m);
  const c = bn.scale.length;
  const inputs = [y, g.floats('scales', bn.scale, [c]), g.floats('biases', bn.beta, [c]), g.floats('rolling_mean', bn.mean, [c]), g.floats('rolling_variance', bn.variance, [c])];
  return g.node('BatchNormalization', inputs, g.shape(y), { epsilon: { f: 0 } });
}

function activation(ctx: LayerExportContext, y: string, act: Activation): string {
  return exportActivation(ctx.g, y, act, ctx.opts);
}

const image = (l: DarknetLayer): number[] => [l.shape.c, l.shape.h, l.shape.w];

// ---------------------------------------------------------------------------------------------
// layers with parameters

function convolutional(l: ConvolutionalLayer, m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g, opts } = ctx;
  const xi = g.reshape(x, image(l));
  const cg = l.shape.c / l.groups;
  const per = cg * l.size * l.size;
  const dims = [l.filters, cg, l.size, l.size];
  const attrs = {
    kernel_shape: { ints: [l.size, l.size] },
    strides: { ints: [l.stride, l.stride] },
    pads: { ints: [l.padding, l.padding, l.padding, l.padding] },
    dilations: { ints: [1, 1] },
    group: { i: l.groups },
  };
  const out = l.out.slice();
  let y: string;
  if (!l.batchNormalize) {
    y = g.node('Conv', [xi, g.floats('weights', weights(m, 'weights'), dims), g.floats('biases', weights(m, 'biases'), [l.filters])], out, attrs);
  } else if (opts.foldBn) {
    const f = foldBn(m, weights(m, 'weights'), per);
    y = g.node('Conv', [xi, g.floats('weights', f.w, dims), g.floats('biases', f.b, [l.filters])], out, attrs);
  } else {
    y = batchNorm(g, m, g.node('Conv', [xi, g.floats('weights', weights(m, 'weights'), dims)], out, attrs));
  }
  return activation(ctx, y, l.activation);
}

function connected(l: ConnectedLayer, m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g, opts } = ctx;
  const flat = g.reshape(x, [l.shape.inputs]);
  const dims = [l.output, l.shape.inputs];
  let y: string;
  if (!l.batchNormalize) {
    y = g.node('Gemm', [flat, g.floats('weights', weights(m, 'weights'), dims), g.floats('biases', weights(m, 'biases'), [l.output])], [l.output], { transB: { i: 1 } });
  } else if (opts.foldBn) {
    const f = foldBn(m, weights(m, 'weights'), l.shape.inputs);
    y = g.node('Gemm', [flat, g.floats('weights', f.w, dims), g.floats('biases', f.b, [l.output])], [l.output], { transB: { i: 1 } });
  } else {
    y = batchNorm(g, m, g.node('Gemm', [flat, g.floats('weights', weights(m, 'weights'), dims)], [l.output], { transB: { i: 1 } }));
  }
  return g.reshape(activation(ctx, y, l.activation), l.out);
}

function local(l: LocalLayer, m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  const p = darknetLocalOptions(l.size, l.stride, l.pad ? 1 : 0);
  const [pt, pb, pl, pr] = p.padding;
  const { c, outH: oh, outW: ow } = l.shape;
  const k = l.size;
  const o = l.filters;
  const locs = oh * ow;
  const kk = c * k * k;
  let xp = g.reshape(x, image(l));
  if (pt + pb + pl + pr > 0) {
    const s = [c, l.shape.h + pt + pb, l.shape.w + pl + pr];
    xp = g.node('Pad', [xp, g.int64s([0, 0, pt, pl, 0, 0, pb, pr]), g.scalar(0)], s, { mode: { s: 'constant' } });
  }
  // Tap (u, v) of every location: rows u, u + sh, ..., columns v, v + sw, ...; K index = c·k² + u·k + v.
  const taps: string[] = [];
  for (let u = 0; u < k; u++) {
    for (let v = 0; v < k; v++) {
      const rows = slice(g, xp, 2, u, u + l.stride * (oh - 1) + 1, l.stride);
      taps.push(g.reshape(slice(g, rows, 3, v, v + l.stride * (ow - 1) + 1, l.stride), [c, 1, locs]));
    }
  }
  const patches = g.reshape(taps.length === 1 ? taps[0]! : g.node('Concat', taps, [c, k * k, locs], { axis: { i: 2 } }), [kk, locs]);
  // [N, K, L] → [L, N, K]. The two values with the batch inside ([L, N, K], [L, N, O]) get placeholder
  // shapes in the builder's bookkeeping (which assumes the batch on axis 0); nothing reshapes them.
  const rows = g.node('Transpose', [patches], [0, kk], { perm: { ints: [2, 0, 1] } });
  // Weights [L, O, K] (Darknet's layout) → [L, K, O] for the MatMul.
  const w = weights(m, 'weights');
  const wt = new Float32Array(w.length);
  for (let loc = 0; loc < locs; loc++) {
    const base = loc * o * kk;
    for (let f = 0; f < o; f++) for (let q = 0; q < kk; q++) wt[base + q * o + f] = w[base + f * kk + q]!;
  }
  const prodLno = g.node('MatMul', [rows, g.floats('weights', wt, [locs, kk, o])], [0, o]);
  const y = g.node('Transpose', [prodLno], [o, locs], { perm: { ints: [1, 2, 0] } });
  const yi = g.reshape(y, [o, oh, ow]);
  const out = g.node('Add', [yi, g.floats('biases', weights(m, 'biases'), [o, oh, ow])], [o, oh, ow]);
  return activation(ctx, out, l.activation);
}

// ---------------------------------------------------------------------------------------------
// layers without parameters

function maxpool(l: MaxpoolLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  const lo = Math.floor(l.padding / 2);
  const hi = l.padding - lo;
  const { c, h, w, outH, outW } = l.shape;
  const k = l.size;
  const s = l.stride;
  const xi = g.reshape(x, image(l));
  const attrs = { kernel_shape: { ints: [k, k] }, strides: { ints: [s, s] } };
  // A window wholly in the padding (first: lo ≥ k; last: starts at or past the input's end) has no input value.
  const empty = lo >= k || (outH - 1) * s - lo >= h || (outW - 1) * s - lo >= w;
  if (!empty && hi < k) return g.node('MaxPool', [xi], l.out, { ...attrs, pads: { ints: [lo, lo, hi, hi] } });
  const padded = g.node('Pad', [xi, g.int64s([0, 0, lo, lo, 0, 0, hi, hi]), g.scalar(-FLT_MAX)], [c, h + l.padding, w + l.padding], { mode: { s: 'constant' } });
  return g.node('MaxPool', [padded], l.out, attrs);
}

function avgpool(l: AvgpoolLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  return ctx.g.node('GlobalAveragePool', [ctx.g.reshape(x, image(l))], l.out);
}

function softmax(l: SoftmaxLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  let v = g.reshape(x, [l.groups, l.shape.inputs / l.groups]);
  if (l.temperature !== 1) v = g.node('Div', [v, g.scalar(l.temperature)], g.shape(v));
  return g.reshape(g.node('Softmax', [v], g.shape(v), { axis: { i: 2 } }), l.out);
}

function route(l: RouteLayer, m: LayerModule, _x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  const srcs = l.layers.map((i) => {
    const s = ctx.outputs[i];
    if (s === undefined) throw new OnnxExportError(`${m.where}: the output of layer ${i} is not available`);
    return s;
  });
  const shapes = srcs.map((s) => g.shape(s));
  if (srcs.length === 1) return g.reshape(srcs[0]!, l.out);
  const spatial = shapes.every((s) => s.length === 3 && s[1] === shapes[0]![1] && s[2] === shapes[0]![2]);
  if (spatial) {
    const c = shapes.reduce((a, s) => a + s[0]!, 0);
    return g.reshape(g.node('Concat', srcs, [c, shapes[0]![1]!, shapes[0]![2]!], { axis: { i: 1 } }), l.out);
  }
  const flat = srcs.map((s) => g.reshape(s, [prod(g.shape(s))]));
  return g.reshape(g.node('Concat', flat, [l.shape.outputs], { axis: { i: 1 } }), l.out);
}

function reorg(l: ReorgLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  const s = l.stride;
  const { c, h, w } = l.shape;
  const c2 = c / (s * s);
  let t: string;
  if (!l.reverse) {
    // out[(dy·s + dx)·C/s² + c2][j][i] = X'[c2][j·s + dy][i·s + dx], X' the flat input read as [C/s², H·s, W·s]:
    // X' as [c2, j, dy, i, dx] → [dy, dx, c2, j, i].
    const v = g.reshape(x, [c2, h, s, w, s]);
    t = g.node('Transpose', [v], [s, s, c2, h, w], { perm: { ints: [0, 3, 5, 1, 2, 4] } });
  } else {
    // The inverse permutation for the same dims: x as [dy, dx, c2, j, i] → [c2, j, dy, i, dx].
    const v = g.reshape(x, [s, s, c2, h, w]);
    t = g.node('Transpose', [v], [c2, h, s, w, s], { perm: { ints: [0, 3, 4, 1, 5, 2] } });
  }
  return g.reshape(t, l.out);
}

function region(l: RegionLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g, opts } = ctx;
  const per = l.coords + 1 + l.classes;
  const v = g.reshape(x, [l.n, per, l.shape.w * l.shape.h]);
  const sigmoid = (t: string): string => g.node('Sigmoid', [t], g.shape(t));
  const parts = [sigmoid(slice(g, v, 2, 0, 2))];
  if (l.coords > 2) parts.push(slice(g, v, 2, 2, l.coords));
  if (l.background && l.softmax) {
    parts.push(softmaxAxis(g, slice(g, v, 2, l.coords, per), 2, opts.opset));
  } else {
    const obj = slice(g, v, 2, l.coords, l.coords + 1);
    parts.push(l.background ? obj : sigmoid(obj));
    const cls = slice(g, v, 2, l.coords + 1, per);
    parts.push(l.softmax ? softmaxAxis(g, cls, 2, opts.opset) : sigmoid(cls));
  }
  return g.reshape(g.node('Concat', parts, g.shape(v), { axis: { i: 2 } }), l.out);
}

function detection(l: DetectionLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  if (!l.softmax) return g.reshape(x, l.out);
  const cells = l.side * l.side;
  const nc = cells * l.classes;
  const v = g.reshape(x, [l.shape.inputs]);
  const cls = g.node('Softmax', [g.reshape(slice(g, v, 1, 0, nc), [cells, l.classes])], [cells, l.classes], { axis: { i: 2 } });
  const y = g.node('Concat', [g.reshape(cls, [nc]), slice(g, v, 1, nc, l.shape.inputs)], [l.shape.inputs], { axis: { i: 1 } });
  return g.reshape(y, l.out);
}

function crop(l: CropLayer, _m: LayerModule, x: string, ctx: LayerExportContext): string {
  const { g } = ctx;
  const dh = Math.trunc((l.shape.h - l.cropHeight) / 2);
  const dw = Math.trunc((l.shape.w - l.cropWidth) / 2);
  const v = slice(g, slice(g, g.reshape(x, image(l)), 2, dh, dh + l.cropHeight), 3, dw, dw + l.cropWidth);
  if (l.noadjust) return v;
  return g.node('Add', [g.node('Mul', [v, g.scalar(2)], g.shape(v)), g.scalar(-1)], g.shape(v));
}

function unexportable<T extends LayerType>(reason: string): LayerExporter<T> {
  return (_l, m) => {
    throw new OnnxExportError(`${m.where}: cannot be exported to ONNX: ${reason}`);
  };
}

/** Section type → exporter. Every LayerType has an entry (checked by the type). */
export const LAYER_EXPORTERS: { readonly [T in LayerType]: LayerExporter<T> } = {
  convolutional,
  connected,
  local,
  maxpool,
  avgpool,
  softmax,
  route,
  reorg,
  region,
  detection,
  dropout: (l, _m, x, ctx) => ctx.g.reshape(x, l.out),
  cost: unexportable('a [cost] layer compares with training truth and outputs zeros at inference; only trailing [cost] layers (after the output layer) can be left out'),
  crop,
};

/** Appends the nodes of layer module `m` applied to x; returns its output value. */
export function exportLayer(m: LayerModule, x: string, ctx: LayerExportContext): string {
  const l = m.layer;
  const fn = LAYER_EXPORTERS[l.type] as LayerExporter<LayerType> | undefined;
  if (fn === undefined) throw new OnnxExportError(`${m.where}: no ONNX exporter for layer type '${l.type}'`);
  const y = fn(l as LayerOf<LayerType>, m, x, ctx);
  const shape = ctx.g.shape(y);
  if (prod(shape) !== l.shape.outputs) throw new Error(`${m.where}: exported output [${shape.join(', ')}] holds ${prod(shape)} values per image, the layer ${l.shape.outputs}`);
  return ctx.g.reshape(y, l.out);
}
