// Detection evaluation: matching detections to ground truth, precision/recall curves, average
// precision under the definitions of the official scorers, mAP, COCOeval's 12-number summary, and
// operating-point statistics (P/R/F1, TP/FP/FN, average IoU) at a confidence threshold.
// docs/SCORING.md says how each definition agrees with pycocotools' COCOeval and the VOC devkit.
//
// Matching, per image and class. An image's detections are taken in descending score order (ties in
// input order), at most `maxDetections` of them. Ignored truths: difficult (unless useDifficult), crowd,
// and for COCO's area ranges those whose area is outside the range; they are never positives.
//   'voc'  (voc_eval.py): a detection takes the truth of highest IoU in its image (the first on a tie),
//          taken or not. IoU > threshold: ignored if that truth is ignored, else TP if it is free, FP if
//          it was taken (a duplicate). Otherwise FP.
//   'coco' (COCOeval): ordinary truths first, ignored ones after (each group in input order). A
//          detection takes the truth of highest IoU ≥ threshold (the last on a tie) that is not taken,
//          crowd truths never counting as taken, and looks no further among ignored truths once it holds
//          an ordinary one. Matched to an ignored truth it is ignored; unmatched it is FP, or ignored
//          when its own area is outside the area range.
// Ignored detections are left out of the curve. Curve order: descending score; ties in input order
// ('voc': voc_eval sorts one class file) or in image order, then input order ('coco': COCOeval
// concatenates its images in sorted id order before a stable sort). The image order is
// `images` when given, else the image keys sorted (numbers ascending, then strings).
//
// AP of a curve (recall r_i, precision p_i after each detection i):
//   voc07          11-point at voc_eval's recall points np.arange(0, 1.1, 0.1) = i·0.1 (so 0.3, 0.6, 0.7
//                  are a little above 3/10, 6/10, 7/10): Σ_t max{p_i : r_i ≥ t}/11, added term by term
//   voc07-darknet  11-point at Darknet's points k/10 (`-points 11`), summed then divided by 11
//   voc10          all-point (VOC2010+): area under the envelope p̂(r) = max{p_i : r_i ≥ r}
//   coco101        COCOeval at one IoU threshold: mean over the recall points linspace(0, 1, 101) of p̂ at
//                  the first point with r_i ≥ r (0 when recall never reaches r); p_i = tp/(tp + fp + 2⁻⁵²)
//   coco           coco101 at each IoU threshold of linspace(.5, .95, 10), averaged
// Sums and means are numpy's (numpy-float.ts), so the numbers are those of the Python scorers to the bit.
// mAP: the mean over classes that have positives ('coco'/'coco101': COCOeval's mean of every
// precision value of those classes, which is the same number up to rounding).

import type { Box } from './box.js';
import { CENTRE_BOXES, type BoxRule } from './box-rules.js';
import { arange, linspace, npMean, npSum } from './numpy-float.js';

export interface GroundTruth<B = Box> {
  image: string | number;
  classId: number;
  box: B;
  /** VOC difficult: not a positive; a detection matched to it is neither TP nor FP. */
  difficult?: boolean;
  /**
   * COCO iscrowd: not a positive; it absorbs any number of detections (each neither TP nor FP), and
   * the IoU with it is the intersection over the detection's area.
   */
  crowd?: boolean;
  /** Area compared with COCO's area ranges (COCO JSON `area`); default the box rule's area of `box`. */
  area?: number;
}

export interface ScoredDetection<B = Box> {
  image: string | number;
  classId: number;
  score: number;
  box: B;
  /** Area compared with COCO's area ranges; default the box rule's area of `box`. */
  area?: number;
}

export type ApDefinition = 'voc07' | 'voc07-darknet' | 'voc10' | 'coco101' | 'coco';
export type MatchStyle = 'voc' | 'coco';

/** Outcome of one detection after matching. */
export interface MatchedDetection {
  score: number;
  /** Position of the detection in the input array. */
  detection: number;
  /** Position among the kept detections of its image and class (score order, ties in input order). */
  rank: number;
  tp: boolean;
  /** Matched to an ignored truth (or unmatched outside the area range): neither TP nor FP. */
  ignored: boolean;
  /** IoU with the matched truth (TP or ignored), else the best IoU seen (0 if no truth). */
  iou: number;
}

export interface ClassMatches {
  /** Truths of the class that are not ignored (the positives). */
  numPositives: number;
  /** Every kept detection, in curve order. */
  matches: MatchedDetection[];
}

export interface PrecisionRecall {
  precision: number[];
  recall: number[];
  scores: number[];
}

/** An area range [lo, hi], both ends included, as COCOeval compares areas. */
export type AreaRange = readonly [number, number];

/** COCOeval's area ranges: all, small (≤ 32²), medium (32²..96²), large (≥ 96²); 1e10 stands for no bound. */
export const COCO_AREA_RANGES: Readonly<Record<'all' | 'small' | 'medium' | 'large', AreaRange>> = {
  all: [0, 1e10],
  small: [0, 32 ** 2],
  medium: [32 ** 2, 96 ** 2],
  large: [96 ** 2, 1e10],
};

export interface MatchOptions<B = Box> {
  /** Count difficult truths as ordinary ones; default false (they are ignored). */
  useDifficult?: boolean;
  /** Keep only the top-scored n detections per image and class (COCOeval's maxDets). Default: all. */
  maxDetections?: number;
  /** How boxes are compared and measured; default centre boxes (Darknet). */
  boxes?: BoxRule<B>;
  /** Truths and unmatched detections whose area is outside are ignored (COCO's area ranges). */
  areaRange?: AreaRange;
  /** The evaluation's images in order (COCOeval's sorted image ids); orders ties across images. */
  images?: readonly (string | number)[];
}

export interface EvaluateOptions<B = Box> extends Omit<MatchOptions<B>, 'areaRange'> {
  /** AP definition; default 'voc10'. */
  definition?: ApDefinition;
  /** IoU threshold of a match; default 0.5. For 'coco' AP only the operating point uses it. */
  iouThreshold?: number;
  /** Default: 'voc' for the VOC definitions, 'coco' for coco101/coco. */
  matching?: MatchStyle;
  /** Classes to evaluate: a count n (0..n−1) or a list. Default: every class in truths or detections. */
  classes?: number | readonly number[];
  /** Confidence threshold of the operating-point statistics (score ≥ threshold); default 0.25. */
  confThreshold?: number;
  /** Detections kept per image and class; default 100 for coco101/coco (COCOeval), all for VOC. */
  maxDetections?: number;
}

/** Counts at a confidence threshold. precision = TP/(TP+FP), recall = TP/(TP+FN); 0 when undefined. */
export interface OperatingPoint {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
  /** Mean IoU of the true positives (0 if there are none). */
  avgIou: number;
}

export interface ClassEvaluation extends OperatingPoint {
  classId: number;
  /** AP under the chosen definition; NaN when the class has no positives. */
  ap: number;
  /** AP at each of the IoU thresholds of `Evaluation.iouThresholds`. */
  apPerIou: number[];
  numPositives: number;
  numDetections: number;
  /** The curve at `iouThreshold` (precision tp/(tp+fp)). */
  curve: PrecisionRecall;
}

/** COCOeval's summary (its `stats`, in the order of COCO_SUMMARY_KEYS); NaN where COCOeval has −1. */
export interface CocoSummary {
  /** Detections per image of the three recall columns: [1, 10, N], each at most N. */
  maxDets: [number, number, number];
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  /** AR at N detections per image (COCOeval's AR@100 by default). */
  arMax: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
}

/** The summary's numbers in COCOeval's `stats` order. */
export const COCO_SUMMARY_KEYS = ['ap', 'ap50', 'ap75', 'apSmall', 'apMedium', 'apLarge', 'ar1', 'ar10', 'arMax', 'arSmall', 'arMedium', 'arLarge'] as const;

export interface Evaluation extends OperatingPoint {
  definition: ApDefinition;
  matching: MatchStyle;
  /** IoU thresholds the AP was computed at (one, or ten for 'coco'). */
  iouThresholds: number[];
  confThreshold: number;
  /** Detections kept per image and class (Infinity: all). */
  maxDetections: number;
  /** Mean AP over the classes that have positives (NaN if none has). */
  map: number;
  /** mAP at each IoU threshold of `iouThresholds`. */
  mapPerIou: number[];
  classes: ClassEvaluation[];
  /** 'coco' only: COCOeval's summary. */
  coco?: CocoSummary;
}

/** COCOeval's ten IoU thresholds: numpy's linspace(.5, .95, 10) (0.8999999999999999 among them). */
export const COCO_IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);

/** COCOeval's 101 recall points: numpy's linspace(0, 1, 101). */
export const COCO_RECALL_POINTS: readonly number[] = linspace(0, 1, 101);

/** voc_eval.py's 11 recall points: numpy's arange(0, 1.1, 0.1) = i·0.1 (0.30000000000000004, ...). */
export const VOC07_RECALL_POINTS: readonly number[] = arange(0, 1.1, 0.1);

/** Darknet's 11 recall points (`detector map -points 11`): k/10. */
export const DARKNET_RECALL_POINTS: readonly number[] = Array.from({ length: 11 }, (_, k) => k / 10);

/** COCOeval's ε in precision = tp/(tp + fp + ε): np.spacing(1). */
const COCO_EPS = 2 ** -52;

// ---------------------------------------------------------------------------------------------
// AP of a curve.

function checkCurve(recall: readonly number[], precision: readonly number[]): void {
  if (recall.length !== precision.length) {
    throw new Error(`average precision: recall has ${recall.length} points, precision ${precision.length}`);
  }
}

/** Highest precision at a recall ≥ t (0 if none). */
function maxPrecisionFrom(recall: readonly number[], precision: readonly number[], t: number): number {
  let p = 0;
  for (let i = 0; i < recall.length; i++) if (recall[i]! >= t && precision[i]! > p) p = precision[i]!;
  return p;
}

/** VOC2007 11-point AP at the devkit's recall points (default) or Darknet's k/10. */
export function apVoc07(recall: readonly number[], precision: readonly number[], points: 'devkit' | 'darknet' = 'devkit'): number {
  checkCurve(recall, precision);
  if (points === 'darknet') {
    let sum = 0;
    for (const t of DARKNET_RECALL_POINTS) sum += maxPrecisionFrom(recall, precision, t);
    return sum / 11;
  }
  let ap = 0;
  for (const t of VOC07_RECALL_POINTS) ap = ap + maxPrecisionFrom(recall, precision, t) / 11;
  return ap;
}

/** VOC2010+ all-point AP: area under the monotone precision envelope. */
export function apAllPoint(recall: readonly number[], precision: readonly number[]): number {
  checkCurve(recall, precision);
  const mrec = [0, ...recall, 1];
  const mpre = [0, ...precision, 0];
  for (let i = mpre.length - 1; i > 0; i--) if (mpre[i]! > mpre[i - 1]!) mpre[i - 1] = mpre[i]!;
  const terms: number[] = [];
  for (let i = 0; i + 1 < mrec.length; i++) if (mrec[i + 1] !== mrec[i]) terms.push((mrec[i + 1]! - mrec[i]!) * mpre[i + 1]!);
  return npSum(terms);
}

/** The 101 interpolated precisions of a curve (COCOeval's `q`): p̂ at the first point with recall ≥ r. */
function cocoPrecisions(recall: readonly number[], precision: readonly number[]): number[] {
  const env = precision.slice();
  for (let i = env.length - 1; i > 0; i--) if (env[i]! > env[i - 1]!) env[i - 1] = env[i]!;
  const q: number[] = [];
  let j = 0;
  for (const r of COCO_RECALL_POINTS) {
    while (j < recall.length && recall[j]! < r) j++; // recall is non-decreasing: first index with recall ≥ r
    q.push(j < recall.length ? env[j]! : 0);
  }
  return q;
}

/** COCO 101-point interpolated AP of one curve. */
export function apCoco101(recall: readonly number[], precision: readonly number[]): number {
  checkCurve(recall, precision);
  return npMean(cocoPrecisions(recall, precision));
}

/** AP of one curve under a single-threshold definition ('coco' is coco101 per threshold). */
export function averagePrecision(recall: readonly number[], precision: readonly number[], definition: ApDefinition): number {
  switch (definition) {
    case 'voc07':
      return apVoc07(recall, precision, 'devkit');
    case 'voc07-darknet':
      return apVoc07(recall, precision, 'darknet');
    case 'voc10':
      return apAllPoint(recall, precision);
    case 'coco101':
    case 'coco':
      return apCoco101(recall, precision);
  }
}

// ---------------------------------------------------------------------------------------------
// Matching.

type ImageKey = string | number;

function compareKeys(a: ImageKey, b: ImageKey): number {
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Position of every image in the evaluation order (see the file comment). */
function imageOrder(dets: readonly { image: ImageKey }[], gts: readonly { image: ImageKey }[], images?: readonly ImageKey[]): Map<ImageKey, number> {
  const order = new Map<ImageKey, number>();
  for (const k of images ?? []) if (!order.has(k)) order.set(k, order.size);
  const rest = new Set<ImageKey>();
  for (const x of gts) if (!order.has(x.image)) rest.add(x.image);
  for (const x of dets) if (!order.has(x.image)) rest.add(x.image);
  for (const k of [...rest].sort(compareKeys)) order.set(k, order.size);
  return order;
}

/** One image's kept detections (score order) and truths of a class, with their IoUs (row per detection). */
interface ImageBlock {
  /** Position of the block's first detection in the class's flat arrays. */
  offset: number;
  dets: number[];
  truths: number[];
  ious: Float64Array;
}

/** A class's detections and truths, grouped by image, with the curve order (the same at every threshold). */
interface PreparedClass {
  truths: number[];
  blocks: ImageBlock[];
  /** Flat positions (block offset + rank) of the kept detections in curve order. */
  curve: Int32Array;
  /** By flat position: input index, rank in its image, score. */
  detIndex: Int32Array;
  rank: Int32Array;
  score: Float64Array;
}

function checkMaxDetections(n: number, what: string): void {
  if (!(n === Infinity || (Number.isInteger(n) && n > 0))) throw new Error(`${what}: maxDetections must be a positive integer, got ${n}`);
}

function prepareClass<B>(
  dets: readonly ScoredDetection<B>[],
  gts: readonly GroundTruth<B>[],
  classId: number,
  maxDet: number,
  rule: BoxRule<B>,
  order: ReadonlyMap<ImageKey, number>,
  style: MatchStyle,
): PreparedClass {
  const truths: number[] = [];
  const truthsOf = new Map<ImageKey, number[]>();
  gts.forEach((g, i) => {
    if (g.classId !== classId) return;
    truths.push(i);
    let list = truthsOf.get(g.image);
    if (!list) truthsOf.set(g.image, (list = []));
    list.push(i);
  });
  const detsOf = new Map<ImageKey, number[]>();
  dets.forEach((d, i) => {
    if (d.classId !== classId) return;
    if (!Number.isFinite(d.score)) throw new Error(`evaluation: detection ${i} has a non-finite score ${d.score}`);
    let list = detsOf.get(d.image);
    if (!list) detsOf.set(d.image, (list = []));
    list.push(i);
  });
  const blocks: ImageBlock[] = [];
  const imageOf: number[] = [];
  let offset = 0;
  for (const [image, list] of detsOf) {
    // stable: equal scores keep input order
    const kept = list.sort((a, b) => dets[b]!.score - dets[a]!.score).slice(0, maxDet);
    const its = truthsOf.get(image) ?? [];
    const ious = new Float64Array(kept.length * its.length);
    kept.forEach((di, r) => {
      its.forEach((gi, j) => {
        ious[r * its.length + j] = rule.iou(dets[di]!.box, gts[gi]!.box, gts[gi]!.crowd === true);
      });
    });
    blocks.push({ offset, dets: kept, truths: its, ious });
    for (let r = 0; r < kept.length; r++) imageOf.push(order.get(image)!);
    offset += kept.length;
  }
  const detIndex = new Int32Array(offset);
  const rank = new Int32Array(offset);
  const score = new Float64Array(offset);
  for (const bl of blocks) {
    bl.dets.forEach((di, r) => {
      detIndex[bl.offset + r] = di;
      rank[bl.offset + r] = r;
      score[bl.offset + r] = dets[di]!.score;
    });
  }
  const byImage = style === 'coco';
  const curve = Int32Array.from({ length: offset }, (_, k) => k).sort(
    (a, b) => score[b]! - score[a]! || (byImage ? imageOf[a]! - imageOf[b]! : 0) || detIndex[a]! - detIndex[b]!,
  );
  return { truths, blocks, curve, detIndex, rank, score };
}

/**
 * The ignore flags of one area range: per block, which truths are ignored and the order COCO visits
 * them in (ordinary first); per flat position, whether the detection's area is outside the range.
 */
interface IgnoreView {
  numPositives: number;
  ignored: Uint8Array[];
  visit: Int32Array[];
  crowd: Uint8Array[];
  detOutside: Uint8Array;
}

function ignoreView<B>(
  prep: PreparedClass,
  dets: readonly ScoredDetection<B>[],
  gts: readonly GroundTruth<B>[],
  rule: BoxRule<B>,
  useDifficult: boolean,
  range?: AreaRange,
): IgnoreView {
  const outside = (area: number): boolean => range !== undefined && (area < range[0] || area > range[1]);
  const truthIgnored = (gi: number): boolean => {
    const g = gts[gi]!;
    return (g.difficult === true && !useDifficult) || g.crowd === true || outside(g.area ?? rule.area(g.box));
  };
  let numPositives = 0;
  for (const gi of prep.truths) if (!truthIgnored(gi)) numPositives++;
  const ignored = prep.blocks.map((bl) => Uint8Array.from(bl.truths, (gi) => Number(truthIgnored(gi))));
  const visit = ignored.map((ign) => Int32Array.from({ length: ign.length }, (_, j) => j).sort((a, b) => ign[a]! - ign[b]!));
  const crowd = prep.blocks.map((bl) => Uint8Array.from(bl.truths, (gi) => Number(gts[gi]!.crowd === true)));
  const detOutside = Uint8Array.from(prep.detIndex, (di) => (range === undefined ? 0 : Number(outside(dets[di]!.area ?? rule.area(dets[di]!.box)))));
  return { numPositives, ignored, visit, crowd, detOutside };
}

/** Outcome of every kept detection of a class at one threshold, by flat position. */
interface Outcome {
  numPositives: number;
  tp: Uint8Array;
  ignored: Uint8Array;
  iou: Float64Array;
}

function matchPrepared(prep: PreparedClass, threshold: number, style: MatchStyle, view: IgnoreView): Outcome {
  const n = prep.detIndex.length;
  const out: Outcome = { numPositives: view.numPositives, tp: new Uint8Array(n), ignored: new Uint8Array(n), iou: new Float64Array(n) };
  prep.blocks.forEach((block, b) => {
    const G = block.truths.length;
    const ign = view.ignored[b]!;
    const crowd = view.crowd[b]!;
    const visit = view.visit[b]!;
    const taken = new Uint8Array(G);
    for (let rank = 0; rank < block.dets.length; rank++) {
      const row = rank * G;
      const k = block.offset + rank;
      let best = -1;
      let bestIou = -Infinity;
      if (style === 'voc') {
        for (let j = 0; j < G; j++) {
          if (block.ious[row + j]! > bestIou) {
            bestIou = block.ious[row + j]!;
            best = j;
          }
        }
        if (best >= 0 && bestIou > threshold) {
          out.iou[k] = bestIou;
          if (ign[best]) out.ignored[k] = 1;
          else if (!taken[best]) {
            taken[best] = 1;
            out.tp[k] = 1;
          }
          continue;
        }
      } else {
        let need = Math.min(threshold, 1 - 1e-10);
        for (const j of visit) {
          if (taken[j] && !crowd[j]) continue;
          if (best >= 0 && !ign[best] && ign[j]) break;
          if (block.ious[row + j]! < need) continue;
          need = block.ious[row + j]!;
          best = j;
        }
        if (best >= 0) {
          taken[best] = 1;
          out.iou[k] = block.ious[row + best]!;
          if (ign[best]) out.ignored[k] = 1;
          else out.tp[k] = 1;
          continue;
        }
        for (let j = 0; j < G; j++) if (block.ious[row + j]! > bestIou) bestIou = block.ious[row + j]!;
      }
      // unmatched: a false positive, unless its own area is outside the area range
      out.iou[k] = Math.max(bestIou, 0);
      out.ignored[k] = view.detOutside[k]!;
    }
  });
  return out;
}

function toClassMatches(prep: PreparedClass, o: Outcome): ClassMatches {
  const matches = Array.from(prep.curve, (k): MatchedDetection => ({
    score: prep.score[k]!,
    detection: prep.detIndex[k]!,
    rank: prep.rank[k]!,
    tp: o.tp[k] === 1,
    ignored: o.ignored[k] === 1,
    iou: o.iou[k]!,
  }));
  return { numPositives: o.numPositives, matches };
}

/**
 * Matches the detections of one class to the truths of that class (both arrays may contain other
 * classes; only `classId` is used). Returns the outcome of every kept detection in curve order and
 * the number of positives.
 */
export function matchClass<B = Box>(
  dets: readonly ScoredDetection<B>[],
  gts: readonly GroundTruth<B>[],
  classId: number,
  iouThreshold: number,
  style: MatchStyle,
  opts: MatchOptions<B> = {},
): ClassMatches {
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new Error(`matchClass: IoU threshold must be in [0, 1], got ${iouThreshold}`);
  const maxDet = opts.maxDetections ?? Infinity;
  checkMaxDetections(maxDet, 'matchClass');
  const rule = opts.boxes ?? (CENTRE_BOXES as unknown as BoxRule<B>);
  const prep = prepareClass(dets, gts, classId, maxDet, rule, imageOrder(dets, gts, opts.images), style);
  const view = ignoreView(prep, dets, gts, rule, opts.useDifficult === true, opts.areaRange);
  return toClassMatches(prep, matchPrepared(prep, iouThreshold, style, view));
}

/** Cumulative precision/recall after each non-ignored detection (curve order). */
export function precisionRecall(m: ClassMatches): PrecisionRecall {
  const precision: number[] = [];
  const recall: number[] = [];
  const scores: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const d of m.matches) {
    if (d.ignored) continue;
    if (d.tp) tp++;
    else fp++;
    precision.push(tp / (tp + fp));
    recall.push(m.numPositives > 0 ? tp / m.numPositives : 0);
    scores.push(d.score);
  }
  return { precision, recall, scores };
}

/** COCOeval's accumulation of one (class, area range, IoU threshold, maxDets) cell: q and final recall. */
function cocoCell(prep: PreparedClass, o: Outcome, maxDet: number): { q: number[]; recall: number } {
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const k of prep.curve) {
    if (prep.rank[k]! >= maxDet || o.ignored[k]) continue;
    if (o.tp[k]) tp++;
    else fp++;
    recall.push(tp / o.numPositives);
    precision.push(tp / (fp + tp + COCO_EPS));
  }
  return { q: cocoPrecisions(recall, precision), recall: recall.length > 0 ? recall[recall.length - 1]! : 0 };
}

function operatingPoint(m: ClassMatches, confThreshold: number): OperatingPoint & { iouSum: number } {
  let tp = 0;
  let fp = 0;
  let iouSum = 0;
  for (const d of m.matches) {
    if (d.score < confThreshold || d.ignored) continue;
    if (d.tp) {
      tp++;
      iouSum += d.iou;
    } else fp++;
  }
  return { ...pointFromCounts(tp, fp, m.numPositives - tp, iouSum), iouSum };
}

function pointFromCounts(tp: number, fp: number, fn: number, iouSum: number): OperatingPoint {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, fn, precision, recall, f1, avgIou: tp > 0 ? iouSum / tp : 0 };
}

function classList(dets: readonly { classId: number }[], gts: readonly { classId: number }[], classes: EvaluateOptions['classes']): number[] {
  if (typeof classes === 'number') {
    if (!(Number.isInteger(classes) && classes > 0)) throw new Error(`evaluateDetections: classes must be a positive integer, got ${classes}`);
    return Array.from({ length: classes }, (_, i) => i);
  }
  if (classes) return classes.slice();
  const s = new Set<number>();
  for (const g of gts) s.add(g.classId);
  for (const d of dets) s.add(d.classId);
  return [...s].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// COCOeval's accumulation: precision[t][r][k] and recall[t][k] per area range and maxDets.

const AREA_NAMES = ['all', 'small', 'medium', 'large'] as const;

/** cells[a][t][m] of one class: null when the class has no positives in that area range. */
type CocoCells = ({ q: number[]; recall: number } | null)[][][];

/** The values COCOeval averages, in its array order: t, then r, then class (skipping classes without positives). */
function precisionValues(cells: readonly CocoCells[], a: number, ts: readonly number[], m: number): number[] {
  const out: number[] = [];
  for (const t of ts) {
    for (let r = 0; r < COCO_RECALL_POINTS.length; r++) {
      for (const c of cells) {
        const cell = c[a]![t]![m];
        if (cell) out.push(cell.q[r]!);
      }
    }
  }
  return out;
}

function recallValues(cells: readonly CocoCells[], a: number, ts: readonly number[], m: number): number[] {
  const out: number[] = [];
  for (const t of ts) {
    for (const c of cells) {
      const cell = c[a]![t]![m];
      if (cell) out.push(cell.recall);
    }
  }
  return out;
}

function cocoSummary(cells: readonly CocoCells[], thresholds: readonly number[], maxDets: [number, number, number]): CocoSummary {
  const all = thresholds.map((_, t) => t);
  const at = (v: number): number[] => all.filter((t) => thresholds[t] === v);
  const ap = (a: number, ts: number[]): number => npMean(precisionValues(cells, a, ts, 2));
  const ar = (a: number, m: number): number => npMean(recallValues(cells, a, all, m));
  return {
    maxDets,
    ap: ap(0, all),
    ap50: ap(0, at(0.5)),
    ap75: ap(0, at(0.75)),
    apSmall: ap(1, all),
    apMedium: ap(2, all),
    apLarge: ap(3, all),
    ar1: ar(0, 0),
    ar10: ar(0, 1),
    arMax: ar(0, 2),
    arSmall: ar(1, 2),
    arMedium: ar(2, 2),
    arLarge: ar(3, 2),
  };
}

/**
 * Evaluates detections against ground truth: per-class AP, mAP, COCOeval's summary ('coco'), and
 * operating-point statistics at `confThreshold` (IoU threshold `iouThreshold`, also for 'coco').
 */
export function evaluateDetections<B = Box>(dets: readonly ScoredDetection<B>[], gts: readonly GroundTruth<B>[], opts: EvaluateOptions<B> = {}): Evaluation {
  const definition = opts.definition ?? 'voc10';
  const cocoStyle = definition === 'coco' || definition === 'coco101';
  const matching = opts.matching ?? (cocoStyle ? 'coco' : 'voc');
  const iouThreshold = opts.iouThreshold ?? 0.5;
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new Error(`evaluateDetections: IoU threshold must be in [0, 1], got ${iouThreshold}`);
  const confThreshold = opts.confThreshold ?? 0.25;
  const maxDet = opts.maxDetections ?? (cocoStyle ? 100 : Infinity);
  checkMaxDetections(maxDet, 'evaluateDetections');
  const rule = opts.boxes ?? (CENTRE_BOXES as unknown as BoxRule<B>);
  const order = imageOrder(dets, gts, opts.images);
  const useDifficult = opts.useDifficult === true;
  const iouThresholds = definition === 'coco' ? COCO_IOU_THRESHOLDS.slice() : [iouThreshold];
  const ranges = definition === 'coco' ? AREA_NAMES.map((n) => COCO_AREA_RANGES[n]) : [COCO_AREA_RANGES.all];
  const maxDets: [number, number, number] = [Math.min(1, maxDet), Math.min(10, maxDet), maxDet];

  const perClass: ClassEvaluation[] = [];
  const cells: CocoCells[] = [];
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let iouSum = 0;
  for (const c of classList(dets, gts, opts.classes)) {
    const prep = prepareClass(dets, gts, c, maxDet, rule, order, matching);
    // COCOeval applies its 'all' range [0, 1e10] too, to every number it reports
    const views = ranges.map((r) => ignoreView(prep, dets, gts, rule, useDifficult, cocoStyle ? r : undefined));
    const mainOutcome = matchPrepared(prep, iouThreshold, matching, views[0]!);
    const main = toClassMatches(prep, mainOutcome);
    const curve = precisionRecall(main);
    let apPerIou: number[];
    let ap: number;
    if (!cocoStyle) {
      ap = main.numPositives > 0 ? averagePrecision(curve.recall, curve.precision, definition) : NaN;
      apPerIou = [ap];
    } else {
      const classCells: CocoCells = views.map((view, a) =>
        iouThresholds.map((t) => {
          const o = a === 0 && t === iouThreshold ? mainOutcome : matchPrepared(prep, t, matching, view);
          return (definition === 'coco' ? maxDets : [maxDet]).map((n) => (o.numPositives > 0 ? cocoCell(prep, o, n) : null));
        }),
      );
      const mAll = classCells[0]!.map((byMax) => byMax[byMax.length - 1]!);
      apPerIou = mAll.map((cell) => (cell ? npMean(cell.q) : NaN));
      ap = mAll[0] ? npMean(mAll.flatMap((cell) => cell!.q)) : NaN;
      cells.push(classCells);
    }
    const op = operatingPoint(main, confThreshold);
    tp += op.tp;
    fp += op.fp;
    fn += op.fn;
    iouSum += op.iouSum;
    perClass.push({
      classId: c,
      ap,
      apPerIou,
      numPositives: main.numPositives,
      numDetections: main.matches.length,
      curve,
      tp: op.tp,
      fp: op.fp,
      fn: op.fn,
      precision: op.precision,
      recall: op.recall,
      f1: op.f1,
      avgIou: op.avgIou,
    });
  }
  const scored = perClass.filter((c) => c.numPositives > 0);
  const last = definition === 'coco' ? 2 : 0;
  const allT = iouThresholds.map((_, t) => t);
  const result: Evaluation = {
    definition,
    matching,
    iouThresholds,
    confThreshold,
    maxDetections: maxDet,
    map: cocoStyle ? npMean(precisionValues(cells, 0, allT, last)) : npMean(scored.map((c) => c.ap)),
    mapPerIou: cocoStyle ? allT.map((t) => npMean(precisionValues(cells, 0, [t], last))) : [npMean(scored.map((c) => c.ap))],
    classes: perClass,
    ...pointFromCounts(tp, fp, fn, iouSum),
  };
  if (definition === 'coco') result.coco = cocoSummary(cells, iouThresholds, maxDets);
  return result;
}
