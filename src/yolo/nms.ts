// Darknet's non-maximum suppression (box.c) and the detections.json report (SEMANTICS.md 7).
//
// Both functions work in place on the array, like Darknet: they reorder it and zero probabilities,
// never remove a box. Darknet sorts with qsort; glibc's qsort is a stable merge sort, which the
// stable Array.prototype.sort reproduces, so the array order after NMS matches Darknet's
// (`post_nms_array_order`) as long as the same sequence of sorts is applied to the same array.
//
// Darknet compares every box with every later one (O(n²): 200,000 candidates of a tall input take an
// hour). Two boxes with finite edges whose float32 extents do not overlap have an IoU of 0 (or NaN),
// never > thresh ≥ 0, and a box whose probability is already 0 loses nothing more; so from GRID_MIN
// boxes on, each box is compared only with the later boxes a uniform grid of the boxes' extents finds
// near it. Boxes with a NaN or infinite edge, or an empty extent, are compared with every box (Darknet's
// `l1 > l2 ? l1 : l2` makes a NaN edge take the other box's, so such a box can overlap anything). The
// result is the same bit for bit: the same IoUs decide the same suppressions.

import { boxIou, type Box } from './box.js';
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

/** From this many boxes on, NMS compares only boxes that a grid finds overlapping (see the file comment). */
const GRID_MIN = 256;
/** A box covering more cells than this is compared with every box instead of being put in its cells. */
const BIG_BOX_CELLS = 64;

/**
 * The boxes of an NMS call on a uniform grid of their float32 extents (Darknet's overlap: left =
 * x − w/2, right = x + w/2, in float32). `near(i)` lists every box whose extent can overlap box i's with
 * a positive area (a superset: the IoU decides), box i excluded. Boxes with non-finite or empty extents,
 * and boxes covering many cells, are near every box.
 */
class BoxGrid {
  private readonly x0: number;
  private readonly y0: number;
  private readonly cw: number;
  private readonly ch: number;
  private readonly nx: number;
  private readonly ny: number;
  private readonly cellStart: Int32Array;
  private readonly cellItems: Int32Array;
  private readonly big: number[] = [];
  private readonly cells: ([number, number, number, number] | null)[];
  private readonly stamp: Int32Array;
  private query = 0;

  constructor(boxes: readonly Box[]) {
    const n = boxes.length;
    const ext = boxes.map((b): [number, number, number, number] | null => {
      const l = f(b.x - f(b.w / 2));
      const r = f(b.x + f(b.w / 2));
      const t = f(b.y - f(b.h / 2));
      const d = f(b.y + f(b.h / 2));
      return Number.isFinite(l) && Number.isFinite(r) && Number.isFinite(t) && Number.isFinite(d) && r > l && d > t ? [l, r, t, d] : null;
    });
    const live = ext.filter((e): e is [number, number, number, number] => e !== null);
    const lo = (k: 0 | 2): number => live.reduce((m, e) => Math.min(m, e[k]), Infinity);
    const hi = (k: 1 | 3): number => live.reduce((m, e) => Math.max(m, e[k]), -Infinity);
    const median = (v: number[]): number => v.sort((a, b) => a - b)[v.length >> 1] ?? 1;
    this.x0 = live.length > 0 ? lo(0) : 0;
    this.y0 = live.length > 0 ? lo(2) : 0;
    const spanX = live.length > 0 ? hi(1) - this.x0 : 1;
    const spanY = live.length > 0 ? hi(3) - this.y0 : 1;
    // Cells about the size of a typical box, at most ~4 per box overall.
    const side = Math.max(1, Math.floor(Math.sqrt(4 * n)));
    this.cw = Math.max(median(live.map((e) => e[1] - e[0])), spanX / side, Number.MIN_VALUE);
    this.ch = Math.max(median(live.map((e) => e[3] - e[2])), spanY / side, Number.MIN_VALUE);
    this.nx = Math.min(side, Math.max(1, Math.ceil(spanX / this.cw) + 1));
    this.ny = Math.min(side, Math.max(1, Math.ceil(spanY / this.ch) + 1));
    this.cells = ext.map((e) => (e === null ? null : [this.cellX(e[0]), this.cellX(e[1]), this.cellY(e[2]), this.cellY(e[3])]));
    const counts = new Int32Array(this.nx * this.ny + 1);
    this.cells.forEach((c, i) => {
      if (c === null || (c[1] - c[0] + 1) * (c[3] - c[2] + 1) > BIG_BOX_CELLS) this.big.push(i);
      else for (let y = c[2]; y <= c[3]; y++) for (let x = c[0]; x <= c[1]; x++) counts[y * this.nx + x + 1]!++;
    });
    for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
    this.cellStart = counts;
    this.cellItems = new Int32Array(counts[counts.length - 1]!);
    const fill = counts.slice(0, counts.length - 1);
    const bigSet = new Set(this.big);
    this.cells.forEach((c, i) => {
      if (c === null || bigSet.has(i)) return;
      for (let y = c[2]; y <= c[3]; y++) for (let x = c[0]; x <= c[1]; x++) this.cellItems[fill[y * this.nx + x]!++] = i;
    });
    this.stamp = new Int32Array(n);
  }

  private cellX(v: number): number {
    return Math.min(this.nx - 1, Math.max(0, Math.floor((v - this.x0) / this.cw)));
  }

  private cellY(v: number): number {
    return Math.min(this.ny - 1, Math.max(0, Math.floor((v - this.y0) / this.ch)));
  }

  /** Calls `visit` once for every box that may overlap box i (i excluded). */
  near(i: number, visit: (j: number) => void): void {
    const c = this.cells[i];
    if (c === undefined) return;
    const q = ++this.query;
    this.stamp[i] = q;
    const see = (j: number): void => {
      if (this.stamp[j] === q) return;
      this.stamp[j] = q;
      visit(j);
    };
    if (c === null || (c[1] - c[0] + 1) * (c[3] - c[2] + 1) > BIG_BOX_CELLS) {
      for (let j = 0; j < this.cells.length; j++) see(j);
      return;
    }
    for (const j of this.big) see(j);
    for (let y = c[2]; y <= c[3]; y++) {
      for (let x = c[0]; x <= c[1]; x++) {
        const cell = y * this.nx + x;
        for (let k = this.cellStart[cell]!; k < this.cellStart[cell + 1]!; k++) see(this.cellItems[k]!);
      }
    }
  }
}

/**
 * For each box i of dets[0, total) in order whose `alive(i)` holds, `suppress(j)` every later box j
 * whose float32 IoU with it is > t: all pairs (Darknet's loop), or from GRID_MIN boxes on (and t ≥ 0)
 * only the pairs `grid` finds near each other (same result, see the file comment). `ids` maps a box to
 * its index in the grid.
 */
function suppressLater(
  dets: readonly Detection[],
  total: number,
  t: number,
  grid: { grid: BoxGrid; ids: Map<Detection, number>; items: readonly Detection[] } | null,
  alive: (d: Detection) => boolean,
  suppress: (d: Detection) => void,
): void {
  if (grid === null) {
    for (let i = 0; i < total; i++) {
      const a = dets[i]!;
      if (!alive(a)) continue;
      for (let j = i + 1; j < total; j++) {
        const b = dets[j]!;
        if (boxIou(a.bbox, b.bbox) > t) suppress(b);
      }
    }
    return;
  }
  const rank = new Int32Array(grid.items.length);
  for (let i = 0; i < total; i++) rank[grid.ids.get(dets[i]!)!] = i;
  for (let i = 0; i < total; i++) {
    const a = dets[i]!;
    if (!alive(a)) continue;
    grid.grid.near(grid.ids.get(a)!, (j) => {
      const b = grid.items[j]!;
      // A box already suppressed loses nothing more; Darknet's loop zeroes it again.
      if (rank[j]! > i && alive(b) && boxIou(a.bbox, b.bbox) > t) suppress(b);
    });
  }
}

function gridFor(dets: readonly Detection[], total: number, t: number): { grid: BoxGrid; ids: Map<Detection, number>; items: readonly Detection[] } | null {
  if (total < GRID_MIN || !(t >= 0)) return null;
  const items = dets.slice(0, total);
  return { grid: new BoxGrid(items.map((d) => d.bbox)), ids: new Map(items.map((d, i) => [d, i])), items };
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
  const grid = gridFor(dets, total, t);
  for (let k = 0; k < classes; k++) {
    sortPrefixDescending(dets, total, (d) => d.prob[k]!);
    suppressLater(dets, total, t, grid, (d) => d.prob[k] !== 0, (d) => void (d.prob[k] = 0));
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
  const grid = gridFor(dets, total, t);
  suppressLater(
    dets,
    total,
    t,
    grid,
    (d) => d.objectness !== 0,
    (d) => {
      d.objectness = 0;
      for (let c = 0; c < classes; c++) d.prob[c] = 0;
    },
  );
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
