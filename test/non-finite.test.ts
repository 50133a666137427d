// Non-finite outputs are errors, not "aeroplane: Infinity%  box NaN,NaN" with exit 0: weights holding
// 3e38 (or NaN) make `detector test` exit 1 naming the first layer whose output was not finite; loading
// weights with NaN or infinite values warns with the layer and its cfg line; a training run whose loss
// turns non-finite names the first layer too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { noGrad } from '../src/autograd/grad-mode.js';
import { scope } from '../src/tensor/memory.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { parseCfg } from '../src/yolo/darknet/cfg.js';
import { makeWeightsBytes } from '../src/yolo/darknet/generate.js';
import { nonFiniteWeights, readWeights } from '../src/yolo/darknet/weights.js';
import { networkBoxes } from '../src/yolo/net/detections.js';
import { NonFiniteOutputError } from '../src/yolo/net/finite.js';
import { buildNetwork } from '../src/yolo/net/network.js';
import { loadWeights } from '../src/yolo/net/weights.js';
import { trainDetector } from '../src/yolo/train/trainer.js';
import { loadDetectionData } from '../src/yolo/data/labels.js';
import { TINY_CFG } from './helpers/fixtures.js';
import { detectorFixture, runCli } from './helpers/detector-fixture.js';

/** Weights bytes with every float from `from` on set to `value` (the 20-byte header kept). */
function damaged(bytes: Uint8Array, value: number, from = 20, count = Number.POSITIVE_INFINITY): Uint8Array {
  const out = Uint8Array.from(bytes);
  const dv = new DataView(out.buffer);
  for (let o = from, k = 0; o + 4 <= out.length && k < count; o += 4, k++) dv.setFloat32(o, value, true);
  return out;
}

test('detector test with weights holding 3e38 exits 1 naming the first layer with non-finite values (was exit 0 with Infinity%)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-nan-'));
  try {
    const f = await detectorFixture(dir);
    const huge = join(dir, 'huge.weights');
    writeFileSync(huge, damaged(readFileSync(f.weightsFile), 3e38));
    const r = runCli(['detector', 'test', f.dataFile, f.cfgFile, huge, f.trainImages[0]!, '--out', join(dir, 'p.png')]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /tiny\.cfg: the output of layer 5 \[region\] holds \d+ NaN or infinite values of \d+; first produced by layer 0 \[convolutional\] at .*tiny\.cfg:\d+ \(\d+ of \d+ values\)/);
    assert.doesNotMatch(r.stdout, /Infinity%|NaN/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loading weights with a NaN warns with the layer, the tensor and the cfg line; the CLI prints it', async () => {
  const cfg = parseCfg(TINY_CFG, { file: 'tiny.cfg' });
  const bytes = makeWeightsBytes(cfg, 1);
  // Layer 2's first value is its first bias: 20-byte header, then layer 0 (8 biases, 3 BN × 8, 8·3·9 weights).
  const layer2 = 20 + 4 * (8 + 3 * 8 + 8 * 3 * 9);
  const w = readWeights(damaged(bytes, Number.NaN, layer2, 1), cfg);
  assert.deepEqual(nonFiniteWeights(w, cfg), ["layer 2 [convolutional] at tiny.cfg:19: 1 of 8 'biases' values are NaN or infinite"]);
  const net = buildNetwork(cfg);
  assert.equal(loadWeights(net, w).length, 1);
  assert.throws(
    () => scope(() => noGrad(() => networkBoxes(net, net.eval().forward(fromHost(new Float32Array(3 * 64 * 64).fill(0.5), [1, 3, 64, 64])), { thresh: 0.5 }))),
    (e: unknown) => e instanceof NonFiniteOutputError && /first produced by layer 2 \[convolutional\] at tiny\.cfg:19/.test((e as Error).message),
  );
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-nan-'));
  try {
    const f = await detectorFixture(dir);
    const nan = join(dir, 'nan.weights');
    writeFileSync(nan, damaged(readFileSync(f.weightsFile), Number.NaN, layer2, 1));
    const r = runCli(['detector', 'test', f.dataFile, f.cfgFile, nan, f.trainImages[0]!, '--out', join(dir, 'p.png')]);
    assert.match(r.stderr, /warning: .*nan\.weights: layer 2 \[convolutional\] at .*tiny\.cfg:\d+: 1 of 8 'biases' values are NaN or infinite/);
    assert.equal(r.status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a training run whose loss turns non-finite stops and names the first layer whose activations were not finite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-nan-'));
  try {
    const f = await detectorFixture(dir);
    const huge = join(dir, 'huge.weights');
    writeFileSync(huge, damaged(readFileSync(f.weightsFile), 3e38));
    const lines: string[] = [];
    const items = loadDetectionData(f.dataFile, 'train').dataset.items;
    const r = await trainDetector({ cfgFile: f.cfgFile, items, weightsFile: huge, backupDir: join(dir, 'bk'), workers: 0, augment: false, chart: null, log: (l) => lines.push(l) });
    assert.equal(r.stopped, 'non_finite');
    assert.match(lines.join('\n'), /iteration 1: the loss is NaN .*; non-finite activations first produced by layer 0 \[convolutional\] at .*tiny\.cfg:\d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
