// Evaluating a detector on a data set (Darknet's `detector valid` / `detector map`, and the mAP the
// training loop reports).
//
// Pipeline per image: load → letterbox ([region] nets) or resize (YOLOv1 [detection] nets) to the
// network size → forward (several images per forward: the network takes [N, c, h, w]) → candidate
// boxes (get_network_boxes at `thresh`, boxes relative to the original image, letterbox undone) →
// do_nms_sort at `nms` → the boxes that keep a class probability > 0. Those become one scored
// detection per (box, class) and are matched against the labels by src/yolo/map.ts.
//
// The decode step is a `BoxSource` (networkBoxSource wraps a Network), so evaluation can be driven by
// anything that yields candidates, e.g. a stand-in that returns the ground truth in tests.
//
// Boxes that leave NMS with every probability 0 are dropped before NMS as well: such a box never
// suppresses another (NMS skips boxes whose prob[k] is 0) and has nothing to lose, so the kept
// (box, class, prob) set is the same as Darknet's, with less sorting.
//
// File formats (`detector valid`), computed from Darknet's pixel boxes (get_network_boxes with
// relative = 0: every field float32(relative × image size)):
//   comp4 (VOC devkit)  `<id> <score> <xmin> <ymin> <xmax> <ymax>` with 1-based corners x ∓ w/2 + 1
//                       (double, stored to float), clipped to [1, W] × [1, H]; printed %f (6 decimals)
//   COCO JSON           `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}` with 0-based
//                       corners x ∓ w/2 clipped to [0, W] × [0, H], bbox = (xmin, ymin, xmax − xmin,
//                       ymax − ymin) in float
// Darknet clips only xmin/ymin from below and xmax/ymax from above, so a box lying wholly in the
// letterbox padding gets a negative size; here both edges are clipped on both sides.

import { basename, extname } from 'node:path';

import { noGrad } from '../autograd/grad-mode.js';
import { scope } from '../tensor/memory.js';
import { fromHost } from '../tensor/ops/creation.js';
import { narrow, reshape } from '../tensor/ops/views.js';
import type { Tensor } from '../tensor/tensor.js';
import { relativeToPixels, toFloat32Box, toVocCorners, type Box } from './box.js';
import { ImageDecodeError, letterboxImage, loadImage, resizeImage, type FloatImage } from './data/image.js';
import type { LabelBox } from './data/labels.js';
import type { Detection } from './decode.js';
import { evaluateDetections, type ApDefinition, type EvaluateOptions, type Evaluation, type GroundTruth, type MatchStyle, type ScoredDetection } from './map.js';
import { networkBoxes } from './net/detections.js';
import { inputMethod, type InputMethod } from './net/input.js';
import { layersOfType, Network } from './net/network.js';
import { nmsSort } from './nms.js';

const f = Math.fround;

/** Darknet's thresholds for validation: candidates above 0.005, do_nms_sort at 0.45. */
export const VALID_THRESH = 0.005;
export const VALID_NMS = 0.45;
/** Images per forward by default. */
export const DEFAULT_EVAL_BATCH = 4;

/** One image as the decode step sees it: its key (path) and original size in pixels. */
export interface Frame {
  image: string;
  width: number;
  height: number;
}

/**
 * The decode step: turns `frames.length` prepared inputs (packed CHW, `inputShape` each) into the
 * candidate boxes of each image, relative to its original image (Darknet order, before NMS).
 */
export interface BoxSource {
  readonly classes: number;
  /** [c, h, w] of one input. */
  readonly inputShape: readonly [number, number, number];
  /** How images are fitted to the input. */
  readonly method: InputMethod;
  candidates(inputs: Float32Array, frames: readonly Frame[], thresh: number): Detection[][];
}

/** Detections of one image after NMS. */
export interface ImageDetections extends Frame {
  /** Boxes with at least one class probability > 0, in post-NMS array order; bbox relative to the image. */
  detections: Detection[];
}

/** An image to detect on; `boxes` (ground truth, relative) are needed only for evaluation. */
export interface EvalItem {
  image: string;
  boxes?: readonly LabelBox[];
}

export interface DetectOptions {
  /** Candidate threshold (Darknet's thresh, strict `>`); default 0.005. */
  thresh?: number;
  /** do_nms_sort IoU threshold; 0 turns NMS off; default 0.45. */
  nms?: number;
  /** Images per forward; default 4. */
  batch?: number;
  /** Called after each batch with (images done, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * An image that cannot be decoded (ImageDecodeError): 'fail' (default) rejects naming it; 'skip'
   * leaves it out of the results (and so of the evaluation) and tells `onSkip`.
   */
  undecodable?: 'fail' | 'skip';
  onSkip?: (image: string, reason: string) => void;
  /** Pixel limit of the image decode (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

export interface EvaluateDetectorOptions extends DetectOptions {
  /** IoU of a match; default 0.5. */
  iouThresh?: number;
  /** AP definition; default 'voc10' (VOC2010+ all-point). */
  definition?: ApDefinition;
  /** Number of classes (every class 0..classes−1 is evaluated). */
  classes: number;
  /** Confidence threshold of the precision/recall/F1 and TP/FP/FN statistics; default 0.25. */
  reportThresh?: number;
  /** Matching rule; default by definition (map.ts). */
  matching?: MatchStyle;
  /** Detections kept per image and class; default by definition (map.ts: 100 for COCO, all for VOC). */
  maxDetections?: number;
}

// ---------------------------------------------------------------------------------------------
// The network as a box source.

/** Host copy of an input batch as the network's dtype on its device. */
function batchTensor(net: Network, inputs: Float32Array, n: number): Tensor {
  const [c, h, w] = net.inputShape;
  const host = net.dtype === 'float64' ? Float64Array.from(inputs) : inputs;
  return fromHost(host, [n, c, h, w], { device: net.device });
}

/** Candidates of every batch item of a forward's outputs (sizes: the original image of each item). */
export function outputCandidates(net: Network, outputs: readonly Tensor[], frames: readonly Pick<Frame, 'width' | 'height'>[], thresh: number): Detection[][] {
  return frames.map((fr, b) => networkBoxes(net, outputs, { thresh, imageW: fr.width, imageH: fr.height, batchIndex: b }).detections);
}

/** Classes predicted by the output layers of a [region]/[detection] network. */
export function networkClasses(net: Network): number {
  const layers = layersOfType(net, 'region', 'detection');
  if (layers.length === 0) throw new Error(`${net.cfg.file}: no [region] or [detection] layer, so no boxes to decode`);
  return layers[0]!.classes;
}

/**
 * Wraps a network: forward (in inference mode, no grad, intermediates freed) and get_network_boxes.
 * The network's train/eval mode is restored after each call.
 */
export function networkBoxSource(net: Network): BoxSource {
  const classes = networkClasses(net);
  return {
    classes,
    inputShape: net.inputShape,
    method: inputMethod(net),
    candidates(inputs, frames, thresh) {
      return inferenceMode(net, () => scope(() => noGrad(() => outputCandidates(net, net.forward(batchTensor(net, inputs, frames.length)), frames, thresh))));
    },
  };
}

/** Runs `fn` with the network in eval mode, restoring train mode afterwards if it was on. */
function inferenceMode<T>(net: Network, fn: () => T): T {
  const wasTraining = net.training;
  if (wasTraining) net.eval();
  try {
    return fn();
  } finally {
    if (wasTraining) net.train(true);
  }
}

function asSource(src: Network | BoxSource): BoxSource {
  return src instanceof Network ? networkBoxSource(src) : src;
}

// ---------------------------------------------------------------------------------------------
// NMS and detection lists.

function hasProb(d: Detection): boolean {
  for (const p of d.prob) if (p > 0) return true;
  return false;
}

/** Drops boxes without a probability, runs do_nms_sort (unless nms ≤ 0), keeps boxes that still have one. */
export function suppress(candidates: Detection[], classes: number, nms: number): Detection[] {
  const live = candidates.filter(hasProb);
  if (nms > 0 && live.length > 1) nmsSort(live, classes, nms);
  return live.filter(hasProb);
}

function checkOptions(opts: DetectOptions): { thresh: number; nms: number; batch: number } {
  const thresh = opts.thresh ?? VALID_THRESH;
  const nms = opts.nms ?? VALID_NMS;
  const batch = opts.batch ?? DEFAULT_EVAL_BATCH;
  if (!(thresh >= 0 && thresh <= 1)) throw new Error(`detect: thresh must be in [0, 1], got ${thresh}`);
  if (!(nms >= 0 && nms <= 1)) throw new Error(`detect: nms must be in [0, 1], got ${nms}`);
  if (!(Number.isInteger(batch) && batch > 0)) throw new Error(`detect: batch must be a positive integer, got ${batch}`);
  return { thresh, nms, batch };
}

/** Fits one image to the source's input (letterbox or resize), as Darknet's front ends do. */
export function fitImage(src: Pick<BoxSource, 'inputShape' | 'method'>, im: FloatImage, file: string): Float32Array {
  const [c, h, w] = src.inputShape;
  if (im.channels !== c) throw new Error(`${file}: the image has ${im.channels} channels, the network input ${c}×${h}×${w} needs ${c}`);
  try {
    return (src.method === 'letterbox' ? letterboxImage(im, w, h).image : resizeImage(im, w, h)).data;
  } catch (e) {
    throw new Error(`${file} (${im.width}x${im.height}): ${(e as Error).message}`);
  }
}

interface LoadedBatch {
  frames: Frame[];
  inputs: Float32Array;
}

async function loadBatch(src: BoxSource, items: readonly EvalItem[], opts: DetectOptions): Promise<LoadedBatch> {
  const [c, h, w] = src.inputShape;
  const per = c * h * w;
  const decode = opts.maxPixels === undefined ? {} : { maxPixels: opts.maxPixels };
  const settled = await Promise.allSettled(items.map((it) => loadImage(it.image, decode)));
  const kept: { im: FloatImage; image: string }[] = [];
  settled.forEach((r, k) => {
    if (r.status === 'fulfilled') kept.push({ im: r.value, image: items[k]!.image });
    else if (opts.undecodable === 'skip' && r.reason instanceof ImageDecodeError) opts.onSkip?.(items[k]!.image, r.reason.message);
    else throw r.reason;
  });
  const inputs = new Float32Array(kept.length * per);
  const frames = kept.map(({ im, image }, k) => {
    inputs.set(fitImage(src, im, image), k * per);
    return { image, width: im.width, height: im.height };
  });
  return { frames, inputs };
}

/**
 * Detects on every item's image: `batch` images per forward (the next batch is read while the current
 * one runs), candidates at `thresh`, do_nms_sort at `nms`. Results are in item order.
 */
export async function detectImages(net: Network | BoxSource, items: readonly EvalItem[], opts: DetectOptions = {}): Promise<ImageDetections[]> {
  const { thresh, nms, batch } = checkOptions(opts);
  const src = asSource(net);
  const out: ImageDetections[] = [];
  const load = (start: number): Promise<LoadedBatch> => {
    const p = loadBatch(src, items.slice(start, start + batch), opts);
    p.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    return p;
  };
  let next: Promise<LoadedBatch> | null = items.length > 0 ? load(0) : null;
  for (let start = 0; next !== null; start += batch) {
    const cur = await next;
    next = start + batch < items.length ? load(start + batch) : null;
    if (cur.frames.length === 0) continue;
    const cands = src.candidates(cur.inputs, cur.frames, thresh);
    if (cands.length !== cur.frames.length) throw new Error(`detect: the box source returned ${cands.length} candidate lists for ${cur.frames.length} images`);
    cur.frames.forEach((fr, k) => out.push({ ...fr, detections: suppress(cands[k]!, src.classes, nms) }));
    opts.onProgress?.(Math.min(items.length, start + batch), items.length);
  }
  return out;
}

/** Pixel area of a relative box in an image of the given size (COCO's area ranges); undefined without a size. */
function pixelArea(b: { w: number; h: number }, size: { width: number; height: number } | undefined): number | undefined {
  return size !== undefined && size.width > 0 && size.height > 0 ? b.w * size.width * (b.h * size.height) : undefined;
}

/**
 * One scored detection per (box, class with prob > 0), keyed by the image path; boxes relative,
 * areas in pixels of the image (for COCO's area ranges).
 */
export function toScoredDetections(results: readonly ImageDetections[]): ScoredDetection[] {
  const out: ScoredDetection[] = [];
  for (const r of results) {
    for (const d of r.detections) {
      const area = pixelArea(d.bbox, r);
      d.prob.forEach((p, c) => {
        if (p > 0) out.push({ image: r.image, classId: c, score: p, box: d.bbox, ...(area === undefined ? {} : { area }) });
      });
    }
  }
  return out;
}

/**
 * Ground truth of labelled items (relative boxes), keyed by the image path (or the given keys); with
 * the image sizes, areas in pixels.
 */
export function toGroundTruths(
  items: readonly { image: string | number; boxes?: readonly LabelBox[] }[],
  sizes?: ReadonlyMap<string | number, { width: number; height: number }>,
): GroundTruth[] {
  const out: GroundTruth[] = [];
  for (const it of items) {
    const size = sizes?.get(it.image);
    for (const b of it.boxes ?? []) {
      const area = pixelArea(b, size);
      out.push({ image: it.image, classId: b.cls, box: { x: b.x, y: b.y, w: b.w, h: b.h }, ...(area === undefined ? {} : { area }) });
    }
  }
  return out;
}

function evaluateOptions(opts: EvaluateDetectorOptions): EvaluateOptions {
  if (!(Number.isInteger(opts.classes) && opts.classes > 0)) throw new Error(`evaluate: classes must be a positive integer, got ${opts.classes}`);
  return {
    classes: opts.classes,
    definition: opts.definition ?? 'voc10',
    iouThreshold: opts.iouThresh ?? 0.5,
    confThreshold: opts.reportThresh ?? 0.25,
    ...(opts.matching !== undefined ? { matching: opts.matching } : {}),
    ...(opts.maxDetections !== undefined ? { maxDetections: opts.maxDetections } : {}),
  };
}

/** Evaluates detections of images against the items' boxes (sync; no network involved). */
export function evaluateImageDetections(results: readonly ImageDetections[], items: readonly EvalItem[], opts: EvaluateDetectorOptions): Evaluation {
  const sizes = new Map(results.map((r) => [r.image, r] as const));
  return evaluateDetections(toScoredDetections(results), toGroundTruths(items, sizes), evaluateOptions(opts));
}

/** detectImages + evaluateDetections with the items' boxes as ground truth (skipped images left out of both). */
export async function evaluateDetector(net: Network | BoxSource, items: readonly EvalItem[], opts: EvaluateDetectorOptions): Promise<Evaluation> {
  const results = await detectImages(net, items, opts);
  return evaluateImageDetections(results, detectedItems(items, results), opts);
}

/** The items whose image has results (all of them unless undecodable images were skipped). */
export function detectedItems<T extends EvalItem>(items: readonly T[], results: readonly ImageDetections[]): T[] {
  if (results.length === items.length) return [...items];
  const done = new Set(results.map((r) => r.image));
  return items.filter((it) => done.has(it.image));
}

// ---------------------------------------------------------------------------------------------
// In-memory entry points (training loop).

/** Scored detections of candidates already decoded per image (keys: the batch index; areas in network pixels). */
function scoredFromCandidates(cands: readonly Detection[][], classes: number, nms: number, width: number, height: number): ScoredDetection[] {
  const results: ImageDetections[] = cands.map((c, k) => ({ image: String(k), width, height, detections: suppress(c, classes, nms) }));
  return toScoredDetections(results);
}

function truthsByIndex(truths: readonly (readonly LabelBox[])[], width: number, height: number): GroundTruth[] {
  const size = { width, height };
  return toGroundTruths(
    truths.map((boxes, k) => ({ image: String(k), boxes })),
    new Map(truths.map((_, k) => [String(k), size] as const)),
  );
}

/**
 * Evaluates `n` images already at the network size (CHW float32, packed; or a [n, c, h, w] tensor on
 * the network's device) against truths relative to those inputs (e.g. a training batch after
 * augmentation). Forwards in chunks of `batch` images (default: all n at once) in inference mode.
 */
export function evaluateOnTensors(
  net: Network | BoxSource,
  images: Float32Array | Tensor,
  n: number,
  truths: readonly (readonly LabelBox[])[],
  opts: EvaluateDetectorOptions,
): Evaluation {
  const { thresh, nms } = checkOptions(opts);
  const src = asSource(net);
  const [c, h, w] = src.inputShape;
  const per = c * h * w;
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`evaluateOnTensors: n must be a positive integer, got ${n}`);
  if (truths.length !== n) throw new Error(`evaluateOnTensors: ${truths.length} truth lists for ${n} images`);
  const size = images instanceof Float32Array ? images.length : images.size;
  if (size !== n * per) throw new Error(`evaluateOnTensors: ${size} values do not hold ${n} images of ${c}×${h}×${w}`);
  const batch = opts.batch ?? n;
  const cands: Detection[][] = [];
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const frames = Array.from({ length: m }, (_, k) => ({ image: String(s + k), width: w, height: h }));
    if (images instanceof Float32Array) {
      cands.push(...src.candidates(images.subarray(s * per, (s + m) * per), frames, thresh));
    } else if (net instanceof Network) {
      // already on the device: forward a view of the chunk, no host round trip
      cands.push(...inferenceMode(net, () => scope(() => noGrad(() => outputCandidates(net, net.forward(narrow(reshape(images, [n, c, h, w]), 0, s, m)), frames, thresh)))));
    } else {
      const host = images.data();
      cands.push(...src.candidates(Float32Array.from(host.subarray(s * per, (s + m) * per)), frames, thresh));
    }
  }
  return evaluateDetections(scoredFromCandidates(cands, src.classes, nms, w, h), truthsByIndex(truths, w, h), evaluateOptions(opts));
}

/**
 * Evaluates the outputs of a forward the caller already ran (every layer's output, N = truths.length
 * images at the network size), with truths relative to the network input. Decodes at `thresh`.
 */
export function evaluateOutputs(net: Network, outputs: readonly Tensor[], truths: readonly (readonly LabelBox[])[], opts: EvaluateDetectorOptions): Evaluation {
  const { thresh, nms } = checkOptions(opts);
  const [, h, w] = net.inputShape;
  const frames = truths.map(() => ({ width: w, height: h }));
  const cands = outputCandidates(net, outputs, frames, thresh);
  return evaluateDetections(scoredFromCandidates(cands, networkClasses(net), nms, w, h), truthsByIndex(truths, w, h), evaluateOptions(opts));
}

// ---------------------------------------------------------------------------------------------
// Result files.

/** Darknet's pixel box of a relative box (get_network_boxes with relative = 0): float32(rel × size). */
export function pixelBox(b: Box, imageW: number, imageH: number): Box {
  return toFloat32Box(relativeToPixels(b, imageW, imageH));
}

function clip(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** comp4 corners (1-based, VOC devkit) of a relative box; see the file comment. */
export function comp4Corners(b: Box, imageW: number, imageH: number): [number, number, number, number] {
  const c = toVocCorners(pixelBox(b, imageW, imageH), imageW, imageH);
  return [clip(c.x1, 1, imageW), clip(c.y1, 1, imageH), clip(c.x2, 1, imageW), clip(c.y2, 1, imageH)];
}

/** COCO bbox [x, y, w, h] (0-based pixels) of a relative box; see the file comment. */
export function cocoBbox(b: Box, imageW: number, imageH: number): [number, number, number, number] {
  const p = pixelBox(b, imageW, imageH);
  const x1 = clip(f(p.x - p.w / 2), 0, imageW);
  const x2 = clip(f(p.x + p.w / 2), 0, imageW);
  const y1 = clip(f(p.y - p.h / 2), 0, imageH);
  const y2 = clip(f(p.y + p.h / 2), 0, imageH);
  return [x1, y1, f(x2 - x1), f(y2 - y1)];
}

/** The image id of comp4 files: the file name without folder and extension. */
export function comp4ImageId(path: string): string {
  return basename(path, extname(path));
}

/**
 * The COCO image_id of an image file: the number its name ends with (`000000000042.jpg` → 42,
 * `COCO_val2014_000000000042.jpg` → 42, as Darknet's get_coco_image_id); a name that does not end in
 * digits keeps its stem as a string id (Darknet would give them all id 0).
 */
export function cocoImageId(path: string): number | string {
  const stem = comp4ImageId(path);
  const m = /(?:^|_)(\d+)$/.exec(stem);
  return m ? Number(m[1]) : stem;
}

/** %f as C prints a float (6 decimals). */
function fixed6(v: number): string {
  return v.toFixed(6);
}

/** A class name usable in a file name: path separators and control characters become '_'. */
export function fileSafeName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[/\\\x00-\x1f]/g, '_');
}

/** comp4_det_test_<class>.txt file name of each class; throws if two classes would share one. */
export function comp4FileNames(names: readonly string[]): string[] {
  const files = names.map((n) => `comp4_det_test_${fileSafeName(n)}.txt`);
  const seen = new Map<string, number>();
  files.forEach((file, c) => {
    const prev = seen.get(file);
    if (prev !== undefined) throw new Error(`class names ${JSON.stringify(names[prev])} (class ${prev}) and ${JSON.stringify(names[c])} (class ${c}) give the same result file ${file}`);
    seen.set(file, c);
  });
  return files;
}

/** Text of each class's comp4 file: one line per (image, box) with that class's prob > 0. */
export function comp4Texts(results: readonly ImageDetections[], classes: number): string[] {
  const lines: string[][] = Array.from({ length: classes }, () => []);
  for (const r of results) {
    const id = comp4ImageId(r.image);
    for (const d of r.detections) {
      const [x1, y1, x2, y2] = comp4Corners(d.bbox, r.width, r.height);
      const tail = `${fixed6(x1)} ${fixed6(y1)} ${fixed6(x2)} ${fixed6(y2)}`;
      for (let c = 0; c < classes; c++) {
        const p = d.prob[c]!;
        if (p > 0) lines[c]!.push(`${id} ${fixed6(p)} ${tail}\n`);
      }
    }
  }
  return lines.map((l) => l.join(''));
}

/** One COCO result entry. */
export interface CocoResult {
  image_id: number | string;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/** COCO results (category_id = class index), in image, box, class order. */
export function cocoResults(results: readonly ImageDetections[], classes: number): CocoResult[] {
  const out: CocoResult[] = [];
  const round6 = (v: number): number => Number(v.toFixed(6));
  for (const r of results) {
    const id = cocoImageId(r.image);
    for (const d of r.detections) {
      const bbox = cocoBbox(d.bbox, r.width, r.height).map(round6) as [number, number, number, number];
      for (let c = 0; c < classes; c++) {
        const p = d.prob[c]!;
        if (p > 0) out.push({ image_id: id, category_id: c, bbox, score: round6(p) });
      }
    }
  }
  return out;
}

/** The JSON text of COCO results: an array, one entry per line. */
export function formatCocoResults(entries: readonly CocoResult[]): string {
  return entries.length === 0 ? '[]\n' : `[\n${entries.map((e) => JSON.stringify(e)).join(',\n')}\n]\n`;
}

/** Images whose ids collide (comp4 or COCO): [id, first path, other path] for each clash. */
export function idCollisions(images: readonly string[], idOf: (p: string) => number | string): [number | string, string, string][] {
  const seen = new Map<number | string, string>();
  const out: [number | string, string, string][] = [];
  for (const p of images) {
    const id = idOf(p);
    const prev = seen.get(id);
    if (prev !== undefined && prev !== p) out.push([id, prev, p]);
    else seen.set(id, p);
  }
  return out;
}
