// src/yolo/eval.ts: the detection pipeline behind `detector valid/map` and the training loop's mAP.
// Batched forwards give the same detections as one image per forward (mixed image sizes, letterbox);
// the pipeline equals detector test's single-image path (letterboxed [region] and resized YOLOv1 nets); the in-memory entry points (packed floats, a
// device tensor, a forward's outputs) equal the file-based evaluation; a box source that returns the
// truth scores mAP 1 under every definition and a wrong class 0; pixel conversions are hand-checked;
// NMS keeps the best of overlapping same-class boxes; train mode is restored and no tensor leaks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

import '../src/index.js';
import { noGrad } from '../src/autograd/grad-mode.js';
import { memoryInfo, scope } from '../src/tensor/memory.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { makeWeightsBytes } from '../src/yolo/darknet/generate.js';
import { loadImage } from '../src/yolo/data/image.js';
import { loadDetectionData, type DatasetItem, type LabelBox } from '../src/yolo/data/labels.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import type { Detection } from '../src/yolo/decode.js';
import {
  cocoBbox,
  cocoImageId,
  comp4Corners,
  comp4FileNames,
  comp4ImageId,
  comp4Texts,
  cocoResults,
  detectImages,
  evaluateDetector,
  evaluateImageDetections,
  evaluateOnTensors,
  evaluateOutputs,
  fitImage,
  networkBoxSource,
  suppress,
  type BoxSource,
  type Frame,
} from '../src/yolo/eval.js';
import { networkBoxes } from '../src/yolo/net/detections.js';
import { inputTensor, prepareImage } from '../src/yolo/net/input.js';
import { openNetwork, type Network } from '../src/yolo/net/network.js';
import { nmsSort } from '../src/yolo/nms.js';
import { TINY_CFG } from './helpers/fixtures.js';
import { DARKNET_CFG } from './helpers/refs.js';




interface Fixture {
  dir: string;
  cfg: string;
  weights: string;
  dataFile: string;
  items: DatasetItem[];
  /** A non-square image (letterboxed with padding). */
  wide: string;
}

async function makeFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-eval-'));
  const cfg = join(dir, 'tiny.cfg');
  writeFileSync(cfg, TINY_CFG);
  const weights = join(dir, 'tiny.weights');
  writeFileSync(weights, makeWeightsBytes(readCfgFile(cfg), 11));
  const synth = await generateSynthDataset({ outDir: join(dir, 'set'), train: 2, valid: 4, classes: 2, size: 64, seed: 5 });
  const { dataset } = loadDetectionData(synth.dataFile, 'valid');
  const wide = join(dir, 'wide.png');
  const px = Buffer.alloc(80 * 48 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37) % 251;
  await sharp(px, { raw: { width: 80, height: 48, channels: 3 } }).png().toFile(wide);
  return { dir, cfg, weights, dataFile: synth.dataFile, items: dataset.items, wide };
}

function openTiny(fx: Fixture): Network {
  return openNetwork(fx.cfg, fx.weights).eval();
}

/** A box source that returns each image's truth (one-hot prob `score`, class shifted by `shift`). */
function truthSource(items: readonly DatasetItem[], classes: number, shift = 0, score = 0.9): BoxSource {
  const byImage = new Map(items.map((it) => [it.image, it.boxes]));
  return {
    classes,
    inputShape: [3, 64, 64],
    method: 'letterbox',
    candidates(_inputs: Float32Array, frames: readonly Frame[]): Detection[][] {
      return frames.map((fr) =>
        (byImage.get(fr.image) ?? []).map((b, index) => {
          const prob = new Array<number>(classes).fill(0);
          prob[(b.cls + shift) % classes] = score;
          return { index, bbox: { x: b.x, y: b.y, w: b.w, h: b.h }, objectness: score, prob };
        }),
      );
    },
  };
}

function kept(dets: readonly Detection[]): string[] {
  return dets
    .flatMap((d) => d.prob.map((p, c) => (p > 0 ? `${c} ${p} ${d.bbox.x} ${d.bbox.y} ${d.bbox.w} ${d.bbox.h}` : '')).filter((s) => s !== ''))
    .sort();
}

test('detectImages gives the same detections with 1 image per forward as with 3 per forward (mixed sizes, letterbox)', async () => {
  const fx = await makeFixture();
  try {
    const net = openTiny(fx);
    const items = [...fx.items.map((it) => ({ image: it.image })), { image: fx.wide }];
    const one = await detectImages(net, items, { batch: 1 });
    const three = await detectImages(net, items, { batch: 3 });
    assert.equal(one.length, 5);
    assert.deepEqual(
      one.map((r) => [r.image, r.width, r.height]),
      items.map((it, k) => [it.image, k === 4 ? 80 : 64, k === 4 ? 48 : 64]),
    );
    assert.ok(one.every((r) => r.detections.length > 0), 'random weights give candidates above 0.005');
    assert.deepEqual(three, one);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('detectImages keeps the same (class, prob, box) set as the single-image pipeline of detector test', async () => {
  const fx = await makeFixture();
  try {
    const net = openTiny(fx);
    const [res] = await detectImages(net, [{ image: fx.wide }], { thresh: 0.005, nms: 0.45 });
    const im = await loadImage(fx.wide);
    const boxes = scope(() => noGrad(() => networkBoxes(net, net.forward(inputTensor(net, prepareImage(net, im))), { thresh: 0.005, imageW: im.width, imageH: im.height })));
    nmsSort(boxes.detections, boxes.classes, 0.45);
    assert.deepEqual(kept(res!.detections), kept(boxes.detections));
    assert.ok(kept(res!.detections).length > 0);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('a YOLOv1 [detection] net (resize, not letterbox) batches too and matches its single-image pipeline', async () => {
  const fx = await makeFixture();
  try {
    const cfg = join(DARKNET_CFG, 'yolov1-tiny.cfg');
    const weights = join(fx.dir, 'v1.weights');
    writeFileSync(weights, makeWeightsBytes(readCfgFile(cfg, { overrides: { width: 64, height: 64 } }), 3));
    const net = openNetwork(cfg, weights, { width: 64, height: 64 }).eval();
    const items = [{ image: fx.wide }, { image: fx.items[0]!.image }];
    const one = await detectImages(net, items, { batch: 1 });
    assert.deepEqual(await detectImages(net, items, { batch: 2 }), one);
    const im = await loadImage(fx.wide);
    const input = prepareImage(net, im);
    assert.equal(input.method, 'resize');
    const boxes = scope(() => noGrad(() => networkBoxes(net, net.forward(inputTensor(net, input)), { thresh: 0.005, imageW: im.width, imageH: im.height })));
    nmsSort(boxes.detections, boxes.classes, 0.45);
    assert.deepEqual(kept(one[0]!.detections), kept(boxes.detections));
    assert.ok(one[0]!.detections.length > 0);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('evaluateOnTensors (packed floats, a device tensor) and evaluateOutputs equal evaluateDetector on the same network-size images', async () => {
  const fx = await makeFixture();
  try {
    const net = openTiny(fx);
    const opts = { classes: 2, thresh: 0.005, nms: 0.45, reportThresh: 0.05 };
    const fromFiles = await evaluateDetector(net, fx.items, opts);
    const src = networkBoxSource(net);
    const per = 3 * 64 * 64;
    const packed = new Float32Array(fx.items.length * per);
    for (let k = 0; k < fx.items.length; k++) packed.set(fitImage(src, await loadImage(fx.items[k]!.image), fx.items[k]!.image), k * per);
    const truths: LabelBox[][] = fx.items.map((it) => it.boxes);
    const onFloats = evaluateOnTensors(net, packed, fx.items.length, truths, { ...opts, batch: 3 });
    const t = fromHost(packed, [fx.items.length, 3, 64, 64]);
    const onTensor = evaluateOnTensors(net, t, fx.items.length, truths, opts);
    const outputs = scope(() => noGrad(() => evaluateOutputs(net, net.forward(t), truths, opts)));
    t.dispose();
    for (const e of [onFloats, onTensor, outputs]) {
      assert.equal(e.map, fromFiles.map);
      assert.deepEqual([e.tp, e.fp, e.fn, e.avgIou], [fromFiles.tp, fromFiles.fp, fromFiles.fn, fromFiles.avgIou]);
      assert.deepEqual(
        e.classes.map((c) => [c.ap, c.numDetections, c.numPositives]),
        fromFiles.classes.map((c) => [c.ap, c.numDetections, c.numPositives]),
      );
    }
    assert.equal(fromFiles.classes.reduce((s, c) => s + c.numPositives, 0), fx.items.reduce((s, it) => s + it.boxes.length, 0));
    assert.ok(fromFiles.classes.some((c) => c.numDetections > 0));
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('a box source returning the ground truth scores mAP 1 under every AP definition, the wrong class scores 0', async () => {
  const fx = await makeFixture();
  try {
    const gt = fx.items.reduce((s, it) => s + it.boxes.length, 0);
    // voc07 adds 1/11 eleven times as voc_eval.py does, which gives 1.0000000000000002
    for (const definition of ['voc07', 'voc07-darknet', 'voc10', 'coco101', 'coco'] as const) {
      const e = await evaluateDetector(truthSource(fx.items, 2), fx.items, { classes: 2, definition });
      assert.equal(e.map, definition === 'voc07' ? 1.0000000000000002 : 1, definition);
      assert.deepEqual([e.tp, e.fp, e.fn, e.precision, e.recall, e.f1], [gt, 0, 0, 1, 1, 1], definition);
      assert.ok(Math.abs(e.avgIou - 1) < 1e-12);
      const wrong = await evaluateDetector(truthSource(fx.items, 2, 1), fx.items, { classes: 2, definition });
      assert.equal(wrong.map, 0, definition);
      assert.deepEqual([wrong.tp, wrong.fp, wrong.fn], [0, gt, gt], definition);
    }
    // below the report threshold: still AP 1, but nothing counted at the operating point
    const low = await evaluateDetector(truthSource(fx.items, 2, 0, 0.1), fx.items, { classes: 2, reportThresh: 0.25 });
    assert.deepEqual([low.map, low.tp, low.fn], [1, 0, gt]);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('evaluation runs the network in eval mode, restores train mode, and leaks no tensor', async () => {
  const fx = await makeFixture();
  try {
    const net = openTiny(fx);
    const before = memoryInfo();
    const ref = await detectImages(net, fx.items.slice(0, 2), { batch: 2 });
    assert.deepEqual(memoryInfo(), before);
    net.train();
    const again = await detectImages(net, fx.items.slice(0, 2), { batch: 2 });
    assert.equal(net.training, true);
    assert.deepEqual(again, ref);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('comp4 corners are 1-based and clipped to [1, W]x[1, H]; the COCO bbox is 0-based, clipped to [0, W]x[0, H]', () => {
  // 200×100 image, box centred at (100, 50) px, 40×40 px
  const b = { x: 0.5, y: 0.5, w: 0.2, h: 0.4 };
  assert.deepEqual(comp4Corners(b, 200, 100), [81, 31, 121, 71]);
  assert.deepEqual(cocoBbox(b, 200, 100), [80, 30, 40, 40]);
  // left edge at −10 px, bottom edge at 110 px
  const edge = { x: 0.05, y: 0.8, w: 0.2, h: 0.6 };
  assert.deepEqual(comp4Corners(edge, 200, 100), [1, 51, 31, 100]);
  assert.deepEqual(cocoBbox(edge, 200, 100), [0, 50, 30, 50]);
  // wholly outside the image (letterbox padding): no negative sizes
  const out = { x: 1.2, y: 0.5, w: 0.1, h: 0.1 };
  const c = comp4Corners(out, 200, 100);
  assert.ok(c[2] >= c[0] && c[0] <= 200, String(c));
  assert.deepEqual(cocoBbox(out, 200, 100).slice(0, 3), [200, 45, 0]);
});

test('image ids: comp4 uses the file stem, COCO the number the stem ends with (a non-numeric stem stays a string)', () => {
  assert.equal(comp4ImageId('/a/b/000042.jpg'), '000042');
  assert.equal(cocoImageId('/a/b/000042.jpg'), 42);
  assert.equal(cocoImageId('/x/COCO_val2014_000000000139.jpg'), 139);
  assert.equal(cocoImageId('/x/dog.jpg'), 'dog');
  assert.deepEqual(comp4FileNames(['car', 'traffic light']), ['comp4_det_test_car.txt', 'comp4_det_test_traffic light.txt']);
  assert.throws(() => comp4FileNames(['a/b', 'a_b']), /same result file comp4_det_test_a_b\.txt/);
});

test('comp4 and COCO writers emit one entry per (box, class with prob > 0) in pixels of the original image', () => {
  const results = [
    {
      image: '/d/000007.jpg',
      width: 200,
      height: 100,
      detections: [{ index: 0, bbox: { x: 0.5, y: 0.5, w: 0.2, h: 0.4 }, objectness: 0.9, prob: [0.75, 0.5, 0] }],
    },
  ];
  const texts = comp4Texts(results, 3);
  assert.deepEqual(texts, ['000007 0.750000 81.000000 31.000000 121.000000 71.000000\n', '000007 0.500000 81.000000 31.000000 121.000000 71.000000\n', '']);
  assert.deepEqual(cocoResults(results, 3), [
    { image_id: 7, category_id: 0, bbox: [80, 30, 40, 40], score: 0.75 },
    { image_id: 7, category_id: 1, bbox: [80, 30, 40, 40], score: 0.5 },
  ]);
});

test('suppress keeps the higher of two overlapping same-class boxes, keeps other classes, drops boxes without probability', () => {
  const d = (index: number, x: number, prob: number[]): Detection => ({ index, bbox: { x, y: 0.5, w: 0.2, h: 0.2 }, objectness: 1, prob });
  const out = suppress([d(0, 0.5, [0.6, 0]), d(1, 0.51, [0.8, 0]), d(2, 0.5, [0, 0.3]), d(3, 0.1, [0, 0])], 2, 0.45);
  assert.deepEqual(out.map((x) => [x.index, x.prob]).sort(), [[1, [0.8, 0]], [2, [0, 0.3]]].sort());
  assert.equal(suppress([d(0, 0.5, [0.6, 0]), d(1, 0.51, [0.8, 0])], 2, 0).length, 2, 'nms 0 turns NMS off');
});

test('evaluateImageDetections counts a duplicate detection of one truth as a false positive', () => {
  const item = { image: 'a', boxes: [{ cls: 0, x: 0.5, y: 0.5, w: 0.2, h: 0.2 }] };
  const det = (score: number): Detection => ({ index: 0, bbox: { x: 0.5, y: 0.5, w: 0.2, h: 0.2 }, objectness: 1, prob: [score] });
  const e = evaluateImageDetections([{ image: 'a', width: 10, height: 10, detections: [det(0.9), det(0.8)] }], [item], { classes: 1 });
  assert.deepEqual([e.tp, e.fp, e.fn, e.map], [1, 1, 0, 1]);
});
