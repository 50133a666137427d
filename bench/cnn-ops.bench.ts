// CNN op benchmark on the cpu: maxpool2d (Darknet padding) and batchnorm2d (training, both variants),
// forward alone and forward+backward, at the activation shapes of YOLOv2-tiny at 416x416, batch 1.
//
//   node dist/bench/cnn-ops.bench.js [--quick] [--python P] [--no-peer]   --quick: three shapes per op, shorter timing
//
// Prints one row per (op, shape, pass): mean and median latency, input throughput in M elements/s, the
// number of timed runs, and PyTorch's median for the same op and shape (F.max_pool2d, nn.BatchNorm2d in
// training; bench/pytorch_peer.py, timed after ours in the same run) with our ratio to it. Every op is
// run once and checked against a naive loop before timing.

import { Bench } from 'tinybench';

import { fromHost, memoryInfo, Rng, scope, type Tensor } from '../src/index.js';
import { maxpool2dDarknet } from '../src/tensor/ops/maxpool2d.js';
import { batchnorm2d, type BatchNormVariant } from '../src/tensor/ops/batchnorm2d.js';
import { median as mid, Peer, ratio } from './peer.js';

// [C, H(=W), maxpool stride] of the tiny-yolo-voc conv outputs at 416 that feed a maxpool; the last (13x13,
// stride 1) is layer 11's size-2 stride-1 pool.
const POOL_SHAPES: [number, number, number][] = [
  [16, 416, 2],
  [32, 208, 2],
  [64, 104, 2],
  [128, 52, 2],
  [256, 26, 2],
  [512, 13, 1],
];
// [C, H(=W)] of every BN conv output.
const BN_SHAPES: [number, number][] = [
  [16, 416],
  [32, 208],
  [64, 104],
  [128, 52],
  [256, 26],
  [512, 13],
  [1024, 13],
];

function randomInput(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(-2, 2);
  return out;
}

/** Spot-check a Darknet maxpool output against the definition on a few positions. */
function checkPool(x: Float32Array, C: number, H: number, s: number, y: Tensor): void {
  const OH = y.shape[2]!;
  const out = y.data();
  for (const [c, i, j] of [[0, 0, 0], [C - 1, OH - 1, OH - 1], [C >> 1, OH >> 1, OH >> 2]] as const) {
    let m = -Infinity;
    for (let u = 0; u < 2; u++) for (let v = 0; v < 2; v++) {
      const h = i * s + u;
      const w = j * s + v;
      if (h < H && w < H) m = Math.max(m, x[(c * H + h) * H + w]!);
    }
    if (out[(c * OH + i) * OH + j] !== m) throw new Error(`cnn-ops.bench: maxpool ${C}x${H} s${s} wrong at (${c}, ${i}, ${j})`);
  }
}

/** Spot-check the per-channel mean of BN's output (≈ β = 0 with γ = 1). */
function checkBn(y: Tensor, C: number, H: number): void {
  const d = y.data();
  for (const c of [0, C - 1]) {
    let s = 0;
    for (let k = 0; k < H * H; k++) s += d[c * H * H + k]!;
    if (Math.abs(s / (H * H)) > 1e-4) throw new Error(`cnn-ops.bench: batchnorm channel ${c} of ${C}x${H} has mean ${s / (H * H)}`);
  }
}

interface Row {
  op: string;
  shape: string;
  pass: string;
  elements: number;
  /** The peer request timing the same op and shape, and which of its two figures this row compares to. */
  peer: Record<string, unknown>;
  peerKey: 'fwd_ms' | 'fwdbwd_ms';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const py = argv.indexOf('--python');
  const peer = await Peer.start(py >= 0 ? argv[py + 1] : undefined, argv.includes('--no-peer'));
  const bench = new Bench({ name: 'cnn ops (cpu)', time: quick ? 150 : 500, iterations: 3, warmupIterations: 1 });
  const rows = new Map<string, Row>();
  const keepAlive: Tensor[] = [];
  const pools = quick ? POOL_SHAPES.filter((_, i) => i % 2 === 0) : POOL_SHAPES;
  const bns = quick ? BN_SHAPES.filter((_, i) => i % 3 === 0) : BN_SHAPES;

  for (const [C, H, s] of pools) {
    const host = randomInput([1, C, H, H], C * H);
    const x = fromHost(host, [1, C, H, H]);
    const xg = fromHost(host, [1, C, H, H], { requiresGrad: true });
    keepAlive.push(x, xg);
    scope(() => checkPool(host, C, H, s, maxpool2dDarknet(x, 2, s)));
    const gy = scope(() => {
      const y = maxpool2dDarknet(x, 2, s);
      return fromHost(randomInput([...y.shape], 7), [...y.shape]);
    });
    keepAlive.push(gy);
    const shape = `1x${C}x${H}x${H} /${s}`;
    const fwd = `maxpool fwd ${shape}`;
    const both = `maxpool fwd+bwd ${shape}`;
    const pr = { op: 'maxpool', c: C, hw: H, stride: s, runs: 10 };
    rows.set(fwd, { op: 'maxpool2dDarknet(2)', shape, pass: 'forward', elements: x.size, peer: pr, peerKey: 'fwd_ms' });
    rows.set(both, { op: 'maxpool2dDarknet(2)', shape, pass: 'forward+backward', elements: x.size, peer: pr, peerKey: 'fwdbwd_ms' });
    bench.add(fwd, () => scope(() => void maxpool2dDarknet(x, 2, s)));
    bench.add(both, () =>
      scope(() => {
        maxpool2dDarknet(xg, 2, s).backward(gy);
        xg.zeroGrad();
      }),
    );
  }

  for (const [C, H] of bns) {
    const host = randomInput([1, C, H, H], C + H);
    const x = fromHost(host, [1, C, H, H]);
    const xg = fromHost(host, [1, C, H, H], { requiresGrad: true });
    const gamma = fromHost(new Float32Array(C).fill(1), [C], { requiresGrad: true });
    const beta = fromHost(new Float32Array(C), [C], { requiresGrad: true });
    const rm = fromHost(new Float32Array(C), [C]);
    const rv = fromHost(new Float32Array(C).fill(1), [C]);
    const gy = fromHost(randomInput([1, C, H, H], 9), [1, C, H, H]);
    keepAlive.push(x, xg, gamma, beta, rm, rv, gy);
    scope(() => checkBn(batchnorm2d(x, gamma, beta, rm, rv, { training: true }).y, C, H));
    const shape = `1x${C}x${H}x${H}`;
    for (const variant of ['pytorch', 'darknet'] as BatchNormVariant[]) {
      const fwd = `bn ${variant} fwd ${shape}`;
      const both = `bn ${variant} fwd+bwd ${shape}`;
      const pr = { op: 'batchnorm', c: C, hw: H, runs: 10 };
      rows.set(fwd, { op: `batchnorm2d ${variant} (train)`, shape, pass: 'forward', elements: x.size, peer: pr, peerKey: 'fwd_ms' });
      rows.set(both, { op: `batchnorm2d ${variant} (train)`, shape, pass: 'forward+backward', elements: x.size, peer: pr, peerKey: 'fwdbwd_ms' });
      bench.add(fwd, () => scope(() => void batchnorm2d(x, gamma, beta, rm, rv, { training: true, variant })));
      bench.add(both, () =>
        scope(() => {
          batchnorm2d(xg, gamma, beta, rm, rv, { training: true, variant }).y.backward(gy);
          xg.zeroGrad();
          gamma.zeroGrad();
          beta.zeroGrad();
        }),
      );
    }
  }

  await bench.run();
  // The peer, right after ours: one request per distinct (op, shape), cached.
  const peerMs = new Map<string, Record<string, number>>();
  if (typeof peer !== 'string') {
    for (const row of rows.values()) {
      const key = JSON.stringify(row.peer);
      if (peerMs.has(key)) continue;
      const r = await peer.request(row.peer);
      peerMs.set(key, { fwd_ms: mid(r['fwd_ms'] as number[]), fwdbwd_ms: mid(r['fwdbwd_ms'] as number[]) });
    }
    peer.close();
  }
  const table = bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`cnn-ops.bench: task ${task.name} ended in state '${r.state}'${'error' in r ? `: ${String(r.error)}` : ''}`);
    const row = rows.get(task.name)!;
    return {
      op: row.op,
      shape: row.shape,
      pass: row.pass,
      'mean ms': r.latency.mean.toFixed(3),
      'median ms': r.latency.p50!.toFixed(3),
      'M elem/s (median)': (row.elements / (r.latency.p50! * 1e3)).toFixed(1),
      '±rme %': r.latency.rme.toFixed(1),
      runs: task.runs,
      'torch ms': peerMs.get(JSON.stringify(row.peer))?.[row.peerKey]?.toFixed(3) ?? '-',
      ratio: ratio(r.latency.p50!, peerMs.get(JSON.stringify(row.peer))?.[row.peerKey]),
    };
  });
  console.log(`cnn ops on the cpu (float32, YOLOv2-tiny shapes at 416, batch 1), node ${process.version}`);
  console.table(table);
  console.log(`peer: ${typeof peer === 'string' ? peer : `${peer.description}; its batch norm is PyTorch's (biased variance), compared with both variants`}`);
  for (const t of keepAlive) t.dispose();
  const left = memoryInfo('cpu');
  if (left.tensors !== 0) console.warn(`cnn-ops.bench: ${left.tensors} tensors still alive at exit`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
