// Detection evaluation: matching detections to ground truth, precision/recall curves, average
// precision under the usual definitions, mAP, and operating-point statistics (P/R/F1, TP/FP/FN,
// average IoU) at a confidence threshold.
//
// Matching (per image and class, detections in descending score order, ties in input order):
//   'voc'  (Pascal VOC devkit): a detection takes the ground truth with the highest IoU in its image,
//          matched or not. IoU > threshold: TP if that truth is free, FP if it was already taken
//          (duplicate), ignored if it is difficult. Otherwise FP.
//   'coco' (pycocotools): a detection takes the *free* truth with the highest IoU ≥ threshold, preferring
//          non-difficult truths (difficult ones act as COCO's "ignore" truths); matched to a difficult
//          truth it is ignored; no such truth: FP.
// Difficult truths never count as positives (unless `useDifficult`), ignored detections are dropped
// from the curve.
//
// AP of a curve (recall r_i, precision p_i after each detection i, in score order):
//   voc07   11-point: mean over t ∈ {0, 0.1, ..., 1} of max{p_i : r_i ≥ t} (0 if none).
//   voc10   all-point (VOC2010+): area under the monotone envelope p̂(r) = max{p_i : r_i ≥ r}:
//           Σ (r_i − r_{i−1}) · p̂(r_i) with r_0 = 0.
//   coco101 101-point: mean over r ∈ {0, 0.01, ..., 1} of p̂ at the first curve point with r_i ≥ r
//           (0 when recall never reaches r).
//   coco    AP@[.50:.05:.95]: coco101 averaged over the ten IoU thresholds 0.50, 0.55, ..., 0.95.

import { type Box, boxIouF64 } from './box.js';

export interface GroundTruth {
  image: string | number;
  classId: number;
  box: Box;
  difficult?: boolean;
}

export interface ScoredDetection {
  image: string | number;
  classId: number;
  score: number;
  box: Box;
}

export type ApDefinition = 'voc07' | 'voc10' | 'coco101' | 'coco';
export type MatchStyle = 'voc' | 'coco';

/** Outcome of one detection after matching, in descending score order. */
export interface MatchedDetection {
  score: number;
  /** Position of the detection in the input array. */
  detection: number;
  tp: boolean;
  /** Matched to a difficult truth: neither TP nor FP. */
  ignored: boolean;
  /** IoU with the matched truth (TP or ignored), else the best IoU seen (0 if no truth). */
  iou: number;
}

export interface ClassMatches {
  /** Non-difficult ground truths of the class (the positives). */
  numPositives: number;
  matches: MatchedDetection[];
}

export interface PrecisionRecall {
  precision: number[];
  recall: number[];
  scores: number[];
}

export interface EvaluateOptions {
  /** AP definition; default 'voc10'. */
  definition?: ApDefinition;
  /** IoU threshold of a match; default 0.5. For 'coco' AP this is only used for the threshold stats. */
  iouThreshold?: number;
  /** Default: 'voc' for voc07/voc10, 'coco' for coco101/coco. */
  matching?: MatchStyle;
  /** Classes to evaluate: a count n (0..n−1) or a list. Default: every class in truths or detections. */
  classes?: number | readonly number[];
  /** Confidence threshold of the operating-point statistics (score ≥ threshold); default 0.25. */
  confThreshold?: number;
  /** Count difficult truths as ordinary ones; default false (they are ignored). */
  useDifficult?: boolean;
  /** Keep only the top-scored n detections per image and class (COCO's maxDets); default all. */
  maxDetections?: number;
  /** IoU function; default the double-precision centre-box IoU. */
  iou?: (a: Box, b: Box) => number;
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
  /** 'coco': AP at each of the IoU thresholds of `Evaluation.iouThresholds`. */
  apPerIou: number[];
  numPositives: number;
  numDetections: number;
  /** The curve at `iouThreshold`. */
  curve: PrecisionRecall;
}

export interface Evaluation extends OperatingPoint {
  definition: ApDefinition;
  matching: MatchStyle;
  /** IoU thresholds the AP was computed at (one, or ten for 'coco'). */
  iouThresholds: number[];
  confThreshold: number;
  /** Mean AP over the classes that have positives (NaN if none has). */
  map: number;
  /** mAP at each IoU threshold of `iouThresholds`. */
  mapPerIou: number[];
  classes: ClassEvaluation[];
}

/** The ten COCO IoU thresholds, computed as numpy's linspace(.5, .95, 10) does. */
export const COCO_IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : 0.5 + i * (0.45 / 9)));

/** The 101 COCO recall points, computed as numpy's linspace(0, 1, 101) does (i·0.01, last 1). */
export const COCO_RECALL_POINTS: readonly number[] = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * 0.01));

// ---------------------------------------------------------------------------------------------
// AP of a curve.

function checkCurve(recall: readonly number[], precision: readonly number[]): void {
  if (recall.length !== precision.length) {
    throw new Error(`average precision: recall has ${recall.length} points, precision ${precision.length}`);
  }
}

/** VOC2007 11-point AP. */
export function apVoc07(recall: readonly number[], precision: readonly number[]): number {
  checkCurve(recall, precision);
  let sum = 0;
  for (let k = 0; k <= 10; k++) {
    const t = k / 10;
    let p = 0;
    for (let i = 0; i < recall.length; i++) if (recall[i]! >= t && precision[i]! > p) p = precision[i]!;
    sum += p;
  }
  return sum / 11;
}

/** VOC2010+ all-point AP: area under the monotone precision envelope. */
export function apAllPoint(recall: readonly number[], precision: readonly number[]): number {
  checkCurve(recall, precision);
  const n = recall.length;
  const mrec = [0, ...recall, 1];
  const mpre = [0, ...precision, 0];
  for (let i = n; i >= 1; i--) if (mpre[i + 1]! > mpre[i]!) mpre[i] = mpre[i + 1]!;
  let ap = 0;
  for (let i = 0; i <= n; i++) if (mrec[i + 1] !== mrec[i]) ap += (mrec[i + 1]! - mrec[i]!) * mpre[i + 1]!;
  return ap;
}

/** COCO 101-point interpolated AP. */
export function apCoco101(recall: readonly number[], precision: readonly number[]): number {
  checkCurve(recall, precision);
  const env = precision.slice();
  for (let i = env.length - 1; i > 0; i--) if (env[i]! > env[i - 1]!) env[i - 1] = env[i]!;
  let sum = 0;
  let j = 0;
  for (const r of COCO_RECALL_POINTS) {
    while (j < recall.length && recall[j]! < r) j++; // recall is non-decreasing: first index with recall ≥ r
    if (j < recall.length) sum += env[j]!;
  }
  return sum / COCO_RECALL_POINTS.length;
}

/** AP of one curve under a single-threshold definition ('coco' is coco101 per threshold). */
export function averagePrecision(recall: readonly number[], precision: readonly number[], definition: ApDefinition): number {
  switch (definition) {
    case 'voc07':
      return apVoc07(recall, precision);
    case 'voc10':
      return apAllPoint(recall, precision);
    case 'coco101':
    case 'coco':
      return apCoco101(recall, precision);
  }
}

// ---------------------------------------------------------------------------------------------
// Matching.

/** Indices sorted by score descending; ties keep input order (stable). */
function byScoreDescending(dets: readonly ScoredDetection[], idx: readonly number[]): number[] {
  return idx.slice().sort((a, b) => dets[b]!.score - dets[a]!.score);
}

function groupByImage<T extends { image: string | number }>(items: readonly T[], idx: readonly number[]): Map<string | number, number[]> {
  const m = new Map<string | number, number[]>();
  for (const i of idx) {
    const key = items[i]!.image;
    let list = m.get(key);
    if (!list) m.set(key, (list = []));
    list.push(i);
  }
  return m;
}

/**
 * Matches the detections of one class to the truths of that class (both arrays may contain other
 * classes; only `classId` is used). Returns the outcome of every kept detection in descending score
 * order and the number of positives.
 */
export function matchClass(
  dets: readonly ScoredDetection[],
  gts: readonly GroundTruth[],
  classId: number,
  iouThreshold: number,
  style: MatchStyle,
  opts: { useDifficult?: boolean; maxDetections?: number; iou?: (a: Box, b: Box) => number } = {},
): ClassMatches {
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new Error(`matchClass: IoU threshold must be in [0, 1], got ${iouThreshold}`);
  const iouFn = opts.iou ?? boxIouF64;
  const isDifficult = (g: GroundTruth): boolean => !opts.useDifficult && g.difficult === true;
  const gtIdx: number[] = [];
  let numPositives = 0;
  gts.forEach((g, i) => {
    if (g.classId !== classId) return;
    gtIdx.push(i);
    if (!isDifficult(g)) numPositives++;
  });
  const detIdx: number[] = [];
  dets.forEach((d, i) => {
    if (d.classId !== classId) return;
    if (!Number.isFinite(d.score)) throw new Error(`matchClass: detection ${i} has a non-finite score ${d.score}`);
    detIdx.push(i);
  });
  const gtByImage = groupByImage(gts, gtIdx);
  const detByImage = groupByImage(dets, detIdx);
  const maxDet = opts.maxDetections ?? Infinity;
  const out: MatchedDetection[] = [];
  for (const [image, imageDets] of detByImage) {
    const sorted = byScoreDescending(dets, imageDets).slice(0, maxDet);
    // COCO puts the ignore (difficult) truths last so a free ordinary truth wins.
    const truths = (gtByImage.get(image) ?? []).slice();
    if (style === 'coco') truths.sort((a, b) => Number(isDifficult(gts[a]!)) - Number(isDifficult(gts[b]!)));
    const taken = new Array<boolean>(truths.length).fill(false);
    for (const di of sorted) {
      const d = dets[di]!;
      const ious = truths.map((gi) => iouFn(d.box, gts[gi]!.box));
      let best = -1;
      let bestIou = 0;
      if (style === 'voc') {
        let ovmax = -Infinity;
        for (let j = 0; j < truths.length; j++) {
          if (ious[j]! > ovmax) {
            ovmax = ious[j]!;
            best = j;
          }
        }
        bestIou = Math.max(ovmax, 0);
        if (best >= 0 && ovmax > iouThreshold) {
          if (isDifficult(gts[truths[best]!]!)) {
            out.push({ score: d.score, detection: di, tp: false, ignored: true, iou: ovmax });
          } else if (!taken[best]) {
            taken[best] = true;
            out.push({ score: d.score, detection: di, tp: true, ignored: false, iou: ovmax });
          } else {
            out.push({ score: d.score, detection: di, tp: false, ignored: false, iou: ovmax });
          }
          continue;
        }
        out.push({ score: d.score, detection: di, tp: false, ignored: false, iou: bestIou });
      } else {
        let need = Math.min(iouThreshold, 1 - 1e-10);
        for (let j = 0; j < truths.length; j++) {
          if (taken[j]) continue;
          if (best >= 0 && !isDifficult(gts[truths[best]!]!) && isDifficult(gts[truths[j]!]!)) break;
          if (ious[j]! < need) continue;
          need = ious[j]!;
          best = j;
        }
        if (best >= 0) {
          taken[best] = true;
          const ignored = isDifficult(gts[truths[best]!]!);
          out.push({ score: d.score, detection: di, tp: !ignored, ignored, iou: ious[best]! });
        } else {
          for (const v of ious) if (v > bestIou) bestIou = v;
          out.push({ score: d.score, detection: di, tp: false, ignored: false, iou: bestIou });
        }
      }
    }
  }
  // global score order across images; ties keep input order
  out.sort((a, b) => b.score - a.score || a.detection - b.detection);
  return { numPositives, matches: out };
}

/** Cumulative precision/recall after each non-ignored detection (score order). */
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

function classList(dets: readonly ScoredDetection[], gts: readonly GroundTruth[], classes: EvaluateOptions['classes']): number[] {
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

function mean(xs: readonly number[]): number {
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/**
 * Evaluates detections against ground truth: per-class AP, mAP, and operating-point statistics at
 * `confThreshold` (IoU threshold `iouThreshold`, also for the 'coco' definition).
 */
export function evaluateDetections(dets: readonly ScoredDetection[], gts: readonly GroundTruth[], opts: EvaluateOptions = {}): Evaluation {
  const definition = opts.definition ?? 'voc10';
  const matching = opts.matching ?? (definition === 'voc07' || definition === 'voc10' ? 'voc' : 'coco');
  const iouThreshold = opts.iouThreshold ?? 0.5;
  const confThreshold = opts.confThreshold ?? 0.25;
  const iouThresholds = definition === 'coco' ? COCO_IOU_THRESHOLDS.slice() : [iouThreshold];
  const matchOpts = {
    ...(opts.useDifficult !== undefined ? { useDifficult: opts.useDifficult } : {}),
    ...(opts.maxDetections !== undefined ? { maxDetections: opts.maxDetections } : {}),
    ...(opts.iou !== undefined ? { iou: opts.iou } : {}),
  };
  const perClass: ClassEvaluation[] = [];
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let iouSum = 0;
  for (const c of classList(dets, gts, opts.classes)) {
    const main = matchClass(dets, gts, c, iouThreshold, matching, matchOpts);
    const curve = precisionRecall(main);
    const apPerIou = iouThresholds.map((t) => {
      if (main.numPositives === 0) return NaN;
      const m = t === iouThreshold ? main : matchClass(dets, gts, c, t, matching, matchOpts);
      const pr = t === iouThreshold ? curve : precisionRecall(m);
      return averagePrecision(pr.recall, pr.precision, definition);
    });
    const op = operatingPoint(main, confThreshold);
    tp += op.tp;
    fp += op.fp;
    fn += op.fn;
    iouSum += op.iouSum;
    perClass.push({
      classId: c,
      ap: main.numPositives === 0 ? NaN : mean(apPerIou),
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
  return {
    definition,
    matching,
    iouThresholds,
    confThreshold,
    map: mean(scored.map((c) => c.ap)),
    mapPerIou: iouThresholds.map((_, k) => mean(scored.map((c) => c.apPerIou[k]!))),
    classes: perClass,
    ...pointFromCounts(tp, fp, fn, iouSum),
  };
}
