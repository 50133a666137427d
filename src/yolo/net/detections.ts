// From a network's layer outputs to Darknet's candidate boxes (get_network_boxes) and the
// detections.json document (SEMANTICS.md 7).
//
// Like Darknet, every [region] and [detection] layer contributes its candidates, in layer order.
// Arguments follow the two Darknet front ends:
//   region layers    (detector.c) w, h = the original image size (the network size for a synthetic
//                    input), relative = 1: boxes relative to the original image, letterbox undone
//   detection layers (yolo.c)     w = h = 1, hier = 0, relative = 0, which also gives relative boxes

import type { Tensor } from '../../tensor/tensor.js';
import { narrow } from '../../tensor/ops/views.js';
import type { DetectionLayer, RegionLayer } from '../darknet/cfg-types.js';
import { decodeDetection, decodeRegion, type Detection } from '../decode.js';
import { detectionsReport, type DetectionsReport } from '../nms.js';
import { checkFiniteOutput } from './finite.js';
import { layersOfType, type Network } from './network.js';

const f = Math.fround;

/** Darknet's default thresholds of the reference dumps. */
export const DUMP_THRESH = 0.005;
export const DUMP_NMS = 0.45;

export interface NetworkBoxesOptions {
  /** Objectness / probability threshold (a C float; strict `>`). */
  readonly thresh: number;
  /** Size of the original image (region layers undo the letterbox); default the network size. */
  readonly imageW?: number;
  readonly imageH?: number;
  /** Hierarchy threshold recorded for region layers (no tree softmax is supported, so unused). Default 0.5. */
  readonly hier?: number;
  /** Batch item to decode. Default 0. */
  readonly batchIndex?: number;
}

/** The arguments Darknet's get_network_boxes was called with (the `get_network_boxes` object). */
export interface GetNetworkBoxesArgs {
  w: number;
  h: number;
  thresh: number;
  hier: number;
  map: null;
  relative: 0 | 1;
}

export interface NetworkBoxes {
  detections: Detection[];
  classes: number;
  args: GetNetworkBoxesArgs;
  /** 'region' when any [region] layer produced boxes, else 'detection'. */
  kind: 'region' | 'detection';
}

/** Host copy of batch item `b` of a layer output. */
function itemValues(t: Tensor, b: number): Float32Array {
  if (b < 0 || b >= t.shape[0]!) throw new Error(`network boxes: batch index ${b} out of range for an output of ${t.shape[0]} images`);
  const v = narrow(t, 0, b, 1);
  try {
    const d = v.data();
    return d instanceof Float32Array ? d : Float32Array.from(d);
  } finally {
    if (v !== t) v.dispose();
  }
}

/**
 * Candidate boxes of every [region] / [detection] layer of `net`, from forward()'s `outputs`, in
 * Darknet's order (region: anchor*w*h + loc; detection: cell*n + box), indices renumbered over layers.
 * A layer output holding NaN or infinities is a NonFiniteOutputError naming the first layer to blame.
 */
export function networkBoxes(net: Network, outputs: readonly Tensor[], opts: NetworkBoxesOptions): NetworkBoxes {
  const layers = layersOfType(net, 'region', 'detection');
  if (layers.length === 0) throw new Error(`${net.cfg.file}: no [region] or [detection] layer, so no boxes to decode`);
  const b = opts.batchIndex ?? 0;
  const [, netH, netW] = net.inputShape;
  const hasRegion = layers.some((l) => l.type === 'region');
  const imageW = opts.imageW ?? netW;
  const imageH = opts.imageH ?? netH;
  const classes = layers[0]!.classes;
  const detections: Detection[] = [];
  for (const l of layers) {
    if (l.classes !== classes) throw new Error(`${net.cfg.file}: output layers disagree on the class count (${classes} vs ${l.classes} at layer ${l.index})`);
    const out = outputs[l.index];
    if (out === undefined) throw new Error(`network boxes: no output for layer ${l.index}`);
    const values = itemValues(out, b);
    checkFiniteOutput(net, outputs, l, values, b);
    const dets = l.type === 'region' ? decodeRegionLayer(l, values, opts.thresh, netW, netH, imageW, imageH) : decodeDetectionLayer(l, values, opts.thresh);
    for (const d of dets) {
      d.index = detections.length;
      detections.push(d);
    }
  }
  const args: GetNetworkBoxesArgs = hasRegion
    ? { w: imageW, h: imageH, thresh: f(opts.thresh), hier: f(opts.hier ?? 0.5), map: null, relative: 1 }
    : { w: 1, h: 1, thresh: f(opts.thresh), hier: 0, map: null, relative: 0 };
  return { detections, classes, args, kind: hasRegion ? 'region' : 'detection' };
}

function decodeRegionLayer(l: RegionLayer, values: Float32Array, thresh: number, netW: number, netH: number, imageW: number, imageH: number): Detection[] {
  return decodeRegion(
    values,
    { w: l.shape.w, h: l.shape.h, n: l.n, classes: l.classes, coords: l.coords, anchors: l.anchors },
    { thresh, netW, netH, imageW, imageH, relative: true },
  );
}

function decodeDetectionLayer(l: DetectionLayer, values: Float32Array, thresh: number): Detection[] {
  return decodeDetection(values, { side: l.side, n: l.n, classes: l.classes, coords: l.coords, sqrt: l.sqrt }, { thresh, w: 1, h: 1 });
}

/** The whole detections.json document, in the key order of the reference files. */
export interface DetectionsJson extends DetectionsReport {
  get_network_boxes: GetNetworkBoxesArgs;
  nms: number;
  nms_function: 'do_nms_sort';
}

/** Boxes → NMS (do_nms_sort) → the detections.json object. */
export function detectionsJson(boxes: NetworkBoxes, nmsThresh: number): DetectionsJson {
  const r = detectionsReport(boxes.detections, boxes.classes, nmsThresh, 'sort');
  return {
    get_network_boxes: boxes.args,
    nms: f(nmsThresh),
    nms_function: 'do_nms_sort',
    nboxes: r.nboxes,
    classes: r.classes,
    pre_nms: r.pre_nms,
    post_nms_array_order: r.post_nms_array_order,
    post_nms: r.post_nms,
    kept: r.kept,
  };
}

/**
 * JSON text with every non-integer number printed with 9 significant digits (C's %.9g): parsing a
 * value and rounding it to float32 gives back the exact float32. One pre/post entry per line.
 */
export function formatDetectionsJson(doc: DetectionsJson): string {
  // Non-finite values (a broken network) become null, so the file stays valid JSON.
  const num = (v: number): string => (!Number.isFinite(v) ? 'null' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(9))));
  const val = (v: unknown): string => {
    if (typeof v === 'number') return num(v);
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(val).join(',')}]`;
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(k)}:${val(x)}`).join(',')}}`;
  };
  const list = (xs: readonly unknown[]): string => (xs.length === 0 ? '[]' : `[\n${xs.map(val).join(',\n')}\n]`);
  const head = `{"get_network_boxes":${val(doc.get_network_boxes)},"nms":${num(doc.nms)},"nms_function":"${doc.nms_function}","nboxes":${doc.nboxes},"classes":${doc.classes},`;
  return `${head}\n"pre_nms":${list(doc.pre_nms)},\n"post_nms_array_order":${val(doc.post_nms_array_order)},\n"post_nms":${list(doc.post_nms)},\n"kept":${list(doc.kept)}\n}\n`;
}
