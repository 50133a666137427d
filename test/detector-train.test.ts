// Training a detector end to end on the CPU (src/yolo/train/trainer.ts, `tsgrad detector train`):
// a tiny YOLOv2 overfits one batch of the synthetic set (loss falls ≥ 10×, mAP@0.5 on it ≥ 0.9);
// the same for a tiny YOLOv1; a run stopped (or killed) and resumed from its state file continues the exact loss sequence of an
// uninterrupted run (augmentation and shuffling on); a non-finite loss stops before any update and
// leaves the last checkpoint untouched; --clear restarts the schedule and the default continues it
// from the weights' `seen`; YOLOv1 ([detection]) and multi-scale (random=1) runs train; the CLI writes
// the weights, the state and the chart atomically.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import '../src/index.js';
import { detectorCommand } from '../src/cli/detector.js';
import type { CommandIO } from '../src/cli/darknet.js';
import { generateSynthDataset } from '../src/yolo/data/synth.js';
import { loadDetectionData } from '../src/yolo/data/labels.js';
import type { DatasetItem } from '../src/yolo/data/labels.js';
import { evaluateDetector } from '../src/yolo/eval.js';
import { DetectorTrainer, trainDetector } from '../src/yolo/train/trainer.js';
import { readWeightsHeader } from '../src/yolo/darknet/weights.js';

function conv(filters: number, size = 3, bn = true, activation = 'leaky'): string {
  return `[convolutional]\n${bn ? 'batch_normalize=1\n' : ''}filters=${filters}\nsize=${size}\nstride=1\npad=1\nactivation=${activation}\n`;
}

/** A small YOLOv2: 64x64 input, stride 16 (4x4 grid), 2 anchors, 2 classes. */
function regionCfg(net: Record<string, string | number>, random = 0): string {
  const n = { batch: 4, subdivisions: 1, width: 64, height: 64, channels: 3, momentum: 0.9, decay: 0.0005, learning_rate: 0.001, policy: 'constant', max_batches: 100, ...net };
  const head = Object.entries(n).map(([k, v]) => `${k}=${v}`).join('\n');
  const pool = '[maxpool]\nsize=2\nstride=2\n';
  return (
    `[net]\n${head}\n` +
    conv(8) + pool + conv(16) + pool + conv(32) + pool + conv(64) + pool + conv(64) + conv(14, 1, false, 'linear') +
    `[region]\nanchors=0.9,0.9, 1.6,1.6\nbias_match=1\nclasses=2\ncoords=4\nnum=2\nsoftmax=1\njitter=.2\nrescore=1\nobject_scale=5\nnoobject_scale=1\nclass_scale=1\ncoord_scale=1\nthresh=.6\nrandom=${random}\n`
  );
}

/** A small YOLOv1: 64x64 input → 4x4 grid of 2 boxes and 2 classes through a [connected] layer. */
function detectionCfg(maxBatches: number): string {
  const pool = '[maxpool]\nsize=2\nstride=2\n';
  return (
    `[net]\nbatch=4\nsubdivisions=1\nwidth=64\nheight=64\nchannels=3\nmomentum=0.9\ndecay=0.0005\nlearning_rate=0.001\npolicy=constant\nmax_batches=${maxBatches}\n` +
    conv(8) + pool + conv(16) + pool + conv(16) + pool + conv(16) + pool +
    '[connected]\noutput=192\nactivation=linear\n' +
    '[detection]\nclasses=2\ncoords=4\nrescore=1\nside=4\nnum=2\nsoftmax=0\nsqrt=1\njitter=.2\nobject_scale=1\nnoobject_scale=.5\nclass_scale=1\ncoord_scale=5\n'
  );
}

interface Fixture {
  dir: string;
  items: DatasetItem[];
  dataFile: string;
}

async function fixture(train: number, seed = 3): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-train-'));
  const r = await generateSynthDataset({ outDir: join(dir, 'data'), train, valid: 2, classes: 2, size: 64, seed, minObjects: 1, maxObjects: 2 });
  const items = loadDetectionData(r.dataFile, 'train').dataset.items;
  return { dir, items, dataFile: r.dataFile };
}

function writeCfg(f: Fixture, name: string, text: string): string {
  const p = join(f.dir, name);
  writeFileSync(p, text);
  return p;
}

const quiet = (): void => undefined;

test('a tiny YOLOv2 overfits one batch of the synthetic set on the CPU: loss falls at least 10x and mAP@0.5 on that batch is at least 0.9', async (t) => {
  const f = await fixture(4);
  try {
    const cfgFile = writeCfg(f, 'overfit.cfg', regionCfg({ max_batches: 120 }));
    const r = await trainDetector({ cfgFile, items: f.items, backupDir: join(f.dir, 'backup'), augment: false, workers: 0, saveEvery: 1000, chart: null, preciseBn: 1, log: quiet });
    const first = r.losses[0]!;
    const last = r.losses[r.losses.length - 1]!;
    const ev = await evaluateDetector(r.net, f.items, { classes: 2, batch: 4 });
    t.diagnostic(`loss ${first.toFixed(3)} → ${last.toFixed(4)} (${(first / last).toFixed(1)}x) in ${r.iteration} iterations; mAP@0.5 on the batch ${(ev.map * 100).toFixed(1)}%`);
    assert.equal(r.stopped, 'max_batches');
    assert.ok(first / last >= 10, `loss only fell from ${first} to ${last}`);
    assert.ok(ev.map >= 0.9, `mAP@0.5 ${ev.map}`);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('stopping after 3 iterations and resuming from the .state file continues the exact loss sequence of an uninterrupted run (augmentation, shuffling, momentum, BN statistics)', async () => {
  const f = await fixture(6, 4);
  try {
    const cfgFile = writeCfg(f, 'resume.cfg', regionCfg({ max_batches: 6, burn_in: 2, learning_rate: 0.002 }));
    const base = { cfgFile, items: f.items, augment: true, workers: 1, saveEvery: 1000, chart: null, seed: 11, log: quiet };
    const full = await trainDetector({ ...base, backupDir: join(f.dir, 'a') });
    const part = await trainDetector({ ...base, backupDir: join(f.dir, 'b'), stopAfter: 3 });
    assert.equal(part.stopped, 'stop_after');
    assert.ok(part.lastState !== null && existsSync(part.lastState));
    const rest = await trainDetector({ ...base, backupDir: join(f.dir, 'b'), resume: part.lastState });
    assert.equal(full.losses.length, 6);
    assert.deepEqual([...part.losses, ...rest.losses], full.losses);
    assert.equal(rest.seen, full.seen);
    assert.deepEqual(readFileSync(join(f.dir, 'b', 'resume_final.weights')), readFileSync(join(f.dir, 'a', 'resume_final.weights')));
    // a changed [net] (more iterations) resumes with a note; changed layers are refused
    const longer = writeCfg(f, 'resume.cfg', regionCfg({ max_batches: 8, burn_in: 2, learning_rate: 0.002 }));
    const lines: string[] = [];
    const more = await trainDetector({ ...base, cfgFile: longer, backupDir: join(f.dir, 'b'), resume: part.lastState, log: (l) => lines.push(l) });
    assert.match(lines.join('\n'), /note: the \[net\] section of .* differs/);
    assert.equal(more.iteration, 8);
    const other = writeCfg(f, 'resume.cfg', regionCfg({ max_batches: 8 }).replace('anchors=0.9,0.9, 1.6,1.6', 'anchors=1,1, 2,2'));
    assert.throws(() => new DetectorTrainer({ ...base, cfgFile: other, backupDir: join(f.dir, 'b'), resume: part.lastState }), /whose layers differ from those of/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a non-finite loss stops before the update with a message naming the iteration, and the last checkpoint is left as it was', async () => {
  const f = await fixture(4, 5);
  try {
    const cfgFile = writeCfg(f, 'nan.cfg', regionCfg({ max_batches: 3 }));
    const backupDir = join(f.dir, 'backup');
    const good = await trainDetector({ cfgFile, items: f.items, backupDir, augment: false, workers: 0, saveEvery: 1, chart: null, log: quiet });
    const before = readFileSync(join(backupDir, 'nan_last.weights'));
    // weights with a NaN make the first loss NaN
    const bad = Buffer.from(readFileSync(good.lastWeights!));
    bad.writeFloatLE(Number.NaN, bad.length - 4);
    const badFile = join(f.dir, 'bad.weights');
    writeFileSync(badFile, bad);
    const lines: string[] = [];
    const r = await trainDetector({ cfgFile, items: f.items, backupDir, weightsFile: badFile, clear: true, augment: false, workers: 0, saveEvery: 1, chart: null, log: (l) => lines.push(l) });
    assert.equal(r.stopped, 'non_finite');
    assert.equal(r.losses.length, 0);
    assert.match(lines.join('\n'), /iteration 1: the loss is NaN .*stopping without updating the weights/);
    assert.deepEqual(readFileSync(join(backupDir, 'nan_last.weights')), before);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('training from a .weights file continues its schedule from the header\'s seen; --clear starts it at iteration 0', async () => {
  const f = await fixture(4, 6);
  try {
    const cfgFile = writeCfg(f, 'sched.cfg', regionCfg({ max_batches: 2 }));
    const r1 = await trainDetector({ cfgFile, items: f.items, backupDir: join(f.dir, 'b1'), augment: false, workers: 0, chart: null, log: quiet });
    assert.equal(readWeightsHeader(readFileSync(r1.lastWeights!)).seen, 8);
    const cfg2 = writeCfg(f, 'sched.cfg', regionCfg({ max_batches: 3 }));
    const lines: string[] = [];
    const cont = await trainDetector({ cfgFile: cfg2, items: f.items, backupDir: join(f.dir, 'b2'), weightsFile: r1.lastWeights, augment: false, workers: 0, chart: null, log: (l) => lines.push(l) });
    assert.match(lines.join('\n'), /has seen 8 images, so training continues at iteration 2 of the schedule \(use --clear to start it at 0\)/);
    assert.equal(cont.losses.length, 1);
    assert.equal(cont.iteration, 3);
    const cleared = await trainDetector({ cfgFile: cfg2, items: f.items, backupDir: join(f.dir, 'b3'), weightsFile: r1.lastWeights, clear: true, augment: false, workers: 0, chart: null, log: quiet });
    assert.equal(cleared.losses.length, 3);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a tiny YOLOv1 ([detection] layer) overfits one batch too (loss falls at least 10x, mAP@0.5 at least 0.9), and a multi-scale (random=1) YOLOv2 trains with the network input size following the loader', async (t) => {
  const f = await fixture(4, 7);
  try {
    const v1 = await trainDetector({ cfgFile: writeCfg(f, 'v1.cfg', detectionCfg(80)), items: f.items, backupDir: join(f.dir, 'v1'), augment: false, workers: 0, chart: null, preciseBn: 1, log: quiet });
    assert.equal(v1.losses.length, 80);
    const ev1 = await evaluateDetector(v1.net, f.items, { classes: 2, batch: 4 });
    t.diagnostic(`YOLOv1 loss ${v1.losses[0]!.toFixed(2)} → ${v1.losses[79]!.toFixed(4)}; mAP@0.5 on the batch ${(ev1.map * 100).toFixed(1)}%`);
    assert.ok(v1.losses[0]! / v1.losses[79]! >= 10, `YOLOv1 loss ${v1.losses[0]} → ${v1.losses[79]}`);
    assert.ok(ev1.map >= 0.9, `YOLOv1 mAP@0.5 ${ev1.map}`);
    const msCfg = writeCfg(f, 'ms.cfg', regionCfg({ max_batches: 1000 }, 1));
    // the first seed whose first 21 batches change size (sizes are a pure function of seed and interval)
    let tr: DetectorTrainer | null = null;
    let dims: number[] = [];
    for (let seed = 0; seed < 32 && tr === null; seed++) {
      const cand = new DetectorTrainer({ cfgFile: msCfg, items: f.items, backupDir: join(f.dir, 'ms'), workers: 0, chart: null, stopAfter: 21, seed, log: quiet });
      const opts = cand.loaderOptions(0);
      dims = [...Array(21).keys()].map((b) => (opts.sizeForBatch!(b) as { width: number }).width);
      if (new Set(dims).size > 1) tr = cand;
    }
    assert.ok(tr !== null, 'some seed changes the size within 21 batches');
    assert.ok(dims.every((d) => d === 64 || d === 96), `sizes ${dims.join(',')}`);
    const r = await tr.run();
    assert.equal(r.iteration, 21);
    assert.ok(r.losses.every(Number.isFinite));
    assert.equal(tr.net.cfg.net.width, dims[20]);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('`tsgrad detector train` writes <cfg>_last.weights, _final.weights, the .state and chart.png, and reports bad labels with file:line', async () => {
  const f = await fixture(4, 8);
  try {
    const cfgFile = writeCfg(f, 'cli.cfg', regionCfg({ max_batches: 2 }));
    const labels = readdirSync(join(f.dir, 'data', 'labels'), { recursive: true }).map(String).filter((p) => p.endsWith('.txt'));
    const badLabel = join(f.dir, 'data', 'labels', labels[0]!);
    writeFileSync(badLabel, `${readFileSync(badLabel, 'utf8')}7 0.5 0.5 0.1 0.1\n`);
    let o = '';
    let e = '';
    const io: CommandIO = { out: (s) => void (o += s), err: (s) => void (e += s) };
    const backup = join(f.dir, 'backup');
    const code = await detectorCommand(['train', f.dataFile, cfgFile, '--backup', backup, '--no-augment', '--workers', '0', '--save-every', '1'], io);
    assert.equal(code, 0, e);
    assert.match(e, new RegExp(`${labels[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: unknown class id 7`));
    for (const file of ['cli_last.weights', 'cli_final.weights', 'cli_last.state', 'chart.png']) assert.ok(existsSync(join(backup, file)), file);
    assert.match(o, /stopped at iteration 2 \(max_batches\), seen 8/);
    assert.ok(!readdirSync(backup).some((n) => n.includes('.tmp')), 'no temporary files left');
    o = '';
    e = '';
    assert.equal(await detectorCommand(['train', f.dataFile, cfgFile, '--backup', backup, '--strict'], io), 1);
    assert.match(e, /unknown class id 7/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('classification then detection: `classifier train` on a synthetic classification set, then `detector train` starts from its backbone (--partial 9 loads layers 0-8)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-cls-'));
  try {
    const cls = await generateSynthDataset({ outDir: join(dir, 'cls'), train: 8, valid: 4, classes: 2, size: 64, kind: 'classification', seed: 2 });
    const pool = '[maxpool]\nsize=2\nstride=2\n';
    const clsCfg = join(dir, 'cls.cfg');
    writeFileSync(
      clsCfg,
      '[net]\nbatch=4\nsubdivisions=2\nwidth=64\nheight=64\nchannels=3\nmomentum=0.9\ndecay=0.0005\nlearning_rate=0.01\npolicy=constant\nmax_batches=3\n' +
        conv(8) + pool + conv(16) + pool + conv(32) + pool + conv(64) + pool + conv(64) + conv(2, 1, false, 'linear') + '[avgpool]\n[softmax]\ngroups=1\n[cost]\ntype=sse\n',
    );
    let o = '';
    let e = '';
    const io: CommandIO = { out: (s) => void (o += s), err: (s) => void (e += s) };
    const { classifierCommand } = await import('../src/cli/classifier.js');
    assert.equal(await classifierCommand(['train', cls.dataFile, clsCfg, '--backup', join(dir, 'cb'), '--workers', '0'], io), 0, e);
    assert.match(o, /stopped at iteration 3 \(max_batches\), avg loss \d+\.\d+, top-1 \d+\.\d+%/);
    const clsWeights = join(dir, 'cb', 'cls_final.weights');
    assert.ok(existsSync(clsWeights));

    const det = await generateSynthDataset({ outDir: join(dir, 'det'), train: 4, valid: 2, classes: 2, size: 64, seed: 9, maxObjects: 2 });
    const detCfg = join(dir, 'det.cfg');
    writeFileSync(detCfg, regionCfg({ max_batches: 2 }));
    const items = loadDetectionData(det.dataFile, 'train').dataset.items;
    const tr = new DetectorTrainer({ cfgFile: detCfg, items, weightsFile: clsWeights, partial: 9, backupDir: join(dir, 'db'), augment: false, workers: 0, chart: null, log: quiet });
    assert.equal(tr.seen, 0, 'a partial load starts the schedule at 0');
    const { openNetwork } = await import('../src/yolo/net/network.js');
    const clsNet = openNetwork(clsCfg, clsWeights);
    for (const i of [0, 2, 8]) {
      assert.deepEqual(Array.from(tr.net.layers[i]!.weightTensor('weights')!.data()), Array.from(clsNet.layers[i]!.weightTensor('weights')!.data()), `layer ${i} weights from the classifier`);
    }
    const r = await tr.run();
    assert.equal(r.losses.length, 2);
    assert.ok(r.losses.every(Number.isFinite));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a training run on cuda-emu (every kernel, the loss included, on the device) follows the CPU run: losses within 1e-3 relative over 3 iterations', async (t) => {
  const { getDevice } = await import('../src/tensor/device.js');
  try {
    getDevice('cuda-emu');
  } catch (e) {
    t.skip(`cuda-emu unavailable: ${(e as Error).message}`);
    return;
  }
  const f = await fixture(4, 12);
  try {
    const cfgFile = writeCfg(f, 'dev.cfg', regionCfg({ max_batches: 3, batch: 2 }));
    const base = { cfgFile, items: f.items, augment: false, workers: 0, chart: null, saveEvery: 1000, log: quiet };
    const cpu = await trainDetector({ ...base, backupDir: join(f.dir, 'cpu') });
    const emu = await trainDetector({ ...base, backupDir: join(f.dir, 'emu'), device: 'cuda-emu' });
    assert.equal(emu.net.device.name, 'cuda-emu');
    t.diagnostic(`cpu ${cpu.losses.map((v) => v.toFixed(5)).join(', ')}; cuda-emu ${emu.losses.map((v) => v.toFixed(5)).join(', ')}`);
    cpu.losses.forEach((v, i) => assert.ok(Math.abs(emu.losses[i]! - v) <= 1e-3 * Math.abs(v), `iteration ${i + 1}: cuda-emu ${emu.losses[i]} vs cpu ${v}`));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a `detector train` process killed with SIGKILL mid-run resumes from its last .state: the resumed losses equal the uninterrupted run\'s', async () => {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../bin/tsgrad.js', import.meta.url));
  const f = await fixture(6, 13);
  try {
    const cfgFile = writeCfg(f, 'kill.cfg', regionCfg({ max_batches: 8, burn_in: 2, learning_rate: 0.002 }));
    const full = await trainDetector({ cfgFile, items: f.items, backupDir: join(f.dir, 'full'), seed: 0, workers: 0, chart: null, saveEvery: 1000, log: quiet });
    const backup = join(f.dir, 'killed');
    const child = spawn(process.execPath, [bin, 'detector', 'train', f.dataFile, cfgFile, '--backup', backup, '--workers', '0', '--save-every', '2', '--chart', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^\s*5\/8: /m.test(out) && child.kill('SIGKILL')) resolve(true);
      });
      child.on('exit', () => resolve(false));
    });
    assert.ok(killed, `the run ended before it could be killed:\n${out}`);
    await new Promise((r) => child.once('close', r));
    const resumed = await trainDetector({ cfgFile, items: f.items, backupDir: backup, seed: 0, workers: 0, chart: null, saveEvery: 1000, resume: join(backup, 'kill_last.state'), log: quiet });
    const from = resumed.iteration - resumed.losses.length;
    assert.ok(from === 4 || from === 6, `resumed from iteration ${from}`);
    assert.deepEqual(resumed.losses, full.losses.slice(from));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('the [net] learning-rate policies (constant, step, steps, exp, poly, sigmoid, with burn_in) become the schedule the trainer uses', async () => {
  const { parseCfg } = await import('../src/yolo/darknet/cfg.js');
  const { learningRate } = await import('../src/nn/optim/schedule.js');
  const { netSchedule } = await import('../src/yolo/train/trainer.js');
  const lr = (net: string, batch: number): number =>
    learningRate(netSchedule(parseCfg(`[net]\nwidth=32\nheight=32\nchannels=3\nlearning_rate=0.1\nmax_batches=100\n${net}\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n`).net), batch);
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) <= 1e-7 * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
  close(lr('policy=constant', 50), 0.1);
  close(lr('policy=step\nstep=10\nscale=0.5', 25), 0.1 * 0.25);
  close(lr('policy=steps\nsteps=10,20\nscales=.1,.5', 15), 0.1 * 0.1);
  close(lr('policy=steps\nsteps=10,20\nscales=.1,.5', 20), 0.1 * 0.1 * 0.5);
  close(lr('policy=exp\ngamma=0.9', 3), 0.1 * 0.9 ** 3);
  close(lr('policy=poly\npower=2', 50), 0.1 * 0.5 ** 2);
  close(lr('policy=sigmoid\ngamma=0.5\nstep=40', 40), 0.05);
  close(lr('policy=constant\nburn_in=10\npower=4', 5), 0.1 * 0.5 ** 4);
  assert.throws(() => lr('policy=random', 1), /policy 'random' is not supported for training/);
});

test('a cfg with adam=1 trains with Adam (its moments are in the .state file) and momentum/decay SGD otherwise', async () => {
  const f = await fixture(4, 14);
  try {
    const cfgFile = writeCfg(f, 'adam.cfg', regionCfg({ max_batches: 2, adam: 1, B1: 0.9, B2: 0.999, eps: 0.000001 }));
    const r = await trainDetector({ cfgFile, items: f.items, backupDir: join(f.dir, 'b'), augment: false, workers: 0, chart: null, saveEvery: 1, log: quiet });
    assert.ok(r.losses.every(Number.isFinite));
    const { readTensorFile } = await import('../src/nn/checkpoint.js');
    const st = readTensorFile(r.lastState!);
    const keys = [...st.tensors.keys()].filter((k) => k.startsWith('opt/'));
    assert.ok(keys.some((k) => k.endsWith('/m')) && keys.some((k) => k.endsWith('/v')), `optimiser slots ${keys.slice(0, 4).join(', ')}`);
    assert.equal((st.meta as { optimizer: { type: string } }).optimizer.type, 'adam');
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
