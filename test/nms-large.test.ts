// NMS over many candidates: from 256 boxes on, nmsSort and nmsObj compare only boxes a grid finds
// overlapping. Checked against Darknet's all-pairs loop (written out here) on random sets with
// clusters, duplicates, degenerate and non-finite boxes, zero probabilities and zero objectness: the
// same array order and the same probabilities, bit for bit (a box with a NaN edge overlaps everything, as
// in Darknet). And 16,000 candidates of a tall input, which took 20 s (200,000 would take an hour, seen
// as a hang by the fuzzer), now take about a second.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Rng } from '../src/tensor/random.js';
import { boxIou } from '../src/yolo/box.js';
import { cloneDetections, type Detection } from '../src/yolo/decode.js';
import { nmsObj, nmsSort } from '../src/yolo/nms.js';

const f = Math.fround;

/** Darknet's do_nms_sort / do_nms_obj loops as box.c writes them (stable sorts, all pairs). */
function referenceNms(dets: Detection[], classes: number, thresh: number, obj: boolean): Detection[] {
  const t = f(thresh);
  let k = dets.length - 1;
  for (let i = 0; i <= k; i++) {
    if (dets[i]!.objectness === 0) {
      const s = dets[i]!;
      dets[i] = dets[k]!;
      dets[k] = s;
      k--;
      i--;
    }
  }
  const total = k + 1;
  const sortBy = (key: (d: Detection) => number): void => {
    const head = dets.slice(0, total).sort((a, b) => (key(a) > key(b) ? -1 : key(a) < key(b) ? 1 : 0));
    for (let i = 0; i < total; i++) dets[i] = head[i]!;
  };
  if (obj) {
    sortBy((d) => d.objectness);
    for (let i = 0; i < total; i++) {
      if (dets[i]!.objectness === 0) continue;
      for (let j = i + 1; j < total; j++) {
        if (dets[j]!.objectness === 0) continue;
        if (boxIou(dets[i]!.bbox, dets[j]!.bbox) > t) {
          dets[j]!.objectness = 0;
          dets[j]!.prob.fill(0);
        }
      }
    }
    return dets;
  }
  for (let c = 0; c < classes; c++) {
    sortBy((d) => d.prob[c]!);
    for (let i = 0; i < total; i++) {
      if (dets[i]!.prob[c] === 0) continue;
      for (let j = i + 1; j < total; j++) if (boxIou(dets[i]!.bbox, dets[j]!.bbox) > t) dets[j]!.prob[c] = 0;
    }
  }
  return dets;
}

function randomDetections(rng: Rng, n: number, classes: number): Detection[] {
  const centres = Array.from({ length: 1 + rng.int(30) }, () => [rng.uniform(), rng.uniform()] as const);
  return Array.from({ length: n }, (_, index) => {
    const [cx, cy] = centres[rng.int(centres.length)]!;
    const kind = rng.int(40);
    const bbox =
      kind === 0
        ? { x: Number.NaN, y: 0.5, w: 0.1, h: 0.1 }
        : kind === 1
          ? { x: cx, y: cy, w: 0, h: 0.1 }
          : kind === 2
            ? { x: 0.5, y: 0.5, w: 3, h: 3 }
            : { x: f(cx + rng.range(-0.05, 0.05)), y: f(cy + rng.range(-0.05, 0.05)), w: f(rng.range(0.001, 0.2)), h: f(rng.range(0.001, 0.2)) };
    const prob = Array.from({ length: classes }, () => (rng.int(4) === 0 ? 0 : f(rng.uniform())));
    return { index, bbox, objectness: rng.int(10) === 0 ? 0 : f(rng.uniform()), prob };
  });
}

test('nmsSort and nmsObj on 300..1200 random boxes equal the all-pairs loop bit for bit (order and probabilities)', () => {
  const rng = new Rng(11);
  for (let round = 0; round < 10; round++) {
    const n = 300 + rng.int(900);
    const classes = 1 + rng.int(3);
    const thresh = [0, 0.3, 0.45, 0.7, 1][round % 5]!;
    const dets = randomDetections(rng, n, classes);
    for (const obj of [false, true]) {
      const mine = cloneDetections(dets);
      const ref = cloneDetections(dets);
      if (obj) nmsObj(mine, classes, thresh);
      else nmsSort(mine, classes, thresh);
      referenceNms(ref, classes, thresh, obj);
      assert.deepEqual(
        mine.map((d) => [d.index, d.objectness, ...d.prob]),
        ref.map((d) => [d.index, d.objectness, ...d.prob]),
        `round ${round}: n ${n}, ${classes} classes, thresh ${thresh}, ${obj ? 'nmsObj' : 'nmsSort'}`,
      );
    }
  }
});

test('nmsSort on 16,000 boxes spread over a tall grid takes under 3 s (the all-pairs loop took 20 s)', () => {
  const rng = new Rng(3);
  const dets: Detection[] = [];
  for (let i = 0; i < 16000; i++) {
    const cell = i >> 1;
    dets.push({ index: i, bbox: { x: f(((cell % 8) + 0.5) / 8), y: f((Math.floor(cell / 8) + 0.5) / 1000), w: f(rng.range(0.05, 0.3)), h: f(rng.range(0.0005, 0.003)) }, objectness: f(rng.uniform()), prob: [f(rng.uniform()), f(rng.uniform())] });
  }
  const t0 = performance.now();
  nmsSort(dets, 2, 0.45);
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `${ms.toFixed(0)} ms`);
});
