// `tsgrad detector valid | map | calc_anchors` (src/cli/detector-eval.ts): valid writes comp4 and COCO
// files whose pixel boxes parse back to the hand-computed values (class names in the comp4 file
// names) and, with a real network, agree with each other line for line; map on truth-equal detections
// prints mAP 1 under every definition (header naming it) and 0 for the wrong class, its --json holds the
// same numbers as the library; a bad label line is reported as file:line and counted, --strict fails
// with it; --max-dets keeps the top detections per image and class; a class-count mismatch between cfg
// and .data is an error; calc_anchors recovers two known box sizes exactly (avg IoU 100 %) and takes
// num/stride from a cfg; bad command lines exit 2.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

import { detectorCalcAnchors, detectorMap, detectorValid, type EvalHooks } from '../src/cli/detector-eval.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { makeWeightsBytes } from '../src/yolo/darknet/generate.js';
import { loadDetectionData, type DatasetItem } from '../src/yolo/data/labels.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import type { Detection } from '../src/yolo/decode.js';
import { evaluateDetector, type BoxSource, type Frame } from '../src/yolo/eval.js';
import { openNetwork } from '../src/yolo/net/network.js';
import { captureIO, TINY_CFG } from './helpers/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');




function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tsgrad-deteval-'));
}

/** Writes the tiny cfg and its deterministic weights into dir. */
function tinyNet(dir: string): { cfg: string; weights: string } {
  const cfg = join(dir, 'tiny.cfg');
  writeFileSync(cfg, TINY_CFG);
  const weights = join(dir, 'tiny.weights');
  writeFileSync(weights, makeWeightsBytes(readCfgFile(cfg), 11));
  return { cfg, weights };
}

/** A stand-in network: each image's truth boxes, class shifted by `shift`, prob `score`. */
function truthHooks(items: readonly DatasetItem[], classes: number, shift = 0, score = 0.9): EvalHooks {
  const byImage = new Map(items.map((it) => [it.image, it.boxes]));
  const source: BoxSource = {
    classes,
    inputShape: [3, 64, 64],
    method: 'letterbox',
    candidates: (_inputs: Float32Array, frames: readonly Frame[]): Detection[][] =>
      frames.map((fr) =>
        (byImage.get(fr.image) ?? []).map((b, index) => {
          const prob = new Array<number>(classes).fill(0);
          prob[(b.cls + shift) % classes] = score;
          return { index, bbox: { x: b.x, y: b.y, w: b.w, h: b.h }, objectness: score, prob };
        }),
      ),
  };
  return { openSource: () => source };
}

/** A hand-made data set: images of the given sizes with label lines as written. */
async function handSet(dir: string, images: { name: string; w: number; h: number; labels: string }[], names: string[], split: 'train' | 'valid' = 'valid'): Promise<string> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'labels'), { recursive: true });
  for (const im of images) {
    await sharp({ create: { width: im.w, height: im.h, channels: 3, background: { r: 90, g: 120, b: 30 } } })
      .png()
      .toFile(join(dir, 'images', `${im.name}.png`));
    writeFileSync(join(dir, 'labels', `${im.name}.txt`), im.labels);
  }
  writeFileSync(join(dir, 'list.txt'), images.map((im) => `images/${im.name}.png\n`).join(''));
  writeFileSync(join(dir, 'set.names'), names.map((n) => `${n}\n`).join(''));
  const data = join(dir, 'set.data');
  writeFileSync(data, `classes = ${names.length}\n${split} = list.txt\nnames = set.names\n`);
  return data;
}

test('detector valid writes comp4 files (named by class) and COCO JSON whose pixel boxes parse back to the hand-computed values', async () => {
  const dir = tempDir();
  try {
    // 200×100: box centred at (100, 50), 40×40 px; 80×60: box from x = −8 (clipped) to 24, y 6..30
    const data = await handSet(
      dir,
      [
        { name: '000012', w: 200, h: 100, labels: '1 0.5 0.5 0.2 0.4\n' },
        { name: 'COCO_val_000000000031', w: 80, h: 60, labels: '0 0.1 0.3 0.4 0.4\n' },
      ],
      ['cat', 'dog bowl', 'empty'],
    );
    const items = loadDetectionData(data, 'valid').dataset.items;
    const out = join(dir, 'res');
    const io = captureIO();
    const code = await detectorValid([data, 'x.cfg', 'x.weights', '--out', out], io, truthHooks(items, 3));
    assert.equal(code, 0, io.stderr());
    assert.deepEqual(readdirSync(out).sort(), ['coco_results.json', 'comp4_det_test_cat.txt', 'comp4_det_test_dog bowl.txt', 'comp4_det_test_empty.txt']);
    assert.equal(readFileSync(join(out, 'comp4_det_test_dog bowl.txt'), 'utf8'), '000012 0.900000 81.000000 31.000000 121.000000 71.000000\n');
    const cat = readFileSync(join(out, 'comp4_det_test_cat.txt'), 'utf8').trim().split(' ');
    assert.equal(cat[0], 'COCO_val_000000000031');
    assert.deepEqual(cat.slice(1).map(Number), [0.9, 1, 7, 25, 31]);
    assert.equal(readFileSync(join(out, 'comp4_det_test_empty.txt'), 'utf8'), '');
    const coco = JSON.parse(readFileSync(join(out, 'coco_results.json'), 'utf8')) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
    assert.deepEqual(coco, [
      { image_id: 12, category_id: 1, bbox: [80, 30, 40, 40], score: 0.9 },
      { image_id: 31, category_id: 0, bbox: [0, 6, 24, 24], score: 0.9 },
    ]);
    assert.match(io.stdout(), /valid: 2 images \(valid split of .*\), 2 boxes, 2 detections/);
    assert.equal(readdirSync(out).some((f) => f.includes('.tmp-')), false, 'atomic writes leave no temporary file');

    // a listed image that does not exist is an error naming the list file and line; nothing is written
    writeFileSync(join(dir, 'list.txt'), 'images/000012.png\nimages/gone.png\n');
    const missing = captureIO();
    assert.equal(await detectorValid([data, 'x.cfg', 'x.weights', '--out', join(dir, 'res2')], missing, truthHooks(items, 3)), 1);
    assert.match(missing.stderr(), /list\.txt:2: image not found: .*gone\.png/);
    assert.equal(existsSync(join(dir, 'res2')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector valid with a real network (batched, letterboxed) writes comp4 lines and COCO entries that agree one for one', async () => {
  const dir = tempDir();
  try {
    const { cfg, weights } = tinyNet(dir);
    const synth = await generateSynthDataset({ outDir: join(dir, 'set'), train: 1, valid: 3, classes: 2, size: 64, seed: 2 });
    const out = join(dir, 'res');
    const io = captureIO();
    const code = await detectorValid([synth.dataFile, cfg, weights, '--out', out, '--batch', '2', '--thresh', '0.05'], io);
    assert.equal(code, 0, io.stderr());
    const coco = JSON.parse(readFileSync(join(out, 'coco_results.json'), 'utf8')) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
    assert.ok(coco.length > 0);
    let lines = 0;
    synth.names.forEach((name, c) => {
      const text = readFileSync(join(out, `comp4_det_test_${name}.txt`), 'utf8');
      const rows = text === '' ? [] : text.trimEnd().split('\n');
      const entries = coco.filter((e) => e.category_id === c);
      assert.equal(rows.length, entries.length, name);
      rows.forEach((row, k) => {
        const [id, score, x1, y1, x2, y2] = row.split(' ');
        const e = entries[k]!;
        assert.equal(Number(id), e.image_id);
        assert.equal(Number(score), e.score);
        assert.ok(Number(score) > 0.05);
        // comp4 corners are the COCO corners + 1 (both clipped to the 64×64 image)
        assert.ok(Math.abs(Number(x1) - 1 - e.bbox[0]!) < 1e-4 || (Number(x1) === 1 && e.bbox[0]! < 1), row);
        assert.ok(Math.abs(Number(x2) - Math.min(64, e.bbox[0]! + e.bbox[2]! + 1)) < 1e-4 || e.bbox[0]! + e.bbox[2]! === 64, row);
        assert.ok(Number(y1) >= 1 && Number(y2) <= 64 && Number(y2) >= Number(y1), row);
      });
      lines += rows.length;
    });
    assert.match(io.stdout(), new RegExp(`valid: 3 images .* ${lines} detections`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector map on detections equal to the ground truth prints mAP 1 under every definition and names them; the wrong class gives 0', async () => {
  const dir = tempDir();
  try {
    const synth = await generateSynthDataset({ outDir: join(dir, 'set'), train: 1, valid: 4, classes: 3, size: 64, seed: 9 });
    const items = loadDetectionData(synth.dataFile, 'valid').dataset.items;
    const gt = items.reduce((s, it) => s + it.boxes.length, 0);
    const jsonFile = join(dir, 'map.json');
    const io = captureIO();
    const code = await detectorMap([synth.dataFile, 'x.cfg', 'x.weights', '--ap', 'all', '--json', jsonFile], io, truthHooks(items, 3));
    assert.equal(code, 0, io.stderr());
    const text = io.stdout();
    assert.match(text, /AP definition: VOC2010\+ all-point AP/);
    assert.match(text, /AP definition: VOC2007 11-point AP \(mean interpolated precision at the devkit's recall points/);
    assert.match(text, /AP definition: VOC2007 11-point AP at Darknet's recall points k\/10/);
    assert.match(text, /AP definition: COCO 101-point AP/);
    assert.match(text, /AP definition: COCO AP@\[\.50:\.05:\.95\]/);
    assert.match(text, /mAP@0\.50 \(voc10\) = 1\.0000 \(100\.00%\)/);
    assert.match(text, /mAP@0\.50 \(voc07\) = 1\.0000/);
    assert.match(text, /mAP@0\.50 \(coco101\) = 1\.0000/);
    assert.match(text, /AP@\[\.50:\.95\] \(COCO\) = 1\.0000 \(100\.00%\), AP50 = 1\.0000, AP75 = 1\.0000/);
    assert.match(text, new RegExp(`TP = ${gt}, FP = 0, FN = 0, average IoU = 100\\.00%`));
    assert.match(text, /precision = 1\.00, recall = 1\.00, F1-score = 1\.00/);
    for (const name of synth.names) assert.match(text, new RegExp(`\\d  ${name} +\\d+ +\\d+ +0 +100\\.00%`));
    const doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as { evaluations: { definition: string; map: number; classes: { name: string; ap: number | null }[] }[]; groundTruth: number };
    // voc07 adds 1/11 eleven times as voc_eval.py does
    assert.deepEqual(doc.evaluations.map((e) => [e.definition, e.map]), [['voc10', 1], ['voc07', 1.0000000000000002], ['voc07-darknet', 1], ['coco101', 1], ['coco', 1]]);
    assert.match(text, /detections kept per image and class: 100 \(coco101\), 100 \(coco\)/);
    assert.match(text, /COCOeval summary/);
    assert.equal(doc.groundTruth, gt);

    const wrong = captureIO();
    assert.equal(await detectorMap([synth.dataFile, 'x.cfg', 'x.weights'], wrong, truthHooks(items, 3, 1)), 0, wrong.stderr());
    assert.match(wrong.stdout(), /^AP definition: VOC2010\+ all-point AP/m);
    assert.doesNotMatch(wrong.stdout(), /COCO/);
    assert.match(wrong.stdout(), /mAP@0\.50 \(voc10\) = 0\.0000 \(0\.00%\)/);
    assert.match(wrong.stdout(), new RegExp(`TP = 0, FP = ${gt}, FN = ${gt}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector map reports a bad label line as file:line and skips it; --strict exits 1 with that message; classes without truth are left out of the mAP', async () => {
  const dir = tempDir();
  try {
    const data = await handSet(
      dir,
      [
        { name: 'a', w: 64, h: 64, labels: '0 0.5 0.5 0.25 0.25\n7 0.5 0.5 0.1 0.1\n' },
        { name: 'b', w: 64, h: 64, labels: '0 0.3 0.3 0.2 0.2\n0 0.5 0.5 1.5 0.2\n' },
      ],
      ['one', 'two'],
    );
    const items = [
      { image: join(dir, 'images', 'a.png'), boxes: [{ cls: 0, x: 0.5, y: 0.5, w: 0.25, h: 0.25 }] },
      { image: join(dir, 'images', 'b.png'), boxes: [{ cls: 0, x: 0.3, y: 0.3, w: 0.2, h: 0.2 }] },
    ];
    const io = captureIO();
    assert.equal(await detectorMap([data, 'x.cfg', 'x.weights'], io, truthHooks(items, 2)), 0, io.stderr());
    assert.match(io.stderr(), /2 label problems/);
    assert.match(io.stderr(), /labels\/a\.txt:2: unknown class id 7/);
    assert.match(io.stderr(), /labels\/b\.txt:2: coordinate w=1\.5 outside \[0,1\]/);
    assert.match(io.stdout(), /label problems: 2 label lines and 0 images skipped/);
    assert.match(io.stdout(), /2 ground-truth boxes/);
    assert.match(io.stdout(), /two +0 +0 +0 +- +\(no ground truth\)/);
    assert.match(io.stdout(), /mean over the 1 of 2 classes that have ground truth/);
    assert.match(io.stdout(), /mAP@0\.50 \(voc10\) = 1\.0000/);

    const strict = captureIO();
    assert.equal(await detectorMap([data, 'x.cfg', 'x.weights', '--strict'], strict, truthHooks(items, 2)), 1);
    assert.match(strict.stderr(), /^error: .*labels\/a\.txt:2: unknown class id 7 \(classes: 0\.\.1\)$/m);
    assert.equal(strict.stdout(), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector map --max-dets keeps the top-scored detections per image and class (ties in input order)', async () => {
  const dir = tempDir();
  try {
    // three truths of class 0 in one image, each detected exactly with prob 0.9
    const data = await handSet(dir, [{ name: 'a', w: 64, h: 64, labels: '0 0.2 0.2 0.2 0.2\n0 0.5 0.5 0.2 0.2\n0 0.8 0.8 0.2 0.2\n' }], ['one']);
    const items = loadDetectionData(data, 'valid').dataset.items;
    const all = captureIO();
    assert.equal(await detectorMap([data, 'x.cfg', 'x.weights'], all, truthHooks(items, 1)), 0, all.stderr());
    assert.match(all.stdout(), /TP = 3, FP = 0, FN = 0/);
    assert.doesNotMatch(all.stdout(), /detections kept per image/);
    const one = captureIO();
    assert.equal(await detectorMap([data, 'x.cfg', 'x.weights', '--max-dets', '1', '--ap', 'voc10,coco101'], one, truthHooks(items, 1)), 0, one.stderr());
    assert.match(one.stdout(), /detections kept per image and class: 1 \(voc10\), 1 \(coco101\)/);
    assert.match(one.stdout(), /TP = 1, FP = 0, FN = 2/);
    assert.match(one.stdout(), /mAP@0\.50 \(voc10\) = 0\.3333/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector map with a real network prints the same mAP the library computes, and rejects a cfg whose class count differs from the .data file', async () => {
  const dir = tempDir();
  try {
    const { cfg, weights } = tinyNet(dir);
    const synth = await generateSynthDataset({ outDir: join(dir, 'set'), train: 1, valid: 3, classes: 2, size: 64, seed: 4 });
    const jsonFile = join(dir, 'm.json');
    const io = captureIO();
    assert.equal(await detectorMap([synth.dataFile, cfg, weights, '--ap', 'coco', '--thresh', '0.1', '--json', jsonFile], io), 0, io.stderr());
    const doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as { evaluations: { map: number; tp: number; fp: number }[] };
    const items = loadDetectionData(synth.dataFile, 'valid').dataset.items;
    const lib = await evaluateDetector(openNetwork(cfg, weights).eval(), items, { classes: 2, definition: 'coco', reportThresh: 0.1 });
    assert.equal(doc.evaluations[0]!.map, lib.map);
    assert.deepEqual([doc.evaluations[0]!.tp, doc.evaluations[0]!.fp], [lib.tp, lib.fp]);
    assert.match(io.stdout(), new RegExp(`AP@\\[\\.50:\\.95\\] \\(COCO\\) = ${lib.map.toFixed(4)}`));

    const three = await generateSynthDataset({ outDir: join(dir, 'set3'), train: 1, valid: 1, classes: 3, size: 64, seed: 4 });
    const bad = captureIO();
    assert.equal(await detectorMap([three.dataFile, cfg, weights], bad), 1);
    assert.match(bad.stderr(), /tiny\.cfg: the network predicts 2 classes, but .*synth\.data has classes = 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector calc_anchors recovers two known box sizes exactly (avg IoU 100 %), in pixels and grid cells, and writes the anchors line', async () => {
  const dir = tempDir();
  try {
    // at 416×416: 0.25×0.5 → 104×208 px = 3.25×6.5 cells; 0.5×0.125 → 208×52 px = 6.5×1.625 cells
    const list: string[] = [];
    mkdirSync(join(dir, 'labels'));
    for (let i = 0; i < 6; i++) {
      list.push(`images/${i}.jpg`);
      const a = `0 0.5 0.5 0.25 0.5\n`;
      const b = `1 0.4 0.6 0.5 0.125\n`;
      writeFileSync(join(dir, 'labels', `${i}.txt`), i % 2 === 0 ? a + b : b + (i === 3 ? a : ''));
    }
    writeFileSync(join(dir, 'train.txt'), list.join('\n') + '\n');
    writeFileSync(join(dir, 'a.data'), 'classes = 2\ntrain = train.txt\n');
    const outFile = join(dir, 'anchors.txt');
    const io = captureIO();
    assert.equal(await detectorCalcAnchors([join(dir, 'a.data'), '--num', '2', '--out', outFile], io), 0, io.stderr());
    const text = io.stdout();
    assert.match(text, /calc_anchors: 10 boxes from 6 images .*num = 2, net 416x416, stride 32/);
    assert.match(text, /avg IoU = 100\.00 %/);
    assert.match(text, /anchors in pixels: +208\.00,52\.00, 104\.00,208\.00/);
    assert.match(text, /^anchors = 6\.5000,1\.6250, 3\.2500,6\.5000$/m);
    assert.match(readFileSync(outFile, 'utf8'), /^anchors = 6\.5000,1\.6250, 3\.2500,6\.5000$/m);

    // num and stride from a cfg ([region] num=2 on an 8×8 grid at 64×64: stride 8)
    writeFileSync(join(dir, 'tiny.cfg'), TINY_CFG);
    const fromCfg = captureIO();
    assert.equal(await detectorCalcAnchors([join(dir, 'a.data'), '--cfg', join(dir, 'tiny.cfg')], fromCfg), 0, fromCfg.stderr());
    assert.match(fromCfg.stdout(), /num = 2, net 64x64, stride 8/);
    assert.match(fromCfg.stdout(), /^anchors = 4\.0000,1\.0000, 2\.0000,4\.0000$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector calc_anchors counts a bad label line (file:line) and --strict fails on it', async () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, 'labels'));
    writeFileSync(join(dir, 'labels', '0.txt'), '0 0.5 0.5 0.25 0.5\n0 0.5 0.5 0.1\n1 0.5 0.5 0.3 0.3\n');
    writeFileSync(join(dir, 'train.txt'), 'images/0.jpg\n');
    writeFileSync(join(dir, 'a.data'), 'classes = 2\ntrain = train.txt\n');
    const io = captureIO();
    assert.equal(await detectorCalcAnchors([join(dir, 'a.data'), '--num', '2'], io), 0, io.stderr());
    assert.match(io.stderr(), /labels\/0\.txt:2: malformed line: expected 'class x y w h', got 4 fields/);
    assert.match(io.stdout(), /2 boxes from 1 images/);
    const strict = captureIO();
    assert.equal(await detectorCalcAnchors([join(dir, 'a.data'), '--num', '2', '--strict'], strict), 1);
    assert.match(strict.stderr(), /labels\/0\.txt:2: malformed line/);
    const few = captureIO();
    assert.equal(await detectorCalcAnchors([join(dir, 'a.data'), '--num', '3'], few), 1);
    assert.match(few.stderr(), /train\.txt: 2 boxes in the train labels, fewer than the 3 anchors asked for/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad command lines exit 2 with the usage; --help exits 0', async () => {
  const cases: [typeof detectorMap, string[], RegExp][] = [
    [detectorMap, ['a.data', 'b.cfg'], /expected <data> <cfg> <weights>, got 2 arguments/],
    [detectorMap, ['a.data', 'b.cfg', 'c.weights', '--ap', 'voc12'], /--ap must be one of voc07, voc07-darknet, voc10, coco101, coco, all \(or a comma-separated list\), got 'voc12'/],
    [detectorMap, ['a.data', 'b.cfg', 'c.weights', '--ap', 'voc10,coco,x'], /--ap must be one of .*, got 'x'/],
    [detectorMap, ['a.data', 'b.cfg', 'c.weights', '--max-dets', '0'], /--max-dets must be in 1\.\.1000000000, got 0/],
    [detectorMap, ['a.data', 'b.cfg', 'c.weights', '--names', 'x.names'], /--names applies to scoring VOC files/],
    [detectorMap, ['--gt', 'a.json'], /scoring result files needs both --gt and --results/],
    [detectorMap, ['a.data', '--gt', 'a.json', '--results', 'r.json'], /--gt\/--results take no <data> <cfg> <weights>, got a\.data/],
    [detectorMap, ['--gt', 'a.json', '--results', 'r.json', '--nms', '0.3'], /--nms applies to detecting with a network, not to scoring --results/],
    [detectorMap, ['--gt', 'a.json', '--results', 'r.json', '--names', 'x.names'], /--names applies to VOC ground truth/],
    [detectorMap, ['a.data', 'b.cfg', 'c.weights', '--thresh', '2'], /--thresh must be a number in \[0, 1\]/],
    [detectorMap, ['a.data', 'b.cfg', 'c.weights', '--split', 'test'], /--split must be train or valid/],
    [detectorValid, ['a.data', 'b.cfg', 'c.weights', '--bogus'], /unknown option '--bogus'/],
    [detectorValid, ['a.data', 'b.cfg', 'c.weights', '--batch', '0'], /--batch must be in 1\.\.4096/],
    [detectorCalcAnchors, ['a.data'], /--num is required/],
    [detectorCalcAnchors, ['a.data', '--num', 'x'], /--num must be a non-negative integer/],
  ];
  for (const [cmd, argv, msg] of cases) {
    const io = captureIO();
    assert.equal(await cmd(argv, io), 2, argv.join(' '));
    assert.match(io.stderr(), msg);
    assert.match(io.stderr(), /usage: tsgrad detector/);
  }
  const help = captureIO();
  assert.equal(await detectorMap(['--help'], help), 0);
  assert.match(help.stdout(), /--ap {2}voc10 {10}VOC2010\+ all-point AP/);
  assert.match(help.stdout(), /--max-dets N/);
});

test('the tsgrad binary dispatches detector map and calc_anchors (exit codes 2 and 1 from a real process)', () => {
  const dir = tempDir();
  try {
    const bin = join(repoRoot, 'bin', 'tsgrad.js');
    const usage = spawnSync(process.execPath, [bin, 'detector', 'map', 'only-one-arg'], { encoding: 'utf8' });
    assert.equal(usage.status, 2, usage.stderr);
    assert.match(usage.stderr, /expected <data> <cfg> <weights>, got 1 argument/);
    const missing = spawnSync(process.execPath, [bin, 'detector', 'calc_anchors', join(dir, 'none.data'), '--num', '3'], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /none\.data/);
    assert.equal(existsSync(join(dir, 'none.data')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
