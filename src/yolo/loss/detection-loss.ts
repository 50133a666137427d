// The YOLOv1 [detection] layer loss, exactly as Darknet's forward_detection_layer computes it in
// training (SEMANTICS.md 8.4), as an autograd op: value = Darknet's `cost`, gradient sent to the layer
// output = −`delta` (the detection layer's backward is the identity, so this reaches the connected
// layer unchanged).
//
// Output layout per image: [side²·classes class scores][side²·n confidences][side²·n·4 boxes]
// (x, y in the cell, √w, √h with sqrt=1). Truth per cell: [is_obj, one-hot classes, x, y, w, h].
//  1. every confidence: δ = noobject_scale·(0 − conf);
//  2. cells with an object: classes δ = class_scale·(truth − score); the responsible box is the one
//     with the largest IoU (cell-local units: x/side, y/side, w², h²) if any IoU > 0, else the smallest
//     RMSE (from 20); `forced` picks box 1 for small truths (w·h < 0.1) and box 0 otherwise; `random`
//     (while seen < 64000) picks a seeded pseudo-random box (Darknet calls rand());
//     its confidence δ = object_scale·(iou − conf) with rescore, else (1 − conf); coordinates
//     δ = coord_scale·(target − output) with √w, √h targets when sqrt.
//  3. cost = Σ δ² (float running sum in index order), as Darknet overwrites its accumulated cost.

import { registerKernel } from '../../tensor/registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { boxIou, boxRmse, type Box } from '../box.js';
import type { DetectionLayer } from '../darknet/cfg-types.js';
import { darknetCost } from './region-loss.js';
import { runLoss, type LossKernel, type LossResult } from './loss-op.js';
import { LOSS_STATS, readLossStats, type LossStats } from './stats.js';

const f = Math.fround;

/** Below this many images seen, `random=1` picks the responsible box at random (Darknet's rule). */
export const RANDOM_SEEN_LIMIT = 64000;

export interface DetectionLossAttrs {
  side: number;
  /** Boxes per cell. */
  n: number;
  classes: number;
  /** Must be 4. */
  coords: number;
  rescore: boolean;
  sqrt: boolean;
  /** Darknet's `forced`: 0 off, else box 1 for small truths and box 0 for large ones. */
  forced: number;
  /** Darknet's `random`: a random responsible box while seen < 64000. */
  random: boolean;
  objectScale: number;
  noobjectScale: number;
  classScale: number;
  coordScale: number;
  seen: number;
  /** Seed of the `random` choice (unused otherwise). */
  seed: number;
}

/** delta [N, outputs], cost [], stats [LOSS_STATS] from output [N, outputs] and truth [N, side²·(5+classes)]; float32, contiguous. */
export type DetectionLossKernel = LossKernel<DetectionLossAttrs>;

export function detectionLossAttrs(l: DetectionLayer, seen: number, seed = 0): DetectionLossAttrs {
  return {
    side: l.side,
    n: l.n,
    classes: l.classes,
    coords: l.coords,
    rescore: l.rescore,
    sqrt: l.sqrt,
    forced: l.forced,
    random: l.random,
    objectScale: l.objectScale,
    noobjectScale: l.noobjectScale,
    classScale: l.classScale,
    coordScale: l.coordScale,
    seen,
    seed,
  };
}

/**
 * The `random` choice for (seed, seen, global cell index): a 32-bit integer hash (the same
 * multiply-xorshift mix in the CUDA kernel), modulo n.
 */
export function randomBoxChoice(seed: number, seen: number, cell: number, n: number): number {
  let h = (seed ^ Math.imul(seen | 0, 0x9e3779b1) ^ Math.imul(cell | 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h % n;
}

export function detectionOutputs(a: Pick<DetectionLossAttrs, 'side' | 'n' | 'classes' | 'coords'>): number {
  return a.side * a.side * (a.classes + a.n * (1 + a.coords));
}

registerKernel<DetectionLossKernel>('detection_loss', 'cpu', (delta, cost, stats, output, truth, a) => {
  const outputs = detectionOutputs(a);
  const cells = a.side * a.side;
  const batch = output.size / outputs;
  const tPer = 1 + a.coords + a.classes;
  const out = output.storage.cpuArray;
  const tru = truth.storage.cpuArray;
  const del = delta.storage.cpuArray;
  const st = new Float64Array(LOSS_STATS);
  const noobj = f(a.noobjectScale);
  const objScale = f(a.objectScale);
  const clsScale = f(a.classScale);
  const coordScale = f(a.coordScale);
  const side = a.side;

  for (let b = 0; b < batch; b++) {
    const x = out.subarray(output.offset + b * outputs, output.offset + (b + 1) * outputs);
    const d = del.subarray(delta.offset + b * outputs, delta.offset + (b + 1) * outputs);
    d.fill(0);
    const outBox = (i: number, j: number): Box => {
      const k = cells * (a.classes + a.n) + (i * a.n + j) * a.coords;
      const w = x[k + 2]!;
      const h = x[k + 3]!;
      return { x: f(x[k]! / side), y: f(x[k + 1]! / side), w: a.sqrt ? f(w * w) : w, h: a.sqrt ? f(h * h) : h };
    };
    for (let i = 0; i < cells; i++) {
      const ti = truth.offset + (b * cells + i) * tPer;
      for (let j = 0; j < a.n; j++) {
        const p = cells * a.classes + i * a.n + j;
        d[p] = f(noobj * f(0 - x[p]!));
        st[3] += x[p]!;
      }
      if (Math.trunc(tru[ti]!) === 0) continue;
      for (let c = 0; c < a.classes; c++) {
        const k = i * a.classes + c;
        const t = tru[ti + 1 + c]!;
        d[k] = f(clsScale * f(t - x[k]!));
        if (t !== 0) st[4] += x[k]!;
        st[6] += x[k]!;
      }
      const tb = ti + 1 + a.classes;
      const truthBox: Box = { x: f(tru[tb]! / side), y: f(tru[tb + 1]! / side), w: tru[tb + 2]!, h: tru[tb + 3]! };
      let best = -1;
      let bestIou = 0;
      let bestRmse = 20;
      for (let j = 0; j < a.n; j++) {
        const o = outBox(i, j);
        const iou = boxIou(o, truthBox);
        const rmse = boxRmse(o, truthBox);
        if (bestIou > 0 || iou > 0) {
          if (iou > bestIou) {
            bestIou = iou;
            best = j;
          }
        } else if (rmse < bestRmse) {
          bestRmse = rmse;
          best = j;
        }
      }
      if (a.forced) best = f(truthBox.w * truthBox.h) < f(0.1) ? 1 : 0;
      if (a.random && a.seen < RANDOM_SEEN_LIMIT) best = randomBoxChoice(a.seed, a.seen, b * cells + i, a.n);
      // Only NaN outputs leave no choice; Darknet would then index box -1. Take box 0.
      if (best < 0 || best >= a.n) best = 0;
      const iou = boxIou(outBox(i, best), truthBox);
      const p = cells * a.classes + i * a.n + best;
      st[2] += x[p]!;
      d[p] = a.rescore ? f(objScale * f(iou - x[p]!)) : f(objScale * (1 - x[p]!));
      const k = cells * (a.classes + a.n) + (i * a.n + best) * a.coords;
      d[k] = f(coordScale * f(tru[tb]! - x[k]!));
      d[k + 1] = f(coordScale * f(tru[tb + 1]! - x[k + 1]!));
      if (a.sqrt) {
        d[k + 2] = f(coordScale * (Math.sqrt(tru[tb + 2]!) - x[k + 2]!));
        d[k + 3] = f(coordScale * (Math.sqrt(tru[tb + 3]!) - x[k + 3]!));
      } else {
        d[k + 2] = f(coordScale * f(tru[tb + 2]! - x[k + 2]!));
        d[k + 3] = f(coordScale * f(tru[tb + 3]! - x[k + 3]!));
      }
      st[0] += iou;
      if (iou > 0.5) st[1] += 1;
      st[5] += 1;
    }
  }
  cost.storage.cpuArray[cost.offset] = darknetCost(del, delta.offset, delta.offset + batch * outputs);
  stats.storage.cpuArray.set(st, stats.offset);
});

export type DetectionLossResult = LossResult;

/** Darknet's detection loss of `output` ([N, outputs]) against the grid truth ([N, side²·(5+classes)]). */
export function detectionLoss(output: Tensor, truth: Tensor, a: DetectionLossAttrs): DetectionLossResult {
  if (a.coords !== 4) throw new Error(`detection loss: coords=${a.coords}; only coords=4 is supported`);
  return runLoss(output, truth, {
    op: 'detection_loss',
    what: 'detection loss',
    outputs: detectionOutputs(a),
    outputsRule: 'side²·(classes + num·5)',
    truths: a.side * a.side * (1 + a.coords + a.classes),
    truthsRule: 'side²·(1+coords+classes) per image',
  }, a);
}

export function detectionStats(r: DetectionLossResult, a: DetectionLossAttrs, batch: number): LossStats {
  return readLossStats(r.stats, batch * a.side * a.side * a.n);
}
