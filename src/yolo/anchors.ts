// Anchor boxes by k-means over box sizes (YOLOv2 paper, "dimension clusters"): distance
// d(box, anchor) = 1 − IoU(box, anchor) with both aligned at a common corner, so only w and h count.
// Seeding is k-means++ (Arthur & Vassilvitskii 2007): the first centre uniformly, each next one with
// probability proportional to d², d = distance to the nearest centre chosen so far. Then Lloyd
// iterations: assign every box to the centre of highest IoU (ties: lowest index), move every centre to
// the mean (or median) w, h of its boxes; an emptied cluster keeps its centre. The random source is
// passed in (e.g. `() => rng.uniform()` of src/tensor/random.ts), so runs are reproducible.

import { whIou } from './box.js';

export interface Size {
  w: number;
  h: number;
}

export interface AnchorOptions {
  /** Number of anchors. */
  k: number;
  /** Uniform [0, 1) source (seeded by the caller). */
  random: () => number;
  /** Lloyd iterations per run at most; default 300. */
  maxIterations?: number;
  /** How a centre is updated; default 'mean'. */
  center?: 'mean' | 'median';
  /** Independent k-means++ runs; the one with the highest average IoU is returned. Default 1. */
  restarts?: number;
}

export interface AnchorResult {
  /** Anchors sorted by area (w·h) ascending. */
  anchors: Size[];
  /** Mean over the boxes of the best IoU with any anchor. */
  avgIou: number;
  /** For each input box, the index (into `anchors`) of its cluster. */
  assignments: number[];
  /** Lloyd iterations of the returned run. */
  iterations: number;
  /** Whether the returned run stopped because no assignment changed. */
  converged: boolean;
}

function checkSizes(boxes: readonly Size[], what: string): void {
  boxes.forEach((b, i) => {
    if (!(Number.isFinite(b.w) && Number.isFinite(b.h) && b.w > 0 && b.h > 0)) {
      throw new Error(`${what}: box ${i} must have finite positive w and h, got ${b.w}x${b.h}`);
    }
  });
}

/** Index of the anchor of highest IoU with (w, h), and that IoU (ties: lowest index). */
export function bestAnchor(box: Size, anchors: readonly Size[]): { index: number; iou: number } {
  let index = -1;
  let iou = -1;
  for (let j = 0; j < anchors.length; j++) {
    const v = whIou(box.w, box.h, anchors[j]!.w, anchors[j]!.h);
    if (v > iou) {
      iou = v;
      index = j;
    }
  }
  return { index, iou };
}

/** Mean over `boxes` of the best IoU with any of `anchors` (0 for no boxes). */
export function averageIou(boxes: readonly Size[], anchors: readonly Size[]): number {
  if (anchors.length === 0) throw new Error('averageIou: no anchors');
  if (boxes.length === 0) return 0;
  let s = 0;
  for (const b of boxes) s += bestAnchor(b, anchors).iou;
  return s / boxes.length;
}

function drawIndex(random: () => number, n: number): number {
  const u = random();
  if (!(u >= 0 && u < 1)) throw new Error(`kmeansAnchors: random() must return a number in [0, 1), got ${u}`);
  return Math.min(n - 1, Math.floor(u * n));
}

function seedPlusPlus(boxes: readonly Size[], k: number, random: () => number): Size[] {
  const n = boxes.length;
  const first = boxes[drawIndex(random, n)]!;
  const centres: Size[] = [{ w: first.w, h: first.h }];
  const d2 = boxes.map((b) => (1 - whIou(b.w, b.h, first.w, first.h)) ** 2);
  while (centres.length < k) {
    let total = 0;
    for (const v of d2) total += v;
    let pick: number;
    if (total > 0) {
      const u = random();
      if (!(u >= 0 && u < 1)) throw new Error(`kmeansAnchors: random() must return a number in [0, 1), got ${u}`);
      const target = u * total;
      let acc = 0;
      pick = n - 1;
      for (let i = 0; i < n; i++) {
        acc += d2[i]!;
        if (acc > target) {
          pick = i;
          break;
        }
      }
      // never pick a point with zero weight (rounding at the end of the cumulative sum)
      while (d2[pick] === 0 && pick > 0) pick--;
    } else {
      // fewer distinct sizes than k: every box coincides with a centre; take any
      pick = drawIndex(random, n);
    }
    const c = boxes[pick]!;
    centres.push({ w: c.w, h: c.h });
    for (let i = 0; i < n; i++) {
      const v = (1 - whIou(boxes[i]!.w, boxes[i]!.h, c.w, c.h)) ** 2;
      if (v < d2[i]!) d2[i] = v;
    }
  }
  return centres;
}

function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const m = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}

function lloyd(boxes: readonly Size[], centres: Size[], maxIterations: number, center: 'mean' | 'median'): { assignments: number[]; iterations: number; converged: boolean } {
  const n = boxes.length;
  const k = centres.length;
  const assignments = new Array<number>(n).fill(-1);
  for (let it = 1; it <= maxIterations; it++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      const a = bestAnchor(boxes[i]!, centres).index;
      if (a !== assignments[i]) {
        assignments[i] = a;
        changed = true;
      }
    }
    if (!changed) return { assignments, iterations: it, converged: true };
    for (let c = 0; c < k; c++) {
      const ws: number[] = [];
      const hs: number[] = [];
      for (let i = 0; i < n; i++) {
        if (assignments[i] === c) {
          ws.push(boxes[i]!.w);
          hs.push(boxes[i]!.h);
        }
      }
      if (ws.length === 0) continue;
      centres[c] =
        center === 'median'
          ? { w: median(ws), h: median(hs) }
          : { w: ws.reduce((s, v) => s + v, 0) / ws.length, h: hs.reduce((s, v) => s + v, 0) / hs.length };
    }
  }
  return { assignments, iterations: maxIterations, converged: false };
}

/** k-means++ anchor clustering with distance 1 − IoU; see the file header. */
export function kmeansAnchors(boxes: readonly Size[], opts: AnchorOptions): AnchorResult {
  const { k, random } = opts;
  const maxIterations = opts.maxIterations ?? 300;
  const restarts = opts.restarts ?? 1;
  const center = opts.center ?? 'mean';
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`kmeansAnchors: k must be a positive integer, got ${k}`);
  if (boxes.length < k) throw new Error(`kmeansAnchors: need at least k = ${k} boxes, got ${boxes.length}`);
  if (!(Number.isInteger(maxIterations) && maxIterations > 0)) throw new Error(`kmeansAnchors: maxIterations must be a positive integer, got ${maxIterations}`);
  if (!(Number.isInteger(restarts) && restarts > 0)) throw new Error(`kmeansAnchors: restarts must be a positive integer, got ${restarts}`);
  checkSizes(boxes, 'kmeansAnchors');
  let best: AnchorResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const centres = seedPlusPlus(boxes, k, random);
    const run = lloyd(boxes, centres, maxIterations, center);
    const anchors = centres.slice().sort((a, b) => a.w * a.h - b.w * b.h);
    // assignment and IoU against the final centres (after the last update)
    const assignments = boxes.map((b) => bestAnchor(b, anchors).index);
    const avgIou = averageIou(boxes, anchors);
    if (!best || avgIou > best.avgIou) best = { anchors, avgIou, assignments, iterations: run.iterations, converged: run.converged };
  }
  return best!;
}

// ---------------------------------------------------------------------------------------------
// Units.

/**
 * 'relative': fraction of the network input (0..1); 'pixels': network-input pixels; 'grid': cells of
 * the output grid (pixels / stride), the unit of Darknet's `[region] anchors=`.
 */
export type AnchorUnits = 'relative' | 'pixels' | 'grid';

export interface AnchorGeometry {
  /** Network input size in pixels. */
  netW: number;
  netH: number;
  /** Pixels per grid cell; default 32 (YOLOv2: 416 → 13). */
  stride?: number;
}

/** Converts anchors between relative, pixel and grid units. */
export function convertAnchors(anchors: readonly Size[], from: AnchorUnits, to: AnchorUnits, g: AnchorGeometry): Size[] {
  const stride = g.stride ?? 32;
  if (!(g.netW > 0 && g.netH > 0 && stride > 0)) throw new Error(`convertAnchors: net size and stride must be positive, got ${g.netW}x${g.netH}, stride ${stride}`);
  const toPx = (a: Size): Size => (from === 'pixels' ? a : from === 'grid' ? { w: a.w * stride, h: a.h * stride } : { w: a.w * g.netW, h: a.h * g.netH });
  const fromPx = (a: Size): Size => (to === 'pixels' ? a : to === 'grid' ? { w: a.w / stride, h: a.h / stride } : { w: a.w / g.netW, h: a.h / g.netH });
  return anchors.map((a) => fromPx(toPx(a)));
}

/** Anchors as a cfg line value, e.g. `1.08,1.19, 3.42,4.41` (`digits` decimals, default 2). */
export function formatAnchors(anchors: readonly Size[], digits = 2): string {
  return anchors.map((a) => `${a.w.toFixed(digits)},${a.h.toFixed(digits)}`).join(', ');
}

/** Parses `w0,h0, w1,h1, ...` (a cfg `anchors=` value) into sizes. */
export function parseAnchors(text: string): Size[] {
  const v = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const x = Number(s);
      if (!Number.isFinite(x)) throw new Error(`parseAnchors: "${s}" is not a number in "${text}"`);
      return x;
    });
  if (v.length % 2 !== 0) throw new Error(`parseAnchors: odd number of values (${v.length}) in "${text}"`);
  const out: Size[] = [];
  for (let i = 0; i < v.length; i += 2) out.push({ w: v[i]!, h: v[i + 1]! });
  return out;
}
