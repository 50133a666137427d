// Running exported ONNX models with onnxruntime (CPU) and comparing them with tsgrad's own forward:
// the reference networks with generated weights, outputs compared relative to their largest value, and
// detections after Darknet's NMS from either tsgrad's decoder or the exported `boxes`/`scores`.

import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

import { noGrad } from '../../src/autograd/grad-mode.js';
import { fromHost } from '../../src/tensor/ops/creation.js';
import { scope } from '../../src/tensor/memory.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { readCfgFile } from '../../src/yolo/darknet/cfg.js';
import type { DarknetNetwork } from '../../src/yolo/darknet/cfg-types.js';
import { generateWeights } from '../../src/yolo/darknet/generate.js';
import type { Detection } from '../../src/yolo/decode.js';
import { networkBoxes } from '../../src/yolo/net/detections.js';
import { buildNetwork, layersOfType, type Network } from '../../src/yolo/net/network.js';
import { loadWeights } from '../../src/yolo/net/weights.js';
import { detectionsReport, type KeptDetection } from '../../src/yolo/nms.js';
import { DARKNET_CFG } from './refs.js';

/** cfg/darknet/<name>.cfg of the repository (refs.ts's DARKNET_CFG). */
export function darknetCfg(name: string): string {
  return join(DARKNET_CFG, `${name}.cfg`);
}

/** A cfg parsed at width × height (batch 1) with the deterministic generator's weights for `seed`. */
export function generatedNetwork(cfgFile: string, width: number, height: number, seed = 1): Network {
  const cfg: DarknetNetwork = readCfgFile(cfgFile, { overrides: { width, height, batch: 1, subdivisions: 1 } });
  const net = buildNetwork(cfg, { randomInit: false });
  loadWeights(net, generateWeights(cfg, seed));
  return net.eval();
}

/** onnxruntime on one thread (the machine is shared), with its default graph optimisations. */
export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

export interface OrtOutput {
  data: Float32Array;
  dims: number[];
}

/** Runs the model on float32 `input` of shape `dims`; every output as host floats. */
export async function runOrt(session: ort.InferenceSession, input: Float32Array, dims: readonly number[]): Promise<Record<string, OrtOutput>> {
  const r = await session.run({ input: new ort.Tensor('float32', input, dims) });
  const out: Record<string, OrtOutput> = {};
  for (const [k, t] of Object.entries(r)) out[k] = { data: t.data as Float32Array, dims: t.dims.slice() };
  return out;
}

/** tsgrad's forward of `input` [N, c, h, w]: every layer's output as host floats. */
export function tsgradForward(net: Network, input: Float32Array, n: number): Float32Array[] {
  const [c, h, w] = net.inputShape;
  return scope(() => noGrad(() => net.forward(fromHost(input, [n, c, h, w])).map((t) => Float32Array.from(t.data()))));
}

export interface Difference {
  /** max |ours − ref|. */
  maxAbs: number;
  /** max |ref|. */
  maxRef: number;
  /** maxAbs / max(maxRef, tiny): the worst difference relative to the output's scale. */
  rel: number;
}

export function difference(ours: ArrayLike<number>, ref: ArrayLike<number>): Difference {
  if (ours.length !== ref.length) throw new Error(`difference: ${ours.length} values vs ${ref.length}`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i]! - ref[i]!);
    if (!(d <= maxAbs) && !Number.isNaN(maxAbs)) maxAbs = d; // a NaN difference sticks
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return { maxAbs, maxRef, rel: maxAbs / Math.max(maxRef, 1e-30) };
}

/** Host tensors of a network's layer outputs rebuilt from flat values (for networkBoxes). */
function layerTensors(net: Network, values: ReadonlyMap<number, Float32Array>, n: number): Tensor[] {
  const out: Tensor[] = [];
  for (const [i, v] of values) out[i] = fromHost(v, [n, ...net.layers[i]!.layer.out]);
  return out;
}

/**
 * Darknet's kept detections (get_network_boxes at the network size, do_nms_sort) of batch item `b`
 * from the outputs of the [region]/[detection] layers, given by layer index.
 */
export function keptFromLayers(net: Network, values: ReadonlyMap<number, Float32Array>, n: number, b: number, thresh: number, nms: number): KeptDetection[] {
  return scope(() => {
    const boxes = networkBoxes(net, layerTensors(net, values, n), { thresh, batchIndex: b });
    return detectionsReport(boxes.detections, boxes.classes, nms).kept;
  });
}

/** The [region]/[detection] layer outputs of a tsgrad forward, by layer index. */
export function headOutputs(net: Network, outs: readonly Float32Array[]): Map<number, Float32Array> {
  return new Map(layersOfType(net, 'region', 'detection').map((l) => [l.index, outs[l.index]!]));
}

/**
 * Kept detections of batch item `b` from the exported `boxes` [N, K, 4] and `scores` [N, K, classes]:
 * prob = score where > thresh (else 0), then do_nms_sort.
 */
export function keptFromDecoded(boxes: OrtOutput, scores: OrtOutput, b: number, thresh: number, nms: number): KeptDetection[] {
  const k = boxes.dims[1]!;
  const classes = scores.dims[2]!;
  const t = Math.fround(thresh);
  const dets: Detection[] = [];
  for (let i = 0; i < k; i++) {
    const bo = (b * k + i) * 4;
    const so = (b * k + i) * classes;
    const prob = Array.from(scores.data.subarray(so, so + classes), (s) => (s > t ? s : 0));
    dets.push({
      index: i,
      bbox: { x: boxes.data[bo]!, y: boxes.data[bo + 1]!, w: boxes.data[bo + 2]!, h: boxes.data[bo + 3]! },
      objectness: prob.some((p) => p > 0) ? 1 : 0,
      prob,
    });
  }
  return detectionsReport(dets, classes, nms).kept;
}

/** Same (index, class) sequence; probabilities and boxes within `tol`·max(1, |ref|). Returns the worst difference. */
export function compareKept(ours: readonly KeptDetection[], ref: readonly KeptDetection[], tol: number): number {
  const key = (d: KeptDetection): string => `${d.index}:${d.class}`;
  const a = ours.map(key).join(' ');
  const r = ref.map(key).join(' ');
  if (a !== r) throw new Error(`kept detections differ:\n  ours ${a}\n  ref  ${r}`);
  let worst = 0;
  ours.forEach((d, i) => {
    const e = ref[i]!;
    for (const [x, y] of [[d.prob, e.prob], ...d.bbox.map((v, j) => [v, e.bbox[j]!])] as [number, number][]) {
      const diff = Math.abs(x - y) / Math.max(1, Math.abs(y));
      worst = Math.max(worst, diff);
      if (!(diff <= tol)) throw new Error(`kept detection ${key(d)}: ${x} vs ${y} (tolerance ${tol})`);
    }
  });
  return worst;
}
