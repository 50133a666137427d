import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../src/tensor/random.js';
import { augmentSample, correctBoxes, type AugmentMode, type AugmentOptions } from '../src/yolo/data/augment.js';
import { distortImage, randomScale } from '../src/yolo/data/color.js';
import { makeImage } from '../src/yolo/data/image.js';
import { multiScaleSize } from '../src/yolo/data/multiscale.js';
import { fillDetectionTruth, fillRegionTruth, readRegionTruth } from '../src/yolo/data/truth.js';
import { colourBounds, rectImage } from './yolo-data-fixtures.js';

const scene = rectImage(120, 90, [
  { x0: 20, y0: 15, x1: 60, y1: 50, rgb: [1, 0, 0], cls: 0 },
  { x0: 72, y0: 40, x1: 110, y1: 80, rgb: [0, 1, 0], cls: 1 },
]);

const noColour = { hue: 0, saturation: 1, exposure: 1 };

describe('augmentation', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    for (const mode of ['detection', 'region'] as const) {
      const opts: AugmentOptions = { width: 48, height: 40, mode };
      const a = augmentSample(scene.image, scene.boxes, opts, new Rng(11));
      const b = augmentSample(scene.image, scene.boxes, opts, new Rng(11));
      const c = augmentSample(scene.image, scene.boxes, opts, new Rng(12));
      assert.deepEqual(a.image.data, b.image.data, mode);
      assert.deepEqual(a.boxes, b.boxes, mode);
      assert.notDeepEqual(a.image.data, c.image.data, mode);
    }
  });

  for (const mode of ['detection', 'region'] as AugmentMode[]) {
    it(`${mode}: each drawn rectangle ends where its transformed label says (±1.5 px), over 40 seeds`, () => {
      const W = 80;
      const H = 64;
      const flips = new Set<boolean>();
      let checked = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const r = augmentSample(scene.image, scene.boxes, { width: W, height: H, mode, jitter: 0.3, ...noColour }, new Rng(seed));
        flips.add(r.transform.flip);
        assert.deepEqual(r.image.width * r.image.height, W * H);
        for (const cls of [0, 1]) {
          const px = colourBounds(r.image, cls); // red is channel 0, green channel 1
          const label = r.boxes.find((b) => b.cls === cls);
          if (label === undefined) {
            assert.ok(px === null || px.count < 8, `seed ${seed}: class ${cls} dropped but ${px?.count} pixels visible`);
            continue;
          }
          assert.ok(px !== null, `seed ${seed}: class ${cls} labelled but not visible`);
          const edges = [(label.x - label.w / 2) * W, (label.y - label.h / 2) * H, (label.x + label.w / 2) * W, (label.y + label.h / 2) * H];
          const seen = [px.x0, px.y0, px.x1, px.y1];
          edges.forEach((e, k) => assert.ok(Math.abs(e - seen[k]!) <= 1.5, `seed ${seed} class ${cls} edge ${k}: label ${e.toFixed(2)} vs pixels ${seen[k]}`));
          checked++;
        }
      }
      assert.deepEqual([...flips].sort(), [false, true], 'both mirrored and plain samples occur');
      assert.ok(checked >= 60, `only ${checked} boxes checked`);
    });
  }

  it('never mirrors with flip: false, and letterbox/resize modes use no random numbers', () => {
    for (let seed = 1; seed <= 20; seed++) {
      assert.equal(augmentSample(scene.image, scene.boxes, { width: 32, height: 32, mode: 'detection', flip: false }, new Rng(seed)).transform.flip, false);
    }
    for (const mode of ['letterbox', 'resize'] as const) {
      const rng = new Rng(5);
      const before = rng.state();
      const r = augmentSample(scene.image, scene.boxes, { width: 64, height: 64, mode }, rng);
      assert.deepEqual(rng.state(), before);
      assert.equal(r.distortion, null);
      assert.deepEqual(r.boxes.map((b) => b.cls), [0, 1], 'box order kept');
    }
  });

  it('letterbox mode maps boxes into the padded frame', () => {
    const r = augmentSample(scene.image, scene.boxes, { width: 64, height: 64, mode: 'letterbox' }, new Rng(1));
    // 120x90 → 64x48 at y = 8
    const b = r.boxes[0]!;
    assert.ok(Math.abs(b.x - scene.boxes[0]!.x) < 1e-12);
    assert.ok(Math.abs(b.y - (scene.boxes[0]!.y * 48 + 8) / 64) < 1e-12);
    assert.ok(Math.abs(b.h - (scene.boxes[0]!.h * 48) / 64) < 1e-12);
  });
});

describe('correct_boxes', () => {
  const box = { cls: 2, x: 0.2, y: 0.5, w: 0.2, h: 0.4 };

  it('scales, shifts, mirrors (left = 1 − right) and clips', () => {
    const [m] = correctBoxes([box], { sx: 1, sy: 1, dx: 0, dy: 0, flip: true }, 0.001);
    assert.ok(Math.abs(m!.x - 0.8) < 1e-12 && Math.abs(m!.w - 0.2) < 1e-12 && m!.cls === 2);
    const [s] = correctBoxes([box], { sx: 2, sy: 0.5, dx: 0.1, dy: -0.25, flip: false }, 0.001);
    // x edges 0.1..0.3 → 0.1..0.5; y edges 0.3..0.7 → 0.4..0.6
    assert.ok(Math.abs(s!.x - 0.3) < 1e-12 && Math.abs(s!.w - 0.4) < 1e-12);
    assert.ok(Math.abs(s!.y - 0.5) < 1e-12 && Math.abs(s!.h - 0.2) < 1e-12);
    const [c] = correctBoxes([box], { sx: 1, sy: 1, dx: 0.2, dy: 0, flip: false }, 0.001);
    // x edges −0.1..0.1 → clipped to 0..0.1
    assert.ok(Math.abs(c!.x - 0.05) < 1e-12 && Math.abs(c!.w - 0.1) < 1e-12);
  });

  it('drops boxes that become narrower than the minimum or leave the image', () => {
    assert.equal(correctBoxes([box], { sx: 1, sy: 1, dx: 0.295, dy: 0, flip: false }, 0.01).length, 0);
    assert.equal(correctBoxes([box], { sx: 1, sy: 1, dx: 0.295, dy: 0, flip: false }, 0.001).length, 1);
    assert.equal(correctBoxes([box], { sx: 1, sy: 1, dx: -0.9, dy: 0, flip: false }, 0.001).length, 0);
  });
});

describe('colour distortion', () => {
  const pixel = (r: number, g: number, b: number) => {
    const im = makeImage(1, 1, 3);
    im.data.set([r, g, b]);
    return im;
  };
  const near = (got: Float32Array, want: number[], what: string): void =>
    want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6, `${what}: channel ${i} ${got[i]} vs ${v}`));

  it('shifts hue with wrap-around, scales saturation and value, clamps to [0, 1]', () => {
    let im = pixel(1, 0, 0);
    distortImage(im, { hue: 1 / 3, saturation: 1, exposure: 1 });
    near(im.data, [0, 1, 0], 'red + 1/3 turn');
    im = pixel(1, 0, 0);
    distortImage(im, { hue: -0.1, saturation: 1, exposure: 1 });
    near(im.data, [1, 0, 0.6], 'red − 0.1 turn wraps to 0.9');
    im = pixel(1, 0.5, 0.5);
    distortImage(im, { hue: 0, saturation: 0.5, exposure: 1 });
    near(im.data, [1, 0.75, 0.75], 'saturation ×0.5');
    im = pixel(1, 0, 0);
    distortImage(im, { hue: 0, saturation: 1, exposure: 0.5 });
    near(im.data, [0.5, 0, 0], 'exposure ×0.5');
    im = pixel(0.8, 0.2, 0.2);
    distortImage(im, { hue: 0, saturation: 2, exposure: 1.5 });
    near(im.data, [1, 0, 0], 'over-saturated and over-exposed, clamped');
    im = pixel(0.4, 0.4, 0.4);
    distortImage(im, { hue: 0.3, saturation: 1.5, exposure: 1 });
    near(im.data, [0.4, 0.4, 0.4], 'grey has no hue');
  });

  it('rand_scale stays within [1/s, s] and goes both ways', () => {
    const rng = new Rng(3);
    let below = 0;
    let above = 0;
    for (let i = 0; i < 400; i++) {
      const v = randomScale(rng, 1.5);
      assert.ok(v >= 1 / 1.5 - 1e-12 && v <= 1.5);
      if (v < 1) below++;
      else above++;
    }
    assert.ok(below > 150 && above > 150, `${below} below, ${above} above`);
  });
});

describe('multi-scale sizes', () => {
  it('picks multiples of 32 in [320, 608], fixed for 10 batches, deterministic per seed, 608 at the end', () => {
    const seen = new Set<number>();
    for (let interval = 0; interval < 60; interval++) {
      const s = multiScaleSize(interval * 10, { seed: 9 });
      assert.ok(s % 32 === 0 && s >= 320 && s <= 608, String(s));
      for (let k = 1; k < 10; k++) assert.equal(multiScaleSize(interval * 10 + k, { seed: 9 }), s);
      assert.equal(multiScaleSize(interval * 10, { seed: 9 }), s);
      seen.add(s);
    }
    assert.ok(seen.size >= 8, `only ${seen.size} distinct sizes`);
    const a = Array.from({ length: 20 }, (_, i) => multiScaleSize(i * 10, { seed: 1 }));
    const b = Array.from({ length: 20 }, (_, i) => multiScaleSize(i * 10, { seed: 2 }));
    assert.notDeepEqual(a, b);
    assert.equal(multiScaleSize(9850, { seed: 1, maxBatches: 10000 }), 608);
    assert.equal(multiScaleSize(7, { seed: 1, min: 96, max: 96 }), 96);
  });
});

describe('truth layouts', () => {
  const boxes = [
    { cls: 3, x: 0.3, y: 0.4, w: 0.2, h: 0.1 },
    { cls: 1, x: 0.32, y: 0.41, w: 0.5, h: 0.5 },
    { cls: 0, x: 0.9, y: 0.9, w: 0.1, h: 0.1 },
  ];

  it('region: x, y, w, h, class per slot, zero-filled, capped at max boxes', () => {
    const t = new Float32Array(2 * 5 + 3).fill(7);
    assert.equal(fillRegionTruth(boxes, 2, t, 3), 2);
    assert.deepEqual([...t.subarray(0, 3)], [7, 7, 7]);
    assert.deepEqual([...t.subarray(3)], [0.3, 0.4, 0.2, 0.1, 3, 0.32, 0.41, 0.5, 0.5, 1].map(Math.fround));
    const u = new Float32Array(30 * 5);
    fillRegionTruth(boxes, 30, u);
    assert.equal(readRegionTruth(u, 30).length, 3);
  });

  it('detection grid: cell offsets, one-hot class, first box in a cell wins', () => {
    const side = 7;
    const classes = 4;
    const t = new Float32Array(side * side * (5 + classes));
    fillDetectionTruth(boxes, side, classes, t);
    const cell = (2 * side + 2) * (5 + classes); // x .3 → col 2, y .4 → row 2
    assert.deepEqual([...t.subarray(cell, cell + 9)], [1, 0, 0, 0, 1, 0.3 * 7 - 2, 0.4 * 7 - 2, 0.2, 0.1].map(Math.fround));
    const last = (6 * side + 6) * (5 + classes);
    assert.equal(t[last], 1);
    assert.equal(t[last + 1], 1);
    const objects = Array.from({ length: side * side }, (_, i) => t[i * (5 + classes)]).filter((v) => v === 1).length;
    assert.equal(objects, 2);
  });
});
