// Darknet .weights reader/writer and the deterministic generators: the generated files and inputs
// hash to the reference sha256 values, read → write is byte-identical, every size mismatch is a
// clear error with expected and actual byte counts, headers of every version and the transposed
// [connected] rule round-trip, partial load/save behave like load_weights_upto/save_weights_upto,
// and the make-weights / make-input commands write the same bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { CommandIO } from '../src/cli/args.js';
import { makeInputCommand, makeWeightsCommand } from '../src/cli/darknet-make.js';
import { parseCfg, readCfgFile, type DarknetNetwork } from '../src/yolo/darknet/cfg.js';
import { float32Bytes, fmix32, generateWeights, hashAt, makeInput, makeWeightsBytes, tensorKey } from '../src/yolo/darknet/generate.js';
import {
  DarknetWeightsError,
  defaultHeader,
  headerBytes,
  layerWeights,
  readWeights,
  readWeightsFile,
  readWeightsHeader,
  seenBytes,
  sliceWeights,
  transposesConnected,
  weightsLayout,
  writeWeights,
  writeWeightsFile,
  type DarknetWeights,
  type LayerWeights,
} from '../src/yolo/darknet/weights.js';
import { DARKNET_CFG, DARKNET_REFS, readRefJson } from './helpers/refs.js';

const refRoot = DARKNET_REFS;
const cfgDir = DARKNET_CFG;

interface CaseJson {
  cfg: string;
  overrides: Record<string, number>;
  weights: { bytes: number; seed: number; sha256: string; width: number; height: number; header: { major: number; minor: number; revision: number; seen: number; seen_bytes: number } };
  input: { sha256: string; shape_chw: [number, number, number]; generator_seed: number };
}

function readCase(name: string): CaseJson {
  const p = join(refRoot, name, 'case.json');
  return readRefJson(p) as CaseJson;
}

function caseNet(c: CaseJson): DarknetNetwork {
  return readCfgFile(join(cfgDir, c.cfg.split('/').pop() as string), { overrides: c.overrides });
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-darknet-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function captureIO(): CommandIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [], stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

/** A small net with every weighted layer kind: BN conv, local, BN connected (66 + 224 + 60 floats). */
const SMALL_CFG = `[net]
width=4
height=4
channels=2
[convolutional]
batch_normalize=1
filters=3
size=3
pad=1
activation=leaky
[maxpool]
stride=2
[local]
filters=2
size=3
pad=1
activation=leaky
[dropout]
[connected]
output=5
batch_normalize=1
activation=linear
`;
const small = (): DarknetNetwork => parseCfg(SMALL_CFG, { file: 'small.cfg' });

// ---------------------------------------------------------------------------------------------
// Generator

test('generator hash matches the SEMANTICS.md 3.2 test vectors', () => {
  assert.equal(fmix32(1), 0x514e28b7);
  assert.equal(fmix32(0x12345678), 0xe37cd1bc);
  const k = tensorKey(1, 0, 4);
  assert.equal(k, 0x22b12d8a);
  assert.deepEqual([0, 1, 2, 3].map((i) => hashAt(k, i)), [0x17cfd439, 0xe01e1591, 0xbaed85a1, 0xd72ef571]);
  assert.equal(tensorKey(1, 0, 0), 0x05e06604);
  assert.equal(tensorKey(7, -1, 0), 0x67c66d91);
});

test('yolov2-tiny-voc seed 1: first biases and first weights (bytes at offset 276) match SEMANTICS.md 3.2', () => {
  const net = readCfgFile(join(cfgDir, 'yolov2-tiny-voc.cfg'), { overrides: { width: 96, height: 96 } });
  const w = generateWeights(net, 1);
  const l0 = layerWeights(w, 0) as LayerWeights;
  // SEMANTICS prints these with 7-8 significant digits: compare within 1e-7, then the exact bytes below
  const near = (got: Float32Array, want: number[]): void =>
    want.forEach((v, i) => assert.ok(Math.abs((got[i] as number) - v) < 1e-7, `value ${i}: ${got[i]} vs ${v}`));
  near(l0.biases, [0.09050993, 0.05882522, -0.04663653, -0.04861627]);
  near(l0.weights, [-0.3837092, 0.35398614, 0.21702217, 0.32108328]);
  const bytes = writeWeights(w, net);
  assert.equal(Buffer.from(bytes.subarray(276, 292)).toString('hex'), '8875c4be' + 'ac3db53e' + '0f3b5e3e' + '0765a43e');
  for (const [name, lo, hi] of [['rollingVariance', 0.5, 1.5], ['scales', 0.75, 1.25]] as const) {
    const t = l0[name] as Float32Array;
    assert.ok(t.every((v) => v >= lo && v < hi), `${name} in [${lo}, ${hi})`);
  }
});

for (const caseName of ['yolov2-tiny-voc_96x96', 'yolov1-tiny_128x128']) {
  test(`generated weights have the reference size and sha256, and read → write is byte-identical (${caseName})`, () => {
    const c = readCase(caseName);
    const net = caseNet(c);
    const bytes = makeWeightsBytes(net, c.weights.seed);
    assert.equal(bytes.byteLength, c.weights.bytes);
    assert.equal(sha256(bytes), c.weights.sha256);
    const w = readWeights(bytes, net, { file: 'gen.weights' });
    const h = c.weights.header;
    assert.deepEqual(w.header, { major: h.major, minor: h.minor, revision: h.revision, seen: h.seen });
    assert.equal(seenBytes(w.header), h.seen_bytes);
    assert.deepEqual(w.layers.map((l) => l.layerIndex), net.layers.filter((l) => l.tensors.length > 0).map((l) => l.index));
    for (const lw of w.layers) {
      const l = net.layers[lw.layerIndex];
      for (const t of l?.tensors ?? []) assert.equal(lw[t.name]?.length, t.count, `layer ${lw.layerIndex} ${t.name}`);
    }
    assert.ok(sameBytes(writeWeights(w, net), bytes), 'read then write gives the same bytes');
  });

  test(`make-input output equals the shipped input.f32 and its sha256 (${caseName})`, () => {
    const c = readCase(caseName);
    const [ch, hh, ww] = c.input.shape_chw;
    const bytes = float32Bytes(makeInput(ww, hh, c.input.generator_seed, ch));
    assert.equal(sha256(bytes), c.input.sha256);
    assert.ok(sameBytes(bytes, readFileSync(join(refRoot, caseName, 'input.f32'))));
  });
}

test('synthetic input: first values k/255 for k = 76, 204, 118, 82, and the first W*H*3 values agree across sizes', () => {
  const a = makeInput(96, 96);
  assert.deepEqual([...a.subarray(0, 4)], [76, 204, 118, 82].map((k) => Math.fround(k / 255)));
  const b = makeInput(128, 128);
  assert.ok(a.every((v, i) => v === b[i]));
  assert.throws(() => makeInput(0, 4), /width must be a positive integer/);
});

// ---------------------------------------------------------------------------------------------
// Reader / writer

test('layout: tensor order per layer type (conv BN before weights, connected BN after, local biases per output)', () => {
  const net = small();
  const layout = weightsLayout(net);
  assert.equal(layout.headerBytes, 20);
  assert.deepEqual(
    layout.layers.map((l) => [l.layerIndex, l.type, l.tensors.map((t) => `${t.name}:${t.count}`).join(' ')]),
    [
      [0, 'convolutional', 'biases:3 scales:3 rollingMean:3 rollingVariance:3 weights:54'],
      [2, 'local', 'biases:8 weights:216'],
      [4, 'connected', 'biases:5 weights:40 scales:5 rollingMean:5 rollingVariance:5'],
    ],
  );
  assert.equal(layout.totalBytes, 20 + 4 * (66 + 224 + 60));
  assert.equal(net.paramCount, 66 + 224 + 60);
});

test('truncated weights: error with expected and actual byte counts and the layer where the data ends', () => {
  const c = readCase('yolov1-tiny_128x128');
  const net = caseNet(c);
  const bytes = makeWeightsBytes(net, c.weights.seed);
  const floats = (c.weights.bytes - 20) / 4;
  assert.throws(
    () => readWeights(bytes.subarray(0, bytes.byteLength - 4), net, { file: 'cut.weights' }),
    (e: unknown) => {
      assert.ok(e instanceof DarknetWeightsError);
      assert.match(
        e.message,
        new RegExp(`^cut\\.weights: too short for \\S*yolov1-tiny\\.cfg: expected ${c.weights.bytes} bytes \\(20-byte header \\+ ${floats} floats\\), got ${c.weights.bytes - 4} \\(4 missing\\); the data ends inside layer 14 \\[connected\\]`),
      );
      return true;
    },
  );
  assert.throws(() => readWeights(bytes.subarray(0, 10), net, { file: 'tiny.weights' }), /^DarknetWeightsError: tiny\.weights: too short for a weights header: 10 bytes/);
  assert.throws(() => readWeights(bytes.subarray(0, 17), net, { file: 'h.weights' }), /too short for a version 0\.2 header: 17 bytes \(need 20\)/);
});

test('too-long weights: error with expected and actual byte counts', () => {
  const net = small();
  const bytes = writeWeights(generateWeights(net, 9), net);
  const longer = new Uint8Array(bytes.byteLength + 8);
  longer.set(bytes);
  assert.throws(
    () => readWeights(longer, net, { file: 'long.weights' }),
    new RegExp(`long\\.weights: too long for small\\.cfg: expected ${bytes.byteLength} bytes \\(20-byte header \\+ 350 floats\\), got ${bytes.byteLength + 8} \\(8 extra bytes after the last layer`),
  );
});

test('header versions: 4-byte seen before 0.2, 8-byte from 0.2, and the transposed-connected rule', () => {
  assert.equal(seenBytes({ major: 0, minor: 1 }), 4);
  assert.equal(seenBytes({ major: 0, minor: 2 }), 8);
  assert.equal(seenBytes({ major: 1, minor: 0 }), 8);
  assert.equal(seenBytes({ major: 0, minor: 1001 }), 4, 'a version >= 1000 reads 4 bytes');
  assert.equal(headerBytes({ major: 0, minor: 1 }), 16);
  assert.equal(transposesConnected({ major: 0, minor: 2 }), false);
  assert.equal(transposesConnected({ major: 1001, minor: 0 }), true);
  assert.equal(transposesConnected({ major: 0, minor: 1001 }), true);

  const net = small();
  const w = generateWeights(net, 4);
  for (const header of [
    { major: 0, minor: 1, revision: 7, seen: 123456 },
    { major: 0, minor: 2, revision: 5, seen: 2 ** 40 + 3 },
    { major: 0, minor: 1, revision: 0, seen: -5 },
  ]) {
    const bytes = writeWeights({ ...w, header }, net);
    assert.equal(bytes.byteLength, headerBytes(header) + 4 * 350);
    assert.deepEqual(readWeightsHeader(bytes), header);
    const back = readWeights(bytes, net);
    assert.deepEqual(back.header, header);
    assert.ok(sameBytes(writeWeights(back, net), bytes), `round trip with header ${JSON.stringify(header)}`);
  }
  assert.throws(() => writeWeights({ ...w, header: { major: 0, minor: 1, revision: 0, seen: 2 ** 33 } }, net), /seen=8589934592 does not fit its 4-byte field/);
});

test('major or minor > 1000: connected weights are stored [input][output] and come back [output][input]', () => {
  const net = small();
  const w = generateWeights(net, 4);
  const fc = layerWeights(w, 4) as LayerWeights;
  const header = { major: 0, minor: 1001, revision: 0, seen: 0 };
  const bytes = writeWeights({ ...w, header }, net);
  const place = weightsLayout(net, { header }).layers[2]?.tensors.find((t) => t.name === 'weights');
  assert.ok(place !== undefined);
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const [inputs, outputs] = [8, 5];
  for (let o = 0; o < outputs; o++) {
    for (let i = 0; i < inputs; i++) {
      assert.equal(dv.getFloat32(place.byteOffset + (i * outputs + o) * 4, true), fc.weights[o * inputs + i]);
    }
  }
  const back = readWeights(bytes, net);
  assert.deepEqual([...(layerWeights(back, 4) as LayerWeights).weights], [...fc.weights]);
  assert.deepEqual([...(layerWeights(back, 0) as LayerWeights).weights], [...(layerWeights(w, 0) as LayerWeights).weights], 'conv weights are never transposed');
  assert.ok(sameBytes(writeWeights(back, net), bytes));
});

test('writer checks the tensors against the cfg', () => {
  const net = small();
  const w = generateWeights(net, 2);
  const l0 = w.layers[0] as LayerWeights;
  const bad = (patch: Partial<LayerWeights>): DarknetWeights => ({ ...w, layers: [{ ...l0, ...patch }, ...w.layers.slice(1)] });
  assert.throws(() => writeWeights(bad({ weights: new Float32Array(53) }), net), /layer 0 \[convolutional\] 'weights' has 53 values, the cfg needs 54/);
  assert.throws(() => writeWeights(bad({ scales: null }), net), /layer 0 \[convolutional\] has no 'scales' \(the cfg needs 3 values\)/);
  assert.throws(() => writeWeights({ ...w, layers: w.layers.slice(1) }, net), /no weights for layer 0 \[convolutional\]/);
  assert.throws(() => writeWeights(bad({ layerIndex: 1 }), net), /weights given for layer 1 \[convolutional\], but small\.cfg has a \[maxpool\] there/);
});

test('partial save (save_weights_upto) is a prefix; partial load (load_weights_upto) reads it into another cfg', () => {
  const net = small();
  const w = generateWeights(net, 11);
  const full = writeWeights(w, net);
  const upTo3 = writeWeights(w, net, { upTo: 3 });
  assert.equal(upTo3.byteLength, 20 + 4 * (66 + 224));
  assert.ok(sameBytes(upTo3, full.subarray(0, upTo3.byteLength)));
  assert.ok(sameBytes(writeWeights(sliceWeights(w, 3), net, { upTo: 3 }), upTo3));

  // another cfg sharing the first three layers but with a different head
  const other = parseCfg(SMALL_CFG.replace('output=5', 'output=7'), { file: 'other.cfg' });
  assert.throws(() => readWeights(full, other, { file: 'full.weights' }), /too short for other\.cfg/);
  for (const src of [full, upTo3]) {
    const part = readWeights(src, other, { upTo: 3 });
    assert.deepEqual(part.layers.map((l) => l.layerIndex), [0, 2]);
    for (const idx of [0, 2]) {
      const a = layerWeights(part, idx) as LayerWeights, b = layerWeights(w, idx) as LayerWeights;
      assert.deepEqual([...a.weights], [...b.weights]);
      assert.deepEqual([...a.biases], [...b.biases]);
    }
  }
  assert.throws(() => readWeights(upTo3.subarray(0, 100), other, { upTo: 3, file: 'p.weights' }), /p\.weights: too short for other\.cfg \(layers 0\.\.2\): expected 1180 bytes/);
});

test('darknet19_448 first 23 layers (the classic conv.23 file) load into yolov2-voc with upTo 23', () => {
  const d19 = readCfgFile(join(cfgDir, 'darknet19_448.cfg'));
  const yolo = readCfgFile(join(cfgDir, 'yolov2-voc.cfg'));
  const d19w = sliceWeights(generateWeights(d19, 5), 23);
  const conv23 = writeWeights(d19w, d19, { upTo: 23 });
  const loaded = readWeights(conv23, yolo, { upTo: 23 });
  assert.equal(loaded.layers.length, 18);
  assert.ok(sameBytes(writeWeights(loaded, yolo, { upTo: 23 }), conv23));
  assert.throws(() => readWeights(conv23, yolo), /too short for \S*yolov2-voc\.cfg: .*the data ends inside layer 23 \[convolutional\]/);
});

test('dontload / dontloadscales skip bytes on load, dontsave skips them on save', () => {
  const net = small();
  const bytes = writeWeights(generateWeights(net, 3), net);
  const noLoad = parseCfg(SMALL_CFG.replace('[local]\n', '[local]\ndontload=1\n'), { file: 'nl.cfg' });
  assert.equal(weightsLayout(noLoad).totalBytes, 20 + 4 * (66 + 60));
  assert.deepEqual(weightsLayout(noLoad, { mode: 'save' }).totalBytes, bytes.byteLength);
  const noScales = parseCfg(SMALL_CFG.replace('[convolutional]\n', '[convolutional]\ndontloadscales=1\n'), { file: 'ns.cfg' });
  const nsLayout = weightsLayout(noScales);
  assert.deepEqual(nsLayout.layers[0]?.tensors.map((t) => t.name), ['biases', 'weights']);
  const noSave = parseCfg(SMALL_CFG.replace('[connected]\n', '[connected]\ndontsave=1\n'), { file: 'ns.cfg' });
  const saved = writeWeights(generateWeights(noSave, 3), noSave);
  assert.equal(saved.byteLength, 20 + 4 * (66 + 224));
  assert.ok(sameBytes(saved, bytes.subarray(0, saved.byteLength)));
});

// ---------------------------------------------------------------------------------------------
// Files and commands

test('writeWeightsFile writes atomically (no temporary left, failure keeps nothing) and readWeightsFile reads it back', async () => {
  await withTmp(async (dir) => {
    const net = small();
    const w = generateWeights(net, 8);
    const path = join(dir, 'sub', 'small.weights');
    await writeWeightsFile(path, w, net);
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['small.weights']);
    const back = await readWeightsFile(path, net);
    assert.ok(sameBytes(writeWeights(back, net), readFileSync(path)));
    // the destination is a directory: rename fails, the temporary file is removed
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    await assert.rejects(writeWeightsFile(blocked, w, net));
    assert.deepEqual(readdirSync(dir).sort(), ['blocked', 'sub']);
    await assert.rejects(readWeightsFile(join(dir, 'missing.weights'), net), /missing\.weights: cannot read the weights file/);
  });
});

test('make-weights and make-input commands write the reference bytes', async () => {
  await withTmp(async (dir) => {
    const c = readCase('yolov1-tiny_128x128');
    const out = join(dir, 'w.weights');
    const io = captureIO();
    const code = await makeWeightsCommand(['--cfg', join(cfgDir, 'yolov1-tiny.cfg'), '--width', '128', '--height', '128', '--seed', '3', '--out', out], io);
    assert.equal(code, 0, io.stderr.join(''));
    assert.equal(sha256(readFileSync(out)), c.weights.sha256);
    assert.match(io.stdout.join(''), new RegExp(`wrote .*w\\.weights: ${c.weights.bytes} bytes.*sha256 ${c.weights.sha256}`));

    const inp = join(dir, 'in.f32');
    const io2 = captureIO();
    assert.equal(await makeInputCommand(['--width=128', '--height=128', '--seed', '7', '--out', inp], io2), 0, io2.stderr.join(''));
    assert.ok(sameBytes(readFileSync(inp), readFileSync(join(refRoot, 'yolov1-tiny_128x128', 'input.f32'))));
  });
});

test('commands: usage errors exit 2 with a message, a bad cfg exits 1, --help exits 0', async () => {
  const cases: [string[], RegExp][] = [
    [['--seed', '1', '--out', 'x'], /--cfg is required/],
    [['--cfg', 'a.cfg', '--seed', 'one', '--out', 'x'], /--seed must be a non-negative integer, got 'one'/],
    [['--cfg', 'a.cfg', '--seed', '1'], /--out is required/],
    [['--cfg', 'a.cfg', '--seed', '1', '--out', 'x', '--colour', 'red'], /unknown option '--colour'/],
    [['--cfg', 'a.cfg', '--seed', '1', '--out', 'x', '--width', '0'], /--width must be in 1\.\.65536, got 0/],
    [['--cfg', 'a.cfg', '--seed', '1', '--out', 'x', 'extra'], /unexpected argument 'extra'/],
  ];
  for (const [argv, re] of cases) {
    const io = captureIO();
    assert.equal(await makeWeightsCommand(argv, io), 2, argv.join(' '));
    assert.match(io.stderr.join(''), re);
    assert.match(io.stderr.join(''), /usage: tsgrad darknet make-weights/);
  }
  const io = captureIO();
  assert.equal(await makeInputCommand(['--width', '4', '--out', 'x'], io), 2);
  assert.match(io.stderr.join(''), /--height is required[\s\S]*usage: tsgrad darknet make-input/);

  await withTmp(async (dir) => {
    const io3 = captureIO();
    assert.equal(await makeWeightsCommand(['--cfg', join(dir, 'none.cfg'), '--seed', '1', '--out', join(dir, 'o.weights')], io3), 1);
    assert.match(io3.stderr.join(''), /none\.cfg: cannot read the cfg file/);
    assert.equal(existsSync(join(dir, 'o.weights')), false);
  });
  const io4 = captureIO();
  assert.equal(await makeInputCommand(['--help'], io4), 0);
  assert.match(io4.stdout.join(''), /usage: tsgrad darknet make-input/);
});

test('defaultHeader is Darknet save_weights header 0.2.0', () => {
  assert.deepEqual(defaultHeader(), { major: 0, minor: 2, revision: 0, seen: 0 });
  assert.deepEqual(defaultHeader(64), { major: 0, minor: 2, revision: 0, seen: 64 });
});
