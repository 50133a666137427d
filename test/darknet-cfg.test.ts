// Darknet .cfg parser and shape inference: every shipped cfg parses at its own size, the inferred
// geometry and options equal Darknet's own layers.json for both reference cases, Darknet's defaults
// fill absent keys, and every kind of bad input is one error naming file:line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  DarknetCfgError,
  parseCfg,
  readCfgFile,
  type ConvolutionalLayer,
  type DarknetLayer,
  type DarknetNetwork,
  type LayerOf,
  type LayerType,
  type MaxpoolLayer,
} from '../src/yolo/darknet/cfg.js';
import { DARKNET_CFG, DARKNET_REFS } from './helpers/refs.js';

const refRoot = DARKNET_REFS;
const cfgDir = DARKNET_CFG;

function present(p: string): string {
  if (!existsSync(p)) throw new Error(`Darknet file missing: ${p}`);
  return p;
}

function layerAt<T extends LayerType>(net: DarknetNetwork, index: number, type: T): LayerOf<T> {
  const l = net.layers[index];
  assert.ok(l !== undefined, `layer ${index} exists`);
  assert.equal(l.type, type, `layer ${index} type`);
  return l as LayerOf<T>;
}

/** Asserts that parsing throws a DarknetCfgError at `line` whose message matches `re`. */
function assertCfgError(text: string, line: number, re: RegExp, overrides?: Record<string, number | string>): void {
  assert.throws(
    () => parseCfg(text, { file: 'bad.cfg', ...(overrides === undefined ? {} : { overrides }) }),
    (e: unknown) => {
      assert.ok(e instanceof DarknetCfgError, `expected DarknetCfgError, got ${String(e)}`);
      assert.equal(e.line, line, `line of: ${e.message}`);
      const prefix = line > 0 ? `bad.cfg:${line}: ` : 'bad.cfg: ';
      assert.ok(e.message.startsWith(prefix), `message starts with ${prefix}: ${e.message}`);
      assert.match(e.message, re);
      return true;
    },
  );
}

const NET = '[net]\nwidth=8\nheight=8\nchannels=3\n';

// ---------------------------------------------------------------------------------------------
// Every shipped cfg at its own size

const OWN_SIZE: Record<string, { layers: number; out: [number, number, number]; params: number; input: [number, number, number] }> = {
  'darknet19.cfg': { layers: 26, out: [1000, 1, 1], params: 20856776, input: [3, 256, 256] },
  'darknet19_448.cfg': { layers: 26, out: [1000, 1, 1], params: 20856776, input: [3, 448, 448] },
  'yolov1-tiny.cfg': { layers: 16, out: [1470, 1, 1], params: 27099950, input: [3, 448, 448] },
  'yolov1.cfg': { layers: 32, out: [1715, 1, 1], params: 197328243, input: [3, 448, 448] },
  'yolov2-tiny-voc.cfg': { layers: 16, out: [125, 13, 13], params: 15867885, input: [3, 416, 416] },
  'yolov2-tiny.cfg': { layers: 16, out: [425, 13, 13], params: 11237145, input: [3, 416, 416] },
  'yolov2-voc.cfg': { layers: 32, out: [125, 13, 13], params: 50676061, input: [3, 416, 416] },
  'yolov2.cfg': { layers: 32, out: [425, 19, 19], params: 50983561, input: [3, 608, 608] },
};

test('every shipped cfg parses at its own size with the expected depth, output and parameter count', () => {
  const files = readdirSync(present(cfgDir)).filter((f) => f.endsWith('.cfg')).sort();
  assert.deepEqual(files, Object.keys(OWN_SIZE).sort(), 'the cfg folder holds the cfgs this test knows');
  for (const f of files) {
    const net = readCfgFile(join(cfgDir, f));
    const want = OWN_SIZE[f] as (typeof OWN_SIZE)[string];
    assert.equal(net.layers.length, want.layers, `${f} layers`);
    assert.deepEqual(net.input, want.input, `${f} input`);
    assert.deepEqual(net.layers[net.layers.length - 1]?.out, want.out, `${f} output`);
    assert.equal(net.paramCount, want.params, `${f} parameters`);
    net.layers.forEach((l, i) => {
      assert.equal(l.index, i);
      assert.equal(l.source.file, join(cfgDir, f), 'source.file is the path as given');
      assert.ok(l.shape.outputs > 0, `${f} layer ${i} has outputs`);
      // each layer's input count is what the previous layer produced
      if (i > 0 && l.type !== 'route') assert.equal(l.shape.inputs, net.layers[i - 1]?.shape.outputs, `${f} layer ${i} inputs`);
    });
  }
});

test('yolov2-voc route/reorg geometry: reorg is 4C×H/2×W/2 and route concatenates reorg first (416 and 96)', () => {
  for (const [size, grid] of [[416, 13], [96, 3]] as const) {
    const net = readCfgFile(join(cfgDir, 'yolov2-voc.cfg'), { overrides: { width: size, height: size } });
    const r25 = layerAt(net, 25, 'route');
    assert.deepEqual(r25.layers, [16]);
    assert.deepEqual(r25.out, [512, grid * 2, grid * 2]);
    assert.deepEqual(layerAt(net, 26, 'convolutional').out, [64, grid * 2, grid * 2]);
    const reorg = layerAt(net, 27, 'reorg');
    assert.equal(reorg.stride, 2);
    assert.deepEqual(reorg.out, [256, grid, grid]);
    const r28 = layerAt(net, 28, 'route');
    assert.deepEqual(r28.layers, [27, 24]);
    assert.deepEqual(r28.out, [1280, grid, grid]);
    assert.equal(r28.shape.outputs, (256 + 1024) * grid * grid);
    assert.deepEqual([r28.shape.w, r28.shape.h, r28.shape.c], [0, 0, 0], 'Darknet leaves route w/h/c at 0');
    assert.deepEqual(layerAt(net, 31, 'region').out, [125, grid, grid]);
  }
});

test('yolov1 local/dropout/connected/detection geometry and parameter counts at 448', () => {
  const net = readCfgFile(join(cfgDir, 'yolov1.cfg'));
  const local = layerAt(net, 28, 'local');
  assert.equal(local.pad, true);
  assert.deepEqual(local.out, [256, 7, 7], 'pad=1 on a 3×3 local keeps 7×7 (padding is 1 pixel, literally)');
  assert.deepEqual(local.tensors, [
    { name: 'biases', count: 256 * 49 },
    { name: 'weights', count: 49 * 256 * 1024 * 9 },
  ]);
  const drop = layerAt(net, 29, 'dropout');
  assert.equal(drop.probability, 0.5);
  assert.deepEqual(drop.out, [256, 7, 7]);
  const fc = layerAt(net, 30, 'connected');
  assert.equal(fc.shape.inputs, 12544);
  assert.deepEqual(fc.tensors, [
    { name: 'biases', count: 1715 },
    { name: 'weights', count: 1715 * 12544 },
  ]);
  const det = layerAt(net, 31, 'detection');
  assert.equal(det.n, 3);
  assert.equal(det.truths, 49 * 25);
  assert.equal(net.truths, 49 * 25);
});

test('maxpool follows Darknet padding: size 2 stride 2 rounds odd sizes up, stride 1 keeps the size', () => {
  const net = readCfgFile(join(cfgDir, 'yolov2-tiny-voc.cfg'), { overrides: { width: 80, height: 80 } });
  const pools = net.layers.filter((l): l is MaxpoolLayer => l.type === 'maxpool');
  assert.deepEqual(pools.map((p) => p.out[1]), [40, 20, 10, 5, 3, 3]);
  assert.deepEqual(pools.map((p) => [p.size, p.stride, p.padding]), [[2, 2, 1], [2, 2, 1], [2, 2, 1], [2, 2, 1], [2, 2, 1], [2, 1, 1]]);
  // explicit padding overrides the size-1 default
  const p = parseCfg(`${NET}[maxpool]\nsize=3\nstride=2\npadding=0\n`);
  assert.deepEqual(layerAt(p, 0, 'maxpool').out, [3, 3, 3]);
});

test('darknet19: avgpool gives 1000×1×1 and softmax is a flat 1000 with Darknet out dims 0', () => {
  const net = readCfgFile(join(cfgDir, 'darknet19.cfg'));
  const avg = layerAt(net, 24, 'avgpool');
  assert.deepEqual(avg.out, [1000, 1, 1]);
  const sm = layerAt(net, 25, 'softmax');
  assert.equal(sm.groups, 1);
  assert.deepEqual([sm.shape.outW, sm.shape.outH, sm.shape.outC, sm.shape.outputs], [0, 0, 0, 1000]);
  assert.deepEqual(sm.out, [1000, 1, 1]);
  assert.equal(net.outputs, 1000);
});

// ---------------------------------------------------------------------------------------------
// Against Darknet's own layers.json

interface LayersJson {
  net: Record<string, number>;
  layers: Record<string, unknown>[];
}

/** The fields of layers.json, computed from our parse. */
function darknetView(net: DarknetNetwork, l: DarknetLayer): Record<string, unknown> {
  const s = l.shape;
  const v: Record<string, unknown> = {
    index: l.index, type: l.type, batch: net.net.miniBatch,
    w: s.w, h: s.h, c: s.c, out_w: s.outW, out_h: s.outH, out_c: s.outC, inputs: s.inputs, outputs: s.outputs,
  };
  switch (l.type) {
    case 'convolutional':
      Object.assign(v, { filters: l.filters, size: l.size, stride: l.stride, pad: l.padding, groups: l.groups, batch_normalize: +l.batchNormalize, activation: l.activation, nweights: l.nweights });
      break;
    case 'maxpool':
      Object.assign(v, { size: l.size, stride: l.stride, pad: l.padding });
      break;
    case 'connected':
      Object.assign(v, { batch_normalize: +l.batchNormalize, activation: l.activation });
      break;
    case 'detection':
      Object.assign(v, {
        side: l.side, n: l.n, classes: l.classes, coords: l.coords, softmax: +l.softmax, rescore: +l.rescore, sqrt: +l.sqrt,
        forced: l.forced, random: +l.random, reorg: +l.reorg, max_boxes: l.maxBoxes, truths: l.truths, jitter: l.jitter,
        object_scale: l.objectScale, noobject_scale: l.noobjectScale, class_scale: l.classScale, coord_scale: l.coordScale,
      });
      break;
    case 'region':
      Object.assign(v, {
        n: l.n, classes: l.classes, coords: l.coords, softmax: +l.softmax, rescore: +l.rescore, bias_match: +l.biasMatch,
        background: +l.background, absolute: +l.absolute, random: +l.random, max_boxes: l.maxBoxes, log: l.log, sqrt: +l.sqrt,
        classfix: l.classfix, truths: l.truths, thresh: l.thresh, jitter: l.jitter, object_scale: l.objectScale,
        noobject_scale: l.noobjectScale, class_scale: l.classScale, coord_scale: l.coordScale, mask_scale: l.maskScale, anchors: l.anchors,
      });
      break;
    default:
      break;
  }
  return v;
}

function sameValue(actual: unknown, expected: unknown): boolean {
  if (typeof expected === 'number') return typeof actual === 'number' && Math.fround(actual) === Math.fround(expected);
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => sameValue(actual[i], e));
  return actual === expected;
}

for (const caseName of ['yolov2-tiny-voc_96x96', 'yolov1-tiny_128x128']) {
  test(`shape inference and options equal Darknet's layers.json, field by field (${caseName})`, () => {
    const caseJson = JSON.parse(readFileSync(present(join(refRoot, caseName, 'case.json')), 'utf8')) as { cfg: string; overrides: Record<string, number> };
    const ref = JSON.parse(readFileSync(present(join(refRoot, caseName, 'layers.json')), 'utf8')) as LayersJson;
    const net = readCfgFile(join(cfgDir, caseJson.cfg.split('/').pop() as string), { overrides: caseJson.overrides });
    assert.deepEqual(
      { w: net.net.width, h: net.net.height, c: net.net.channels, inputs: net.inputs, batch: net.net.miniBatch, n: net.layers.length },
      { w: ref.net['w'], h: ref.net['h'], c: ref.net['c'], inputs: ref.net['inputs'], batch: ref.net['batch'], n: ref.net['n'] },
    );
    assert.equal(net.layers.length, ref.layers.length);
    let compared = 0;
    ref.layers.forEach((want, i) => {
      const got = darknetView(net, net.layers[i] as DarknetLayer);
      for (const [k, e] of Object.entries(want)) {
        assert.ok(k in got, `layer ${i} ${String(want['type'])}: layers.json field '${k}' is not mapped`);
        assert.ok(sameValue(got[k], e), `layer ${i} ${String(want['type'])} field ${k}: got ${JSON.stringify(got[k])}, Darknet ${JSON.stringify(e)}`);
        compared++;
      }
    });
    assert.ok(compared > 150, `compared ${compared} fields`);
  });
}

// ---------------------------------------------------------------------------------------------
// Defaults, text features, overrides

test('absent keys take Darknet parse_* defaults', () => {
  const net = parseCfg(`${NET}[convolutional]\n[maxpool]\nstride=2\n[local]\n[connected]\n[convolutional]\nfilters=25\n[region]\n`);
  const conv = layerAt(net, 0, 'convolutional');
  assert.deepEqual(
    [conv.filters, conv.size, conv.stride, conv.pad, conv.padding, conv.groups, conv.activation, conv.batchNormalize],
    [1, 1, 1, false, 0, 1, 'logistic', false],
  );
  const mp = layerAt(net, 1, 'maxpool');
  assert.deepEqual([mp.size, mp.stride, mp.padding], [2, 2, 1], 'maxpool size defaults to stride, padding to size-1');
  const local = layerAt(net, 2, 'local');
  assert.deepEqual([local.filters, local.size, local.stride, local.pad, local.activation], [1, 1, 1, false, 'logistic']);
  const fc = layerAt(net, 3, 'connected');
  assert.deepEqual([fc.output, fc.activation, fc.batchNormalize], [1, 'logistic', false]);
  const region = layerAt(net, 5, 'region');
  assert.deepEqual([region.n, region.classes, region.coords, region.maxBoxes], [1, 20, 4, 30]);
  assert.equal(region.thresh, Math.fround(0.5));
  assert.equal(region.jitter, Math.fround(0.2));
  assert.deepEqual(region.anchors, [0.5, 0.5], 'anchors default to .5');
  assert.deepEqual([region.softmax, region.rescore, region.biasMatch, region.absolute], [false, false, false, false]);
  assert.deepEqual(conv.common, { learningRateScale: 1, onlyforward: false, stopbackward: false, dontsave: false, dontload: false, dontloadscales: false });
  const n = net.net;
  assert.deepEqual(
    [n.batch, n.subdivisions, n.timeSteps, n.miniBatch, n.policy, n.maxBatches, n.burnIn, n.power, n.adam, n.steps, n.scales],
    [1, 1, 1, 1, 'constant', 0, 0, 4, false, [], []],
  );
  assert.equal(n.learningRate, Math.fround(0.001));
  assert.equal(n.momentum, Math.fround(0.9));
  assert.equal(n.decay, Math.fround(0.0001));
  assert.deepEqual([n.maxCrop, n.minCrop, n.maxRatio, n.minRatio], [16, 8, 2, 1]);
  const det = parseCfg(`${NET}[connected]\noutput=147\n[detection]\nside=7\n`);
  const d = layerAt(det, 1, 'detection');
  assert.deepEqual([d.coords, d.classes, d.n, d.side, d.maxBoxes, d.rescore], [1, 1, 1, 7, 90, false]);
});

test('comments, blank lines, whitespace, CRLF, aliases and repeated sections; source lines are kept', () => {
  const text = [
    '; leading comment', //                   1
    '[net]', //                               2
    '  width = 16 ', //                       3
    '\theight=16\t', //                       4
    'channels=3  # trailing comment', //      5
    'policy=steps', //                        6
    'steps = 10, 20', //                      7
    'scales= .1 ,.1', //                      8
    '', //                                    9
    '# [convolutional] commented out', //    10
    '[conv]', //                             11
    'filters = 4', //                        12
    'size=3', //                             13
    'pad=1', //                              14
    'activation = leaky ; note', //          15
    '[convolutional]', //                    16
    'filters=6', //                          17
    '[max]', //                              18
    'stride=2', //                           19
    '[route]', //                            20
    'layers = -3, -2', //                    21
  ].join('\r\n');
  const net = parseCfg(text, { file: 't.cfg' });
  assert.deepEqual(net.net.steps, [10, 20]);
  assert.deepEqual(net.net.scales, [Math.fround(0.1), Math.fround(0.1)]);
  assert.equal(net.net.source.line, 2);
  assert.deepEqual(net.net.source.keys, { width: 3, height: 4, channels: 5, policy: 6, steps: 7, scales: 8 });
  const c0 = layerAt(net, 0, 'convolutional');
  assert.deepEqual([c0.filters, c0.size, c0.padding, c0.activation], [4, 3, 1, 'leaky']);
  assert.deepEqual(c0.source, { file: 't.cfg', line: 11, section: 'conv', keys: { filters: 12, size: 13, pad: 14, activation: 15 } });
  const c1 = layerAt(net, 1, 'convolutional');
  assert.equal(c1.source.line, 16);
  assert.deepEqual(c1.out, [6, 16, 16]);
  assert.deepEqual(layerAt(net, 2, 'maxpool').out, [6, 8, 8]);
  const route = layerAt(net, 3, 'route');
  assert.deepEqual(route.layers, [0, 1]);
  assert.deepEqual(route.out, [10, 16, 16], 'same-size sources concatenate channels');
});

test('route over sources of different sizes gives a flat output that image layers refuse', () => {
  const net = parseCfg(`${NET}[convolutional]\nfilters=2\n[maxpool]\nstride=2\n[route]\nlayers=0,1\n[connected]\noutput=3\n`);
  const route = layerAt(net, 2, 'route');
  assert.deepEqual([route.shape.outC, route.shape.outH, route.shape.outW, route.shape.outputs], [0, 0, 0, 128 + 32]);
  assert.deepEqual(route.out, [160, 1, 1]);
  assert.equal(layerAt(net, 3, 'connected').shape.inputs, 160);
  assertCfgError(`${NET}[convolutional]\nfilters=2\n[maxpool]\nstride=2\n[route]\nlayers=0,1\n[convolutional]\n`, 11, /needs an image input .* flat 160-vector/);
});

test('[net] overrides replace the file values and are recorded', () => {
  const net = readCfgFile(join(cfgDir, 'yolov2-tiny-voc.cfg'), { overrides: { width: 96, height: 96, batch: 1, subdivisions: 1 } });
  assert.deepEqual([net.net.width, net.net.height], [96, 96]);
  assert.deepEqual(net.net.overridden, ['width', 'height', 'batch', 'subdivisions']);
  assert.equal(net.net.source.keys['width'], 0, 'an overridden key has line 0');
  assert.equal(net.net.source.keys['channels'], 10);
  assert.deepEqual(net.layers[15]?.out, [125, 3, 3]);
  // a key the file does not set can be overridden too
  assert.equal(parseCfg(`${NET}[avgpool]\n`, { overrides: { max_batches: 5 } }).net.maxBatches, 5);
});

test('groups divide channels and filters; nweights uses c/groups', () => {
  const net = parseCfg(`${NET.replace('channels=3', 'channels=4')}[convolutional]\nfilters=6\nsize=3\ngroups=2\n`);
  const c = layerAt(net, 0, 'convolutional') as ConvolutionalLayer;
  assert.equal(c.nweights, 6 * 2 * 9);
  assert.deepEqual(c.out, [6, 6, 6]);
  assertCfgError(`${NET}[convolutional]\nfilters=6\ngroups=2\n`, 7, /groups=2 does not divide the 3 input channels/);
});

// ---------------------------------------------------------------------------------------------
// Errors: one DarknetCfgError naming file:line

test('an unknown key is an error at its line, listing the known keys', () => {
  assertCfgError(`${NET}[convolutional]\nfilters=4\nfiltres=8\n`, 7, /\[convolutional\] \(layer 0\): unknown key 'filtres' \(known keys: .*filters/);
  assertCfgError(`${NET}colour=1\n`, 5, /\[net\]: unknown key 'colour'/);
});

test('an unknown section, or a Darknet section tsgrad lacks, is an error at its header line', () => {
  assertCfgError(`${NET}[convolutional]\n[frobnicate]\nx=1\n`, 6, /\[frobnicate\] \(layer 1\): unknown section; supported: convolutional, maxpool/);
  assertCfgError(`${NET}[yolo]\n`, 5, /\[yolo\] \(layer 0\): a Darknet section that tsgrad does not implement/);
});

test('bad values: non-numbers, fractions for integers, negative or zero sizes, bad switches and names', () => {
  assertCfgError(`${NET}[convolutional]\nsize=abc\n`, 6, /size='abc' is not an integer/);
  assertCfgError(`${NET}[convolutional]\nfilters=3.5\n`, 6, /filters='3.5' is not an integer/);
  assertCfgError(`${NET}[convolutional]\nsize=-3\n`, 6, /size=-3 must be >= 1/);
  assertCfgError(`${NET}[maxpool]\nstride=0\n`, 6, /stride=0 must be >= 1/);
  assertCfgError(`${NET}[convolutional]\nbatch_normalize=2\n`, 6, /batch_normalize='2' must be 0 or 1/);
  assertCfgError(`${NET}[convolutional]\nactivation=swish\n`, 6, /activation='swish' is not one of logistic, .*leaky/);
  assertCfgError(`${NET}[dropout]\nprobability=1\n`, 6, /probability=1 must be < 1/);
  assertCfgError(`${NET}[dropout]\nprobability=.5x\n`, 6, /probability='.5x' is not a number/);
  assertCfgError(`${NET.replace('width=8', 'width=-8')}`, 2, /width=-8 must be >= 0/);
  assertCfgError(`[net]\nbatch=64\nsubdivisions=128\nwidth=8\nheight=8\nchannels=3\n`, 3, /leaves no image per forward pass/);
  assertCfgError(`[net]\nwidth=8\n[convolutional]\n`, 1, /no input size/);
  assertCfgError(`${NET}policy=steps\nsteps=1,2\nscales=.1\n`, 7, /steps has 2 values but scales has 1/);
  assertCfgError(`${NET}policy=steps\n`, 5, /policy=steps needs both steps= and scales=/);
  assertCfgError(`${NET}policy=cosine\n`, 5, /policy='cosine' is not one of/);
  assertCfgError(`${NET}[convolutional]\nbinary=1\n`, 6, /binary=1 is not supported by tsgrad/);
  assert.doesNotThrow(() => parseCfg(`${NET}[convolutional]\nbinary=0\n`), 'a Darknet-only key at its default is harmless');
});

test('text-level errors: missing =, empty value, key before any section, repeated key, bad header, first section', () => {
  assertCfgError(`${NET}[convolutional]\nfilters\n`, 6, /expected key=value, got 'filters'/);
  assertCfgError(`${NET}[convolutional]\nfilters=\n`, 6, /key 'filters' has an empty value/);
  assertCfgError(`width=8\n[net]\n`, 1, /appears before the first \[section\]/);
  assertCfgError(`${NET}[convolutional]\nsize=3\nsize=1\n`, 7, /key 'size' repeated in \[convolutional\] \(first set at line 6\)/);
  assertCfgError(`${NET}[convolutional\n`, 5, /malformed section header/);
  assertCfgError(`[convolutional]\nfilters=1\n`, 1, /first section must be \[net\] or \[network\]/);
  assertCfgError(`${NET}[net]\n`, 5, /a second \[net\] section/);
  assertCfgError(`# nothing\n`, 0, /no sections/);
  assertCfgError(`${NET}`, 1, /no layers after \[net\]/);
});

test('a wrong filter count before [region] names the region line and the expected num*(classes+coords+1)', () => {
  const text = readFileSync(join(cfgDir, 'yolov2-tiny-voc.cfg'), 'utf8');
  const lines = text.split('\n');
  const filtersLine = lines.findIndex((l) => l.trim() === 'filters=125');
  assert.ok(filtersLine > 0);
  lines[filtersLine] = 'filters=126';
  const regionLine = lines.findIndex((l) => l.trim() === '[region]') + 1;
  const convLine = lines.slice(0, filtersLine).map((l) => l.trim()).lastIndexOf('[convolutional]') + 1;
  assertCfgError(
    lines.join('\n'),
    regionLine,
    new RegExp(`\\[region\\] \\(layer 15\\): needs num\\*\\(classes\\+coords\\+1\\) = 5\\*\\(20\\+4\\+1\\) = 125 input channels, but layer 14 \\(\\[convolutional\\] at line ${convLine}\\) outputs 126×13×13 \\(filters=126\\)`),
  );
  assertCfgError(`${NET}[convolutional]\nfilters=25\n[region]\nclasses=21\n`, 7, /= 26 input channels, but layer 0/);
  assertCfgError(`${NET}[convolutional]\nfilters=50\n[region]\nnum=2\nanchors=1,1,2\n`, 9, /num=2 needs 4 anchor values \(w,h per anchor\), got 3/);
});

test('a wrong [connected] output before [detection] names the detection line and side*side*((1+coords)*num+classes)', () => {
  const text = readFileSync(join(cfgDir, 'yolov1-tiny.cfg'), 'utf8').replace('output= 1470', 'output= 1471');
  const detLine = text.split('\n').findIndex((l) => l.trim() === '[detection]') + 1;
  assertCfgError(text, detLine, /\[detection\] \(layer 15\): needs side\*side\*\(\(1\+coords\)\*num\+classes\) = 7\*7\*\(\(1\+4\)\*2\+20\) = 1470 inputs, but layer 14 \(\[connected\] at line \d+\) outputs 1471/);
});

test('impossible geometry: route out of range, kernel larger than the input, reorg of an odd size', () => {
  assertCfgError(`${NET}[convolutional]\n[route]\nlayers=-2\n`, 7, /layers entry -2 refers to layer -1, but only layers 0..0 come before layer 1/);
  assertCfgError(`${NET}[convolutional]\n[route]\nlayers=1\n`, 7, /refers to layer 1/);
  assertCfgError(`${NET}[route]\n`, 5, /needs layers=/);
  assertCfgError(`${NET}[convolutional]\nsize=11\n`, 6, /size=11 is larger than the padded input 8×8/);
  // yolov2-voc at 80×80: layer 26 gives 64×5×5, which stride-2 reorg cannot split
  assert.throws(
    () => readCfgFile(join(cfgDir, 'yolov2-voc.cfg'), { overrides: { width: 80, height: 80 } }),
    /^DarknetCfgError: \S*yolov2-voc\.cfg:\d+: \[reorg\] \(layer 27\): stride=2 needs an input height and width divisible by 2, got 5×5/,
  );
});

test('override errors name the override, and unknown override keys are rejected', () => {
  assertCfgError(NET, 0, /width=-1 must be >= 0 \(set by an override\)/, { width: -1 });
  assertCfgError(NET, 0, /unknown key 'widht' \(set by an override\)/, { widht: 5 });
});

test('readCfgFile names a missing file', () => {
  assert.throws(() => readCfgFile(join(cfgDir, 'no-such.cfg')), (e: unknown) => e instanceof DarknetCfgError && /no-such\.cfg: cannot read the cfg file/.test(e.message));
});
