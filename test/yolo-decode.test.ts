// Decoding + NMS against Darknet's own detections.json for the two reference cases
// (SEMANTICS.md 7): the raw last-layer dumps decoded with thresh 0.005 and do_nms_sort 0.45 must give
// Darknet's pre_nms, post_nms and kept lists.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { decodeDetection, decodeRegion, regionEntryIndex, type Detection } from '../src/yolo/decode.js';
import { detectionsReport, nmsObj, nmsSort, type DetectionsReport, type ReportBox } from '../src/yolo/nms.js';
import { DARKNET_REFS, readRefJson } from './helpers/refs.js';

const refRoot = DARKNET_REFS;

function refPath(caseName: string, file: string): string {
  const p = join(refRoot, caseName, file);
  if (!existsSync(p)) throw new Error(`reference file missing: ${p} (set TSGRAD_DARKNET_REFS to the reference folder)`);
  return p;
}

function readF32(p: string): Float32Array {
  const buf = readFileSync(p);
  const out = new Float32Array(buf.byteLength / 4);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

interface RefDetections extends DetectionsReport {
  get_network_boxes: { w: number; h: number; thresh: number; hier: number; relative: number };
  nms: number;
  nms_function: string;
}

interface LayerJson {
  type: string;
  [k: string]: unknown;
}

function lastLayer(caseName: string): LayerJson {
  const layers = (JSON.parse(readFileSync(refPath(caseName, 'layers.json'), 'utf8')) as { layers: LayerJson[] }).layers;
  return layers[layers.length - 1]!;
}

const TOL = 1e-4;

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= TOL;
}

/** Compares per original index; returns counts of exact (float32) and tolerance mismatches. */
function compareBoxes(what: string, got: readonly ReportBox[], want: readonly ReportBox[]): { inexact: number } {
  assert.equal(got.length, want.length, `${what}: number of boxes`);
  let inexact = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    assert.equal(g.index, w.index, `${what}[${i}].index`);
    for (let k = 0; k < 4; k++) {
      assert.ok(near(g.bbox[k]!, w.bbox[k]!), `${what}[${i}].bbox[${k}]: got ${g.bbox[k]}, want ${w.bbox[k]}`);
      if (g.bbox[k] !== Math.fround(w.bbox[k]!)) inexact++;
    }
    assert.ok(near(g.objectness, w.objectness), `${what}[${i}].objectness: got ${g.objectness}, want ${w.objectness}`);
    if (g.objectness !== Math.fround(w.objectness)) inexact++;
    assert.equal(g.prob.length, w.prob.length, `${what}[${i}].prob length`);
    for (let c = 0; c < w.prob.length; c++) {
      // zero vs non-zero is a hard requirement (threshold and suppression decisions)
      assert.equal(g.prob[c] === 0, w.prob[c] === 0, `${what}[${i}].prob[${c}] zero-ness: got ${g.prob[c]}, want ${w.prob[c]}`);
      assert.ok(near(g.prob[c]!, w.prob[c]!), `${what}[${i}].prob[${c}]: got ${g.prob[c]}, want ${w.prob[c]}`);
      if (g.prob[c] !== Math.fround(w.prob[c]!)) inexact++;
    }
  }
  return { inexact };
}

function checkReport(got: DetectionsReport, ref: RefDetections): void {
  assert.equal(got.nboxes, ref.nboxes);
  assert.equal(got.classes, ref.classes);
  const pre = compareBoxes('pre_nms', got.pre_nms, ref.pre_nms);
  const post = compareBoxes('post_nms', got.post_nms, ref.post_nms);
  assert.equal(got.kept.length, ref.kept.length, 'kept: number of detections');
  let keptInexact = 0;
  for (let i = 0; i < ref.kept.length; i++) {
    const g = got.kept[i]!;
    const w = ref.kept[i]!;
    assert.deepEqual([g.index, g.class], [w.index, w.class], `kept[${i}] (index, class)`);
    assert.ok(near(g.prob, w.prob), `kept[${i}].prob: got ${g.prob}, want ${w.prob}`);
    if (g.prob !== Math.fround(w.prob)) keptInexact++;
    for (let k = 0; k < 4; k++) assert.ok(near(g.bbox[k]!, w.bbox[k]!), `kept[${i}].bbox[${k}]`);
  }
  // Darknet's array order after its (glibc merge-sort) qsorts: reproduced by stable sorting.
  assert.deepEqual(got.post_nms_array_order, ref.post_nms_array_order, 'post_nms_array_order');
  // Beyond the 1e-4 tolerance: the decode reproduces Darknet's float32 arithmetic bit for bit.
  assert.equal(pre.inexact + post.inexact + keptInexact, 0, 'values that are not bit-identical to Darknet');
}

test('region decode + do_nms_sort reproduces detections.json of yolov2-tiny-voc 96x96 (pre_nms, post_nms, kept)', () => {
  const name = 'yolov2-tiny-voc_96x96';
  const ref = readRefJson(join(refRoot, name, 'detections.json')) as RefDetections;
  const L = lastLayer(name);
  assert.equal(L.type, 'region');
  const out = readF32(refPath(name, 'L15_region.f32'));
  const gnb = ref.get_network_boxes;
  const dets = decodeRegion(
    out,
    { w: L['w'] as number, h: L['h'] as number, n: L['n'] as number, classes: L['classes'] as number, coords: L['coords'] as number, anchors: L['anchors'] as number[] },
    { thresh: gnb.thresh, netW: 96, netH: 96, imageW: gnb.w, imageH: gnb.h, relative: gnb.relative === 1 },
  );
  assert.equal(ref.nms_function, 'do_nms_sort');
  const report = detectionsReport(dets, ref.classes, ref.nms);
  checkReport(report, ref);
  // the case exercises suppression: some non-zero pre-NMS probabilities are zeroed after NMS
  const preNonZero = report.pre_nms.reduce((s, d) => s + d.prob.filter((p) => p > 0).length, 0);
  assert.ok(preNonZero > report.kept.length, `NMS suppressed nothing (${preNonZero} → ${report.kept.length})`);
});

test('detection (YOLOv1) decode + do_nms_sort reproduces detections.json of yolov1-tiny 128x128 (pre_nms, post_nms, kept)', () => {
  const name = 'yolov1-tiny_128x128';
  const ref = readRefJson(join(refRoot, name, 'detections.json')) as RefDetections;
  const L = lastLayer(name);
  assert.equal(L.type, 'detection');
  const out = readF32(refPath(name, 'L15_detection.f32'));
  const gnb = ref.get_network_boxes;
  const dets = decodeDetection(
    out,
    { side: L['side'] as number, n: L['n'] as number, classes: L['classes'] as number, coords: L['coords'] as number, sqrt: L['sqrt'] === 1 },
    { thresh: gnb.thresh, w: gnb.w, h: gnb.h },
  );
  const report = detectionsReport(dets, ref.classes, ref.nms);
  checkReport(report, ref);
  const preNonZero = report.pre_nms.reduce((s, d) => s + d.prob.filter((p) => p > 0).length, 0);
  assert.ok(preNonZero > report.kept.length, `NMS suppressed nothing (${preNonZero} → ${report.kept.length})`);
});

// ---------------------------------------------------------------------------------------------
// Small hand-built cases.

const regionParams = { w: 2, h: 1, n: 1, classes: 2, anchors: [1, 2] };

function regionOutput(values: { x: number; y: number; tw: number; th: number; obj: number; p: [number, number] }[]): Float32Array {
  const out = new Float32Array(1 * (4 + 1 + 2) * 2 * 1);
  values.forEach((v, loc) => {
    const e = [v.x, v.y, v.tw, v.th, v.obj, v.p[0], v.p[1]];
    e.forEach((val, k) => (out[regionEntryIndex(regionParams, 0, k, loc)] = val));
  });
  return out;
}

test('decodeRegion: box formula, strict thresholds, probabilities only when objectness passes', () => {
  const out = regionOutput([
    { x: 0.5, y: 0.25, tw: 0, th: Math.log(2), obj: 0.5, p: [0.75, 0.25] },
    { x: 0.5, y: 0.5, tw: 0, th: 0, obj: 0.2, p: [0.5, 0.5] },
  ]);
  // thresh 0.2 (float 0.200000003): cell 1 objectness 0.2f is not > 0.2f → 0, and its probs stay 0
  // even though 0.2*0.5 would be compared; cell 0: 0.5*0.75 = 0.375 > 0.2 kept, 0.125 ≤ 0.2 → 0.
  const d = decodeRegion(out, regionParams, { thresh: 0.2, netW: 64, netH: 32 });
  assert.equal(d.length, 2);
  assert.deepEqual(d[0]!.bbox, { x: 0.25, y: 0.25, w: 0.5, h: Math.fround(4) });
  assert.equal(d[0]!.objectness, 0.5);
  assert.deepEqual(d[0]!.prob, [0.375, 0]);
  assert.equal(d[1]!.objectness, 0);
  assert.deepEqual(d[1]!.prob, [0, 0]);
  assert.deepEqual(d[1]!.bbox, { x: 0.75, y: 0.5, w: 0.5, h: 2 });
});

test('decodeRegion: letterbox correction maps network-relative boxes to image-relative boxes', () => {
  const out = regionOutput([
    { x: 0.5, y: 0.5, tw: 0, th: 0, obj: 0.9, p: [1, 0] },
    { x: 0.5, y: 0.5, tw: 0, th: 0, obj: 0.9, p: [1, 0] },
  ]);
  // image 200x100 on a 64x32 net: same aspect → no correction. Image 100x100 on 64x32: new 32x32 at
  // x offset 16: x_img = (x_net − 16/64) / (32/64), w_img = w_net · 2.
  const same = decodeRegion(out, regionParams, { thresh: 0.005, netW: 64, netH: 32, imageW: 200, imageH: 100 });
  assert.deepEqual(same[0]!.bbox, { x: 0.25, y: 0.5, w: 0.5, h: 2 });
  const boxed = decodeRegion(out, regionParams, { thresh: 0.005, netW: 64, netH: 32, imageW: 100, imageH: 100 });
  assert.deepEqual(boxed[0]!.bbox, { x: 0, y: 0.5, w: 1, h: 2 });
  assert.deepEqual(boxed[1]!.bbox, { x: 1, y: 0.5, w: 1, h: 2 });
  const pixels = decodeRegion(out, regionParams, { thresh: 0.005, netW: 64, netH: 32, imageW: 100, imageH: 100, relative: false });
  assert.deepEqual(pixels[1]!.bbox, { x: 100, y: 50, w: 100, h: 200 });
});

test('decodeRegion and decodeDetection reject outputs of the wrong size with the expected shape', () => {
  assert.throws(() => decodeRegion(new Float32Array(13), regionParams, { thresh: 0.1, netW: 64, netH: 32 }), /expected n\*\(coords\+1\+classes\)\*h\*w = 1\*\(4\+1\+2\)\*1\*2 = 14/);
  assert.throws(() => decodeDetection(new Float32Array(10), { side: 2, n: 1, classes: 2, sqrt: true }, { thresh: 0.1 }), /expected .* = 28/);
});

test('decodeDetection: layout, squared sizes, unthresholded (negative) objectness', () => {
  const side = 2;
  const n = 1;
  const classes = 2;
  const cells = side * side;
  const out = new Float32Array(cells * (classes + n * 5));
  // cell 3 (row 1, col 1): scores 0.5, 0.01; conf -0.5 for cell 2, 0.8 for cell 3
  out[3 * classes + 0] = 0.5;
  out[3 * classes + 1] = 0.01;
  out[2 * classes + 0] = 0.5;
  out[cells * classes + 2] = -0.5;
  out[cells * classes + 3] = 0.8;
  const bi = cells * (classes + n) + 3 * 4;
  out.set([0.5, 0.25, 0.5, 0.25], bi);
  const d = decodeDetection(out, { side, n, classes, sqrt: true }, { thresh: 0.01 });
  assert.deepEqual(d[3]!.bbox, { x: 0.75, y: 0.625, w: 0.25, h: 0.0625 });
  assert.equal(d[3]!.objectness, Math.fround(0.8));
  // 0.8*0.5 = 0.4 kept; 0.8*0.01 = 0.008 ≤ 0.01 → 0
  assert.deepEqual(d[3]!.prob, [Math.fround(Math.fround(0.8) * 0.5), 0]);
  assert.equal(d[2]!.objectness, -0.5);
  assert.deepEqual(d[2]!.prob, [0, 0]);
  // pixel boxes with w, h multipliers
  const px = decodeDetection(out, { side, n, classes, sqrt: true }, { thresh: 0.01, w: 100, h: 200 });
  assert.deepEqual(px[3]!.bbox, { x: 75, y: 125, w: 25, h: 12.5 });
});

function det(index: number, x: number, w: number, objectness: number, prob: number[]): Detection {
  return { index, bbox: { x, y: 0.5, w, h: 1 }, objectness, prob };
}

test('nmsSort: per-class suppression by higher-scored boxes with IoU > thresh; zeroed boxes suppress nothing', () => {
  // boxes on a line: A [0,1] B [0.2,1.2] C [0.4,1.4] (1-D overlaps since h=1 for all)
  // IoU(A,B) = 0.8/1.2 = 0.667, IoU(B,C) = 0.667, IoU(A,C) = 0.6/1.4 = 0.43
  const dets = [det(0, 0.5, 1, 0.9, [0.9, 0.1]), det(1, 0.7, 1, 0.8, [0.8, 0.3]), det(2, 0.9, 1, 0.7, [0.7, 0.2])];
  nmsSort(dets, 2, 0.45);
  const byIndex = dets.slice().sort((a, b) => a.index - b.index);
  // class 0: A suppresses B (0.667); C vs A 0.43 ≤ 0.45 survives; B is zeroed so it suppresses nothing
  assert.deepEqual(byIndex.map((d) => d.prob[0]), [0.9, 0, 0.7]);
  // class 1: B (0.3) is highest and suppresses A and C
  assert.deepEqual(byIndex.map((d) => d.prob[1]), [0, 0.3, 0]);
});

test('nmsSort: boxes with objectness exactly 0 are moved to the end and never suppress or get suppressed', () => {
  const dets = [det(0, 0.5, 1, 0, [0.95, 0]), det(1, 0.5, 1, 0.5, [0.5, 0]), det(2, 0.5, 1, 0.4, [0.4, 0])];
  nmsSort(dets, 2, 0.45);
  assert.equal(dets[2]!.index, 0, 'zero-objectness box set aside at the end');
  const byIndex = dets.slice().sort((a, b) => a.index - b.index);
  assert.deepEqual(byIndex.map((d) => d.prob[0]), [0.95, 0.5, 0]);
});

test('nmsObj: class-agnostic suppression by objectness zeroes objectness and all probabilities', () => {
  const dets = [det(0, 0.5, 1, 0.6, [0.1, 0.5]), det(1, 0.6, 1, 0.9, [0.8, 0.1]), det(2, 3, 1, 0.3, [0.2, 0.2])];
  nmsObj(dets, 2, 0.45);
  const byIndex = dets.slice().sort((a, b) => a.index - b.index);
  assert.deepEqual(
    byIndex.map((d) => [d.objectness, ...d.prob]),
    [
      [0, 0, 0],
      [0.9, 0.8, 0.1],
      [0.3, 0.2, 0.2],
    ],
  );
  assert.deepEqual(dets.map((d) => d.index), [1, 0, 2], 'array sorted by objectness (index 0 before 2: 0.6 > 0.3)');
});

test('detectionsReport leaves its input untouched and lists kept detections by index then class', () => {
  const dets = [det(0, 0.5, 1, 0.9, [0.9, 0.1]), det(1, 0.7, 1, 0.8, [0.8, 0.3])];
  const r = detectionsReport(dets, 2, 0.45);
  assert.deepEqual(dets[1]!.prob, [0.8, 0.3]);
  assert.deepEqual(r.pre_nms[1]!.prob, [0.8, 0.3]);
  assert.deepEqual(r.post_nms[1]!.prob, [0, 0.3]);
  assert.deepEqual(
    r.kept.map((k) => [k.index, k.class, k.prob]),
    [
      [0, 0, 0.9],
      [1, 1, 0.3],
    ],
  );
});
