// The YOLOv2 [region] layer loss, exactly as Darknet's forward_region_layer computes it in training
// (SEMANTICS.md 8.3), as an autograd op: its value is Darknet's `cost`, and the gradient it sends to
// the region layer's (activated) output is −`delta`. Darknet's region backward (region-activation.ts)
// then takes it to the logits as Darknet's GPU build does.
//
// The value is not the function whose derivative is −delta (cost = Σ delta², delta = scale·(t − o)):
// Darknet reports one and descends along the other, and so do we. Targets that depend on the
// prediction (the rescore IoU, the ignore test, the chosen anchor) are constants of the step.
//
// In order, for every image b (float32 arithmetic rounded as Darknet's C code rounds it):
//  1. every anchor n at every cell (i, j): best IoU of its predicted box with any truth;
//     δobj = noobject_scale·(0 − obj) (background: 1 − obj), 0 when best IoU > thresh. While
//     seen < 12800 the coordinates are pulled towards the anchor prior with scale 0.01.
//  2. every truth (up to the first with x == 0): cell (⌊x·w⌋, ⌊y·h⌋), anchor = best IoU of the truth's
//     size with the anchors' sizes (bias_match) or with the predicted sizes, both centred at 0;
//     coords δ = coord_scale·(2 − w·h)·(target − output); δobj = object_scale·(iou − obj) with rescore,
//     else (1 − obj); classes δ = class_scale·(onehot − p). A later truth on the same slot overwrites.
//  3. cost = (Σ δ² as a float running sum, in index order, then sqrt and squared again).
//
// Departures, each a guard where Darknet would read or write out of bounds: a truth at x or y = 1.0
// (exactly on the far edge) goes to the last cell instead of one past the grid; a truth whose class is
// outside 0..classes−1 makes the op throw (naming the image and slot) instead of corrupting memory.

import { registerKernel } from '../../tensor/registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { boxIou, type Box } from '../box.js';
import { regionBox, type RegionLayerParams } from '../decode.js';
import type { RegionLayer } from '../darknet/cfg-types.js';
import { runLoss, type LossKernel, type LossResult } from './loss-op.js';
import { LOSS_STATS, readLossStats, type LossStats } from './stats.js';

const f = Math.fround;

/** Darknet's hard-coded `seen` below which coordinates are pulled towards the anchor priors. */
export const PRIOR_SEEN_LIMIT = 12800;

/** Everything the region loss reads from the layer, plus the images seen so far. */
export interface RegionLossAttrs {
  /** Grid width and height. */
  w: number;
  h: number;
  /** Anchors per cell. */
  n: number;
  classes: number;
  /** Must be 4. */
  coords: number;
  /** 2n anchor sizes in grid cells (float32 values). */
  anchors: readonly number[];
  biasMatch: boolean;
  rescore: boolean;
  background: boolean;
  objectScale: number;
  noobjectScale: number;
  classScale: number;
  coordScale: number;
  /** Ignore threshold: no objectness penalty for predictions whose best IoU with a truth exceeds it. */
  thresh: number;
  /** Truth slots per image (x, y, w, h, class each). */
  maxBoxes: number;
  /** Images seen before this batch (Darknet's *net.seen). */
  seen: number;
}

/**
 * delta [N, outputs] (written in full), cost [1] (Darknet's cost of the whole batch), stats
 * [LOSS_STATS] (sums, see stats.ts) from the region output [N, outputs] and truth [N, maxBoxes·5];
 * all float32, contiguous.
 */
export type RegionLossKernel = LossKernel<RegionLossAttrs>;

/** The attributes of a parsed [region] layer (seen given by the caller). */
export function regionLossAttrs(l: RegionLayer, seen: number): RegionLossAttrs {
  return {
    w: l.shape.w,
    h: l.shape.h,
    n: l.n,
    classes: l.classes,
    coords: l.coords,
    anchors: l.anchors,
    biasMatch: l.biasMatch,
    rescore: l.rescore,
    background: l.background,
    objectScale: l.objectScale,
    noobjectScale: l.noobjectScale,
    classScale: l.classScale,
    coordScale: l.coordScale,
    thresh: l.thresh,
    maxBoxes: l.maxBoxes,
    seen,
  };
}

/** Float32 sum of squares in index order, then Darknet's pow(mag_array(...), 2). */
export function darknetCost(delta: ArrayLike<number>, start = 0, end = delta.length): number {
  let s = 0;
  for (let i = start; i < end; i++) {
    const d = delta[i]!;
    s = f(s + f(d * d));
  }
  const mag = f(Math.sqrt(s));
  return f(mag * mag);
}

registerKernel<RegionLossKernel>('region_loss', 'cpu', (delta, cost, stats, output, truth, a) => {
  const outputs = a.n * (a.coords + 1 + a.classes) * a.w * a.h;
  const batch = output.size / outputs;
  const out = output.storage.cpuArray;
  const tru = truth.storage.cpuArray;
  const del = delta.storage.cpuArray;
  const st = new Float64Array(LOSS_STATS);
  const stride = a.w * a.h;
  const per = a.coords + 1 + a.classes;
  const truthsPer = a.maxBoxes * (a.coords + 1);
  const p: RegionLayerParams = { w: a.w, h: a.h, n: a.n, classes: a.classes, coords: a.coords, anchors: a.anchors };
  const anchorW = (n: number): number => f(a.anchors[2 * n]!);
  const anchorH = (n: number): number => f(a.anchors[2 * n + 1]!);
  const priorScale = f(0.01);
  const thresh = f(a.thresh);

  for (let b = 0; b < batch; b++) {
    const ob = output.offset + b * outputs;
    const x = out.subarray(ob, ob + outputs);
    const d = del.subarray(delta.offset + b * outputs, delta.offset + (b + 1) * outputs);
    d.fill(0);
    const truths: Box[] = [];
    const classes: number[] = [];
    for (let t = 0; t < a.maxBoxes; t++) {
      const o = truth.offset + b * truthsPer + t * (a.coords + 1);
      const tx = tru[o]!;
      if (tx === 0) break;
      truths.push({ x: f(tx), y: f(tru[o + 1]!), w: f(tru[o + 2]!), h: f(tru[o + 3]!) });
      classes.push(Math.trunc(tru[o + a.coords]!));
    }
    // Darknet's index of entry e of anchor n at loc.
    const at = (n: number, e: number, loc: number): number => (n * per + e) * stride + loc;

    /** delta_region_box: writes the four coordinate deltas; returns the predicted box's IoU with `t`. */
    const deltaBox = (t: Box, n: number, i: number, j: number, scale: number): number => {
      const pred = regionBox(x, p, n, i, j);
      const iou = boxIou(pred, t);
      const loc = j * a.w + i;
      const tx = f(f(t.x * a.w) - i);
      const ty = f(f(t.y * a.h) - j);
      const tw = f(Math.log(f(f(t.w * a.w) / anchorW(n))));
      const th = f(Math.log(f(f(t.h * a.h) / anchorH(n))));
      const targets = [tx, ty, tw, th];
      for (let e = 0; e < 4; e++) {
        const k = at(n, e, loc);
        d[k] = f(scale * f(targets[e]! - x[k]!));
      }
      return iou;
    };

    for (let j = 0; j < a.h; j++) {
      for (let i = 0; i < a.w; i++) {
        for (let n = 0; n < a.n; n++) {
          const loc = j * a.w + i;
          const pred = regionBox(x, p, n, i, j);
          let best = 0;
          for (const t of truths) {
            const iou = boxIou(pred, t);
            if (iou > best) best = iou;
          }
          const k = at(n, a.coords, loc);
          const obj = x[k]!;
          st[3] += obj;
          d[k] = a.background ? f(f(a.noobjectScale) * f(1 - obj)) : f(f(a.noobjectScale) * f(0 - obj));
          if (best > thresh) d[k] = 0;
          if (a.seen < PRIOR_SEEN_LIMIT) {
            const prior: Box = { x: f((i + 0.5) / a.w), y: f((j + 0.5) / a.h), w: f(anchorW(n) / a.w), h: f(anchorH(n) / a.h) };
            deltaBox(prior, n, i, j, priorScale);
          }
        }
      }
    }

    truths.forEach((t, ti) => {
      const i = Math.min(a.w - 1, Math.max(0, Math.trunc(f(t.x * a.w))));
      const j = Math.min(a.h - 1, Math.max(0, Math.trunc(f(t.y * a.h))));
      const cls = classes[ti]!;
      if (!(cls >= 0 && cls < a.classes)) {
        throw new Error(`region loss: image ${b}, truth slot ${ti}: class ${tru[truth.offset + b * truthsPer + ti * (a.coords + 1) + a.coords]} is outside 0..${a.classes - 1}`);
      }
      const shifted: Box = { x: 0, y: 0, w: t.w, h: t.h };
      let bestIou = 0;
      let bestN = 0;
      for (let n = 0; n < a.n; n++) {
        let pred = regionBox(x, p, n, i, j);
        if (a.biasMatch) pred = { ...pred, w: f(anchorW(n) / a.w), h: f(anchorH(n) / a.h) };
        const iou = boxIou({ x: 0, y: 0, w: pred.w, h: pred.h }, shifted);
        if (iou > bestIou) {
          bestIou = iou;
          bestN = n;
        }
      }
      const loc = j * a.w + i;
      const iou = deltaBox(t, bestN, i, j, f(f(a.coordScale) * f(2 - f(t.w * t.h))));
      if (iou > 0.5) st[1] += 1;
      st[0] += iou;
      const k = at(bestN, a.coords, loc);
      const obj = x[k]!;
      st[2] += obj;
      const os = f(a.objectScale);
      if (a.background) d[k] = f(os * f(0 - obj));
      else if (a.rescore) d[k] = f(os * f(iou - obj));
      else d[k] = f(os * f(1 - obj));
      const cs = f(a.classScale);
      for (let c = 0; c < a.classes; c++) {
        const kc = at(bestN, a.coords + 1 + c, loc);
        d[kc] = f(cs * f((c === cls ? 1 : 0) - x[kc]!));
        if (c === cls) st[4] += x[kc]!;
      }
      st[5] += 1;
    });
  }
  cost.storage.cpuArray[cost.offset] = darknetCost(del, delta.offset, delta.offset + batch * outputs);
  stats.storage.cpuArray.set(st, stats.offset);
});

export type RegionLossResult = LossResult;

/**
 * Darknet's region loss of `output` (the region layer's output, [N, outputs] or [N, n·(5+classes), h, w])
 * against `truth` ([N, maxBoxes·5] in the region truth layout, or anything holding N × that many values).
 */
export function regionLoss(output: Tensor, truth: Tensor, a: RegionLossAttrs): RegionLossResult {
  if (a.coords !== 4) throw new Error(`region loss: coords=${a.coords}; only coords=4 is supported`);
  if (a.anchors.length !== 2 * a.n) throw new Error(`region loss: ${a.anchors.length} anchor values for num=${a.n} (need ${2 * a.n})`);
  return runLoss(output, truth, {
    op: 'region_loss',
    what: 'region loss',
    outputs: a.n * (a.coords + 1 + a.classes) * a.w * a.h,
    outputsRule: 'num·(coords+1+classes)·h·w',
    truths: a.maxBoxes * (a.coords + 1),
    truthsRule: `${a.maxBoxes} boxes of x, y, w, h, class per image`,
  }, a);
}

/** Darknet's printed region summary from the stats of one loss call over `batch` images. */
export function regionStats(r: RegionLossResult, a: RegionLossAttrs, batch: number): LossStats {
  return readLossStats(r.stats, batch * a.n * a.w * a.h);
}
