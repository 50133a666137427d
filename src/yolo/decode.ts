// Turning the last layer's output into candidate detections, as Darknet's get_network_boxes does
// (SEMANTICS.md 6.8, 6.9 and 7). Both decoders return every candidate (none is dropped): a
// candidate below the threshold keeps its box and carries zero probabilities.
//
// Thresholds are C floats in Darknet: `thresh` is rounded to float32 before every comparison, and
// the comparisons are strict (`prob > thresh`).

import { type Box, correctRegionBoxes } from './box.js';

const f = Math.fround;

/** One candidate box (Darknet's `detection` struct, without the mask/sort fields). */
export interface Detection {
  /** Darknet's index: `anchor*w*h + loc` for region layers, `cell*n + box` for YOLOv1. */
  index: number;
  bbox: Box;
  objectness: number;
  /** Per-class probabilities (float32 values), 0 where at or below the threshold or suppressed. */
  prob: number[];
}

/** Shape and hyper-parameters of a `[region]` layer needed to decode it. */
export interface RegionLayerParams {
  /** Grid width and height (the layer's w, h). */
  w: number;
  h: number;
  /** Number of anchors (`num`). */
  n: number;
  classes: number;
  /** `coords` (must be 4). */
  coords?: number;
  /** 2·n anchor values (w0, h0, w1, h1, ...) in grid units, as parsed by Darknet (floats). */
  anchors: ArrayLike<number>;
}

export interface RegionDecodeOptions {
  /** Objectness and class-probability threshold (Darknet's `thresh`, a C float). */
  thresh: number;
  /** Size of the network input. */
  netW: number;
  netH: number;
  /** Size of the original image; defaults to the network size (no letterbox correction). */
  imageW?: number;
  imageH?: number;
  /** Relative boxes (default true, detector.c); false gives pixels of the original image. */
  relative?: boolean;
}

/** Darknet's `entry_index` for batch 0: channel `anchor*(coords+1+classes) + entry` of the CHW output. */
export function regionEntryIndex(p: RegionLayerParams, anchor: number, entry: number, loc: number): number {
  const coords = p.coords ?? 4;
  return (anchor * (coords + 1 + p.classes) + entry) * p.w * p.h + loc;
}

function checkRegion(output: ArrayLike<number>, p: RegionLayerParams): void {
  const coords = p.coords ?? 4;
  if (coords !== 4) throw new Error(`decodeRegion: only coords=4 is supported, got coords=${coords}`);
  for (const [k, v] of [['w', p.w], ['h', p.h], ['n', p.n], ['classes', p.classes]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`decodeRegion: ${k} must be a positive integer, got ${v}`);
  }
  const expected = p.n * (coords + 1 + p.classes) * p.w * p.h;
  if (output.length !== expected) {
    throw new Error(
      `decodeRegion: output has ${output.length} floats, expected n*(coords+1+classes)*h*w = ` +
        `${p.n}*(${coords}+1+${p.classes})*${p.h}*${p.w} = ${expected}`,
    );
  }
  if (p.anchors.length !== 2 * p.n) throw new Error(`decodeRegion: expected ${2 * p.n} anchor values for n=${p.n}, got ${p.anchors.length}`);
}

/**
 * The region box of anchor `anchor` at cell (col, row), relative to the network input
 * (Darknet's `get_region_box`): x = ((float)col + σx)/(float)w in float;
 * w = (float)(exp((double)tw) * anchor_w / w) in double. `output` is the region layer's
 * *activated* output (σ already applied to x, y).
 */
export function regionBox(output: ArrayLike<number>, p: RegionLayerParams, anchor: number, col: number, row: number): Box {
  const loc = row * p.w + col;
  const ax = f(p.anchors[2 * anchor]!);
  const ay = f(p.anchors[2 * anchor + 1]!);
  return {
    x: f(f(col + output[regionEntryIndex(p, anchor, 0, loc)]!) / p.w),
    y: f(f(row + output[regionEntryIndex(p, anchor, 1, loc)]!) / p.h),
    w: f((Math.exp(output[regionEntryIndex(p, anchor, 2, loc)]!) * ax) / p.w),
    h: f((Math.exp(output[regionEntryIndex(p, anchor, 3, loc)]!) * ay) / p.h),
  };
}

/**
 * Decodes a YOLOv2 `[region]` layer output (after the layer's forward: logistic on x, y,
 * objectness, softmax over classes) into `n*w*h` detections in Darknet's order
 * (`index = anchor*w*h + loc`, loc = row*w + col), as `get_region_detections` followed by
 * `correct_region_boxes`:
 *   objectness = σ(obj) if > thresh else 0;
 *   prob[c] = (float)(objectness*p_c) if > thresh else 0 (only when objectness ≠ 0).
 */
export function decodeRegion(output: ArrayLike<number>, p: RegionLayerParams, opts: RegionDecodeOptions): Detection[] {
  checkRegion(output, p);
  const thresh = f(opts.thresh);
  const coords = p.coords ?? 4;
  const cells = p.w * p.h;
  const dets: Detection[] = new Array<Detection>(cells * p.n);
  for (let loc = 0; loc < cells; loc++) {
    const row = Math.trunc(loc / p.w);
    const col = loc % p.w;
    for (let a = 0; a < p.n; a++) {
      const index = a * cells + loc;
      const scale = f(output[regionEntryIndex(p, a, coords, loc)]!);
      const objectness = scale > thresh ? scale : 0;
      const prob = new Array<number>(p.classes).fill(0);
      if (objectness !== 0) {
        for (let c = 0; c < p.classes; c++) {
          const pr = f(scale * output[regionEntryIndex(p, a, coords + 1 + c, loc)]!);
          prob[c] = pr > thresh ? pr : 0;
        }
      }
      dets[index] = { index, bbox: regionBox(output, p, a, col, row), objectness, prob };
    }
  }
  const imageW = opts.imageW ?? opts.netW;
  const imageH = opts.imageH ?? opts.netH;
  const corrected = correctRegionBoxes(
    dets.map((d) => d.bbox),
    imageW,
    imageH,
    opts.netW,
    opts.netH,
    opts.relative ?? true,
  );
  for (let i = 0; i < dets.length; i++) dets[i]!.bbox = corrected[i]!;
  return dets;
}

/** Shape and hyper-parameters of a YOLOv1 `[detection]` layer needed to decode it. */
export interface DetectionLayerParams {
  side: number;
  /** Boxes per cell (`num`). */
  n: number;
  classes: number;
  coords?: number;
  /** `sqrt=1`: the layer predicts square roots of w and h. */
  sqrt: boolean;
}

export interface DetectionDecodeOptions {
  thresh: number;
  /** Multipliers of the boxes (Darknet's w, h arguments); 1 × 1 (default) gives relative boxes. */
  w?: number;
  h?: number;
}

/**
 * Decodes a YOLOv1 `[detection]` layer output into `side²·n` detections in Darknet's order
 * (`index = cell*n + box`), as `get_detection_detections`. Layout (SEMANTICS.md 6.9): class scores
 * `[cell*classes + c]`, then confidences `[side²·classes + cell*n + b]`, then boxes
 * `[side²·(classes+n) + (cell*n + b)*4 + {x,y,w,h}]`.
 *   bbox = ((x + col)/side·w, (y + row)/side·h, pow(w_raw, 2)·w, pow(h_raw, 2)·h)  (float; pow in double)
 *   objectness = raw confidence (never thresholded; it can be ≤ 0)
 *   prob[c] = (float)(conf·score_c) if > thresh else 0
 */
export function decodeDetection(output: ArrayLike<number>, p: DetectionLayerParams, opts: DetectionDecodeOptions): Detection[] {
  const coords = p.coords ?? 4;
  if (coords !== 4) throw new Error(`decodeDetection: only coords=4 is supported, got coords=${coords}`);
  for (const [k, v] of [['side', p.side], ['n', p.n], ['classes', p.classes]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`decodeDetection: ${k} must be a positive integer, got ${v}`);
  }
  const cells = p.side * p.side;
  const expected = cells * (p.classes + p.n * (coords + 1));
  if (output.length !== expected) {
    throw new Error(
      `decodeDetection: output has ${output.length} floats, expected side²*(classes + n*(coords+1)) = ` +
        `${p.side}²*(${p.classes} + ${p.n}*${coords + 1}) = ${expected}`,
    );
  }
  const thresh = f(opts.thresh);
  const mw = opts.w ?? 1;
  const mh = opts.h ?? 1;
  const power = p.sqrt ? 2 : 1;
  const dets: Detection[] = new Array<Detection>(cells * p.n);
  for (let cell = 0; cell < cells; cell++) {
    const row = Math.trunc(cell / p.side);
    const col = cell % p.side;
    for (let b = 0; b < p.n; b++) {
      const index = cell * p.n + b;
      const scale = f(output[cells * p.classes + index]!);
      const bi = cells * (p.classes + p.n) + index * 4;
      const bbox: Box = {
        x: f(f(f(output[bi]! + col) / p.side) * mw),
        y: f(f(f(output[bi + 1]! + row) / p.side) * mh),
        w: f(Math.pow(output[bi + 2]!, power) * mw),
        h: f(Math.pow(output[bi + 3]!, power) * mh),
      };
      const prob = new Array<number>(p.classes);
      for (let c = 0; c < p.classes; c++) {
        const pr = f(scale * output[cell * p.classes + c]!);
        prob[c] = pr > thresh ? pr : 0;
      }
      dets[index] = { index, bbox, objectness: scale, prob };
    }
  }
  return dets;
}

/** A deep copy (boxes and probability arrays), e.g. to keep the pre-NMS list while NMS edits. */
export function cloneDetections(dets: readonly Detection[]): Detection[] {
  return dets.map((d) => ({ index: d.index, bbox: { ...d.bbox }, objectness: d.objectness, prob: d.prob.slice() }));
}
