// Memory is bounded before anything is allocated: a cfg whose parameters or activations cannot exist
// (filters=2147483647, size=20001, width=1e9 through --set, --width 65536) or exceed the memory limit
// (TSGRAD_MAX_MEMORY, else the machine's memory) is one line naming file:line and the bytes, instead of
// "Invalid typed array length" or many GB; [maxpool] size=100000 is refused; cfg, weights, names and
// images read from a non-regular file such as /dev/zero stop at a bound, at once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkNetworkMemory, memoryLimitBytes } from '../src/yolo/darknet/cfg-memory.js';
import { parseCfg, readCfgFile } from '../src/yolo/darknet/cfg.js';
import { readWeightsFileSync } from '../src/yolo/darknet/weights.js';
import { readNames } from '../src/yolo/data/labels.js';
import { loadImage } from '../src/yolo/data/image.js';
import { TINY_CFG } from './helpers/fixtures.js';
import { detectorFixture, runCli } from './helpers/detector-fixture.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsgrad-mem-'));
}

const oneLine = (s: string): boolean => s.trim().split('\n').length === 1;

test('make-weights on filters=2147483647 or size=20001 is one error naming cfg:line and the bytes, not a raw engine error', () => {
  const dir = tmp();
  try {
    for (const [name, text, pattern] of [
      ['filters', TINY_CFG.replace('filters=8', 'filters=2147483647'), /filters\.cfg:7: \[convolutional\] \(layer 0\): output of 2199023254528 values per image \(2147483647×32×32, 8796093018112 bytes \(8\.0 TiB\) as float32\) is more than one tensor can hold/],
      ['size', TINY_CFG.replace('size=3', 'size=20001'), /size\.cfg:7: \[convolutional\] \(layer 0\): its 'weights' would hold 9600960024 values \(38403840096 bytes \(35\.8 GiB\) as float32\)/],
    ] as const) {
      const cfg = join(dir, `${name}.cfg`);
      writeFileSync(cfg, text);
      const r = runCli(['darknet', 'make-weights', '--cfg', cfg, '--seed', '1', '--out', join(dir, `${name}.weights`)]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, pattern);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.doesNotMatch(r.stderr, /Invalid typed array length|RangeError/);
      assert.equal(existsSync(join(dir, `${name}.weights`)), false);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detector test --width 65536 and detector train --set width=1000000000 fail at once naming the cfg line', async () => {
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    const t = runCli(['detector', 'test', f.dataFile, f.cfgFile, f.weightsFile, f.trainImages[0]!, '--width', '65536', '--height', '65536', '--out', join(dir, 'p.png')]);
    assert.equal(t.status, 1, t.stderr);
    assert.match(t.stderr, /tiny\.cfg:\d+: \[convolutional\] \(layer 0\): output of 8589934592 values per image/);
    const w = runCli(['detector', 'train', f.dataFile, f.cfgFile, '--set', 'width=1000000000', '--backup', join(dir, 'bk')]);
    assert.equal(w.status, 1, w.stderr);
    assert.match(w.stderr, /tiny\.cfg:\d+: \[convolutional\] \(layer 0\): output of \d+ values per image/);
    assert.ok(t.ms < 20000 && w.ms < 20000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a network over the memory limit fails before allocating, naming the first layer past it and the bytes (TSGRAD_MAX_MEMORY)', async () => {
  const cfg = parseCfg(TINY_CFG, { file: 'tiny.cfg', overrides: { width: 4096, height: 4096 } });
  const total = checkNetworkMemory(cfg, { limit: 2 ** 40 });
  assert.ok(total > 4096 * 4096 * 3 * 4);
  assert.throws(
    () => checkNetworkMemory(cfg, { limit: 2 ** 28 }),
    /tiny\.cfg:7: \[convolutional\] \(layer 0\): the network needs at least 335545312 bytes \(320\.0 MiB\) up to this layer for inference at batch 1 \(this layer: 992 bytes of parameters, 134217728 bytes \(128\.0 MiB\) of outputs 8×2048×2048\), more than the limit of 268435456 bytes/,
  );
  assert.doesNotThrow(() => checkNetworkMemory(cfg, { limit: 2 ** 29 }));
  assert.throws(() => checkNetworkMemory(cfg, { limit: 2 ** 29, training: true }), /for training at batch 1/, 'training counts gradients too');
  assert.equal(memoryLimitBytes({ TSGRAD_MAX_MEMORY: '3G' }), 3 * 2 ** 30);
  assert.throws(() => memoryLimitBytes({ TSGRAD_MAX_MEMORY: 'lots' }), /TSGRAD_MAX_MEMORY='lots' is not a size/);
  const dir = tmp();
  try {
    const f = await detectorFixture(dir);
    const r = runCli(['detector', 'test', f.dataFile, f.cfgFile, f.weightsFile, f.trainImages[0]!, '--width', '4096', '--height', '4096', '--out', join(dir, 'p.png')], { env: { TSGRAD_MAX_MEMORY: '256M' } });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /tiny\.cfg:11: \[convolutional\] \(layer 0\): .*more than the limit of 268435456 bytes \(256\.0 MiB\) \(TSGRAD_MAX_MEMORY=256M\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('[maxpool] size=100000 on a 32x32 input is refused at its line (Darknet accepts it and runs for minutes)', () => {
  const text = TINY_CFG.replace('[maxpool]\nsize=2', '[maxpool]\nsize=100000');
  assert.throws(() => parseCfg(text, { file: 'pool.cfg' }), /pool\.cfg:\d+: \[maxpool\] \(layer 1\): size=100000 is more than twice the input 8×32×32/);
  assert.doesNotThrow(() => parseCfg(TINY_CFG.replace('[maxpool]\nsize=2', '[maxpool]\nsize=32'), { file: 'pool.cfg' }), 'a window the size of the input passes');
});

test('cfg, weights, names and an image read from /dev/zero stop at a bound with an error naming it', async () => {
  if (!existsSync('/dev/zero')) return;
  const t0 = performance.now();
  assert.throws(() => readCfgFile('/dev/zero'), /\/dev\/zero: cannot read the cfg file: it is not a regular file and gives more than the 64 MiB such a file can hold/);
  const net = parseCfg(TINY_CFG, { file: 'tiny.cfg' });
  assert.throws(() => readWeightsFileSync('/dev/zero', net), /\/dev\/zero: cannot read the weights file: it is not a regular file and gives more than the \d+ bytes a weights file for tiny\.cfg can hold/);
  assert.throws(() => readNames('/dev/zero'), /\/dev\/zero: cannot read the names file: it is not a regular file/);
  await assert.rejects(loadImage('/dev/zero'), /cannot read image \/dev\/zero: it is not a regular file and gives more than the 256 MiB/);
  assert.ok(performance.now() - t0 < 15000);
});
