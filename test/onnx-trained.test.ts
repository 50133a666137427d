// A trained detector through `tsgrad export onnx --decode`, run by onnxruntime: a tiny YOLOv2 trained
// briefly on the synthetic set (an overfit of its 8 training images, BN statistics from training and
// precise BN), exported from its final .weights by the command, then evaluated as Darknet's `detector
// valid`/`map` do (letterbox, candidates at 0.005, do_nms_sort 0.45) on held-out images, square and
// stretched to a non-square size (so the letterbox is undone), with the boxes coming from onnxruntime's
// `boxes`/`scores`: the same detections after NMS as tsgrad's own forward on every held-out image, and
// the same mAP on the training and held-out images, the training one ≥ 0.9 (it detects the objects).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';

import '../src/index.js';
import type { CommandIO } from '../src/cli/args.js';
import { exportCommand } from '../src/cli/export.js';
import { correctRegionBoxes } from '../src/yolo/box.js';
import { loadImage } from '../src/yolo/data/image.js';
import { loadDetectionData, type DatasetItem } from '../src/yolo/data/labels.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import type { Detection } from '../src/yolo/decode.js';
import { detectImages, evaluateDetector, fitImage, type BoxSource } from '../src/yolo/eval.js';
import { trainDetector } from '../src/yolo/train/trainer.js';
import { ortSession, runOrt } from './helpers/onnx.js';

const SIZE = 32;

function conv(filters: number, size = 3, bn = true, activation = 'leaky'): string {
  return `[convolutional]\n${bn ? 'batch_normalize=1\n' : ''}filters=${filters}\nsize=${size}\nstride=1\npad=1\nactivation=${activation}\n`;
}

/** A tiny YOLOv2: 32x32 input, stride 16 (2x2 grid), 2 anchors, 2 classes. */
const CFG =
  `[net]\nbatch=8\nsubdivisions=1\nwidth=${SIZE}\nheight=${SIZE}\nchannels=3\nmomentum=0.9\ndecay=0.0005\nlearning_rate=0.01\npolicy=constant\nmax_batches=30\n` +
  conv(8) + '[maxpool]\nsize=2\nstride=2\n' + conv(16) + '[maxpool]\nsize=2\nstride=2\n' + conv(32) + '[maxpool]\nsize=2\nstride=2\n' +
  conv(64) + '[maxpool]\nsize=2\nstride=2\n' + conv(64) + conv(14, 1, false, 'linear') +
  '[region]\nanchors=0.9,0.9, 1.6,1.6\nbias_match=1\nclasses=2\ncoords=4\nnum=2\nsoftmax=1\njitter=.2\nrescore=1\nobject_scale=5\nnoobject_scale=1\nclass_scale=1\ncoord_scale=1\nthresh=.6\nrandom=0\n';

/**
 * Darknet's candidates from the exported model: onnxruntime runs on each image as fitImage prepares it
 * (beforehand: the runtime is asynchronous), prob = score where > thresh, boxes mapped back from the
 * letterbox by correct_region_boxes. candidates() checks it is handed the same prepared inputs.
 */
async function onnxBoxSource(model: Uint8Array, items: readonly DatasetItem[]): Promise<BoxSource> {
  const session = await ortSession(model);
  const shape: [number, number, number] = [3, SIZE, SIZE];
  const src = { inputShape: shape, method: 'letterbox' as const };
  const cache = new Map<string, { input: Float32Array; boxes: Float32Array; scores: Float32Array; k: number }>();
  for (const it of items) {
    const input = fitImage(src, await loadImage(it.image), it.image);
    const r = await runOrt(session, input, [1, ...shape]);
    cache.set(it.image, { input, boxes: r['boxes']!.data, scores: r['scores']!.data, k: r['boxes']!.dims[1]! });
  }
  await session.release();
  const classes = 2;
  const per = 3 * SIZE * SIZE;
  return {
    classes,
    ...src,
    candidates(inputs, frames, thresh) {
      const t = Math.fround(thresh);
      return frames.map((fr, b) => {
        const c = cache.get(fr.image)!;
        assert.deepEqual(inputs.subarray(b * per, (b + 1) * per), c.input);
        const boxes = Array.from({ length: c.k }, (_, i) => ({ x: c.boxes[4 * i]!, y: c.boxes[4 * i + 1]!, w: c.boxes[4 * i + 2]!, h: c.boxes[4 * i + 3]! }));
        const corrected = correctRegionBoxes(boxes, fr.width, fr.height, SIZE, SIZE, true);
        return corrected.map((bbox, i): Detection => {
          const prob = Array.from(c.scores.subarray(i * classes, (i + 1) * classes), (s) => (s > t ? s : 0));
          return { index: i, bbox, objectness: prob.some((p) => p > 0) ? 1 : 0, prob };
        });
      });
    },
  };
}

test('a briefly trained tiny YOLOv2 exported with `tsgrad export onnx --decode` and run by onnxruntime detects the same boxes as tsgrad on held-out images (square and letterboxed) and has the same mAP; on its training images mAP@0.5 ≥ 0.9', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-onnx-trained-'));
  try {
    const data = await generateSynthDataset({ outDir: join(dir, 'data'), train: 8, valid: 6, classes: 2, size: SIZE, seed: 3, minObjects: 1, maxObjects: 1 });
    const train = loadDetectionData(data.dataFile, 'train').dataset.items;
    const square = loadDetectionData(data.dataFile, 'valid').dataset.items;
    // The held-out images stretched to 48x32 (relative labels unchanged): the letterbox leaves margins.
    const wide: DatasetItem[] = [];
    for (const it of square) {
      const image = join(dir, `wide-${basename(it.image)}.png`);
      await sharp(it.image).resize(48, SIZE, { fit: 'fill' }).png().toFile(image);
      wide.push({ ...it, image });
    }
    const heldOut = [...square, ...wide];

    const cfgFile = join(dir, 'tiny.cfg');
    writeFileSync(cfgFile, CFG);
    const t0 = performance.now();
    const r = await trainDetector({ cfgFile, items: train, backupDir: join(dir, 'backup'), augment: false, workers: 0, saveEvery: 1000, chart: null, preciseBn: 1, log: () => undefined });
    const t1 = performance.now();
    assert.equal(r.stopped, 'max_batches');
    const onnxFile = join(dir, 'tiny.onnx');
    let printed = '';
    const io: CommandIO = { out: (s) => void (printed += s), err: (s) => void (printed += s) };
    assert.equal(await exportCommand(['onnx', cfgFile, join(dir, 'backup', 'tiny_final.weights'), onnxFile, '--decode', '--dynamic-batch'], io), 0, printed);
    const source = await onnxBoxSource(readFileSync(onnxFile), [...train, ...heldOut]);
    const net = r.net.eval();

    const ours = await detectImages(source, heldOut);
    const ref = await detectImages(net, heldOut);
    let boxes = 0;
    let worst = 0;
    ref.forEach((e, i) => {
      const o = ours[i]!;
      assert.deepEqual(o.detections.map((d) => d.index), e.detections.map((d) => d.index), `${e.image}: detections after NMS`);
      o.detections.forEach((d, k) => {
        const x = e.detections[k]!;
        const pairs: [number, number][] = [[d.bbox.x, x.bbox.x], [d.bbox.y, x.bbox.y], [d.bbox.w, x.bbox.w], [d.bbox.h, x.bbox.h], ...d.prob.map((p, c): [number, number] => [p, x.prob[c]!])];
        for (const [a, b] of pairs) {
          worst = Math.max(worst, Math.abs(a - b));
          assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${e.image} detection ${d.index}: ${a} vs ${b}`);
          assert.equal(a > 0, b > 0, `${e.image} detection ${d.index}: kept classes`);
        }
      });
      boxes += e.detections.length;
    });
    assert.ok(boxes > 0, 'the held-out images need detections for the comparison');

    const mapOf = async (s: typeof net | BoxSource, items: DatasetItem[]): Promise<number> => (await evaluateDetector(s, items, { classes: 2 })).map;
    const trainMap = await mapOf(source, train);
    const heldMap = await mapOf(source, heldOut);
    assert.equal(trainMap, await mapOf(net, train));
    assert.equal(heldMap, await mapOf(net, heldOut));
    assert.ok(trainMap >= 0.9, `mAP@0.5 on the training images ${trainMap}`);
    t.diagnostic(
      `trained ${r.iteration} iterations in ${((t1 - t0) / 1000).toFixed(1)} s (loss ${r.losses[0]!.toFixed(2)} → ${r.losses.at(-1)!.toFixed(3)}); ` +
        `${boxes} detections on ${heldOut.length} held-out images equal (worst |Δ| ${worst.toExponential(2)}); mAP@0.5 training ${trainMap.toFixed(3)}, held-out ${heldMap.toFixed(3)}, onnxruntime = tsgrad`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
