import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import type { CommandIO } from '../src/cli/args.js';
import { dataCommand } from '../src/cli/data.js';
import { Rng } from '../src/tensor/random.js';
import { readClassificationList } from '../src/yolo/data/classification.js';
import { loadImage } from '../src/yolo/data/image.js';
import { labelPathFor, loadDetectionData, readDataConfig, readNames } from '../src/yolo/data/labels.js';
import { overlappingNames, SHAPE_NAMES } from '../src/yolo/data/shapes.js';
import { generateSynthDataset, renderDetectionImage } from '../src/yolo/data/synth.js';
import { tempDir } from './yolo-data-fixtures.js';

const tmp = tempDir('synth');
after(() => tmp.cleanup());

function labelsOf(dataFile: string, split: 'train' | 'valid'): string[] {
  return loadDetectionData(dataFile, split, { strict: true }).dataset.items.map((it) => readFileSync(labelPathFor(it.image), 'utf8'));
}

describe('synthetic detection set', () => {
  it('writes N + M decodable images with strictly valid labels, .data last', async () => {
    const out = join(tmp.dir, 'det');
    const r = await generateSynthDataset({ outDir: out, train: 6, valid: 2, size: 96, seed: 7 });
    assert.deepEqual(r.names, SHAPE_NAMES.slice(0, 6));
    const cfg = readDataConfig(r.dataFile);
    assert.equal(cfg.classes, 6);
    assert.deepEqual(readNames(cfg.names!), r.names);
    let boxes = 0;
    for (const [split, n] of [['train', 6], ['valid', 2]] as const) {
      const { dataset, report } = loadDetectionData(r.dataFile, split, { strict: true });
      assert.equal(dataset.items.length, n);
      assert.equal(report.issues.length, 0);
      for (const it of dataset.items) {
        const im = await loadImage(it.image);
        assert.deepEqual([im.width, im.height], [96, 96]);
        assert.ok(it.boxes.length >= 1 && it.boxes.length <= 4, `${it.image}: ${it.boxes.length} boxes`);
        for (const b of it.boxes) {
          assert.ok(b.w >= 0.1 && b.w <= 0.6 && b.h >= 0.1 && b.h <= 0.6, `${it.image}: box size ${b.w} x ${b.h}`);
          assert.ok(b.x - b.w / 2 >= 0 && b.x + b.w / 2 <= 1 && b.y - b.h / 2 >= 0 && b.y + b.h / 2 <= 1, 'box inside the image');
        }
        boxes += it.boxes.length;
      }
    }
    assert.equal(r.counts.boxes, boxes);
  });

  it('is a pure function of the seed; the valid split does not depend on the train count', async () => {
    const a = await generateSynthDataset({ outDir: join(tmp.dir, 'a'), train: 3, valid: 2, size: 64, seed: 11 });
    const b = await generateSynthDataset({ outDir: join(tmp.dir, 'b'), train: 3, valid: 2, size: 64, seed: 11 });
    const c = await generateSynthDataset({ outDir: join(tmp.dir, 'c'), train: 1, valid: 2, size: 64, seed: 11 });
    const d = await generateSynthDataset({ outDir: join(tmp.dir, 'd'), train: 3, valid: 2, size: 64, seed: 12 });
    assert.deepEqual(labelsOf(a.dataFile, 'train'), labelsOf(b.dataFile, 'train'));
    assert.ok(readFileSync(join(tmp.dir, 'a/images/train/000002.jpg')).equals(readFileSync(join(tmp.dir, 'b/images/train/000002.jpg'))), 'same image bytes');
    assert.deepEqual(labelsOf(c.dataFile, 'valid'), labelsOf(a.dataFile, 'valid'));
    assert.notDeepEqual(labelsOf(d.dataFile, 'train'), labelsOf(a.dataFile, 'train'));
  });

  it('boxes are the tight bounds of what was drawn: each inside edge line holds pixels that stand out from the background', () => {
    // An object's mask touches all four edges of its box, so each edge row/column inside the box
    // holds object pixels; with one object per image (and no pixel noise), some of them differ
    // clearly from the background two pixels further out.
    let checked = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const im = renderDetectionImage(new Rng(seed), { size: 96, names: SHAPE_NAMES, minObjects: 1, maxObjects: 1, pixelNoise: false });
      const b = im.boxes[0]!;
      const x0 = Math.round((b.x - b.w / 2) * 96);
      const x1 = Math.round((b.x + b.w / 2) * 96) - 1;
      const y0 = Math.round((b.y - b.h / 2) * 96);
      const y1 = Math.round((b.y + b.h / 2) * 96) - 1;
      const px = (x: number, y: number) => [0, 1, 2].map((c) => im.rgb[(y * 96 + x) * 3 + c]!);
      const contrast = (pts: [number, number][], outside: [number, number][]) =>
        Math.max(...pts.map(([x, y], i) => px(x, y).reduce((s, v, c) => s + Math.abs(v - px(...outside[i]!)[c]!), 0)));
      const ys = Array.from({ length: y1 - y0 + 1 }, (_, i) => y0 + i);
      const xs = Array.from({ length: x1 - x0 + 1 }, (_, i) => x0 + i);
      if (x0 >= 2) assert.ok(contrast(ys.map((y) => [x0, y]), ys.map((y) => [x0 - 2, y])) > 60, `seed ${seed}: left edge`);
      if (x1 <= 93) assert.ok(contrast(ys.map((y) => [x1, y]), ys.map((y) => [x1 + 2, y])) > 60, `seed ${seed}: right edge`);
      if (y0 >= 2) assert.ok(contrast(xs.map((x) => [x, y0]), xs.map((x) => [x, y0 - 2])) > 60, `seed ${seed}: top edge`);
      if (y1 <= 93) assert.ok(contrast(xs.map((x) => [x, y1]), xs.map((x) => [x, y1 + 2])) > 60, `seed ${seed}: bottom edge`);
      checked++;
    }
    assert.equal(checked, 24);
  });
});

describe('synthetic classification set', () => {
  it('writes balanced images with the class name in the file name, a labels file and a classifier .data', async () => {
    const out = join(tmp.dir, 'cls');
    const r = await generateSynthDataset({ outDir: out, train: 8, valid: 4, classes: 4, size: 48, kind: 'classification', seed: 3 });
    const cfg = readDataConfig(r.dataFile);
    assert.equal(cfg.values.top, '1');
    assert.equal(cfg.values.labels, 'labels.txt');
    const names = readNames(join(out, 'labels.txt'));
    assert.deepEqual(names, ['circle', 'square', 'triangle', 'cross']);
    const { items, issues } = readClassificationList(cfg.train!, names, { strict: true });
    assert.equal(issues.length, 0);
    assert.deepEqual(items.map((i) => i.cls), [0, 1, 2, 3, 0, 1, 2, 3]);
    const im = await loadImage(items[0]!.image);
    assert.deepEqual([im.width, im.height], [48, 48]);
    assert.equal(readClassificationList(cfg.valid!, names).items.length, 4);
  });

  it('uses class names that never contain one another (Darknet finds classes by substring)', () => {
    assert.deepEqual(overlappingNames(SHAPE_NAMES), []);
  });
});

describe('tsgrad data CLI', () => {
  // What the commands print, captured (stdout and stderr chunks).
  const quiet = (_t: TestContext): { out: string[]; err: string[]; cli: CommandIO } => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, cli: { out: (s) => void out.push(s), err: (s) => void err.push(s) } };
  };

  it('synth writes a data set that check accepts; a broken label makes check fail', async (t) => {
    const io = quiet(t);
    const out = join(tmp.dir, 'cli');
    assert.equal(await dataCommand(['synth', '--out', out, '--train', '3', '--valid', '1', '--size', '64', '--classes', '3', '--seed', '5'], io.cli), 0);
    assert.ok(io.out.some((l) => /wrote 3 train \+ 1 valid images/.test(l)), io.out.join('\n'));
    const dataFile = join(out, 'synth.data');
    assert.equal(await dataCommand(['check', dataFile], io.cli), 0);
    appendFileSync(join(out, 'labels/train/000001.txt'), '9 0.5 0.5 0.1 0.1\n');
    assert.equal(await dataCommand(['check', dataFile], io.cli), 1);
    assert.ok(io.out.some((l) => /labels\/train\/000001\.txt:\d+: unknown class id 9/.test(l)), io.out.join('\n'));
    assert.equal(await dataCommand(['check', dataFile, '--strict'], io.cli), 1);
    assert.ok(io.err.some((l) => /000001\.txt:\d+: unknown class id 9/.test(l)));
  });

  it('answers usage errors with exit code 2', async (t) => {
    const io = quiet(t);
    assert.equal(await dataCommand([], io.cli), 2);
    assert.equal(await dataCommand(['frobnicate'], io.cli), 2);
    assert.equal(await dataCommand(['synth', '--out', join(tmp.dir, 'u'), '--train', 'x', '--valid', '1'], io.cli), 2);
    assert.equal(await dataCommand(['synth', '--train', '1', '--valid', '1'], io.cli), 2);
    assert.equal(await dataCommand(['synth', '--out', join(tmp.dir, 'u'), '--train', '1', '--valid', '1', '--bogus'], io.cli), 2);
    assert.equal(await dataCommand(['synth', '--out', join(tmp.dir, 'u'), '--train', '1', '--valid', '1', '--kind', 'segmentation'], io.cli), 2);
    assert.equal(await dataCommand(['synth', '--out', join(tmp.dir, 'u'), '--train', '1', '--valid', '1', '--classes', '99'], io.cli), 2);
    assert.equal(await dataCommand(['convert-voc', '--out', join(tmp.dir, 'u')], io.cli), 2);
    assert.equal(await dataCommand(['convert-voc', '--out', join(tmp.dir, 'u'), '--train', 'nocolon'], io.cli), 2);
    assert.equal(await dataCommand(['convert-coco', '--out', join(tmp.dir, 'u'), '--train-json', 'x.json'], io.cli), 2);
    assert.equal(await dataCommand(['check'], io.cli), 2);
    assert.ok(io.err.every((l) => /usage:/.test(l)), 'every usage error prints the usage');
    assert.equal(await dataCommand(['convert-coco', '--out', join(tmp.dir, 'u'), '--train-json', join(tmp.dir, 'none.json'), '--train-images', tmp.dir], io.cli), 1);
    assert.match(io.err[io.err.length - 1]!, /none\.json: COCO annotation file not found/);
  });
});
