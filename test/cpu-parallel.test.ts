// The CPU backend's shared arena and thread pool: a whole training step (conv, Darknet BN, leaky,
// maxpool, region loss, backward, SGD) gives the same bits on one thread as on two with every kernel
// forced onto the workers; a repeated step allocates no new arena memory; a full arena falls back to
// ordinary arrays with the same results; operands in the arena and outside give the same GEMM bits;
// the batched normal sampler draws exactly the serial stream.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { fromHost, memoryInfo, randn, Rng, scope, type Tensor } from '../src/index.js';
import { arenaAddress, arenaStats, arenaTuning } from '../src/tensor/backends/cpu/arena.js';
import { gemmThreads, gemmWarmup, sgemm } from '../src/tensor/backends/cpu/gemm/index.js';
import { parallelStats, parallelTuning } from '../src/tensor/backends/cpu/parallel.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { networkLoss } from '../src/yolo/loss/network-loss.js';
import { buildNetwork } from '../src/yolo/net/network.js';
import { darknetOptimizer } from '../src/yolo/train/trainer.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Two training steps and an inference of the demo's detector at 64x64, batch 2; every output and parameter. */
function trainTwice(): Float32Array[] {
  const cfg = readCfgFile(join(ROOT, 'cfg', 'yolov2-tiny-synth.cfg'), { overrides: { width: 64, height: 64, batch: 2, subdivisions: 1 } });
  const net = buildNetwork(cfg, { seed: 5 });
  const opt = darknetOptimizer(net);
  const x = randn([2, 3, 64, 64], { seed: 6 });
  const truth = new Float32Array(2 * 30 * 5);
  truth.set([0.3, 0.4, 0.2, 0.3, 1, 0.7, 0.6, 0.3, 0.2, 2], 0);
  truth.set([0.5, 0.5, 0.4, 0.4, 0], 150);
  const t = fromHost(truth, [2, 150]);
  const got: Float32Array[] = [];
  for (let step = 0; step < 2; step++) {
    scope(() => {
      const outs = net.forward(x);
      const L = networkLoss(net, outs, t, { seen: 0 });
      L.loss.backward();
      got.push(outs[outs.length - 1]!.data() as Float32Array);
      for (const p of net.parameters()) got.push(p.grad!.data() as Float32Array);
    });
    opt.step();
    opt.zeroGrad();
  }
  net.eval();
  got.push(scope(() => net.forward(x)[net.outputIndex]!.data() as Float32Array));
  for (const p of net.parameters()) got.push(p.data() as Float32Array);
  for (const [, b] of net.namedBuffers()) got.push(b.data() as Float32Array);
  const all = [x, t, ...net.parameters()];
  for (const v of all) v.dispose();
  return got;
}

function sameBits(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.equal(a.length, b.length);
  for (let k = 0; k < a.length; k++) {
    const u = new Uint32Array(a[k]!.buffer, a[k]!.byteOffset, a[k]!.length);
    const v = new Uint32Array(b[k]!.buffer, b[k]!.byteOffset, b[k]!.length);
    assert.equal(u.length, v.length);
    for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) assert.fail(`${what}: array ${k} differs at ${i}: ${a[k]![i]} vs ${b[k]![i]}`);
  }
}

test('a training step has the same bits on one thread and with every kernel on two threads', async () => {
  await gemmWarmup();
  const threads = gemmThreads();
  const prev = parallelTuning();
  try {
    gemmThreads(1);
    parallelTuning({ enabled: false });
    const serial = trainTwice();
    gemmThreads(2);
    parallelTuning({ enabled: true, minWork: 1 });
    const before = parallelStats().threaded;
    const threaded = trainTwice();
    assert.ok(parallelStats().threaded > before + 20, 'the kernels ran on the workers');
    sameBits(serial, threaded, 'threaded vs serial');
  } finally {
    gemmThreads(threads);
    parallelTuning(prev);
  }
});

test('a repeated step takes no new arena memory and leaves no tensor behind', () => {
  const x = randn([2, 8, 32, 32], { seed: 1 }).requireGrad();
  const step = (): void =>
    scope(() => {
      const y = x.mul(x).sigmoid().sum();
      y.backward();
      x.zeroGrad();
    });
  step();
  const live = memoryInfo('cpu').tensors;
  const high = arenaStats().highWater;
  const refused = arenaStats().refused;
  step();
  step();
  assert.equal(arenaStats().highWater, high, 'the later steps fit in the memory the first one took');
  assert.equal(arenaStats().refused, refused);
  assert.equal(memoryInfo('cpu').tensors, live);
  assert.ok(arenaAddress(x.storage.cpuArray) >= 0, 'the tensor lives in the arena');
  x.dispose();
});

test('with the arena full, storages are ordinary arrays and results are the same', () => {
  const a = randn([64, 96], { seed: 2 });
  const b = randn([96, 80], { seed: 3 });
  const inArena = scope(() => a.matmul(b).relu().data());
  const prev = arenaTuning({ enabled: false });
  try {
    const a2 = fromHost(a.data(), [64, 96]);
    const b2 = fromHost(b.data(), [96, 80]);
    assert.equal(arenaAddress(a2.storage.cpuArray), -1);
    const outside = scope(() => a2.matmul(b2).relu().data());
    sameBits([inArena as Float32Array], [outside as Float32Array], 'arena vs heap');
    a2.dispose();
    b2.dispose();
  } finally {
    arenaTuning(prev);
  }
  a.dispose();
  b.dispose();
});

test('sgemm gives the same bits with operands in the arena (in place) and outside (staged)', () => {
  const M = 70, N = 130, K = 90;
  const rng = new Rng(4);
  const host = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.range(-1, 1));
  const A = host(M * K), B = host(K * N), C0 = host(M * N);
  const ta: Tensor = fromHost(A, [M * K]), tb = fromHost(B, [K * N]), tc = fromHost(C0, [M * N]);
  for (const beta of [0, 0.5]) {
    const C = C0.slice();
    sgemm(false, true, M, N, K, 1.5, A, 0, K, B, 0, K, beta, C, 0, N);
    const Ca = tc.storage.cpuArray as Float32Array;
    Ca.set(C0);
    sgemm(false, true, M, N, K, 1.5, ta.storage.cpuArray as Float32Array, 0, K, tb.storage.cpuArray as Float32Array, 0, K, beta, Ca, 0, N);
    sameBits([C], [Ca.slice()], `beta ${beta}`);
  }
  for (const t of [ta, tb, tc]) t.dispose();
});

test('randn draws exactly the serial Rng.normal stream and leaves the stream where it would', () => {
  for (const [n, pre] of [[50_000, 0], [12_345, 3]] as const) {
    const r1 = new Rng(9);
    const r2 = new Rng(9);
    for (let i = 0; i < pre; i++) {
      r1.nextU32();
      r2.nextU32();
    }
    const got = randn([n], { rng: r1, mean: 0.5, std: 2 });
    const d = got.data();
    for (let i = 0; i < n; i++) {
      const want = Math.fround(r2.normal(0.5, 2));
      if (d[i] !== want) assert.fail(`sample ${i} of ${n}: ${d[i]} vs ${want}`);
    }
    assert.equal(r1.nextU32(), r2.nextU32());
    got.dispose();
  }
});
