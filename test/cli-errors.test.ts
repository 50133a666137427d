// Bad command lines and Darknet habits, from real `tsgrad` processes: a usage error is one line plus the
// usage line (exit 2), typos get "did you mean", Darknet's single-dash flags work where tsgrad has the
// feature and get one line naming the nearest option where it has not, a failed job exits 1 and an
// unavailable device 3.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import '../src/backends/cuda/index.js';
import { listDevices } from '../src/tensor/device.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { makeWeightsBytes } from '../src/yolo/darknet/generate.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import { tempDir, tinyRegionCfg, tsgrad, tsgradAsync, writeFile } from './helpers/cli.js';

const dir = tempDir();
const synth = await generateSynthDataset({ outDir: join(dir, 'data'), train: 4, valid: 3, classes: 2, size: 48, seed: 4, maxObjects: 2 });
const cfg = writeFile(dir, 'tiny.cfg', tinyRegionCfg({ max_batches: 1 }));
const weights = join(dir, 'tiny.weights');
writeFileSync(weights, makeWeightsBytes(readCfgFile(cfg), 3));
const image = join(dirname(synth.dataFile), readFileSync(join(dirname(synth.dataFile), 'valid.txt'), 'utf8').split('\n')[0]!);
const names = synth.dataFile.replace(/\.data$/, '.names');
const cuda = listDevices().find((d) => d.name === 'cuda');

test('a usage error prints one error line and the usage line with a pointer to --help, not the usage block (exit 2)', () => {
  const r = tsgrad(['detector', 'test', 'only.data']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.equal(lines[0], 'error: expected <data-or-names> <cfg> <weights> <image...>, got 1 argument');
  assert.equal(lines[1], "usage: tsgrad detector test <data-or-names> <cfg> <weights> <image...> [options]; 'tsgrad detector test --help' lists the options");
  const sub = tsgrad(['detector']);
  assert.equal(sub.code, 2);
  assert.deepEqual(sub.stderr.trimEnd().split('\n'), ['error: missing subcommand', "usage: tsgrad detector <test|train|valid|map|calc-anchors> ...; 'tsgrad detector --help' lists them"]);
});

test('typos of options, Darknet flags, subcommands, commands and devices get "did you mean"', async () => {
  const cases: [string[], RegExp][] = [
    [['detector', 'test', 'a', 'b', 'c', 'd', '--thres', '0.3'], /^error: unknown option '--thres'; did you mean --thresh\?$/m],
    [['detector', 'test', 'a', 'b', 'c', 'd', '-thres', '0.3'], /^error: unknown option '-thres'; did you mean Darknet's -thresh \(= --thresh T\)\?$/m],
    [['detector', 'map', 'a', 'b', 'c', '-device', 'cuda'], /^error: unknown option '-device'; did you mean --device\? \(tsgrad's own options start with two dashes\)$/m],
    [['detector', 'tset'], /^error: unknown detector subcommand 'tset'; did you mean 'test'\?$/m],
    [['detectr', 'test'], /^error: unknown command 'detectr'; did you mean 'detector'\?$/m],
    [['data', 'convert_voc'], /^error: unknown data subcommand 'convert_voc'; did you mean 'convert-voc'\?$/m],
    [['info', '--jsn'], /^error: unknown option '--jsn'; did you mean --json\?$/m],
    [['detector', 'test', names, cfg, weights, image, '--device', 'cdua'], /^error: --device: unknown device 'cdua'; did you mean 'cuda'\?/m],
  ];
  const runs = await Promise.all(cases.map(([argv]) => tsgradAsync(argv)));
  cases.forEach(([argv, re], k) => {
    assert.equal(runs[k]!.code, 2, `${argv.join(' ')}: ${runs[k]!.stderr}`);
    assert.match(runs[k]!.stderr, re, argv.join(' '));
  });
});

test('an option missing its value, a switch given one, or a value out of range is a one-line usage error naming the option', async () => {
  const cases: [string[], string][] = [
    [['detector', 'map', 'a', 'b', 'c', '--thresh'], "error: --thresh needs a value (T)"],
    [['detector', 'map', 'a', 'b', 'c', '--thresh', '--iou', '0.5'], "error: --thresh needs a value (T)"],
    [['detector', 'train', 'a', 'b', '--clear=yes'], "error: --clear is a switch and takes no value (got '--clear=yes')"],
    [['detector', 'map', 'a', 'b', 'c', '-thresh'], 'error: -thresh needs a value (T)'],
    [['detector', 'map', 'a', 'b', 'c', '--thresh=2'], "error: --thresh must be a number in [0, 1], got '2'"],
  ];
  const runs = await Promise.all(cases.map(([argv]) => tsgradAsync(argv)));
  cases.forEach(([argv, line], k) => {
    assert.equal(runs[k]!.code, 2, argv.join(' '));
    assert.equal(runs[k]!.stderr.split('\n')[0], line, argv.join(' '));
    assert.equal(runs[k]!.stderr.trimEnd().split('\n').length, 2, runs[k]!.stderr);
  });
});

test("detector test takes Darknet's -thresh, -ext_output, -out (JSON), -dont_show, -width/-height as tsgrad's options", () => {
  const png = join(dir, 'pred.png');
  const json = join(dir, 'pred.json');
  const darknet = tsgrad(['detector', 'test', names, cfg, weights, image, '-thresh', '0.2', '-ext_output', '-dont_show', '-out', json, '-width', '32', '-height', '32', '--out', png]);
  assert.equal(darknet.code, 0, darknet.stderr);
  const plain = tsgrad(['detector', 'test', names, cfg, weights, image, '--thresh', '0.2', '--json', json, '--width', '32', '--height', '32', '--out', png]);
  assert.equal(plain.code, 0, plain.stderr);
  const dets = (s: string): string[] => s.split('\n').filter((l) => /%  box /.test(l));
  assert.ok(dets(darknet.stdout).length > 0, darknet.stdout);
  assert.deepEqual(dets(darknet.stdout), dets(plain.stdout));
  for (const l of dets(darknet.stdout)) assert.ok(Number(/: (\d+)%/.exec(l)![1]) >= 20, l);
  const frames = JSON.parse(readFileSync(json, 'utf8')) as { frame_id: number; filename: string; objects: { class_id: number; name: string; confidence: number; relative_coordinates: { center_x: number } }[] }[];
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.frame_id, 1);
  assert.equal(frames[0]!.filename, image);
  assert.equal(frames[0]!.objects.length, dets(darknet.stdout).length);
  for (const o of frames[0]!.objects) {
    assert.ok(o.confidence > 0.2 && o.confidence <= 1);
    assert.ok(o.relative_coordinates.center_x >= 0 && o.relative_coordinates.center_x <= 1);
  }
});

test("detector map takes -thresh, -iou_thresh, -points 0|11|101 and -dont_show; calc_anchors takes -num_of_clusters and -width/-height", async () => {
  const [map, pts, anchors] = await Promise.all([
    tsgradAsync(['detector', 'map', synth.dataFile, cfg, weights, '-thresh', '0.3', '-iou_thresh', '0.6', '-points', '11', '-dont_show']),
    tsgradAsync(['detector', 'map', synth.dataFile, cfg, weights, '-points', '7']),
    tsgradAsync(['detector', 'calc_anchors', synth.dataFile, '-num_of_clusters', '2', '-width', '64', '-height', '64']),
  ]);
  assert.equal(map.code, 0, map.stderr);
  assert.match(map.stdout, /^AP definition: VOC2007 11-point AP at Darknet's recall points k\/10/m);
  assert.match(map.stdout, /^mAP@0\.60 \(voc07-darknet\) = /m);
  assert.match(map.stdout, /^for conf_thresh = 0\.3, precision = /m);
  assert.equal(pts.code, 2);
  assert.match(pts.stderr, /^error: -points 7: the values tsgrad maps are 0, 11, 101$/m);
  assert.equal(anchors.code, 0, anchors.stderr);
  assert.match(anchors.stdout, /num = 2, net 64x64/);
});

test('detector train takes -map (mAP as Darknet schedules it), -dont_show and -clear', () => {
  const r = tsgrad(['detector', 'train', synth.dataFile, cfg, weights, '-map', '-dont_show', '-clear', '--backup', join(dir, 'bk-map'), '--workers', '0', '--chart', 'none']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /schedule starts at iteration 0/);
  assert.match(r.stdout, /^1\/1: .*mAP@0\.5 \d+\.\d\d%/m);
  assert.ok(existsSync(join(dir, 'bk-map', 'tiny_best.weights')));
});

test('a Darknet flag tsgrad lacks is one line naming the nearest option; -gpus with more than GPU 0 says one GPU for now', async () => {
  const [labels, gpus, show] = await Promise.all([
    tsgradAsync(['detector', 'test', names, cfg, weights, image, '-save_labels']),
    tsgradAsync(['detector', 'train', synth.dataFile, cfg, '-gpus', '0,1']),
    tsgradAsync(['detector', 'train', synth.dataFile, cfg, '-show_imgs']),
  ]);
  for (const r of [labels, gpus, show]) {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 2, r.stderr);
  }
  assert.match(labels.stderr, /^error: tsgrad has no Darknet -save_labels; nearest: --json FILE/);
  assert.match(gpus.stderr, /^error: -gpus 0,1: tsgrad runs on one GPU for now \(GPU 0\): use -gpus 0, i\.e\. --device cuda$/m);
  assert.match(show.stderr, /^error: tsgrad has no Darknet -show_imgs; nearest: --chart FILE/);
});

test('a job that fails exits 1 with one error line naming the file', () => {
  const r = tsgrad(['detector', 'test', join(dir, 'missing.names'), cfg, weights, image]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*missing\.names: cannot read the class names/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
});

test('--device cuda (and Darknet\'s -gpus 0) where cuda is not available exits 3 with the reason', { skip: cuda?.available === true && 'a GPU is available here' }, async () => {
  const [dev, gpus] = await Promise.all([
    tsgradAsync(['detector', 'test', names, cfg, weights, image, '--device', 'cuda']),
    tsgradAsync(['detector', 'test', names, cfg, weights, image, '-gpus', '0']),
  ]);
  for (const r of [dev, gpus]) {
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^error: --device cuda: not available here: .+ \('tsgrad info' shows every device\)$/m);
    assert.ok(r.stderr.includes(cuda!.reason), r.stderr);
  }
});
