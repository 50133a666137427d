// A Darknet network (src/yolo/net) as an ONNX model: its inference forward (BN with the rolling
// statistics, dropout as identity), one exporter per layer (./layers.ts), and either the raw outputs or,
// with `decode`, boxes and scores (./decode.ts). docs/EXPORT.md describes the inputs, outputs and options.
//
//   const net = openNetwork('yolov2-tiny-voc.cfg', 'yolov2-tiny-voc.weights', { width: 416, height: 416 });
//   const bytes = exportOnnx(net, { decode: true });                    // Uint8Array of a ModelProto
//   await writeOnnxFile('yolov2-tiny-voc.onnx', net, { dynamicBatch: true });
//
// Graph input `input`: float32 [N, c, h, w] (the network's input, CHW, values as tsgrad's inputs).
// Raw outputs: `output`, the output layer's tensor [N, ...out] (Darknet's network output), and, when other
// [region] / [detection] layers exist, `layer<i>` for each. Decoded outputs: `boxes`, `scores`.

import { createRequire } from 'node:module';
import { basename } from 'node:path';

import { writeOutput } from '../../io/output.js';
import { describeLayer } from '../net/layers.js';
import { layersOfType, type Network } from '../net/network.js';
import { decodeDetectionOutput, decodeRegionOutput, type DecodedValues } from './decode.js';
import { GraphBuilder, type ValueSpec } from './graph.js';
import { exportLayer, OnnxExportError } from './layers.js';

export { OnnxExportError } from './layers.js';

/** Opsets the exporter writes (ONNX IR 6 to 8). */
export const MIN_OPSET = 11;
export const MAX_OPSET = 18;
export const DEFAULT_OPSET = 13;

export interface OnnxExportOptions {
  /** Fixed batch size of the input and outputs (default 1). Excludes dynamicBatch. */
  readonly batch?: number;
  /** A symbolic batch dimension 'N' instead of a fixed one. */
  readonly dynamicBatch?: boolean;
  /** ONNX opset, MIN_OPSET..MAX_OPSET (default 13). */
  readonly opset?: number;
  /** Fold batch norm into the Conv/Gemm weights (default: BatchNormalization nodes). */
  readonly foldBn?: boolean;
  /** Outputs `boxes` and `scores` (docs/EXPORT.md) instead of the raw layer outputs. */
  readonly decode?: boolean;
  /** leaky/relie with Darknet's double-precision slope product instead of LeakyRelu (see ./activations.ts). */
  readonly exactLeaky?: boolean;
}

export interface OnnxModel {
  readonly bytes: Uint8Array;
  readonly opset: number;
  /** Batch dimension: a size or the symbol 'N'. */
  readonly batch: number | 'N';
  /** Graph inputs and outputs with their per-item shapes (the batch dimension in front). */
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodes: number;
  /** Float parameters stored (after folding, BN statistics included). */
  readonly parameters: number;
}

/** Protobuf messages cannot exceed 2 GiB; ONNX's external-data files are not written. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

function producerVersion(): string {
  const pkg = createRequire(import.meta.url)('../../../../package.json') as { version?: string };
  return pkg.version ?? '';
}

function resolveOptions(o: OnnxExportOptions): { batch: number | 'N'; opset: number } {
  const opset = o.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw new OnnxExportError(`opset must be an integer in ${MIN_OPSET}..${MAX_OPSET}, got ${opset}`);
  if (o.dynamicBatch === true && o.batch !== undefined) throw new OnnxExportError(`batch=${o.batch} and dynamicBatch exclude each other`);
  const batch = o.dynamicBatch === true ? 'N' : (o.batch ?? 1);
  if (batch !== 'N' && (!Number.isInteger(batch) || batch < 1)) throw new OnnxExportError(`batch must be a positive integer, got ${batch}`);
  return { batch, opset };
}

/** The network's inference forward as an ONNX model, with what it holds. */
export function exportOnnxModel(net: Network, options: OnnxExportOptions = {}): OnnxModel {
  const { batch, opset } = resolveOptions(options);
  const g = new GraphBuilder();
  const ctx = { g, opts: { foldBn: options.foldBn === true, exactLeaky: options.exactLeaky === true, opset }, outputs: [] as string[] };
  const last = net.outputIndex;
  let x = g.input({ name: 'input', shape: net.inputShape });
  for (const m of net.layers.slice(0, last + 1)) {
    g.prefix = `l${m.layer.index}`;
    try {
      x = exportLayer(m, x, ctx);
    } catch (e) {
      if (e instanceof OnnxExportError) throw e;
      throw new OnnxExportError(`${m.where}: ${(e as Error).message}`, { cause: e });
    }
    ctx.outputs.push(x);
  }
  const heads = layersOfType(net, 'region', 'detection').filter((l) => l.index <= last);
  g.prefix = 'out';
  if (options.decode === true) {
    if (heads.length === 0) throw new OnnxExportError(`${net.cfg.file}: --decode needs a [region] or [detection] layer, the network has none`);
    const classes = heads[0]!.classes;
    const parts: DecodedValues[] = heads.map((l) => {
      if (l.classes !== classes) throw new OnnxExportError(`${describeLayer(l)}: ${l.classes} classes, but layer ${heads[0]!.index} has ${classes}; decoded scores need one class count`);
      g.prefix = `l${l.index}_decode`;
      return l.type === 'region' ? decodeRegionOutput(g, l, ctx.outputs[l.index]!) : decodeDetectionOutput(g, l, ctx.outputs[l.index]!);
    });
    g.prefix = 'out';
    const cat = (vs: string[], width: number): string => {
      if (vs.length === 1) return vs[0]!;
      const k = vs.reduce((a, v) => a + g.shape(v)[0]!, 0);
      return g.node('Concat', vs, [k, width], { axis: { i: 1 } });
    };
    g.output(cat(parts.map((p) => p.boxes), 4), 'boxes');
    g.output(cat(parts.map((p) => p.scores), classes), 'scores');
  } else {
    g.output(ctx.outputs[last]!, 'output');
    for (const l of heads) if (l.index !== last) g.output(ctx.outputs[l.index]!, `layer${l.index}`);
  }
  if (g.dataBytes > MAX_MODEL_BYTES - (1 << 20)) {
    throw new OnnxExportError(`${net.cfg.file}: ${g.dataBytes} bytes of weights exceed the 2 GiB limit of one protobuf message (export at a smaller input size)`);
  }
  const [c, h, w] = net.inputShape;
  const bytes = g.encode(
    {
      opset,
      producerVersion: producerVersion(),
      graphName: basename(net.cfg.file).replace(/\.cfg$/, ''),
      docString: `${basename(net.cfg.file)} at ${w}x${h}x${c}, exported by tsgrad`,
      metadata: {
        cfg: basename(net.cfg.file),
        input: `float32 [${batch}, ${c}, ${h}, ${w}], CHW, as tsgrad's network input`,
        outputs: options.decode === true ? 'boxes [N, K, 4] (x, y, w, h relative to the input), scores [N, K, classes] (objectness x class probability)' : 'raw layer outputs',
        batch_norm: options.foldBn === true ? 'folded' : 'BatchNormalization',
      },
    },
    batch,
  );
  return { bytes, opset, batch, inputs: g.inputs, outputs: g.outputs, nodes: g.nodeCount, parameters: g.parameters };
}

/** The encoded ONNX model of `net` (see exportOnnxModel). */
export function exportOnnx(net: Network, options: OnnxExportOptions = {}): Uint8Array {
  return exportOnnxModel(net, options).bytes;
}

/** Exports `net` and writes the model to `path` atomically (temporary file + rename). */
export async function writeOnnxFile(path: string, net: Network, options: OnnxExportOptions = {}): Promise<OnnxModel> {
  const model = exportOnnxModel(net, options);
  await writeOutput(path, model.bytes);
  return model;
}
