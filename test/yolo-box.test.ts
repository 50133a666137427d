import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  boxIntersection,
  boxIou,
  boxIouF64,
  boxRmse,
  boxUnion,
  cornersIou,
  correctRegionBox,
  correctRegionBoxes,
  fromCorners,
  letterboxRelativeBox,
  letterboxSize,
  overlap,
  pixelsToRelative,
  relativeToPixels,
  toCorners,
  toPixelCorners,
  toVocCorners,
  whIou,
  type Box,
} from '../src/yolo/box.js';

const f = Math.fround;

test('overlap: signed 1-D overlap, negative when apart', () => {
  // [0,2] and [1,4]: overlap 1; [0,1] and [3,5]: gap of 2 → -2
  assert.equal(overlap(1, 2, 2.5, 3), 1);
  assert.equal(overlap(0.5, 1, 4, 2), -2);
  // one inside the other: the inner width
  assert.equal(overlap(5, 10, 5, 2), 2);
});

test('boxIntersection / boxUnion / boxIou on a hand-worked pair', () => {
  // a = [0,2]x[0,2] (area 4), b = [1,3]x[1,4] (area 6): inter 1x1 = 1, union 4+6-1 = 9
  const a: Box = { x: 1, y: 1, w: 2, h: 2 };
  const b: Box = { x: 2, y: 2.5, w: 2, h: 3 };
  assert.equal(boxIntersection(a, b), 1);
  assert.equal(boxUnion(a, b), 9);
  assert.equal(boxIou(a, b), f(1 / 9));
  // touching along one edge: overlap 0 is not < 0, so intersection 0 (not "apart") and IoU 0
  assert.equal(boxIntersection(a, { x: 3, y: 1, w: 2, h: 2 }), 0);
  assert.equal(boxIou(a, { x: 3, y: 1, w: 2, h: 2 }), 0);
  assert.equal(boxIou(a, { x: 10, y: 10, w: 1, h: 1 }), 0);
});

test('boxIou rounds every step to float32 like Darknet (differs from the double IoU in the last bits)', () => {
  // 0.1 is not a float: the float path works on fround(0.1) etc. The result must be a float32 value
  // and equal the step-by-step float computation written out here.
  const a: Box = { x: 0.1, y: 0.2, w: 0.3, h: 0.7 };
  const b: Box = { x: 0.15, y: 0.1, w: 0.33, h: 0.41 };
  const fa = { x: f(0.1), y: f(0.2), w: f(0.3), h: f(0.7) };
  const fb = { x: f(0.15), y: f(0.1), w: f(0.33), h: f(0.41) };
  const ow = f(Math.min(f(fa.x + f(fa.w / 2)), f(fb.x + f(fb.w / 2))) - Math.max(f(fa.x - f(fa.w / 2)), f(fb.x - f(fb.w / 2))));
  const oh = f(Math.min(f(fa.y + f(fa.h / 2)), f(fb.y + f(fb.h / 2))) - Math.max(f(fa.y - f(fa.h / 2)), f(fb.y - f(fb.h / 2))));
  const inter = f(ow * oh);
  const union = f(f(f(fa.w * fa.h) + f(fb.w * fb.h)) - inter);
  const want = f(inter / union);
  assert.equal(boxIou(fa, fb), want);
  assert.equal(Math.fround(boxIou(a, b)), boxIou(a, b), 'result is a float32 value');
  assert.ok(Math.abs(boxIouF64(a, b) - want) < 1e-6);
});

// Darknet's float IoU is not clamped: the edges x ± w/2 are rounded to float, an absolute error of about
// ulp(|x| + w) on a length w, so a box against itself gives 1 ± a few ulp(|x| + w)/w (1.0000001 with
// w = 0.01 at y = -0.0078). The bound below is that error, relative to the smaller side.
function floatIouTol(a: Box, b: Box): number {
  const reach = Math.max(Math.abs(a.x), Math.abs(a.y), Math.abs(b.x), Math.abs(b.y)) + Math.max(a.w, a.h, b.w, b.h);
  return (8 * reach * 2 ** -24) / Math.min(a.w, a.h, b.w, b.h);
}

test('boxIou is symmetric, ~within [0,1], ~1 for identical boxes, and close to the double IoU (property)', () => {
  const arbBox = fc.record({
    x: fc.float({ min: -2, max: 2, noNaN: true }),
    y: fc.float({ min: -2, max: 2, noNaN: true }),
    w: fc.float({ min: Math.fround(0.01), max: 3, noNaN: true }),
    h: fc.float({ min: Math.fround(0.01), max: 3, noNaN: true }),
  });
  fc.assert(
    fc.property(arbBox, arbBox, (a, b) => {
      const i = boxIou(a, b);
      const tol = floatIouTol(a, b);
      assert.equal(i, boxIou(b, a));
      assert.ok(i >= 0 && i <= 1 + tol, `iou ${i}`);
      assert.ok(Math.abs(i - boxIouF64(a, b)) <= tol, `float ${i} vs double ${boxIouF64(a, b)}`);
      assert.ok(Math.abs(boxIou(a, a) - 1) <= tol, `self iou ${boxIou(a, a)}`);
      assert.ok(Math.abs(cornersIou(toCorners(a), toCorners(b)) - boxIouF64(a, b)) < 1e-12);
    }),
    { numRuns: 1000, seed: 42 },
  );
});

test('boxRmse: sqrt of the summed squared differences, as a float', () => {
  // differences (3, 4, 0, 12) → sqrt(9 + 16 + 144) = 13
  assert.equal(boxRmse({ x: 3, y: 4, w: 1, h: 12 }, { x: 0, y: 0, w: 1, h: 0 }), 13);
  assert.equal(boxRmse({ x: 0.5, y: 0.5, w: 0.2, h: 0.2 }, { x: 0.5, y: 0.5, w: 0.2, h: 0.2 }), 0);
});

test('whIou: sizes aligned at the origin', () => {
  // (2,3) vs (4,1): inter 2*1 = 2, union 6 + 4 - 2 = 8 → 0.25
  assert.equal(whIou(2, 3, 4, 1), 0.25);
  assert.equal(whIou(2, 3, 2, 3), 1);
  // nested: (1,1) in (2,2) → 1/4
  assert.equal(whIou(1, 1, 2, 2), 0.25);
});

test('corner / pixel conversions round-trip', () => {
  const b: Box = { x: 0.5, y: 0.25, w: 0.5, h: 0.25 };
  assert.deepEqual(toCorners(b), { x1: 0.25, y1: 0.125, x2: 0.75, y2: 0.375 });
  assert.deepEqual(fromCorners(toCorners(b)), b);
  assert.deepEqual(relativeToPixels(b, 200, 80), { x: 100, y: 20, w: 100, h: 20 });
  assert.deepEqual(pixelsToRelative(relativeToPixels(b, 200, 80), 200, 80), b);
  assert.throws(() => pixelsToRelative(b, 0, 10), /image size must be positive, got 0x10/);
});

test('toPixelCorners truncates toward zero and clips to the image like draw_detections', () => {
  // x edges 0.125·100 = 12.5 → 12 and 0.625·100 = 62.5 → 62; y: (-0.125)·48 = -6 → 0 after clipping, 0.5·48 = 24
  assert.deepEqual(toPixelCorners({ x: 0.375, y: 0.1875, w: 0.5, h: 0.625 }, 100, 48), { x1: 12, y1: 0, x2: 62, y2: 24 });
  // truncation, not rounding: (0.3 − 0.2)·100 is 9.999999999999998 in double → 9
  assert.equal(toPixelCorners({ x: 0.3, y: 0.5, w: 0.4, h: 0.2 }, 100, 100).x1, 9);
  // right edge beyond the image → imageW-1; 0.333·10 = 3.33 → 3
  assert.deepEqual(toPixelCorners({ x: 0.9, y: 0.5, w: 0.4, h: 0.2 }, 10, 10), { x1: 7, y1: 4, x2: 9, y2: 6 });
  assert.deepEqual(toPixelCorners({ x: 0.333, y: 0.5, w: 0, h: 0 }, 10, 10).x1, 3);
});

test('toVocCorners: 1-based corners clipped to [1, W] x [1, H]', () => {
  // pixel box centre (50, 20) size (40, 60): x 30..70 → 31..71; y -10..50 → 1 (clipped)..51 → clipped to 40
  assert.deepEqual(toVocCorners({ x: 50, y: 20, w: 40, h: 60 }, 100, 40), { x1: 31, y1: 1, x2: 71, y2: 40 });
});

test('letterboxSize follows Darknet (SEMANTICS.md 9): dog.jpg 768x576 at 96x96 and 128x64', () => {
  assert.deepEqual(letterboxSize(768, 576, 96, 96), { newW: 96, newH: 72, dx: 0, dy: 12 });
  assert.deepEqual(letterboxSize(768, 576, 128, 64), { newW: 85, newH: 64, dx: 21, dy: 0 });
  assert.deepEqual(letterboxSize(96, 96, 96, 96), { newW: 96, newH: 96, dx: 0, dy: 0 });
  assert.throws(() => letterboxSize(0, 10, 96, 96), /letterboxSize\(image\): sizes must be positive integers, got 0x10/);
});

test('correctRegionBox: identity when image = net; undoes the letterbox otherwise', () => {
  const b: Box = { x: f(0.3), y: f(0.7), w: f(0.2), h: f(0.1) };
  assert.deepEqual(correctRegionBox(b, 96, 96, 96, 96, true), b);
  // dog.jpg at 96x96: image occupies rows 12..84 (72 rows). y_img = (y − 12/96)/(72/96) = (y − 0.125)/0.75
  // y = 0.5 → 0.5; y = 0.125 → 0; h = 0.75 → 1. x is unchanged.
  const c = correctRegionBox({ x: 0.25, y: 0.125, w: 0.5, h: 0.75 }, 768, 576, 96, 96, true);
  assert.deepEqual(c, { x: 0.25, y: 0, w: 0.5, h: 1 });
  const px = correctRegionBox({ x: 0.25, y: 0.5, w: 0.5, h: 0.75 }, 768, 576, 96, 96, false);
  assert.deepEqual(px, { x: 192, y: 288, w: 384, h: 576 });
  assert.equal(correctRegionBoxes([b, c], 96, 96, 96, 96, true).length, 2);
});

test('letterboxRelativeBox is the inverse of correctRegionBox', () => {
  const img: Box = { x: 0.4, y: 0.3, w: 0.2, h: 0.5 };
  const net = letterboxRelativeBox(img, 768, 576, 128, 64);
  const back = correctRegionBox(net, 768, 576, 128, 64, true);
  for (const k of ['x', 'y', 'w', 'h'] as const) assert.ok(Math.abs(back[k] - img[k]) < 1e-6, `${k}: ${back[k]} vs ${img[k]}`);
  // the image is 85 of 128 columns wide at x offset 21: x_net = 0.4·85/128 + 21.5/128
  assert.ok(Math.abs(net.x - (0.4 * 85) / 128 - 21.5 / 128) < 1e-12);
});
