// One nn Module per Darknet layer section, and the table from section type to factory.
//
// Every module's forward receives the previous layer's output as a tensor [N, ...] (any shape holding
// N × that layer's `inputs` values; the buffer is read flat in CHW order, as Darknet does) and returns
// its own output; the Network reshapes it to [N, ...layer.out]. Layers that read other layers' outputs
// ([route]) find them in the ForwardContext. Training mode is the Module's `training` flag (Darknet's
// net.train): BN uses batch statistics and updates its rolling statistics in place, dropout drops,
// crop picks random offsets.
//
// Forward semantics (SEMANTICS.md 6; Darknet's forward_<type>_layer, CPU build):
//   convolutional  conv (zero padding `padding` px) → BN (Darknet variant; the file's biases are the BN
//                  beta, the conv adds no bias) or + bias → activation
//   maxpool        Darknet padding: padding/2 on the top/left, the rest bottom/right, -FLT_MAX outside
//   avgpool        mean over H×W per channel → C×1×1
//   softmax        softmax over each of `groups` consecutive slices of the flat input, of x/temperature
//                  (`spatial` is ignored, as Darknet's CPU forward does)
//   route          concatenation of the listed layers' flat outputs (per batch item), in cfg order
//   reorg          Darknet's reorg_cpu order (not pixel_unshuffle); `reverse` is reorg_cpu with forward=1:
//                  the inverse permutation of a forward reorg of a tensor with THIS input's dims (so, as in
//                  Darknet, not the inverse of a preceding forward reorg)
//   region         per anchor: logistic on tx, ty and objectness (not with `background`), softmax over the
//                  classes (+ background) when `softmax`, else logistic on the classes; tw, th raw
//                  (backward: Darknet's, σ' on the logistic entries and identity elsewhere; see RegionModule)
//   local          unshared 'conv' with `pad` used literally as 1 px, output preset to the biases, activation
//   dropout        identity at inference (the previous buffer itself), inverted dropout in training
//   connected      x·Wᵀ → BN or + bias → activation
//   detection      identity (softmax over each cell's classes when `softmax`)
//   cost           no truth: zeros (Darknet leaves its output untouched); with truth: the per-element
//                  error (sse/seg/wgan: (t-x)², masked: 0 where t == SECRET_NUM, L1: |t-x|, smooth: Huber)
//   crop           centre crop (random crop and flip in training), then x*2-1 unless `noadjust`

import type { Rng } from '../../tensor/random.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { batchnorm2d } from '../../tensor/ops/batchnorm2d.js';
import { abs, square, sigmoid } from '../../tensor/ops/unary.js';
import { add, div, eq, lt, mul, sub } from '../../tensor/ops/binary.js';
import { cat } from '../../tensor/ops/cat.js';
import { conv2d } from '../../tensor/ops/conv2d.js';
import { ones, rand, randn, zeros, zerosLike } from '../../tensor/ops/creation.js';
import { dropout } from '../../tensor/ops/dropout.js';
import { darknetLocalOptions, local2d, type Local2dParams } from '../../tensor/ops/local2d.js';
import { linear } from '../../tensor/ops/matmul.js';
import { maxpool2dDarknet } from '../../tensor/ops/maxpool2d.js';
import { globalAvgPool2d } from '../../tensor/ops/avgpool2d.js';
import { reorgDarknet } from '../../tensor/ops/reorg.js';
import { softmax } from '../../tensor/ops/softmax.js';
import { narrow, permute, reshape } from '../../tensor/ops/views.js';
import { where } from '../../tensor/ops/where.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { shapeStr } from '../../tensor/shape.js';
import { Module } from '../../nn/module.js';
import type {
  AvgpoolLayer,
  ConnectedLayer,
  ConvolutionalLayer,
  CostLayer,
  CropLayer,
  DarknetLayer,
  DetectionLayer,
  DropoutLayer,
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
import { activate, checkActivation } from './activations.js';

/** Batch statistics of one BN layer run in training mode ([C] each; the variance is the unbiased one). */
export interface BatchStats {
  mean: Tensor;
  variance: Tensor;
}

/** What a layer's forward may read besides its input. */
export interface ForwardContext {
  /** Outputs of layers 0..i-1, each [N, ...out] ([route] reads them). */
  readonly outputs: readonly Tensor[];
  /** Random stream for dropout masks and crop offsets in training. */
  readonly rng: Rng;
  /** Truth for [cost] layers: N × inputs values (Darknet's net.truth), or null at inference. */
  readonly truth: Tensor | null;
  /** When set, BN layers in training mode store their batch statistics here by layer index. */
  readonly batchStats: Map<number, BatchStats> | null;
}

/** Parameter initialisation of a freshly built layer (before any weights are loaded). */
export interface InitContext {
  readonly rng: Rng;
  readonly dtype: DType;
  /** false: weights start at zero (they are about to be loaded; skips drawing random numbers). */
  readonly random: boolean;
}

/** Random initial weights (or zeros when `init.random` is false). */
function initWeights(init: InitContext, shape: number[], draw: (o: { rng: Rng; dtype: DType }) => Tensor): Tensor {
  return init.random ? draw({ rng: init.rng, dtype: init.dtype }) : zeros(shape, { dtype: init.dtype });
}

/** Base of every layer module: the parsed layer and a forward over the previous layer's output. */
export abstract class LayerModule<L extends DarknetLayer = DarknetLayer> extends Module {
  private current: L;

  constructor(layer: L) {
    super();
    this.current = layer;
  }

  /** The parsed layer (its geometry follows Network.adoptCfg). */
  get layer(): L {
    return this.current;
  }

  /** Takes the same layer parsed for another input size (see Network.adoptCfg). */
  setLayer(l: DarknetLayer): void {
    if (l.type !== this.current.type) throw new Error(`${this.where}: cannot become a [${l.type}] layer`);
    this.current = l as L;
  }

  abstract forward(x: Tensor, ctx: ForwardContext): Tensor;

  /** The tensor that holds .weights tensor `name` of this layer, or null when the layer has none. */
  weightTensor(_name: TensorName): Tensor | null {
    return null;
  }

  /** "layer 3 [maxpool] (file.cfg:12)" for messages. */
  get where(): string {
    return describeLayer(this.layer);
  }
}

export function describeLayer(l: DarknetLayer): string {
  return `layer ${l.index} [${l.type}] (${l.source.file}:${l.source.line})`;
}

/** A layer with Darknet parameters, kept under their .weights names (biases, scales, rollingMean, ...). */
abstract class WeightedLayer<L extends DarknetLayer> extends LayerModule<L> {
  private readonly held = new Map<TensorName, Tensor>();

  protected hold(name: TensorName, t: Tensor, kind: 'param' | 'buffer'): void {
    if (kind === 'param') this.param(name, t);
    else this.buffer(name, t);
    this.held.set(name, t);
  }

  protected t(name: TensorName): Tensor {
    const t = this.held.get(name);
    if (t === undefined) throw new Error(`${this.where}: has no '${name}' tensor`);
    return t;
  }

  protected override onReplace(name: string, t: Tensor): void {
    this.held.set(name as TensorName, t);
  }

  override weightTensor(name: TensorName): Tensor | null {
    return this.held.get(name) ?? null;
  }

  /** BN parameters: scales 1, biases (beta) 0, rolling mean 0, rolling variance 0 (Darknet's calloc). */
  protected holdBatchNorm(n: number, dtype: DType): void {
    this.hold('scales', ones([n], { dtype }), 'param');
    this.hold('rollingMean', zeros([n], { dtype }), 'buffer');
    this.hold('rollingVariance', zeros([n], { dtype }), 'buffer');
  }

  /** Darknet's forward_batchnorm_layer on y [N, C, H, W], beta = the layer's biases. */
  protected batchNorm(y: Tensor, ctx: ForwardContext): Tensor {
    const r = batchnorm2d(y, this.t('scales'), this.t('biases'), this.t('rollingMean'), this.t('rollingVariance'), {
      variant: 'darknet',
      training: this.training,
    });
    if (r.batchMean !== null && r.batchVar !== null) {
      if (ctx.batchStats !== null) ctx.batchStats.set(this.layer.index, { mean: r.batchMean, variance: r.batchVar });
      else {
        r.batchMean.dispose();
        r.batchVar.dispose();
      }
    }
    return r.y;
  }
}

/** The input as [N, c, h, w] with the layer's input geometry. */
function asImage(x: Tensor, l: DarknetLayer): Tensor {
  return reshape(x, [x.shape[0]!, l.shape.c, l.shape.h, l.shape.w]);
}

/** The input as [N, n]. */
function asFlat(x: Tensor, n: number): Tensor {
  return reshape(x, [x.shape[0]!, n]);
}

// ---------------------------------------------------------------------------------------------
// layers with parameters

export class ConvolutionalModule extends WeightedLayer<ConvolutionalLayer> {
  constructor(layer: ConvolutionalLayer, init: InitContext) {
    super(layer);
    checkActivation(layer.activation, this.where);
    const cg = layer.shape.c / layer.groups;
    // make_convolutional_layer: weights ~ N(0, 2/fan_in), biases 0.
    const std = Math.sqrt(2 / (layer.size * layer.size * cg));
    const shape = [layer.filters, cg, layer.size, layer.size];
    this.hold('weights', initWeights(init, shape, (o) => randn(shape, { ...o, std })), 'param');
    this.hold('biases', zeros([layer.filters], { dtype: init.dtype }), 'param');
    if (layer.batchNormalize) this.holdBatchNorm(layer.filters, init.dtype);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const l = this.layer;
    const bn = l.batchNormalize;
    let y = conv2d(asImage(x, l), this.t('weights'), bn ? null : this.t('biases'), { stride: l.stride, padding: l.padding, groups: l.groups });
    if (bn) y = this.batchNorm(y, ctx);
    return activate(y, l.activation);
  }
}

export class ConnectedModule extends WeightedLayer<ConnectedLayer> {
  constructor(layer: ConnectedLayer, init: InitContext) {
    super(layer);
    checkActivation(layer.activation, this.where);
    // make_connected_layer: weights ~ U(-s, s), s = sqrt(2/inputs); biases 0.
    const s = Math.sqrt(2 / layer.shape.inputs);
    const shape = [layer.output, layer.shape.inputs];
    this.hold('weights', initWeights(init, shape, (o) => rand(shape, { ...o, low: -s, high: s })), 'param');
    this.hold('biases', zeros([layer.output], { dtype: init.dtype }), 'param');
    if (layer.batchNormalize) this.holdBatchNorm(layer.output, init.dtype);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const l = this.layer;
    const n = x.shape[0]!;
    let y = linear(asFlat(x, l.shape.inputs), this.t('weights'), l.batchNormalize ? null : this.t('biases'));
    if (l.batchNormalize) y = this.batchNorm(reshape(y, [n, l.output, 1, 1]), ctx);
    return activate(y, l.activation);
  }
}

export class LocalModule extends WeightedLayer<LocalLayer> {
  private readonly params: Local2dParams;

  constructor(layer: LocalLayer, init: InitContext) {
    super(layer);
    checkActivation(layer.activation, this.where);
    try {
      this.params = darknetLocalOptions(layer.size, layer.stride, layer.pad ? 1 : 0);
    } catch (e) {
      throw new Error(`${this.where}: ${(e as Error).message}`);
    }
    const s = layer.shape;
    // make_local_layer: weights ~ U(-s, s), s = sqrt(2/(size*size*c)); biases 0.
    const bound = Math.sqrt(2 / (layer.size * layer.size * s.c));
    const wShape = [s.outH, s.outW, layer.filters, s.c, layer.size, layer.size];
    this.hold('weights', initWeights(init, wShape, (o) => rand(wShape, { ...o, low: -bound, high: bound })), 'param');
    this.hold('biases', zeros([layer.filters, s.outH, s.outW], { dtype: init.dtype }), 'param');
  }

  forward(x: Tensor): Tensor {
    const l = this.layer;
    return activate(local2d(asImage(x, l), this.t('weights'), this.t('biases'), this.params), l.activation);
  }
}

// ---------------------------------------------------------------------------------------------
// layers without parameters

export class MaxpoolModule extends LayerModule<MaxpoolLayer> {
  forward(x: Tensor): Tensor {
    const l = this.layer;
    return maxpool2dDarknet(asImage(x, l), l.size, l.stride, l.padding);
  }
}

export class AvgpoolModule extends LayerModule<AvgpoolLayer> {
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(asImage(x, this.layer));
  }
}

export class SoftmaxModule extends LayerModule<SoftmaxLayer> {
  forward(x: Tensor): Tensor {
    const l = this.layer;
    const g = l.groups;
    let v = reshape(x, [x.shape[0]!, g, l.shape.inputs / g]);
    if (l.temperature !== 1) v = div(v, l.temperature);
    return softmax(v, 2);
  }
}

export class RouteModule extends LayerModule<RouteLayer> {
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const n = x.shape[0]!;
    const parts = this.layer.layers.map((i) => {
      const src = ctx.outputs[i];
      if (src === undefined) throw new Error(`${this.where}: the output of layer ${i} is not available`);
      return reshape(src, [n, src.size / n]);
    });
    return parts.length === 1 ? parts[0]! : cat(parts, 1);
  }
}

export class ReorgModule extends LayerModule<ReorgLayer> {
  forward(x: Tensor): Tensor {
    const l = this.layer;
    const s = l.stride;
    if (!l.reverse) return reorgDarknet(asImage(x, l), s);
    // reorg_cpu(forward=1) with the input dims (w, h, c), c = s²·c2n: input channel k = (dy·s + dx)·c2n + c2
    // goes to out[c2][j·s + dy][i·s + dx] = x[k][j][i]. As views: x [N, dy, dx, c2, j, i] →
    // [N, c2, j, dy, i, dx], i.e. the inverse of the forward reorg for the same dims, no divisibility needed.
    const { c, h, w } = l.shape;
    const c2n = c / (s * s);
    return permute(reshape(x, [x.shape[0]!, s, s, c2n, h, w]), [0, 3, 4, 1, 5, 2]);
  }
}

export class RegionModule extends LayerModule<RegionLayer> {
  constructor(layer: RegionLayer) {
    super(layer);
    if (layer.coords < 2) throw new Error(`${this.where}: coords=${layer.coords}, a region layer needs at least x and y (coords >= 2)`);
  }

  /**
   * Forward as described in the file comment. Backward is Darknet's (backward_region_layer_gpu), not
   * the derivative of this forward: the incoming gradient is multiplied by σ' on the logistic entries
   * (x, y, objectness unless `background`) and passed unchanged to tw, th and the classes. The class
   * gradient of the region loss is already onehot − p, the cross-entropy gradient at the logits, so
   * the softmax (or logistic) Jacobian must not be applied again.
   */
  forward(x: Tensor): Tensor {
    const l = this.layer;
    const per = l.coords + 1 + l.classes;
    // Darknet's entry_index layout: [anchor][entry][loc].
    const v = reshape(x, [x.shape[0]!, l.n, per, l.shape.w * l.shape.h]);
    const y = noGrad(() => {
      const parts: Tensor[] = [sigmoid(narrow(v, 2, 0, 2))];
      if (l.coords > 2) parts.push(narrow(v, 2, 2, l.coords - 2));
      if (l.background && l.softmax) {
        parts.push(softmax(narrow(v, 2, l.coords, 1 + l.classes), 2));
      } else {
        const obj = narrow(v, 2, l.coords, 1);
        parts.push(l.background ? obj : sigmoid(obj));
        const cls = narrow(v, 2, l.coords + 1, l.classes);
        parts.push(l.softmax ? softmax(cls, 2) : sigmoid(cls));
      }
      return cat(parts, 2);
    });
    return record('region', [x], y, (g) => {
      const gv = reshape(g, y.shape);
      const dsig = (start: number, len: number): Tensor => {
        const yy = narrow(y, 2, start, len);
        return mul(narrow(gv, 2, start, len), mul(yy, sub(1, yy)));
      };
      const parts: Tensor[] = [dsig(0, 2)];
      if (l.coords > 2) parts.push(narrow(gv, 2, 2, l.coords - 2));
      parts.push(l.background ? narrow(gv, 2, l.coords, 1) : dsig(l.coords, 1));
      parts.push(narrow(gv, 2, l.coords + 1, l.classes));
      return [reshape(cat(parts, 2), x.shape)];
    });
  }
}

export class DetectionModule extends LayerModule<DetectionLayer> {
  /**
   * Identity, or a softmax over each cell's classes when `softmax`. Backward is Darknet's identity in
   * both cases (the class gradient of the detection loss is taken at the scores).
   */
  forward(x: Tensor): Tensor {
    const l = this.layer;
    if (!l.softmax) return x;
    const n = x.shape[0]!;
    const cells = l.side * l.side;
    const nc = cells * l.classes;
    const y = noGrad(() => {
      const v = asFlat(x, l.shape.inputs);
      const cls = softmax(reshape(narrow(v, 1, 0, nc), [n, cells, l.classes]), 2);
      return cat([reshape(cls, [n, nc]), narrow(v, 1, nc, l.shape.inputs - nc)], 1);
    });
    return record('detection', [x], y, (g) => [reshape(g, x.shape)]);
  }
}

export class DropoutModule extends LayerModule<DropoutLayer> {
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    // At inference Darknet's dropout output *is* its input buffer: return the same tensor.
    if (!this.training) return x;
    return dropout(x, this.layer.probability, { training: true, rng: ctx.rng });
  }
}

/** Darknet's SECRET_NUM: truth entries equal to it are masked out by a `masked` cost layer. */
export const SECRET_NUM = -1234;

export class CostModule extends LayerModule<CostLayer> {
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const l = this.layer;
    const n = x.shape[0]!;
    const pred = asFlat(x, l.shape.inputs);
    if (ctx.truth === null) return noGrad(() => zerosLike(pred));
    if (ctx.truth.size !== pred.size) {
      throw new Error(`${this.where}: truth ${shapeStr(ctx.truth.shape)} must hold ${n}×${l.shape.inputs} values`);
    }
    const truth = reshape(ctx.truth, pred.shape);
    const diff = sub(truth, pred);
    switch (l.costType) {
      case 'L1':
        return abs(diff);
      case 'smooth': {
        const a = abs(diff);
        return where(lt(a, 1), square(diff), sub(mul(a, 2), 1));
      }
      case 'masked':
        return where(eq(truth, SECRET_NUM), 0, square(diff));
      default:
        return square(diff);
    }
  }
}

export class CropModule extends LayerModule<CropLayer> {
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const l = this.layer;
    const { w, h } = l.shape;
    const oh = l.cropHeight;
    const ow = l.cropWidth;
    let flip = false;
    let dh: number;
    let dw: number;
    if (this.training) {
      flip = l.flip && ctx.rng.int(2) === 1;
      dh = ctx.rng.int(h - oh + 1);
      dw = ctx.rng.int(w - ow + 1);
    } else {
      dh = Math.trunc((h - oh) / 2);
      dw = Math.trunc((w - ow) / 2);
    }
    const rows = narrow(asImage(x, l), 2, dh, oh);
    let v: Tensor;
    if (flip) {
      // Output column j reads input column w - dw - j - 1.
      v = cat(Array.from({ length: ow }, (_, j) => narrow(rows, 3, w - dw - j - 1, 1)), 3);
    } else {
      v = narrow(rows, 3, dw, ow);
    }
    return l.noadjust ? v : add(mul(v, 2), -1);
  }
}

// ---------------------------------------------------------------------------------------------
// the table

export type LayerFactory<T extends LayerType> = (layer: LayerOf<T>, init: InitContext) => LayerModule;

/** Section type → module factory. Every LayerType must have an entry (checked by the type). */
export const LAYER_FACTORIES: { readonly [T in LayerType]: LayerFactory<T> } = {
  convolutional: (l, init) => new ConvolutionalModule(l, init),
  connected: (l, init) => new ConnectedModule(l, init),
  local: (l, init) => new LocalModule(l, init),
  maxpool: (l) => new MaxpoolModule(l),
  avgpool: (l) => new AvgpoolModule(l),
  softmax: (l) => new SoftmaxModule(l),
  route: (l) => new RouteModule(l),
  reorg: (l) => new ReorgModule(l),
  region: (l) => new RegionModule(l),
  detection: (l) => new DetectionModule(l),
  dropout: (l) => new DropoutModule(l),
  cost: (l) => new CostModule(l),
  crop: (l) => new CropModule(l),
};

/** Builds the module of one parsed layer through the table. */
export function buildLayer(layer: DarknetLayer, init: InitContext): LayerModule {
  const factory = LAYER_FACTORIES[layer.type] as LayerFactory<LayerType> | undefined;
  if (factory === undefined) throw new Error(`${describeLayer(layer)}: no module for layer type '${layer.type}'`);
  return factory(layer as LayerOf<LayerType>, init);
}
