// Evaluation on small hand-worked cases (expected values derived in the comments), and the grids and
// arithmetic of the official scorers (numpy's values).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Box } from '../src/yolo/box.js';
import { CENTRE_BOXES, COCO_BOXES, VOC_BOXES } from '../src/yolo/box-rules.js';
import { arange, linspace, npMean, npSum } from '../src/yolo/numpy-float.js';
import {
  apAllPoint,
  apCoco101,
  apVoc07,
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_POINTS,
  DARKNET_RECALL_POINTS,
  VOC07_RECALL_POINTS,
  evaluateDetections,
  matchClass,
  precisionRecall,
  type GroundTruth,
  type ScoredDetection,
} from '../src/yolo/map.js';

const EPS = 1e-12;

function close(actual: number, expected: number, what: string, eps = EPS): void {
  assert.ok(Math.abs(actual - expected) <= eps, `${what}: got ${actual}, expected ${expected}`);
}

/** Corner form → centre Box. */
function rect(x1: number, y1: number, x2: number, y2: number): Box {
  return { x: (x1 + x2) / 2, y: (y1 + y2) / 2, w: x2 - x1, h: y2 - y1 };
}

// ---------------------------------------------------------------------------------------------
// Case A: one image, one class, 3 truths, 5 detections.
//   G1 = [0,10]², G2 = [20,30]x[0,10], G3 = [40,50]x[0,10]
//   D1 0.9 = G1 exactly                           → TP (IoU 1)
//   D2 0.8 far from everything                    → FP
//   D3 0.7 = [20,28]x[0,10], IoU with G2 = 80/100 → TP (IoU 0.8)
//   D4 0.6 = [0,9]x[0,10], IoU with G1 = 0.9, G1 already taken → FP (duplicate)
//   D5 0.5 = [44,54]x[0,10], IoU with G3 = 60/140 = 0.43 ≤ 0.5 → FP
// cumulative TP 1,1,2,2,2; FP 0,1,1,2,3; positives 3
//   recall    1/3, 1/3, 2/3, 2/3, 2/3
//   precision 1,   1/2, 2/3, 1/2, 2/5
const caseA = {
  gts: [rect(0, 0, 10, 10), rect(20, 0, 30, 10), rect(40, 0, 50, 10)].map((box): GroundTruth => ({ image: 'a', classId: 0, box })),
  dets: [
    { score: 0.6, box: rect(0, 0, 9, 10) },
    { score: 0.9, box: rect(0, 0, 10, 10) },
    { score: 0.7, box: rect(20, 0, 28, 10) },
    { score: 0.5, box: rect(44, 0, 54, 10) },
    { score: 0.8, box: rect(100, 100, 110, 110) },
  ].map((d): ScoredDetection => ({ image: 'a', classId: 0, ...d })),
};

test('VOC matching of case A: TP, FP, TP, duplicate FP, low-IoU FP; P/R curve by hand', () => {
  const m = matchClass(caseA.dets, caseA.gts, 0, 0.5, 'voc');
  assert.equal(m.numPositives, 3);
  assert.deepEqual(m.matches.map((d) => [d.score, d.tp]), [
    [0.9, true],
    [0.8, false],
    [0.7, true],
    [0.6, false],
    [0.5, false],
  ]);
  const pr = precisionRecall(m);
  [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3].forEach((r, i) => close(pr.recall[i]!, r, `recall[${i}]`));
  [1, 1 / 2, 2 / 3, 1 / 2, 2 / 5].forEach((p, i) => close(pr.precision[i]!, p, `precision[${i}]`));
});

test('VOC2007 11-point AP of case A = 6/11', () => {
  // t = 0, .1, .2, .3: every point has recall ≥ t → max precision 1          (4 × 1)
  // t = .4, .5, .6: points with recall 2/3 → max(2/3, 1/2, 2/5) = 2/3         (3 × 2/3)
  // t = .7 ... 1: recall never reaches t → 0                                 (4 × 0)
  // AP = (4 + 2)/11 = 6/11
  const r = evaluateDetections(caseA.dets, caseA.gts, { definition: 'voc07' });
  close(r.classes[0]!.ap, 6 / 11, 'AP');
  close(r.map, 6 / 11, 'mAP');
  const pr = precisionRecall(matchClass(caseA.dets, caseA.gts, 0, 0.5, 'voc'));
  close(apVoc07(pr.recall, pr.precision), 6 / 11, 'apVoc07');
});

test('VOC2010 all-point AP of case A = 5/9', () => {
  // envelope p̂: recall 1/3 → 1, recall 2/3 → 2/3, beyond → 0
  // AP = (1/3 − 0)·1 + (2/3 − 1/3)·2/3 + (1 − 2/3)·0 = 1/3 + 2/9 = 5/9
  const r = evaluateDetections(caseA.dets, caseA.gts, { definition: 'voc10' });
  close(r.classes[0]!.ap, 5 / 9, 'AP');
});

test('COCO 101-point AP of case A = 56/101', () => {
  // envelope over the curve: [1, 2/3, 2/3, 1/2, 2/5]
  // r = 0.00 ... 0.33 (34 points): first point with recall ≥ r is #0 → 1
  // r = 0.34 ... 0.66 (33 points): first point with recall ≥ r is #2 → 2/3
  // r = 0.67 ... 1.00 (34 points): unreachable → 0
  // AP = (34 + 33·2/3)/101 = 56/101. Same matching (COCO style) here: no duplicate has a free truth.
  const r = evaluateDetections(caseA.dets, caseA.gts, { definition: 'coco101' });
  assert.equal(r.matching, 'coco');
  close(r.classes[0]!.ap, 56 / 101, 'AP');
  close(apCoco101([1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3], [1, 1 / 2, 2 / 3, 1 / 2, 2 / 5]), 56 / 101, 'apCoco101');
});

test('AP definitions on edge curves: no detections → 0, perfect curve → 1', () => {
  for (const f of [apVoc07, apAllPoint, apCoco101]) {
    assert.equal(f([], []), 0);
    close(f([0.5, 1], [1, 1]), 1, f.name);
  }
  assert.throws(() => apAllPoint([0.5], []), /recall has 1 points, precision 0/);
});

test('COCO AP@[.5:.95] on two truths, detections of IoU 0.92 and 0.62 → 609/1010', () => {
  // A = [0,1]², B = [10,11]x[0,1]; D1 0.9 = [0,0.92]x[0,1] (IoU 0.92 with A),
  // D2 0.8 = [10,10.62]x[0,1] (IoU 0.62 with B).
  // t = .50, .55, .60 (3 thresholds): both TP → recall 1/2, 1 with precision 1 → AP 1
  // t = .65 ... .90 (6 thresholds): D1 TP, D2 FP → recall [1/2, 1/2], precision [1, 1/2];
  //   r = 0 ... 0.50 (51 points) → 1, beyond → 0 → AP 51/101
  // t = .95: both FP → 0
  // AP = (3 + 6·51/101)/10 = 609/1010
  const gts: GroundTruth[] = [rect(0, 0, 1, 1), rect(10, 0, 11, 1)].map((box) => ({ image: 0, classId: 3, box }));
  const dets: ScoredDetection[] = [
    { image: 0, classId: 3, score: 0.9, box: rect(0, 0, 0.92, 1) },
    { image: 0, classId: 3, score: 0.8, box: rect(10, 0, 10.62, 1) },
  ];
  const r = evaluateDetections(dets, gts, { definition: 'coco' });
  assert.deepEqual(r.iouThresholds, COCO_IOU_THRESHOLDS);
  close(r.classes[0]!.ap, 609 / 1010, 'AP@[.5:.95]');
  close(r.map, 609 / 1010, 'mAP');
  close(r.mapPerIou[0]!, 1, 'AP50');
  close(r.mapPerIou[5]!, 51 / 101, 'AP75');
  close(r.mapPerIou[9]!, 0, 'AP95');
});

test('single-truth COCO AP@[.5:.95]: IoU 0.72 is a hit at 5 of the 10 thresholds → 0.5', () => {
  // TP for t ∈ {.50, .55, .60, .65, .70} (AP 1 each), FP for {.75 ... .95} (AP 0) → 5/10
  const gts: GroundTruth[] = [{ image: 1, classId: 0, box: rect(0, 0, 1, 1) }];
  const dets: ScoredDetection[] = [{ image: 1, classId: 0, score: 0.5, box: rect(0, 0, 0.72, 1) }];
  close(evaluateDetections(dets, gts, { definition: 'coco' }).map, 0.5, 'AP');
});

test('VOC and COCO matching differ on a duplicate whose best truth is taken but a second truth is free', () => {
  // G1 = [0,10]², G2 = [2,12]x[0,10] (overlapping). D1 0.9 = G1. D2 0.8 = [1,11]x[0,10]:
  // IoU(D2,G1) = IoU(D2,G2) = 90/110 = 0.818 (a tie); G1 is listed first so VOC picks G1 (taken) → FP.
  // COCO skips taken truths and matches D2 to the free G2 → TP.
  const gts: GroundTruth[] = [rect(0, 0, 10, 10), rect(2, 0, 12, 10)].map((box) => ({ image: 'x', classId: 0, box }));
  const dets: ScoredDetection[] = [
    { image: 'x', classId: 0, score: 0.9, box: rect(0, 0, 10, 10) },
    { image: 'x', classId: 0, score: 0.8, box: rect(1, 0, 11, 10) },
  ];
  assert.deepEqual(matchClass(dets, gts, 0, 0.5, 'voc').matches.map((d) => d.tp), [true, false]);
  assert.deepEqual(matchClass(dets, gts, 0, 0.5, 'coco').matches.map((d) => d.tp), [true, true]);
});

test('difficult truths: matched detections are ignored, not positives; useDifficult counts them', () => {
  // G1 = [0,10]² (normal), G2 = [20,30]x[0,10] (difficult).
  // D1 0.9 on G2, D2 0.8 far away, D3 0.7 on G1.
  // ignored: curve [FP, TP], 1 positive → recall [0, 1], precision [0, 1/2] → all-point AP = 1·1/2 = 0.5
  // useDifficult: [TP, FP, TP], 2 positives → recall [1/2, 1/2, 1], precision [1, 1/2, 2/3]
  //   → AP = 1/2·1 + 1/2·2/3 = 5/6
  const gts: GroundTruth[] = [
    { image: 0, classId: 0, box: rect(0, 0, 10, 10) },
    { image: 0, classId: 0, box: rect(20, 0, 30, 10), difficult: true },
  ];
  const dets: ScoredDetection[] = [
    { image: 0, classId: 0, score: 0.9, box: rect(20, 0, 30, 10) },
    { image: 0, classId: 0, score: 0.8, box: rect(50, 50, 60, 60) },
    { image: 0, classId: 0, score: 0.7, box: rect(0, 0, 10, 10) },
  ];
  for (const matching of ['voc', 'coco'] as const) {
    const ign = evaluateDetections(dets, gts, { matching });
    close(ign.map, 0.5, `${matching} ignored`);
    assert.equal(ign.classes[0]!.numPositives, 1);
    const all = evaluateDetections(dets, gts, { matching, useDifficult: true });
    close(all.map, 5 / 6, `${matching} useDifficult`);
  }
});

test('operating point at a confidence threshold: TP/FP/FN, precision, recall, F1, average IoU (case A at 0.65)', () => {
  // score ≥ 0.65: D1 TP (IoU 1), D2 FP, D3 TP (IoU 0.8) → TP 2, FP 1, FN 3 − 2 = 1
  // P = 2/3, R = 2/3, F1 = 2/3, avg IoU = (1 + 0.8)/2 = 0.9
  const r = evaluateDetections(caseA.dets, caseA.gts, { confThreshold: 0.65 });
  assert.deepEqual([r.tp, r.fp, r.fn], [2, 1, 1]);
  close(r.precision, 2 / 3, 'precision');
  close(r.recall, 2 / 3, 'recall');
  close(r.f1, 2 / 3, 'F1');
  close(r.avgIou, 0.9, 'avg IoU');
  // threshold above every score: nothing detected → P = R = F1 = 0, FN = 3
  const none = evaluateDetections(caseA.dets, caseA.gts, { confThreshold: 0.95 });
  assert.deepEqual([none.tp, none.fp, none.fn, none.precision, none.recall, none.f1, none.avgIou], [0, 0, 3, 0, 0, 0, 0]);
});

test('mAP averages classes with truths only; detections never match truths of another image or class', () => {
  // class 0 = case A (AP 5/9). class 1: one truth in image 'b' found exactly (AP 1), plus a
  // detection in image 'a' at the same place (no class-1 truth there → FP ranked below the TP).
  // class 2: a detection but no truth → AP NaN, left out. mAP = (5/9 + 1)/2 = 7/9.
  const gts: GroundTruth[] = [...caseA.gts, { image: 'b', classId: 1, box: rect(0, 0, 10, 10) }];
  const dets: ScoredDetection[] = [
    ...caseA.dets,
    { image: 'b', classId: 1, score: 0.9, box: rect(0, 0, 10, 10) },
    { image: 'a', classId: 1, score: 0.3, box: rect(0, 0, 10, 10) },
    { image: 'b', classId: 2, score: 0.9, box: rect(0, 0, 10, 10) },
  ];
  const r = evaluateDetections(dets, gts, { definition: 'voc10', confThreshold: 0 });
  assert.deepEqual(r.classes.map((c) => c.classId), [0, 1, 2]);
  close(r.classes[1]!.ap, 1, 'class 1 AP');
  assert.ok(Number.isNaN(r.classes[2]!.ap));
  close(r.map, 7 / 9, 'mAP');
  assert.deepEqual([r.classes[1]!.tp, r.classes[1]!.fp], [1, 1]);
  // classes as a count includes classes with neither truths nor detections (AP NaN)
  assert.equal(evaluateDetections(dets, gts, { classes: 4 }).classes.length, 4);
});

test('maxDetections keeps only the top-scored detections per image and class', () => {
  // case A with 2 detections kept: D1 TP, D2 FP → recall [1/3, 1/3], precision [1, 1/2] → all-point 1/3
  const r = evaluateDetections(caseA.dets, caseA.gts, { maxDetections: 2 });
  close(r.map, 1 / 3, 'AP');
  assert.equal(r.classes[0]!.numDetections, 2);
});

// ---------------------------------------------------------------------------------------------
// The official scorers' grids and arithmetic (values printed by numpy 1.24).

test('COCO IoU thresholds are numpy linspace(.5, .95, 10) bit for bit (0.85 exactly, 0.8999999999999999)', () => {
  assert.deepEqual(COCO_IOU_THRESHOLDS, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
  assert.deepEqual(linspace(0.5, 0.95, 10), COCO_IOU_THRESHOLDS);
});

test('COCO recall points are numpy linspace(0, 1, 101) bit for bit', () => {
  // numpy's values; ten of them differ from k/100 (0.35000000000000003, ...)
  const numpy = [
    0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.2, 0.21, 0.22, 0.23, 0.24, 0.25,
    0.26, 0.27, 0.28, 0.29, 0.3, 0.31, 0.32, 0.33, 0.34, 0.35000000000000003, 0.36, 0.37, 0.38, 0.39, 0.4, 0.41000000000000003, 0.42, 0.43, 0.44, 0.45,
    0.46, 0.47000000000000003, 0.48, 0.49, 0.5, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.5700000000000001, 0.58, 0.59, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65, 0.66,
    0.67, 0.68, 0.6900000000000001, 0.7000000000000001, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78, 0.79, 0.8, 0.81, 0.8200000000000001,
    0.8300000000000001, 0.84, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93, 0.9400000000000001, 0.9500000000000001, 0.96, 0.97, 0.98, 0.99, 1.0,
  ];
  assert.deepEqual(COCO_RECALL_POINTS, numpy);
  assert.equal(numpy.filter((v, k) => v !== k / 100).length, 10);
});

test("VOC2007 points: the devkit's np.arange(0, 1.1, 0.1) bit for bit, Darknet's k/10", () => {
  assert.deepEqual(VOC07_RECALL_POINTS, [0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001, 0.8, 0.9, 1.0]);
  assert.deepEqual(arange(0, 1.1, 0.1), VOC07_RECALL_POINTS);
  assert.deepEqual(DARKNET_RECALL_POINTS, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
});

test("numpy's pairwise sum and mean: blocks of 8 partial sums, halves above 128, chunks of 8192", () => {
  const tenths = (n: number): number[] => new Array<number>(n).fill(0.1);
  // numpy: np.sum([0.1]*10) = 1.0 (sequential: 0.9999999999999999), np.sum([0.1]*200) = 20.0 (sequential 20.000000000000014)
  assert.equal(npSum(tenths(10)), 1);
  assert.equal(npSum(tenths(200)), 20);
  assert.equal(npMean(tenths(10)), 0.1);
  // np.sum([1/3]*9 + [1e-16]*200) = 3.0000000000000213 (sequential 3.0)
  assert.equal(npSum([...new Array<number>(9).fill(1 / 3), ...new Array<number>(200).fill(1e-16)]), 3.0000000000000213);
  assert.equal(npSum([]), 0);
  assert.ok(Number.isNaN(npMean([])));
});

test('box rules: COCO bbIou (crowd: over the detection area), VOC devkit +1 pixel widths', () => {
  assert.equal(COCO_BOXES.iou([0, 0, 17, 10], [0, 0, 20, 10], false), 0.85);
  // a 10×10 detection inside a 100×100 crowd region: 100/10000 as an ordinary truth, 1 as a crowd
  assert.equal(COCO_BOXES.iou([5, 5, 10, 10], [0, 0, 100, 100], false), 0.01);
  assert.equal(COCO_BOXES.iou([5, 5, 10, 10], [0, 0, 100, 100], true), 1);
  assert.equal(COCO_BOXES.iou([0, 0, 10, 10], [10, 0, 10, 10], false), 0);
  // VOC corners 1..10 are 10 pixels; 1..5 against 1..10: 50/100
  assert.equal(VOC_BOXES.iou({ x1: 1, y1: 1, x2: 10, y2: 10 }, { x1: 1, y1: 1, x2: 10, y2: 10 }, false), 1);
  assert.equal(VOC_BOXES.iou({ x1: 1, y1: 1, x2: 5, y2: 10 }, { x1: 1, y1: 1, x2: 10, y2: 10 }, false), 0.5);
  // touching corners share a pixel row in the devkit: 11..20 against 1..11 overlap in x = 11
  assert.equal(VOC_BOXES.iou({ x1: 11, y1: 1, x2: 20, y2: 10 }, { x1: 1, y1: 1, x2: 11, y2: 10 }, false), 10 / 200);
  assert.equal(VOC_BOXES.area({ x1: 3, y1: 3, x2: 3, y2: 3 }), 1);
  assert.equal(CENTRE_BOXES.iou(rect(0, 0, 10, 10), rect(0, 0, 100, 100), true), 1);
});

test('the 20×10 truth and 17×10 detection (IoU exactly 0.85) is a hit at 8 of the 10 COCO thresholds: AP 0.8', () => {
  const gts: GroundTruth[] = [{ image: 0, classId: 0, box: rect(0, 0, 20, 10) }];
  const dets: ScoredDetection[] = [{ image: 0, classId: 0, score: 0.9, box: rect(0, 0, 17, 10) }];
  const r = evaluateDetections(dets, gts, { definition: 'coco' });
  // AP 1 up to COCOeval's ε in the precision at 0.5 ... 0.85, 0 at 0.8999999999999999 and 0.95
  r.classes[0]!.apPerIou.slice(0, 8).forEach((v, t) => close(v, 1, `t = ${COCO_IOU_THRESHOLDS[t]}`));
  assert.deepEqual(r.classes[0]!.apPerIou.slice(8), [0, 0]);
  close(r.map, 0.8, 'AP@[.5:.95]');
  assert.equal(r.coco!.ap, r.map);
});

test("10 truths, 3 exact detections: recall 3/10 reaches Darknet's point 0.3 (4/11) but not the devkit's 0.30000000000000004 (3/11)", () => {
  const gts: GroundTruth[] = Array.from({ length: 10 }, (_, k) => ({ image: k, classId: 0, box: rect(0, 0, 10, 10) }));
  const dets: ScoredDetection[] = [0, 1, 2].map((k) => ({ image: k, classId: 0, score: 0.9 - k / 10, box: rect(0, 0, 10, 10) }));
  close(evaluateDetections(dets, gts, { definition: 'voc07' }).map, 3 / 11, 'devkit');
  close(evaluateDetections(dets, gts, { definition: 'voc07-darknet' }).map, 4 / 11, 'darknet');
  close(apVoc07([0.1, 0.2, 0.3], [1, 1, 1], 'darknet'), 4 / 11, 'apVoc07 darknet');
});

test('crowd truths absorb any number of detections (intersection over detection area), are never positives; useDifficult leaves them ignored', () => {
  // crowd region [0,100]², an ordinary truth at [200,210]x[0,10]; two small detections inside the crowd
  // (IoU 0.01 as ordinary truths, 1 as crowd) are ignored, the exact one on the ordinary truth is TP
  const gts: GroundTruth[] = [
    { image: 0, classId: 0, box: rect(0, 0, 100, 100), crowd: true },
    { image: 0, classId: 0, box: rect(200, 0, 210, 10) },
  ];
  const dets: ScoredDetection[] = [
    { image: 0, classId: 0, score: 0.9, box: rect(5, 5, 15, 15) },
    { image: 0, classId: 0, score: 0.8, box: rect(50, 50, 60, 60) },
    { image: 0, classId: 0, score: 0.7, box: rect(200, 0, 210, 10) },
  ];
  for (const matching of ['coco', 'voc'] as const) {
    for (const useDifficult of [false, true]) {
      const m = matchClass(dets, gts, 0, 0.5, matching, { useDifficult });
      assert.equal(m.numPositives, 1, matching);
      assert.deepEqual(m.matches.map((d) => [d.ignored, d.tp]), [[true, false], [true, false], [false, true]], matching);
      assert.equal(evaluateDetections(dets, gts, { matching, useDifficult }).map, 1, matching);
    }
  }
});

test('tie order: COCO matching takes equal scores by image (sorted keys or `images`), then input order; VOC matching in input order', () => {
  // equal scores: detection 0 is a false positive in image 'b', detection 1 the truth of image 'a'
  const gts: GroundTruth[] = [
    { image: 'a', classId: 0, box: rect(0, 0, 10, 10) },
    { image: 'b', classId: 0, box: rect(0, 0, 10, 10) },
  ];
  const dets: ScoredDetection[] = [
    { image: 'b', classId: 0, score: 0.5, box: rect(50, 50, 60, 60) },
    { image: 'a', classId: 0, score: 0.5, box: rect(0, 0, 10, 10) },
    { image: 'a', classId: 0, score: 0.5, box: rect(70, 70, 80, 80) },
  ];
  assert.deepEqual(matchClass(dets, gts, 0, 0.5, 'voc').matches.map((d) => d.detection), [0, 1, 2]);
  assert.deepEqual(matchClass(dets, gts, 0, 0.5, 'coco').matches.map((d) => d.detection), [1, 2, 0]);
  assert.deepEqual(matchClass(dets, gts, 0, 0.5, 'coco', { images: ['b', 'a'] }).matches.map((d) => d.detection), [0, 1, 2]);
  // VOC: [FP, TP, FP] → all-point AP 1/2 · 1/2 = 1/4; COCO: [TP, FP, FP] → q = 1 up to recall 0.5 → 51/101
  close(evaluateDetections(dets, gts, { definition: 'voc10' }).map, 0.25, 'voc10');
  close(evaluateDetections(dets, gts, { definition: 'coco101' }).map, 51 / 101, 'coco101');
});

test('COCO definitions keep 100 detections per image and class by default (COCOeval maxDets), VOC all; the summary reports 1, 10, N', () => {
  const gts: GroundTruth[] = [{ image: 0, classId: 0, box: rect(0, 0, 10, 10) }];
  const dets: ScoredDetection[] = Array.from({ length: 101 }, (_, k) => ({ image: 0, classId: 0, score: 1 - k / 1000, box: rect(k, 0, k + 10, 10) }));
  assert.equal(evaluateDetections(dets, gts, { definition: 'coco' }).classes[0]!.numDetections, 100);
  assert.equal(evaluateDetections(dets, gts, { definition: 'voc10' }).classes[0]!.numDetections, 101);
  const few = evaluateDetections(dets, gts, { definition: 'coco', maxDetections: 5 });
  assert.deepEqual(few.coco!.maxDets, [1, 5, 5]);
  assert.equal(few.maxDetections, 5);
  assert.throws(() => evaluateDetections(dets, gts, { maxDetections: 0 }), /maxDetections must be a positive integer, got 0/);
});
