// The device kernels of the YOLO losses (native/kernels/{region,detection}_loss.cu, through the cuda-emu device)
// against the CPU kernels (src/yolo/loss), on random cases built to reach every branch: several images, several
// truths per image, two truths on one slot (the later overwrites), truths on the far edge of the grid (x or
// y = 1.0), seen on both sides of 12,800, rescore / background / bias_match on and off, non-square grids and
// grids of several thread blocks; for YOLOv1: sqrt, rescore, forced, random (below and at 64,000 seen) and the
// RMSE fallback. Deltas agree within 1e-5·max(1, max|cpu|), cost and statistics within 1e-5 relative. A truth
// class out of range gives the CPU's error on the device too.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fromHost } from '../src/tensor/ops/creation.js';
import { getDevice } from '../src/tensor/device.js';
import { scope } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { Rng } from '../src/tensor/random.js';
import { regionBox } from '../src/yolo/decode.js';
import { PRIOR_SEEN_LIMIT, regionLoss, type RegionLossAttrs } from '../src/yolo/loss/region-loss.js';
import { detectionLoss, detectionOutputs, randomBoxChoice, RANDOM_SEEN_LIMIT, type DetectionLossAttrs } from '../src/yolo/loss/detection-loss.js';
import '../src/backends/cuda/index.js';

const DEVICE = 'cuda-emu';

function emuOrSkip(): string | false {
  try {
    getDevice(DEVICE);
    return false;
  } catch (e) {
    return `${DEVICE} unavailable: ${(e as Error).message}`;
  }
}
const skip = emuOrSkip();

interface LossRun {
  delta: Float32Array;
  cost: number;
  stats: Float32Array;
}

/** Runs a loss on `device` from host output / truth ([batch, …] each) and reads everything back. */
function runOn(device: string, fn: (o: Tensor, t: Tensor) => { loss: Tensor; delta: Tensor; stats: Tensor }, output: Float32Array, truth: Float32Array, batch: number): LossRun {
  return scope(() => {
    const r = fn(fromHost(output, [batch, output.length / batch], { device }), fromHost(truth, [batch, truth.length / batch], { device }));
    return { delta: Float32Array.from(r.delta.data()), cost: r.loss.item(), stats: Float32Array.from(r.stats.data()) };
  });
}

function relClose(what: string, dev: number, cpu: number): void {
  assert.ok(Math.abs(dev - cpu) <= 1e-5 * Math.abs(cpu), `${what}: device ${dev}, cpu ${cpu}`);
}

/** The device result equals the CPU's: deltas within 1e-5·max(1, max|cpu|), cost and stats within 1e-5 relative. */
function assertMatches(dev: LossRun, cpu: LossRun): void {
  assert.equal(dev.delta.length, cpu.delta.length);
  let maxRef = 0;
  for (const v of cpu.delta) maxRef = Math.max(maxRef, Math.abs(v));
  const tol = 1e-5 * Math.max(1, maxRef);
  for (let k = 0; k < cpu.delta.length; k++) {
    if (!(Math.abs(dev.delta[k]! - cpu.delta[k]!) <= tol)) assert.fail(`delta[${k}]: device ${dev.delta[k]}, cpu ${cpu.delta[k]}`);
  }
  relClose('cost', dev.cost, cpu.cost);
  for (let s = 0; s < cpu.stats.length; s++) relClose(`stats[${s}]`, dev.stats[s]!, cpu.stats[s]!);
}

// ---------------------------------------------------------------------------------------------------
// region (YOLOv2)

interface TruthBox {
  x: number;
  y: number;
  w: number;
  h: number;
  cls: number;
}

interface RegionCase {
  a: RegionLossAttrs;
  batch: number;
  output: Float32Array;
  truth: Float32Array;
  /** Per image, the truths actually used (up to the first x = 0). */
  boxes: TruthBox[][];
}

function regionAttrs(over: Partial<RegionLossAttrs>): RegionLossAttrs {
  return {
    w: 5,
    h: 4,
    n: 3,
    classes: 4,
    coords: 4,
    anchors: [0.6, 0.9, 1.5, 1.2, 3.1, 2.7],
    biasMatch: true,
    rescore: true,
    background: false,
    objectScale: 5,
    noobjectScale: 1,
    classScale: 1,
    coordScale: 1,
    thresh: 0.6,
    maxBoxes: 6,
    seen: 0,
    ...over,
  };
}

/**
 * Random activated region outputs (σ-like x, y, objectness and class values in (0, 1), raw tw, th) and truths:
 * image 0 holds a truth copied from a prediction (IoU ≈ 1: the ignore branch nearby), two truths of one size on
 * one cell with different classes (the later overwrites) and a truth at x = y = 1.0; image 1 fills every slot
 * (one at x = 1.0); image 2 (if any) has no truth; later images get random truths.
 */
function regionCase(a: RegionLossAttrs, batch: number, seed: number): RegionCase {
  const r = new Rng(seed);
  const per = 5 + a.classes;
  const hw = a.w * a.h;
  const outputs = a.n * per * hw;
  const output = new Float32Array(batch * outputs);
  for (let b = 0; b < batch; b++) {
    for (let n = 0; n < a.n; n++) {
      for (let e = 0; e < per; e++) {
        for (let loc = 0; loc < hw; loc++) {
          output[b * outputs + (n * per + e) * hw + loc] = e === 2 || e === 3 ? r.range(-1, 1) : r.range(0.02, 0.98);
        }
      }
    }
  }
  const randomBox = (): TruthBox => ({ x: r.range(0.01, 0.99), y: r.range(0.01, 0.99), w: r.range(0.05, 0.7), h: r.range(0.05, 0.7), cls: r.int(a.classes) });
  const boxes: TruthBox[][] = [];
  for (let b = 0; b < batch; b++) {
    const list: TruthBox[] = [];
    if (b === 0) {
      const p = { w: a.w, h: a.h, n: a.n, classes: a.classes, coords: 4, anchors: a.anchors };
      const pred = regionBox(output.subarray(0, outputs), p, 1, 2, 1);
      list.push({ ...pred, cls: 0 });
      const cx = (3 + 0.3) / a.w;
      const cy = (2 + 0.6) / a.h;
      list.push({ x: cx, y: cy, w: 0.3, h: 0.4, cls: 1 });
      list.push(randomBox());
      list.push({ x: cx + 0.4 / a.w, y: cy - 0.3 / a.h, w: 0.3, h: 0.4, cls: 2 });
      list.push({ x: 1.0, y: 1.0, w: 0.2, h: 0.3, cls: 3 % a.classes });
    } else if (b === 1) {
      for (let k = 0; k < a.maxBoxes; k++) list.push(k === 2 ? { x: 1.0, y: r.range(0.1, 0.9), w: 0.25, h: 0.5, cls: 1 } : randomBox());
    } else if (b !== 2) {
      for (let k = 0; k < 3; k++) list.push(randomBox());
    }
    boxes.push(list.slice(0, a.maxBoxes));
  }
  const truth = new Float32Array(batch * a.maxBoxes * 5);
  boxes.forEach((list, b) =>
    list.forEach((t, k) => truth.set([t.x, t.y, t.w, t.h, t.cls], (b * a.maxBoxes + k) * 5)),
  );
  // What the kernel reads back (float32 values).
  const used = boxes.map((list) => list.map((t) => ({ x: Math.fround(t.x), y: Math.fround(t.y), w: Math.fround(t.w), h: Math.fround(t.h), cls: t.cls })));
  return { a, batch, output, truth, boxes: used };
}

function regionRun(device: string, c: RegionCase): LossRun {
  return runOn(device, (o, t) => regionLoss(o, t, c.a), c.output, c.truth, c.batch);
}

/** Class deltas of slot (anchor n, cell i, j) of image b. */
function classDeltas(delta: Float32Array, a: RegionLossAttrs, b: number, n: number, i: number, j: number): number[] {
  const per = 5 + a.classes;
  const hw = a.w * a.h;
  const base = b * a.n * per * hw;
  return Array.from({ length: a.classes }, (_, c) => delta[base + (n * per + 5 + c) * hw + j * a.w + i]!);
}

const REGION_CASES: { name: string; attrs: Partial<RegionLossAttrs>; batch: number }[] = [
  { name: 'bias_match, rescore, seen 0 (prior pull), 5×4 grid', attrs: {}, batch: 3 },
  { name: 'no bias_match, no rescore, seen 12800 (no prior), thresh 0.3', attrs: { biasMatch: false, rescore: false, seen: PRIOR_SEEN_LIMIT, thresh: 0.3 }, batch: 3 },
  { name: 'background, seen 12799, 3×6 grid, 2 anchors', attrs: { background: true, seen: PRIOR_SEEN_LIMIT - 1, w: 3, h: 6, n: 2, anchors: [0.7, 1.1, 2.2, 1.6] }, batch: 4 },
  {
    name: '5 anchors on a 7×6 grid, 4 images (several thread blocks), no bias_match, seen 20000',
    attrs: { w: 7, h: 6, n: 5, classes: 3, maxBoxes: 8, biasMatch: false, seen: 20000, anchors: [0.5, 0.6, 1.2, 1.9, 2.5, 1.4, 3.6, 3.9, 5.2, 2.8] },
    batch: 4,
  },
];

for (const [index, rc] of REGION_CASES.entries()) {
  test(`region loss on ${DEVICE} equals the CPU kernel: ${rc.name}`, { skip }, () => {
    const c = regionCase(regionAttrs(rc.attrs), rc.batch, 101 + index);
    const cpu = regionRun('cpu', c);
    const dev = regionRun(DEVICE, c);
    assertMatches(dev, cpu);
    const truths = c.boxes.reduce((s, l) => s + l.length, 0);
    assert.equal(dev.stats[5], truths, 'stats[5] counts every truth, overwritten or not');
    assert.equal(dev.stats[7], 0, 'no bad class');
  });
}

test(`region loss on ${DEVICE}: of two truths on one slot the later one wins, and a truth at x = y = 1.0 lands in the last cell`, { skip }, () => {
  const a = regionAttrs({});
  const c = regionCase(a, 2, 5);
  const dev = regionRun(DEVICE, c);
  // Image 0: truths 1 (class 1) and 3 (class 2) share cell (3, 2) and their size, hence the anchor.
  const slots = Array.from({ length: a.n }, (_, n) => classDeltas(dev.delta, a, 0, n, 3, 2));
  const winners = slots.filter((d) => d[2]! > 0);
  assert.equal(winners.length, 1, 'exactly one anchor of cell (3, 2) is assigned to class 2');
  assert.ok(slots.every((d) => !(d[1]! > 0)), 'class 1 (the earlier truth) left no positive delta');
  // Image 0, truth 4 at (1.0, 1.0): the last cell (w−1, h−1) has an assigned slot for class 3.
  const last = Array.from({ length: a.n }, (_, n) => classDeltas(dev.delta, a, 0, n, a.w - 1, a.h - 1));
  assert.ok(last.some((d) => d[3]! > 0), 'a slot of the last cell is assigned to class 3');
});

test(`region loss on ${DEVICE}: a truth class outside 0..classes-1 throws the CPU kernel's error`, { skip }, () => {
  const a = regionAttrs({});
  const c = regionCase(a, 3, 9);
  const bad = Float32Array.from(c.truth);
  bad[(1 * a.maxBoxes + 4) * 5 + 4] = a.classes; // image 1, slot 4
  bad[(0 * a.maxBoxes + 1) * 5 + 4] = -1; // image 0, slot 1: the first in Darknet's order
  const messages = ['cpu', DEVICE].map((device) => {
    try {
      runOn(device, (o, t) => regionLoss(o, t, a), c.output, bad, c.batch);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  });
  assert.match(messages[0]!, /region loss: image 0, truth slot 1: class -1 is outside 0\.\.3/);
  assert.equal(messages[1], messages[0]);
});

// ---------------------------------------------------------------------------------------------------
// detection (YOLOv1)

interface DetectionCase {
  a: DetectionLossAttrs;
  batch: number;
  output: Float32Array;
  truth: Float32Array;
}

function detectionAttrs(over: Partial<DetectionLossAttrs>): DetectionLossAttrs {
  return {
    side: 4,
    n: 3,
    classes: 5,
    coords: 4,
    rescore: true,
    sqrt: true,
    forced: 0,
    random: false,
    objectScale: 1,
    noobjectScale: 0.5,
    classScale: 1,
    coordScale: 5,
    seen: 0,
    seed: 0,
    ...over,
  };
}

/** Cell 1 of image 0 is the RMSE-fallback cell: its truth overlaps none of its (tiny, far) predicted boxes. */
const RMSE_CELL = 1;

/** Random outputs and truths (about half the cells hold an object; small and large truths for `forced`). */
function detectionCase(a: DetectionLossAttrs, batch: number, seed: number): DetectionCase {
  const r = new Rng(seed);
  const cells = a.side * a.side;
  const outputs = detectionOutputs(a);
  const output = new Float32Array(batch * outputs);
  for (let k = 0; k < output.length; k++) output[k] = r.range(0.02, 0.98);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < cells; i++) {
      for (let j = 0; j < a.n; j++) {
        const o = b * outputs + cells * (a.classes + a.n) + (i * a.n + j) * 4;
        if (b === 0 && i === RMSE_CELL) output.set([0.05 + 0.02 * j, 0.05, 0.01, 0.01], o);
        else output.set([r.range(0, 1), r.range(0, 1), r.range(0.1, 0.9), r.range(0.1, 0.9)], o);
      }
    }
  }
  const tPer = 5 + a.classes;
  const truth = new Float32Array(batch * cells * tPer);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < cells; i++) {
      const rmse = b === 0 && i === RMSE_CELL;
      if (!rmse && r.uniform() < 0.5) continue;
      const t = (b * cells + i) * tPer;
      truth[t] = 1;
      truth[t + 1 + r.int(a.classes)] = 1;
      const box = rmse ? [0.9, 0.9, 0.1, 0.1] : [r.range(0, 1), r.range(0, 1), r.range(0.05, 0.9), r.range(0.05, 0.9)];
      truth.set(box, t + 1 + a.classes);
    }
  }
  return { a, batch, output, truth };
}

function detectionRun(device: string, c: DetectionCase): LossRun {
  return runOn(device, (o, t) => detectionLoss(o, t, c.a), c.output, c.truth, c.batch);
}

/** The box of each object cell whose coordinates got a delta (-1 for cells without). */
function responsibleBoxes(delta: Float32Array, a: DetectionLossAttrs, batch: number): number[] {
  const cells = a.side * a.side;
  const outputs = detectionOutputs(a);
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < cells; i++) {
      let found = -1;
      for (let j = 0; j < a.n; j++) {
        const o = b * outputs + cells * (a.classes + a.n) + (i * a.n + j) * 4;
        if ([0, 1, 2, 3].some((e) => delta[o + e] !== 0)) found = j;
      }
      out.push(found);
    }
  }
  return out;
}

const DETECTION_CASES: { name: string; attrs: Partial<DetectionLossAttrs>; batch: number }[] = [
  { name: 'sqrt, rescore', attrs: {}, batch: 3 },
  { name: 'no sqrt, no rescore', attrs: { sqrt: false, rescore: false }, batch: 3 },
  { name: 'forced', attrs: { forced: 1 }, batch: 2 },
  { name: 'random below 64000 seen', attrs: { random: true, seen: 100, seed: 12345 }, batch: 3 },
  { name: 'random at 64000 seen (off)', attrs: { random: true, seen: RANDOM_SEEN_LIMIT, seed: 12345 }, batch: 2 },
  { name: 'side 7, 2 boxes, 6 images (several thread blocks)', attrs: { side: 7, n: 2, classes: 3 }, batch: 6 },
];

for (const [index, dc] of DETECTION_CASES.entries()) {
  test(`detection loss on ${DEVICE} equals the CPU kernel: ${dc.name}`, { skip }, () => {
    const c = detectionCase(detectionAttrs(dc.attrs), dc.batch, 17 + index);
    const cpu = detectionRun('cpu', c);
    const dev = detectionRun(DEVICE, c);
    assertMatches(dev, cpu);
    assert.equal(dev.stats[7], 0);
  });
}

test(`detection loss on ${DEVICE}: the RMSE fallback picks the nearest box when no IoU is positive`, { skip }, () => {
  const a = detectionAttrs({});
  const c = detectionCase(a, 1, 3);
  const boxes = responsibleBoxes(detectionRun(DEVICE, c).delta, a, 1);
  // Boxes of cell 1 sit at x = 0.05 + 0.02·j: the last one is nearest to the truth at 0.9.
  assert.equal(boxes[RMSE_CELL], a.n - 1);
});

test(`detection loss on ${DEVICE}: random picks randomBoxChoice(seed, seen, cell) for every object cell, seeds taken as int32 like the CPU's`, { skip }, () => {
  for (const seed of [0x9abcdef, -12345, 3_000_000_000]) {
    const a = detectionAttrs({ random: true, seen: 777, seed });
    const batch = 3;
    const c = detectionCase(a, batch, 21);
    const boxes = responsibleBoxes(detectionRun(DEVICE, c).delta, a, batch);
    const cells = a.side * a.side;
    const tPer = 5 + a.classes;
    let objects = 0;
    boxes.forEach((j, cell) => {
      if (c.truth[cell * tPer] === 0) {
        assert.equal(j, -1, `cell ${cell} holds no object`);
      } else {
        objects++;
        assert.equal(j, randomBoxChoice(a.seed, a.seen, cell, a.n), `seed ${seed}, cell ${cell} (image ${Math.trunc(cell / cells)})`);
      }
    });
    assert.ok(objects > 10);
  }
});
