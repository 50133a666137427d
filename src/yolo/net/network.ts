// A Darknet network as an nn Module: one child module per cfg layer (built through LAYER_FACTORIES),
// run in cfg order, each on the previous layer's output; forward returns every layer's output.
//
//   const cfg = readCfgFile('yolov2-tiny-voc.cfg', { overrides: { width: 96, height: 96, batch: 1, subdivisions: 1 } });
//   const net = buildNetwork(cfg);
//   loadWeights(net, await readWeightsFile('x.weights', cfg));
//   net.eval();
//   const outs = noGrad(() => net.forward(input));   // outs[i]: [N, ...cfg.layers[i].out]
//
// Outputs are shaped [N, c, h, w] with (c, h, w) = the parsed layer's `out` ([outputs, 1, 1] for the
// flat layers: connected, softmax, detection, cost, and routes of unequal sizes). Some outputs share
// storage with others, as Darknet's buffers do (dropout at inference returns its input; a one-source
// route or a non-softmax detection layer returns a view of its input); treat them as read-only.
// Memory: the caller owns the returned tensors (run inside scope() to free intermediates).


import { cpu, getDevice, type Device, type DeviceLike } from '../../tensor/device.js';
import type { DType } from '../../tensor/dtype.js';
import { Rng } from '../../tensor/random.js';
import { shapeStr } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { reshape } from '../../tensor/ops/views.js';
import { Module } from '../../nn/module.js';
import { parseCfg, readCfgText, type NetOverrides } from '../darknet/cfg.js';
import { checkNetworkMemory } from '../darknet/cfg-memory.js';
import type { DarknetLayer, DarknetNetwork } from '../darknet/cfg-types.js';
import { defaultHeader, readWeightsFileSync, type WeightsHeader } from '../darknet/weights.js';
import { buildLayer, describeLayer, type BatchStats, type ForwardContext, type LayerModule } from './layers.js';
import { loadWeights } from './weights.js';

export interface BuildNetworkOptions {
  /** Parameter dtype (default float32; float32 is what reproduces Darknet). */
  readonly dtype?: DType;
  /** Device for parameters (default cpu). */
  readonly device?: DeviceLike;
  /** Seed of the initial parameter values (before any weights are loaded). Default 0. */
  readonly seed?: number;
  /**
   * Draw random initial weights as Darknet's make_*_layer does (default true). false starts them at
   * zero: faster when weights are loaded right after.
   */
  readonly randomInit?: boolean;
  /**
   * Size the memory check (cfg-memory.ts) for training (gradients, optimiser slots) rather than
   * inference. Default false.
   */
  readonly training?: boolean;
}

export interface NetworkForwardOptions {
  /** Truth for [cost] layers (N × truths values). */
  readonly truth?: Tensor | null;
  /** Receives the batch statistics of BN layers in training mode, by layer index. */
  readonly batchStats?: Map<number, BatchStats> | null;
}

export class Network extends Module {
  /** The parsed cfg (replaced by adoptCfg when the input size changes). */
  private parsed: DarknetNetwork;
  readonly layers: readonly LayerModule[];
  readonly dtype: DType;
  /** Header of the weights file (version, images seen); written back by exportWeights. */
  header: WeightsHeader = defaultHeader(0);
  /** Random stream of dropout masks and crop offsets in training. */
  rng: Rng;
  private dev: Device;
  private readonly forTraining: boolean;

  constructor(cfg: DarknetNetwork, opts: BuildNetworkOptions = {}) {
    super();
    this.parsed = cfg;
    this.dtype = opts.dtype ?? 'float32';
    this.forTraining = opts.training ?? false;
    // Before any tensor exists: a cfg that asks for more memory than the machine has fails in one line.
    checkNetworkMemory(cfg, { training: this.forTraining, bytesPerValue: this.dtype === 'float64' ? 8 : 4 });
    const init = { rng: new Rng(opts.seed ?? 0), dtype: this.dtype, random: opts.randomInit ?? true };
    const layers: LayerModule[] = [];
    for (const l of cfg.layers) layers.push(this.child(String(l.index), buildLayer(l, init)));
    this.layers = layers;
    this.rng = new Rng((opts.seed ?? 0) + 1);
    this.dev = cpu;
    if (opts.device !== undefined && getDevice(opts.device) !== cpu) this.to(opts.device);
  }

  get device(): Device {
    return this.dev;
  }

  get cfg(): DarknetNetwork {
    return this.parsed;
  }

  /**
   * Adopts `cfg`, the same cfg parsed for another input size (multi-scale training): the layers keep
   * their parameters and take the new geometry. Throws when a layer's parameter count depends on the
   * input size ([connected], [local]: Darknet's random=1 needs a fully convolutional network).
   */
  adoptCfg(cfg: DarknetNetwork): void {
    if (cfg.layers.length !== this.layers.length) throw new Error(`adoptCfg: ${cfg.file} has ${cfg.layers.length} layers, the network ${this.layers.length}`);
    checkNetworkMemory(cfg, { training: this.forTraining, bytesPerValue: this.dtype === 'float64' ? 8 : 4 });
    cfg.layers.forEach((l, i) => {
      const m = this.layers[i]!;
      if (l.type !== m.layer.type) throw new Error(`adoptCfg: layer ${i} is [${l.type}] in the new cfg, [${m.layer.type}] in the network`);
      for (const t of 'tensors' in l ? (l.tensors as readonly { name: string; count: number }[]) : []) {
        const own = m.weightTensor(t.name as Parameters<typeof m.weightTensor>[0]);
        if (own !== null && own.size !== t.count) {
          throw new Error(
            `${describeLayer(m.layer)}: its '${t.name}' would hold ${t.count} values at ${cfg.net.width}x${cfg.net.height} but holds ${own.size} at ` +
              `${this.parsed.net.width}x${this.parsed.net.height}; changing the input size (random=1) needs a network whose parameters do not depend on it`,
          );
        }
      }
    });
    cfg.layers.forEach((l, i) => this.layers[i]!.setLayer(l));
    this.parsed = cfg;
  }

  override to(device: DeviceLike): this {
    const d = getDevice(device);
    super.to(d);
    this.dev = d;
    return this;
  }

  /** Index of Darknet's output layer: the last layer that is not [cost]. */
  get outputIndex(): number {
    for (let i = this.layers.length - 1; i >= 0; i--) if (this.layers[i]!.layer.type !== 'cost') return i;
    return this.layers.length - 1;
  }

  /** Input geometry [c, h, w]. */
  get inputShape(): readonly [number, number, number] {
    return this.cfg.input;
  }

  /**
   * Runs every layer on `input` ([N, c, h, w], [c, h, w] or [N, inputs]) and returns every layer's output,
   * [N, ...cfg.layers[i].out] each.
   */
  forward(input: Tensor, opts: NetworkForwardOptions = {}): Tensor[] {
    const x0 = this.checkInput(input);
    const outputs: Tensor[] = [];
    const ctx: ForwardContext = { outputs, rng: this.rng, truth: opts.truth ?? null, batchStats: opts.batchStats ?? null };
    let x = x0;
    for (const m of this.layers) {
      const y = this.run(m, x, ctx);
      outputs.push(y);
      x = y;
    }
    return outputs;
  }

  /** The output layer's tensor from forward()'s result. */
  output(outputs: readonly Tensor[]): Tensor {
    const t = outputs[this.outputIndex];
    if (t === undefined) throw new Error(`Network.output: expected ${this.layers.length} layer outputs, got ${outputs.length}`);
    return t;
  }

  private run(m: LayerModule, x: Tensor, ctx: ForwardContext): Tensor {
    const l = m.layer;
    const n = x.shape[0]!;
    let y: Tensor;
    try {
      y = m.forward(x, ctx);
    } catch (e) {
      throw new Error(`${describeLayer(l)} on input ${shapeStr(x.shape)}: ${(e as Error).message}`, { cause: e });
    }
    if (y.size !== n * l.shape.outputs) {
      throw new Error(`${describeLayer(l)}: produced ${shapeStr(y.shape)}, expected ${n}×${l.shape.outputs} values (${l.out.join('×')} per image)`);
    }
    return reshape(y, [n, ...l.out]);
  }

  private checkInput(input: Tensor): Tensor {
    input.assertAlive('Network.forward');
    const [c, h, w] = this.cfg.input;
    const per = this.cfg.inputs;
    if (input.device !== this.dev) {
      throw new Error(`Network.forward: input is on '${input.device.name}', the network on '${this.dev.name}'; move one with .to()`);
    }
    if (input.dtype !== this.dtype) throw new Error(`Network.forward: input is ${input.dtype}, the network ${this.dtype}; use .cast()`);
    let n: number;
    if (input.ndim === 3 && input.size === per) n = 1;
    else if (input.ndim >= 2 && input.shape[0]! > 0 && input.size === input.shape[0]! * per) n = input.shape[0]!;
    else throw new Error(`Network.forward: input ${shapeStr(input.shape)} does not hold N images of ${c}×${h}×${w} = ${per} values (${this.cfg.file})`);
    return reshape(input, [n, c, h, w]);
  }
}

/** Builds the modules of a parsed cfg (parameters initialised as Darknet's make_*_layer, seeded). */
export function buildNetwork(cfg: DarknetNetwork, opts: BuildNetworkOptions = {}): Network {
  return new Network(cfg, opts);
}

/** The layers of `net` of the given types, in order (e.g. the [region]/[detection] output layers). */
export function layersOfType<T extends DarknetLayer['type']>(net: Network, ...types: T[]): Extract<DarknetLayer, { type: T }>[] {
  return net.layers.map((m) => m.layer).filter((l): l is Extract<DarknetLayer, { type: T }> => (types as string[]).includes(l.type));
}

export interface OpenNetworkOptions extends BuildNetworkOptions {
  /** Replace the [net] width/height (batch and subdivisions are always set to 1, as for inference). */
  readonly width?: number;
  readonly height?: number;
  /** Receives the warnings of loading the weights (NaN or infinite values, by layer). Default: stderr. */
  readonly warn?: (message: string) => void;
}

/**
 * Parses `cfgPath` (sizes overridden, batch 1), builds the network and loads `weightsPath` when given.
 * The cfg's own [net] values are checked first, as training would read them (batch=0 or
 * subdivisions=0.5 is an error even though inference runs one image at a time).
 */
export function openNetwork(cfgPath: string, weightsPath: string | null, opts: OpenNetworkOptions = {}): Network {
  const sizes: Record<string, number> = {};
  if (opts.width !== undefined) sizes['width'] = opts.width;
  if (opts.height !== undefined) sizes['height'] = opts.height;
  const text = readCfgText(cfgPath);
  parseCfg(text, { file: cfgPath, overrides: sizes as NetOverrides });
  const cfg = parseCfg(text, { file: cfgPath, overrides: { ...sizes, batch: 1, subdivisions: 1 } as NetOverrides });
  const net = buildNetwork(cfg, { ...opts, randomInit: opts.randomInit ?? weightsPath === null });
  if (weightsPath !== null) {
    const warn = opts.warn ?? ((m: string) => void process.stderr.write(`warning: ${m}\n`));
    for (const w of loadWeights(net, readWeightsFileSync(weightsPath, cfg))) warn(`${weightsPath}: ${w}`);
  }
  return net;
}
