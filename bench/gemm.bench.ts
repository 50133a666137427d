// sgemm throughput against PyTorch's torch.mm (bench/pytorch_peer.py, same shape, layout and thread
// count, timed right after ours in the same run):
//   node dist/bench/gemm.bench.js [--sizes 256,512,1024,2048] [--shapes] [--python P] [--no-peer]
//
// Square problems in the layouts a network uses (NN forward, NT and TN in conv/linear backward),
// on 1 thread and on all threads; with --shapes also the im2col shapes of a small YOLO-like net.
// Prints GFLOP/s from the median and the best run, and the ratio of our median time to the peer's.
// The machine may be shared: numbers are noisy.

import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';

import { dgemm, gemmStats, gemmThreads, gemmWarmup, sgemm } from '../src/tensor/backends/cpu/gemm/index.js';
import { median, Peer, PEER_OPTIONS, ratio } from './peer.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024,2048' },
    shapes: { type: 'boolean', default: false },
    dgemm: { type: 'boolean', default: false },
    ...PEER_OPTIONS,
  },
});
const sizes = values.sizes.split(',').map(Number);

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

interface Problem {
  label: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
}

function square(n: number): Problem[] {
  return [
    { label: `NN ${n}`, transA: false, transB: false, M: n, N: n, K: n },
    { label: `NT ${n}`, transA: false, transB: true, M: n, N: n, K: n },
    { label: `TN ${n}`, transA: true, transB: false, M: n, N: n, K: n },
  ];
}

// Convolutions as GEMMs (Cout x HW x Cin*k*k): forward NN, weight gradient NT (dY @ cols^T),
// input gradient TN (W^T @ dY).
const convShapes: Problem[] = [
  { label: 'conv fwd 16x173056x27', transA: false, transB: false, M: 16, N: 173056, K: 27 },
  { label: 'conv fwd 64x43264x288', transA: false, transB: false, M: 64, N: 43264, K: 288 },
  { label: 'conv fwd 256x2704x1152', transA: false, transB: false, M: 256, N: 2704, K: 1152 },
  { label: 'conv dW 64x288x43264 NT', transA: false, transB: true, M: 64, N: 288, K: 43264 },
  { label: 'conv dX 288x43264x64 TN', transA: true, transB: false, M: 288, N: 43264, K: 64 },
  { label: 'conv fwd 1024x169x4608', transA: false, transB: false, M: 1024, N: 169, K: 4608 },
];

const peer = await Peer.start(values.python, values['no-peer']);

async function benchOne(p: Problem, threads: number): Promise<void> {
  gemmThreads(threads);
  const { M, N, K, transA, transB } = p;
  const A = random(M * K, 1), B = random(K * N, 2), C = new Float32Array(M * N);
  const lda = transA ? M : K, ldb = transB ? K : N;
  const flops = 2 * M * N * K;
  const run = (): void => sgemm(transA, transB, M, N, K, 1, A, 0, lda, B, 0, ldb, 0, C, 0, N);
  // About 0.3 s of work per task (at ~50 GFLOP/s per thread), at least 3 runs.
  const iterations = Math.max(3, Math.min(200, Math.round((1.5e10 * threads) / flops / 1.0)));
  const bench = new Bench({ time: 0, iterations, warmupIterations: Math.min(10, iterations), warmupTime: 0 });
  bench.add(p.label, run);
  bench.runSync();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`bench ${p.label}: ${r.state === 'errored' ? r.error.message : r.state}`);
  const gf = (ms: number): string => (flops / ms / 1e6).toFixed(1);
  let theirs: number | undefined;
  if (typeof peer !== 'string') {
    const reply = await peer.request({ op: 'gemm', m: M, n: N, k: K, ta: transA, tb: transB, threads, runs: Math.min(iterations, 20) });
    theirs = median(reply['ms'] as number[]);
  }
  console.log(
    `sgemm ${p.label.padEnd(26)} threads=${threads}  median ${r.latency.p50.toFixed(3).padStart(9)} ms  ` +
      `${gf(r.latency.p50).padStart(6)} GFLOP/s  (best ${gf(r.latency.min)}, ${r.latency.samplesCount} runs)  ` +
      `torch.mm ${theirs === undefined ? '-' : `${gf(theirs)} GFLOP/s`}  ratio ${ratio(r.latency.p50, theirs)}`,
  );
}

function benchDgemm(n: number): void {
  const A = new Float64Array(random(n * n, 3)), B = new Float64Array(random(n * n, 4)), C = new Float64Array(n * n);
  const bench = new Bench({ time: 0, iterations: 5, warmupIterations: 2, warmupTime: 0 });
  bench.add(`dgemm NN ${n}`, () => dgemm(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n));
  bench.runSync();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`bench dgemm ${n}: ${r.state}`);
  console.log(`dgemm NN ${n}  median ${r.latency.p50.toFixed(3)} ms  ${((2 * n ** 3) / r.latency.p50 / 1e6).toFixed(2)} GFLOP/s`);
}

const all = gemmThreads();
console.log(`node ${process.version}, ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), gemmThreads() = ${all}`);
await gemmWarmup();
const counts = all > 1 ? [1, all] : [1];
for (const threads of counts) {
  for (const n of sizes) for (const p of square(n)) await benchOne(p, threads);
  if (values.shapes) for (const p of convShapes) await benchOne(p, threads);
}
gemmThreads(all);
if (values.dgemm) for (const n of [128, 256]) benchDgemm(n);
const s = gemmStats();
console.log(`peer: ${typeof peer === 'string' ? peer : peer.description}`);
if (typeof peer !== 'string') peer.close();
console.log(`paths: js=${s.js} wasm 1-thread=${s.wasmSingle} wasm threaded=${s.wasmThreaded}, worker items=${s.workerItems}`);
