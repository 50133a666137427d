// Long jobs and silent wrong results, from real `tsgrad` processes: data synth / detector map / valid
// progress with an ETA (lines in a log, no "\r"; a redrawn line on a terminal), convert-voc naming class
// names outside the VOC ones, detector test saying that nothing passed the threshold.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { makeWeightsBytes } from '../src/yolo/darknet/generate.js';
import { vocToXml } from '../src/yolo/data/voc.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import { HAVE_PTY, tempDir, tinyRegionCfg, tsgrad, tsgradAsync, tsgradOnTerminal, writeFile } from './helpers/cli.js';

const dir = tempDir();
const synth = await generateSynthDataset({ outDir: join(dir, 'data'), train: 2, valid: 12, classes: 2, size: 32, seed: 8, maxObjects: 2 });
const cfg = writeFile(dir, 'tiny.cfg', tinyRegionCfg());
const weights = join(dir, 'tiny.weights');
writeFileSync(weights, makeWeightsBytes(readCfgFile(cfg), 5));
const image = join(dirname(synth.dataFile), readFileSync(join(dirname(synth.dataFile), 'valid.txt'), 'utf8').split('\n')[0]!);

test('data synth with stderr in a file or pipe prints progress lines with the ETA and never a carriage return', () => {
  const r = tsgrad(['data', 'synth', '--out', join(dir, 's1'), '--train', '8', '--valid', '4', '--classes', '2', '--size', '32']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes('\r') && !r.stdout.includes('\r'));
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 10, r.stderr);
  for (const l of lines) assert.match(l, /^synth: \[[#.]{20}\] \d+\/12 images, [\d.]+ images\/s, ETA (\d+s|--)$/);
  assert.match(lines[9]!, /12\/12 images, .* ETA 0s$/);
  assert.match(r.stdout, /^wrote 8 train \+ 4 valid images/);
});

test('data synth on a terminal redraws one progress line', { skip: !HAVE_PTY && 'no `script` command to give the process a terminal' }, () => {
  const r = tsgradOnTerminal(['data', 'synth', '--out', join(dir, 's2'), '--train', '8', '--valid', '4', '--classes', '2', '--size', '32']);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /\rsynth: \[#{20}\] 12\/12 images, [\d.]+ images\/s, ETA 0s\x1b\[K/);
});

test('detector map and valid report progress with the ETA (lines in a log, a redrawn line on a terminal)', async () => {
  const [map, valid] = await Promise.all([
    tsgradAsync(['detector', 'map', synth.dataFile, cfg, weights]),
    tsgradAsync(['detector', 'valid', synth.dataFile, cfg, weights, '--out', join(dir, 'results')]),
  ]);
  for (const [what, r] of [['map', map], ['valid', valid]] as const) {
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('\r'));
    const lines = r.stderr.split('\n').filter((l) => l.startsWith(`${what}: `));
    assert.equal(lines.length, 3, r.stderr); // one per batch of 4 images
    for (const l of lines) assert.match(l, new RegExp(`^${what}: \\[[#.]{20}\\] \\d+/12 images, [\\d.]+ images/s, ETA (\\d+s|--)$`));
    assert.match(lines[lines.length - 1]!, /12\/12 images/);
  }
  if (HAVE_PTY) {
    const t = tsgradOnTerminal(['detector', 'map', synth.dataFile, cfg, weights]);
    assert.equal(t.code, 0, t.stdout);
    assert.match(t.stdout, /\rmap: \[#{20}\] 12\/12 images, .*ETA 0s\x1b\[K/);
  }
});

/** A VOC year folder with one 64x48 image whose objects have the given class names. */
async function vocFolder(root: string, classes: string[]): Promise<void> {
  for (const d of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(root, d), { recursive: true });
  await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 120, b: 150 } } }).jpeg().toFile(join(root, 'JPEGImages', 'a.jpg'));
  const objects = classes.map((name, k) => ({ name, difficult: false, truncated: false, xmin: 4 + 10 * k, ymin: 4, xmax: 14 + 10 * k, ymax: 20 }));
  writeFileSync(join(root, 'Annotations', 'a.xml'), vocToXml({ filename: 'a.jpg', width: 64, height: 48, objects }));
  writeFileSync(join(root, 'ImageSets', 'Main', 'train.txt'), 'a\n');
}

test('data convert-voc with class names outside the 20 VOC ones names them, points at --names and writes nothing', async () => {
  const root = join(dir, 'VOC2099');
  await vocFolder(root, ['widget', 'gadget', 'widget']);
  const out = join(dir, 'voc-out');
  const r = tsgrad(['data', 'convert-voc', '--out', out, '--train', `${root}:train`]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^error: 3 objects have class names outside the 20 VOC classes: widget \(2\), gadget \(1\); nothing was written\. Give the class names of this data set with --names FILE/);
  assert.equal(existsSync(join(out, 'voc.data')), false);
  const names = writeFile(dir, 'mine.names', 'widget\n');
  const ok = tsgrad(['data', 'convert-voc', '--out', out, '--train', `${root}:train`, '--names', names]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^train: 1 images, 2 boxes; skipped 0 images, 0 difficult, 1 unknown-class/);
  assert.match(ok.stderr, /^note: skipped objects of classes not in .*mine\.names: gadget \(1\)$/m);
  assert.ok(existsSync(join(out, 'voc.data')));
});

test('detector test with nothing above the threshold says so (random weights detect nothing) and writes no image', () => {
  const out = join(dir, 'none.png');
  const r = tsgrad(['detector', 'test', synth.dataFile, cfg, weights, image, '--thresh', '0.99', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^no detection above --thresh 0\.99 \(the strongest is \w+ at \d+\.\d%\); the weights have seen no training image \(header seen = 0\): random or untrained weights detect nothing\. No image written\.$/m,
  );
  assert.doesNotMatch(r.stdout, /^wrote /m);
  assert.equal(existsSync(out), false);
});
