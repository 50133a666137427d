// Darknet's non-maximum suppression (box.c) and the detections.json report (SEMANTICS.md 7).
//
// Both functions work in place on the array, like Darknet: they reorder it and zero probabilities,
// never remove a box. Darknet sorts with qsort; glibc's qsort is a stable merge sort, which the
// stable Array.prototype.sort reproduces, so the array order after NMS matches Darknet's
// (`post_nms_array_order`) as long as the same sequence of sorts is applied to the same array.

import { boxIou } from './box.js';
import { type Detection, cloneDetections } from './decode.js';

const f = Math.fround;

/**
 * Darknet's first NMS step: boxes with objectness exactly 0 are swapped to the end of the array
 * (each swapped-in box is examined again). Returns the number of boxes in front (objectness ≠ 0).
 */
function setAsideZeroObjectness(dets: Detection[]): number {
  let k = dets.length - 1;
  for (let i = 0; i <= k; i++) {
    if (dets[i]!.objectness === 0) {
      const t = dets[i]!;
      dets[i] = dets[k]!;
      dets[k] = t;
      k--;
      i--;
    }
  }
  return k + 1;
}

/** Sorts dets[0, total) in place, stably, by `key` descending. */
function sortPrefixDescending(dets: Detection[], total: number, key: (d: Detection) => number): void {
  const head = dets.slice(0, total).sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka > kb ? -1 : ka < kb ? 1 : 0;
  });
  for (let i = 0; i < total; i++) dets[i] = head[i]!;
}

function checkClasses(dets: readonly Detection[], classes: number, what: string): void {
  if (!(Number.isInteger(classes) && classes > 0)) throw new Error(`${what}: classes must be a positive integer, got ${classes}`);
  for (const d of dets) {
    if (d.prob.length < classes) throw new Error(`${what}: detection ${d.index} has ${d.prob.length} probabilities, expected ${classes}`);
  }
}

/**
 * Darknet's `do_nms_sort`: boxes with objectness 0 are set aside; then for each class k, the others
 * are sorted by prob[k] descending and every box i with prob[k] ≠ 0 zeroes prob[k] of each later box
 * j whose float32 IoU with it is > thresh (thresh rounded to float32, as the C float it is).
 * Mutates and reorders `dets`; returns it.
 */
export function nmsSort(dets: Detection[], classes: number, thresh: number): Detection[] {
  checkClasses(dets, classes, 'nmsSort');
  const t = f(thresh);
  const total = setAsideZeroObjectness(dets);
  for (let k = 0; k < classes; k++) {
    sortPrefixDescending(dets, total, (d) => d.prob[k]!);
    for (let i = 0; i < total; i++) {
      const a = dets[i]!;
      if (a.prob[k] === 0) continue;
      for (let j = i + 1; j < total; j++) {
        const b = dets[j]!;
        if (boxIou(a.bbox, b.bbox) > t) b.prob[k] = 0;
      }
    }
  }
  return dets;
}

/**
 * Darknet's `do_nms_obj` (class-agnostic): boxes with objectness 0 are set aside; the others are
 * sorted by objectness descending; each box i with objectness ≠ 0 suppresses every later box j
 * (objectness ≠ 0) whose float32 IoU with it is > thresh, by zeroing j's objectness and all of its
 * probabilities. Mutates and reorders `dets`; returns it.
 */
export function nmsObj(dets: Detection[], classes: number, thresh: number): Detection[] {
  checkClasses(dets, classes, 'nmsObj');
  const t = f(thresh);
  const total = setAsideZeroObjectness(dets);
  sortPrefixDescending(dets, total, (d) => d.objectness);
  for (let i = 0; i < total; i++) {
    const a = dets[i]!;
    if (a.objectness === 0) continue;
    for (let j = i + 1; j < total; j++) {
      const b = dets[j]!;
      if (b.objectness === 0) continue;
      if (boxIou(a.bbox, b.bbox) > t) {
        b.objectness = 0;
        for (let c = 0; c < classes; c++) b.prob[c] = 0;
      }
    }
  }
  return dets;
}

// ---------------------------------------------------------------------------------------------
// detections.json

/** One entry of `pre_nms` / `post_nms`. */
export interface ReportBox {
  index: number;
  bbox: [number, number, number, number];
  objectness: number;
  prob: number[];
}

/** One entry of `kept`. */
export interface KeptDetection {
  index: number;
  class: number;
  prob: number;
  bbox: [number, number, number, number];
}

/** The detection part of `detections.json` (SEMANTICS.md 7). */
export interface DetectionsReport {
  nboxes: number;
  classes: number;
  pre_nms: ReportBox[];
  /** Original indices in the order Darknet's array holds them after NMS. */
  post_nms_array_order: number[];
  /** The boxes after NMS, listed in original (pre_nms) index order. */
  post_nms: ReportBox[];
  /** Every (index, class) with prob > 0 after NMS, by index then class. */
  kept: KeptDetection[];
}

function reportBox(d: Detection): ReportBox {
  return { index: d.index, bbox: [d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h], objectness: d.objectness, prob: d.prob.slice() };
}

/**
 * Runs NMS on a copy of `dets` (Darknet order, as the decoders return them) and builds the
 * `pre_nms` / `post_nms` / `kept` structure of detections.json. `dets` is not modified.
 */
export function detectionsReport(dets: readonly Detection[], classes: number, nmsThresh: number, nms: 'sort' | 'obj' = 'sort'): DetectionsReport {
  const pre = dets.map(reportBox);
  const work = cloneDetections(dets);
  if (nms === 'sort') nmsSort(work, classes, nmsThresh);
  else nmsObj(work, classes, nmsThresh);
  const order = work.map((d) => d.index);
  const post = work.slice().sort((a, b) => a.index - b.index);
  const kept: KeptDetection[] = [];
  for (const d of post) {
    for (let c = 0; c < classes; c++) {
      const p = d.prob[c]!;
      if (p > 0) kept.push({ index: d.index, class: c, prob: p, bbox: [d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h] });
    }
  }
  return { nboxes: dets.length, classes, pre_nms: pre, post_nms_array_order: order, post_nms: post.map(reportBox), kept };
}
