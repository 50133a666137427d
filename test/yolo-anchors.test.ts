import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Rng } from '../src/tensor/random.js';
import { averageIou, bestAnchor, convertAnchors, formatAnchors, kmeansAnchors, parseAnchors, type Size } from '../src/yolo/anchors.js';

// Six planted sizes (pixels), well apart in IoU terms; 80 boxes around each with ±6% multiplicative
// noise on w and h independently.
const PLANTED: Size[] = [
  { w: 12, h: 16 },
  { w: 30, h: 60 },
  { w: 64, h: 40 },
  { w: 110, h: 95 },
  { w: 160, h: 200 },
  { w: 360, h: 320 },
];

function syntheticBoxes(seed: number): Size[] {
  const rng = new Rng(seed);
  const out: Size[] = [];
  for (const c of PLANTED) {
    for (let i = 0; i < 80; i++) out.push({ w: c.w * rng.range(0.94, 1.06), h: c.h * rng.range(0.94, 1.06) });
  }
  return rng.shuffle(out);
}

test('k-means++ with 1 − IoU recovers six planted clusters (within 3%), sorted by area, avg IoU > 0.9', () => {
  const boxes = syntheticBoxes(11);
  const rng = new Rng(5);
  const r = kmeansAnchors(boxes, { k: 6, random: () => rng.uniform(), restarts: 3 });
  assert.equal(r.anchors.length, 6);
  // PLANTED is already in ascending area order
  r.anchors.forEach((a, i) => {
    const p = PLANTED[i]!;
    assert.ok(Math.abs(a.w / p.w - 1) < 0.03 && Math.abs(a.h / p.h - 1) < 0.03, `anchor ${i} ${a.w.toFixed(1)}x${a.h.toFixed(1)} vs planted ${p.w}x${p.h}`);
  });
  for (let i = 1; i < 6; i++) assert.ok(r.anchors[i]!.w * r.anchors[i]!.h >= r.anchors[i - 1]!.w * r.anchors[i - 1]!.h);
  assert.ok(r.avgIou > 0.9, `avg IoU ${r.avgIou}`);
  assert.ok(Math.abs(r.avgIou - averageIou(boxes, r.anchors)) < 1e-15);
  assert.ok(r.converged);
  // every cluster holds its 80 boxes
  const counts = new Array<number>(6).fill(0);
  for (const a of r.assignments) counts[a]!++;
  assert.deepEqual(counts, [80, 80, 80, 80, 80, 80]);
});

test('kmeansAnchors is reproducible: same seed, same anchors and assignments; median centres also recover', () => {
  const boxes = syntheticBoxes(3);
  const run = (seed: number, center: 'mean' | 'median' = 'mean') => {
    const rng = new Rng(seed);
    return kmeansAnchors(boxes, { k: 6, random: () => rng.uniform(), center, restarts: 2 });
  };
  assert.deepEqual(run(9), run(9));
  const med = run(9, 'median');
  med.anchors.forEach((a, i) => assert.ok(Math.abs(a.w / PLANTED[i]!.w - 1) < 0.03, `median anchor ${i}`));
});

test('fewer anchors than clusters: k = 1 gives one anchor and a lower average IoU than k = 6', () => {
  const boxes = syntheticBoxes(4);
  const rng = new Rng(1);
  const one = kmeansAnchors(boxes, { k: 1, random: () => rng.uniform() });
  const six = kmeansAnchors(boxes, { k: 6, random: () => rng.uniform(), restarts: 3 });
  assert.equal(one.anchors.length, 1);
  assert.ok(one.avgIou < six.avgIou);
});

test('kmeansAnchors handles duplicate boxes (fewer distinct sizes than k) and rejects bad input', () => {
  const boxes: Size[] = [
    { w: 1, h: 1 },
    { w: 1, h: 1 },
    { w: 4, h: 2 },
  ];
  const rng = new Rng(2);
  const r = kmeansAnchors(boxes, { k: 3, random: () => rng.uniform() });
  assert.equal(r.anchors.length, 3);
  assert.equal(r.avgIou, 1);
  assert.throws(() => kmeansAnchors(boxes, { k: 4, random: () => 0.5 }), /need at least k = 4 boxes, got 3/);
  assert.throws(() => kmeansAnchors([{ w: 1, h: 0 }], { k: 1, random: () => 0.5 }), /box 0 must have finite positive w and h, got 1x0/);
  assert.throws(() => kmeansAnchors(boxes, { k: 2, random: () => 1 }), /random\(\) must return a number in \[0, 1\), got 1/);
});

test('bestAnchor picks the highest aligned IoU', () => {
  // (10,10) vs (10,20): 100/200 = 0.5; vs (12,12): 100/144 = 0.694
  const b = bestAnchor({ w: 10, h: 10 }, [
    { w: 10, h: 20 },
    { w: 12, h: 12 },
  ]);
  assert.equal(b.index, 1);
  assert.ok(Math.abs(b.iou - 100 / 144) < 1e-15);
});

test('anchor units: relative ↔ pixels ↔ grid cells (stride 32)', () => {
  // relative (0.125, 0.25) at 416x416 → pixels (52, 104) → grid (1.625, 3.25)
  const g = { netW: 416, netH: 416 };
  assert.deepEqual(convertAnchors([{ w: 0.125, h: 0.25 }], 'relative', 'pixels', g), [{ w: 52, h: 104 }]);
  assert.deepEqual(convertAnchors([{ w: 0.125, h: 0.25 }], 'relative', 'grid', g), [{ w: 1.625, h: 3.25 }]);
  assert.deepEqual(convertAnchors([{ w: 1.625, h: 3.25 }], 'grid', 'relative', g), [{ w: 0.125, h: 0.25 }]);
  // a non-square net: 64 px wide of 128 is 0.5, with stride 16 → 4 cells
  assert.deepEqual(convertAnchors([{ w: 64, h: 64 }], 'pixels', 'relative', { netW: 128, netH: 256 }), [{ w: 0.5, h: 0.25 }]);
  assert.deepEqual(convertAnchors([{ w: 64, h: 64 }], 'pixels', 'grid', { netW: 128, netH: 256, stride: 16 }), [{ w: 4, h: 4 }]);
});

test('formatAnchors / parseAnchors round-trip the cfg notation', () => {
  const text = '1.08,1.19, 3.42,4.41, 6.63,11.38';
  const a = parseAnchors(text);
  assert.deepEqual(a[1], { w: 3.42, h: 4.41 });
  assert.equal(formatAnchors(a), text);
  assert.throws(() => parseAnchors('1,2,3'), /odd number of values \(3\)/);
  assert.throws(() => parseAnchors('1,x'), /"x" is not a number/);
});
