// The --decode outputs: Darknet's get_network_boxes as ONNX nodes after the [region] / [detection] layers
// (src/yolo/decode.ts is the reference), before any threshold or NMS.
//
//   boxes   [N, K, 4]        x, y, w, h: box centre and size relative to the network input (0..1)
//   scores  [N, K, classes]  objectness × class probability (Darknet's prob before the threshold)
//
// K runs over every [region] / [detection] layer in cfg order, each in Darknet's candidate order:
//   region     k = anchor·H·W + row·W + col
//              x = (col + σx)/W, y = (row + σy)/H, w = exp(tw)·anchor_w/W, h = exp(th)·anchor_h/H,
//              score = objectness · p_class (σ and softmax as the layer's forward applies them)
//   detection  k = cell·n + box (cell = row·side + col)
//              x = (x + col)/side, y = (y + row)/side, w = w² and h = h² with sqrt=1 (else w, h),
//              score = confidence · p_class
// Darknet's detections are then the (k, class) with score > thresh, followed by its per-class NMS
// (do_nms_sort); boxes of a letterboxed image are mapped back as correct_region_boxes does (docs/EXPORT.md).

import type { DetectionLayer, RegionLayer } from '../darknet/cfg-types.js';
import { describeLayer } from '../net/layers.js';
import type { GraphBuilder } from './graph.js';
import { OnnxExportError, slice } from './layers.js';

export interface DecodedValues {
  /** [K, 4] per item. */
  readonly boxes: string;
  /** [K, classes] per item. */
  readonly scores: string;
}

/** Candidates of one [region] layer from its output (shaped [N, ...l.out]). */
export function decodeRegionOutput(g: GraphBuilder, l: RegionLayer, out: string): DecodedValues {
  if (l.coords !== 4) throw new OnnxExportError(`${describeLayer(l)}: --decode needs coords=4 (x, y, w, h), the layer has coords=${l.coords}`);
  const { w, h } = l.shape;
  const cells = w * h;
  const per = l.coords + 1 + l.classes;
  const v = g.reshape(out, [l.n, per, cells]);
  const entry = (i: number): string => slice(g, v, 2, i, i + 1);
  const s1 = [l.n, 1, cells];
  const col = g.constFloats(Array.from({ length: cells }, (_, k) => k % w), [1, 1, 1, cells]);
  const row = g.constFloats(Array.from({ length: cells }, (_, k) => Math.trunc(k / w)), [1, 1, 1, cells]);
  const aw = g.constFloats(Array.from({ length: l.n }, (_, a) => l.anchors[2 * a]!), [1, l.n, 1, 1]);
  const ah = g.constFloats(Array.from({ length: l.n }, (_, a) => l.anchors[2 * a + 1]!), [1, l.n, 1, 1]);
  const bx = g.node('Div', [g.node('Add', [entry(0), col], s1), g.scalar(w)], s1);
  const by = g.node('Div', [g.node('Add', [entry(1), row], s1), g.scalar(h)], s1);
  const bw = g.node('Div', [g.node('Mul', [g.node('Exp', [entry(2)], s1), aw], s1), g.scalar(w)], s1);
  const bh = g.node('Div', [g.node('Mul', [g.node('Exp', [entry(3)], s1), ah], s1), g.scalar(h)], s1);
  const box4 = g.node('Concat', [bx, by, bw, bh], [l.n, 4, cells], { axis: { i: 2 } });
  const boxes = g.reshape(g.node('Transpose', [box4], [l.n, cells, 4], { perm: { ints: [0, 1, 3, 2] } }), [l.n * cells, 4]);
  const cls = slice(g, v, 2, l.coords + 1, per);
  const prob = g.node('Mul', [entry(l.coords), cls], [l.n, l.classes, cells]);
  const scores = g.reshape(g.node('Transpose', [prob], [l.n, cells, l.classes], { perm: { ints: [0, 1, 3, 2] } }), [l.n * cells, l.classes]);
  return { boxes, scores };
}

/** Candidates of one [detection] layer from its output. */
export function decodeDetectionOutput(g: GraphBuilder, l: DetectionLayer, out: string): DecodedValues {
  if (l.coords !== 4) throw new OnnxExportError(`${describeLayer(l)}: --decode needs coords=4 (x, y, w, h), the layer has coords=${l.coords}`);
  const cells = l.side * l.side;
  const k = cells * l.n;
  const nc = cells * l.classes;
  const v = g.reshape(out, [l.shape.outputs]);
  const cls = g.reshape(slice(g, v, 1, 0, nc), [cells, 1, l.classes]);
  const conf = g.reshape(slice(g, v, 1, nc, nc + k), [cells, l.n, 1]);
  const scores = g.reshape(g.node('Mul', [conf, cls], [cells, l.n, l.classes]), [k, l.classes]);
  const raw = g.reshape(slice(g, v, 1, nc + k, nc + k + 4 * k), [k, 4]);
  const coord = (i: number): string => slice(g, raw, 2, i, i + 1);
  const s1 = [k, 1];
  const col = g.constFloats(Array.from({ length: k }, (_, i) => Math.trunc(i / l.n) % l.side), [1, k, 1]);
  const row = g.constFloats(Array.from({ length: k }, (_, i) => Math.trunc(Math.trunc(i / l.n) / l.side)), [1, k, 1]);
  const side = g.scalar(l.side);
  const bx = g.node('Div', [g.node('Add', [coord(0), col], s1), side], s1);
  const by = g.node('Div', [g.node('Add', [coord(1), row], s1), side], s1);
  const square = (t: string): string => (l.sqrt ? g.node('Mul', [t, t], s1) : t);
  const boxes = g.node('Concat', [bx, by, square(coord(2)), square(coord(3))], [k, 4], { axis: { i: 2 } });
  return { boxes, scores };
}
