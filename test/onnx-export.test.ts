// ONNX export (src/yolo/onnx) layer by layer and option by option, checked with onnxruntime: every
// Darknet activation against tsgrad's (and leaky's slope arithmetic bit for bit with exactLeaky); small
// hand-written networks that use every exportable layer type and variant (BN, groups, strides, explicit
// padding, both maxpool paddings and an all-padding window, route on channels and flat, reorg and its
// reverse, local with and without padding, connected with BN, dropout, crop, softmax groups/temperature,
// region with softmax / background / logistic classes, detection with softmax, a trailing cost layer)
// under BN folded or not, opsets 11 / 13 / 18, fixed and dynamic batch; the errors for what cannot be
// exported; and `tsgrad export onnx` end to end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import '../src/index.js';
import { exportCommand } from '../src/cli/export.js';
import type { CommandIO } from '../src/cli/args.js';
import { noGrad } from '../src/autograd/grad-mode.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { scope } from '../src/tensor/memory.js';
import { parseCfg } from '../src/yolo/darknet/cfg.js';
import { ACTIVATIONS, type Activation } from '../src/yolo/darknet/cfg-types.js';
import { generateWeights, makeInput } from '../src/yolo/darknet/generate.js';
import { writeWeights } from '../src/yolo/darknet/weights.js';
import { activate, darknetLeaky } from '../src/yolo/net/activations.js';
import { buildNetwork, layersOfType, type Network } from '../src/yolo/net/network.js';
import { loadWeights } from '../src/yolo/net/weights.js';
import { exportActivation, exportOnnxModel, GraphBuilder, OnnxExportError, type OnnxExportOptions } from '../src/yolo/onnx/index.js';
import { Rng } from '../src/tensor/random.js';
import { compareKept, difference, headOutputs, keptFromDecoded, keptFromLayers, ortSession, runOrt, tsgradForward } from './helpers/onnx.js';

const TOL = 1e-5;

function section(type: string, o: Record<string, string | number> = {}): string {
  return `[${type}]\n${Object.entries(o).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

function cfgText(net: Record<string, number>, ...sections: string[]): string {
  return section('net', { batch: 1, subdivisions: 1, ...net }) + sections.join('');
}

const conv = (filters: number, size: number, activation: Activation, o: Record<string, number> = {}): string =>
  section('convolutional', { filters, size, stride: 1, pad: 1, activation, ...o });

/** Route + reorg (forward and reverse), grouped conv, stride-1 and size-3 maxpools, region with softmax. */
const REGION_CFG = cfgText(
  { width: 16, height: 16, channels: 3 },
  conv(8, 3, 'leaky', { batch_normalize: 1 }),
  section('maxpool', { size: 2, stride: 2 }),
  conv(8, 3, 'relie', { groups: 2 }),
  section('maxpool', { size: 3, stride: 1 }),
  conv(16, 1, 'logistic', { batch_normalize: 1 }),
  section('route', { layers: '-1,-3' }),
  section('reorg', { stride: 2 }),
  section('route', { layers: -1 }),
  conv(16, 3, 'elu', { batch_normalize: 1 }),
  section('reorg', { stride: 2, reverse: 1 }),
  section('maxpool', { size: 2, stride: 2 }),
  section('route', { layers: '-1,-3' }),
  conv(16, 1, 'linear'),
  section('region', { anchors: '1,1, 2.5,2', classes: 3, coords: 4, num: 2, softmax: 1 }),
);

/** Strided conv with explicit padding, a maxpool whose pad reaches the window size, region variants. */
function regionBCfg(softmax: number, background: number): string {
  return cfgText(
    { width: 12, height: 12, channels: 2 },
    section('convolutional', { filters: 6, size: 3, stride: 2, pad: 0, padding: 1, activation: 'selu' }),
    section('maxpool', { size: 2, stride: 2, padding: 3 }),
    conv(8, 3, 'tanh', { batch_normalize: 1 }),
    conv(8, 3, 'relu', { batch_normalize: 1 }),
    conv(8, 1, 'ramp', { batch_normalize: 1 }),
    conv(14, 1, 'linear'),
    section('region', { anchors: '1,1, 2,3', classes: 2, coords: 4, num: 2, softmax, background }),
  );
}

/** Crop, local (padded and strided), dropout, connected with BN, a flat route, softmax groups, trailing cost. */
const CLASSIFIER_CFG = cfgText(
  { width: 14, height: 14, channels: 3 },
  section('crop', { crop_width: 12, crop_height: 12 }),
  conv(8, 3, 'leaky', { batch_normalize: 1 }),
  section('local', { size: 3, stride: 1, pad: 1, filters: 4, activation: 'loggy' }),
  section('maxpool', { size: 2, stride: 2 }),
  section('local', { size: 2, stride: 2, pad: 0, filters: 4, activation: 'plse' }),
  section('dropout', { probability: 0.5 }),
  section('connected', { output: 12, batch_normalize: 1, activation: 'lhtan' }),
  section('route', { layers: '-1,-4' }),
  section('connected', { output: 10, activation: 'hardtan' }),
  section('softmax', { groups: 2, temperature: 2 }),
  section('cost'),
);

/** avgpool, connected, a YOLOv1 detection layer with softmax and sqrt. */
const DETECTION_CFG = cfgText(
  { width: 16, height: 16, channels: 3 },
  conv(8, 3, 'leaky', { batch_normalize: 1, stride: 2 }),
  section('avgpool'),
  section('crop', { crop_width: 1, crop_height: 1, noadjust: 1 }),
  section('connected', { output: 52, activation: 'linear' }),
  section('detection', { classes: 3, coords: 4, side: 2, num: 2, softmax: 1, sqrt: 1 }),
);

function network(text: string, file: string, seed = 3): Network {
  const cfg = parseCfg(text, { file });
  const net = buildNetwork(cfg, { randomInit: false });
  loadWeights(net, generateWeights(cfg, seed));
  return net.eval();
}

function inputs(net: Network, n: number): Float32Array {
  const [c, h, w] = net.inputShape;
  const x = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) x.set(makeInput(w, h, 11 + b, c), b * c * h * w);
  return x;
}

const OPTION_SETS: OnnxExportOptions[] = [{ batch: 2 }, { foldBn: true, opset: 11, batch: 2 }, { exactLeaky: true, opset: 18, dynamicBatch: true }];

/** Exports `net` under every option set and compares onnxruntime's output (and detections) with tsgrad's. */
async function checkAgainstTsgrad(net: Network, exact = false): Promise<number> {
  const n = 2;
  const x = inputs(net, n);
  const [c, h, w] = net.inputShape;
  const outs = tsgradForward(net, x, n);
  const ref = outs[net.outputIndex]!;
  const heads = layersOfType(net, 'region', 'detection');
  let worst = 0;
  for (const opts of OPTION_SETS) {
    for (const decode of heads.length > 0 ? [false, true] : [false]) {
      const model = exportOnnxModel(net, { ...opts, decode });
      const r = await runOrt(await ortSession(model.bytes), x, [n, c, h, w]);
      const what = `${net.cfg.file} ${JSON.stringify({ ...opts, decode })}`;
      if (!decode) {
        const d = difference(r['output']!.data, ref);
        worst = Math.max(worst, d.rel);
        if (exact) assert.deepEqual(r['output']!.data, ref, what);
        assert.ok(d.rel <= TOL, `${what}: max |ort − tsgrad| ${d.maxAbs} of max ${d.maxRef}`);
      }
      for (let b = 0; b < n && heads.length > 0; b++) {
        const refKept = keptFromLayers(net, headOutputs(net, outs), n, b, 0.05, 0.45);
        const kept = decode ? keptFromDecoded(r['boxes']!, r['scores']!, b, 0.05, 0.45) : keptFromLayers(net, new Map([[heads[0]!.index, r['output']!.data]]), n, b, 0.05, 0.45);
        assert.ok(refKept.length > 0, `${what}: the check needs detections`);
        compareKept(kept, refKept, TOL);
      }
    }
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------
// activations

/** -6..6 in steps of 1/64 (integers, halves, the kinks at 0, 1, ±4) and 2000 values ~N(0, 3²). */
function activationInputs(): Float32Array {
  const rng = new Rng(5);
  const grid = Array.from({ length: 769 }, (_, i) => -6 + i / 64);
  const rand = Array.from({ length: 2000 }, () => 3 * rng.normal());
  return Float32Array.from([...grid, ...rand]);
}

async function runActivation(act: Activation, x: Float32Array, opset: number, exactLeaky: boolean): Promise<Float32Array> {
  const g = new GraphBuilder();
  const input = g.input({ name: 'input', shape: [x.length] });
  g.prefix = act;
  g.output(exportActivation(g, input, act, { exactLeaky }), 'output');
  const bytes = g.encode({ opset, producerVersion: '', graphName: act, docString: '', metadata: {} }, 1);
  return (await runOrt(await ortSession(bytes), x, [1, x.length]))['output']!.data;
}

test('every Darknet activation exported to ONNX (opsets 11, 13, 18) matches tsgrad within 1e-6·max(1, |y|) on -6..6 and random inputs', async (t) => {
  const x = activationInputs();
  const ref = new Map(ACTIVATIONS.map((a) => [a, scope(() => noGrad(() => Float32Array.from(activate(fromHost(x, [1, x.length]), a).data())))]));
  for (const opset of [11, 13, 18]) {
    for (const act of ACTIVATIONS) {
      const y = await runActivation(act, x, opset, false);
      const e = ref.get(act)!;
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        const d = Math.abs(y[i]! - e[i]!) / Math.max(1, Math.abs(e[i]!));
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-6, `${act} (opset ${opset}) at x = ${x[i]}: onnxruntime ${y[i]}, tsgrad ${e[i]}`);
      }
      if (opset === 13) t.diagnostic(`${act}: worst ${worst.toExponential(2)}`);
    }
  }
});

test("leaky/relie with exactLeaky reproduce Darknet's double-precision slope product bit for bit; LeakyRelu differs by at most 1 ulp on some negatives", async (t) => {
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 100_000 }, () => 20 * rng.uniform() - 10);
  for (const [act, slope] of [['leaky', 0.1], ['relie', 0.01]] as const) {
    const ref = scope(() => Float32Array.from(noGrad(() => darknetLeaky(fromHost(x, [1, x.length]), slope)).data()));
    const exact = await runActivation(act, x, 13, true);
    assert.deepEqual(exact, ref, `${act} exactLeaky`);
    const fast = await runActivation(act, x, 13, false);
    let differing = 0;
    for (let i = 0; i < x.length; i++) {
      if (fast[i] === ref[i]) continue;
      differing++;
      const ulp = Math.abs(ref[i]! - Math.fround(ref[i]! * (1 + 2 ** -23)));
      assert.ok(Math.abs(fast[i]! - ref[i]!) <= ulp * 1.01, `${act} LeakyRelu at ${x[i]}: ${fast[i]} vs ${ref[i]}`);
    }
    t.diagnostic(`${act}: LeakyRelu(alpha=${slope}) differs from Darknet's arithmetic in ${differing} of ${x.length} values (1 ulp each); exactLeaky in none`);
    assert.ok(differing > 0);
  }
});

// ---------------------------------------------------------------------------------------------
// layers

test('route on channels, reorg and reverse reorg, grouped conv, stride-1 maxpool and a softmax region export and match tsgrad and its detections (BN nodes or folded, opsets 11/13/18, fixed or dynamic batch, raw or decoded)', async (t) => {
  t.diagnostic(`worst |Δ|/max ${(await checkAgainstTsgrad(network(REGION_CFG, 'region.cfg'))).toExponential(2)}`);
});

test('strided conv with explicit padding, a maxpool padded past its window size, and region with background / logistic classes export and match tsgrad', async (t) => {
  for (const [softmax, background] of [[1, 1], [0, 0], [0, 1]] as const) {
    const net = network(regionBCfg(softmax, background), `region-s${softmax}-b${background}.cfg`);
    t.diagnostic(`softmax=${softmax} background=${background}: worst |Δ|/max ${(await checkAgainstTsgrad(net)).toExponential(2)}`);
  }
});

test('crop, local (padded and strided), dropout, connected with BN, a flat route and softmax with groups and temperature export and match tsgrad; the trailing cost layer is left out', async (t) => {
  const net = network(CLASSIFIER_CFG, 'classifier.cfg');
  assert.equal(net.layers[net.outputIndex]!.layer.type, 'softmax');
  t.diagnostic(`worst |Δ|/max ${(await checkAgainstTsgrad(net)).toExponential(2)}`);
});

test('avgpool, crop without adjustment and a YOLOv1 detection layer with softmax export and match tsgrad and its detections', async (t) => {
  t.diagnostic(`worst |Δ|/max ${(await checkAgainstTsgrad(network(DETECTION_CFG, 'detection.cfg'))).toExponential(2)}`);
});

test("a maxpool window lying wholly in Darknet's padding outputs -FLT_MAX exactly, as Darknet's", async () => {
  const net = network(cfgText({ width: 4, height: 4, channels: 1 }, section('maxpool', { size: 2, stride: 2, padding: 4 })), 'pad.cfg');
  const x = inputs(net, 2);
  const ref = tsgradForward(net, x, 2)[0]!;
  assert.ok(ref.some((v) => v === Math.fround(-3.4028234663852886e38)));
  for (const opts of OPTION_SETS) {
    const model = exportOnnxModel(net, opts);
    assert.deepEqual((await runOrt(await ortSession(model.bytes), x, [2, 1, 4, 4]))['output']!.data, ref);
  }
});

// ---------------------------------------------------------------------------------------------
// what cannot be exported

/** An OnnxExportError whose message matches `re`. */
function exportError(re: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof OnnxExportError && re.test(e.message);
}

test('what cannot be exported is one OnnxExportError naming the layer (file:line) or the option and the reason', () => {
  const mid = network(cfgText({ width: 8, height: 8, channels: 1 }, conv(2, 3, 'leaky'), section('cost'), section('connected', { output: 3, activation: 'linear' })), 'mid-cost.cfg');
  assert.throws(() => exportOnnxModel(mid), exportError(/^layer 1 \[cost\] \(mid-cost\.cfg:\d+\): cannot be exported to ONNX: a \[cost\] layer compares with training truth/));
  const cls = network(CLASSIFIER_CFG, 'classifier.cfg');
  assert.throws(() => exportOnnxModel(cls, { decode: true }), exportError(/^classifier\.cfg: --decode needs a \[region\] or \[detection\] layer, the network has none$/));
  const coords5 = network(
    cfgText({ width: 8, height: 8, channels: 1 }, conv(7, 1, 'linear'), section('region', { anchors: '1,1', classes: 1, coords: 5, num: 1 })),
    'coords5.cfg',
  );
  assert.doesNotThrow(() => exportOnnxModel(coords5));
  assert.throws(() => exportOnnxModel(coords5, { decode: true }), exportError(/^layer 1 \[region\] \(coords5\.cfg:\d+\): --decode needs coords=4 \(x, y, w, h\), the layer has coords=5$/));
  assert.throws(() => exportOnnxModel(coords5, { opset: 10 }), exportError(/^opset must be an integer in 11\.\.18, got 10$/));
  assert.throws(() => exportOnnxModel(coords5, { opset: 19 }), exportError(/^opset must be an integer in 11\.\.18, got 19$/));
  assert.throws(() => exportOnnxModel(coords5, { batch: 0 }), exportError(/^batch must be a positive integer, got 0$/));
  assert.throws(() => exportOnnxModel(coords5, { batch: 2, dynamicBatch: true }), exportError(/^batch=2 and dynamicBatch exclude each other$/));
});

// ---------------------------------------------------------------------------------------------
// the command

function captureIO(): CommandIO & { text: () => string } {
  let s = '';
  return { out: (t) => void (s += t), err: (t) => void (s += t), text: () => s };
}

test('`tsgrad export onnx` writes the model atomically (no temporary file left) and onnxruntime runs it; usage errors exit 2, a network that cannot be exported exits 1 naming the layer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-onnx-'));
  try {
    const cfgFile = join(dir, 'region.cfg');
    writeFileSync(cfgFile, REGION_CFG.replace('width=16\nheight=16', 'width=32\nheight=32'));
    const cfg = parseCfg(REGION_CFG, { file: cfgFile });
    const weightsFile = join(dir, 'region.weights');
    writeFileSync(weightsFile, writeWeights(generateWeights(cfg, 4), cfg));
    const out = join(dir, 'out', 'region.onnx');
    const io = captureIO();
    const rc = await exportCommand(['onnx', cfgFile, weightsFile, out, '--width', '16', '--height', '16', '--decode', '--dynamic-batch', '--fold-bn', '--opset', '12'], io);
    assert.equal(rc, 0, io.text());
    assert.match(io.text(), /^wrote .*region\.onnx: \d+ bytes, opset 12, \d+ nodes, \d+ parameters\n  input 'input' \[N, 3, 16, 16\] → output 'boxes' \[N, 32, 4\], 'scores' \[N, 32, 3\]\n/);
    assert.deepEqual(readdirSync(join(dir, 'out')), ['region.onnx']);
    const net = network(REGION_CFG, 'region.cfg', 4);
    const x = inputs(net, 3);
    const r = await runOrt(await ortSession(readFileSync(out)), x, [3, 3, 16, 16]);
    const outs = tsgradForward(net, x, 3);
    for (let b = 0; b < 3; b++) compareKept(keptFromDecoded(r['boxes']!, r['scores']!, b, 0.05, 0.45), keptFromLayers(net, headOutputs(net, outs), 3, b, 0.05, 0.45), TOL);

    for (const args of [[cfgFile, weightsFile], [cfgFile, weightsFile, out, '--batch', '2', '--dynamic-batch'], [cfgFile, weightsFile, out, '--opset', '9'], [cfgFile, weightsFile, out, '--bogus']]) {
      const e = captureIO();
      assert.equal(await exportCommand(['onnx', ...args], e), 2, e.text());
      assert.match(e.text(), /^error: .*\nusage: tsgrad export onnx/);
    }
    const midFile = join(dir, 'mid.cfg');
    writeFileSync(midFile, cfgText({ width: 8, height: 8, channels: 1 }, conv(2, 3, 'leaky'), section('cost'), section('connected', { output: 3, activation: 'linear' })));
    const mid = parseCfg(readFileSync(midFile, 'utf8'), { file: midFile });
    writeFileSync(join(dir, 'mid.weights'), writeWeights(generateWeights(mid, 1), mid));
    const e = captureIO();
    assert.equal(await exportCommand(['onnx', midFile, join(dir, 'mid.weights'), join(dir, 'mid.onnx')], e), 1);
    assert.match(e.text(), /^error: layer 1 \[cost\] \(.*mid\.cfg:\d+\): cannot be exported to ONNX/);
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('mid.onnx')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
