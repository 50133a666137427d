// CPU matmul benchmark: the public op `matmul` (float32, square n x n @ n x n) timed with tinybench.
//
//   node dist/bench/matmul.bench.js [n ...] [--python P] [--no-peer]     default sizes 256 512 1024
//
// Prints one row per size: mean and median latency, GFLOP/s (2 n^3 flops per product, from the mean
// and from the median), the number of timed runs, PyTorch's torch.mm median on the same size and thread
// count (bench/pytorch_peer.py, timed after ours in the same run) and our ratio to it, and which sgemm
// paths ran. Each product is checked
// once against a float64 dot product before timing, so a fast but wrong kernel does not go unnoticed.

import { Bench } from 'tinybench';

import { matmul, rand, memoryInfo } from '../src/index.js';
import { gemmStats, gemmThreads, gemmWarmup } from '../src/tensor/backends/cpu/gemm/index.js';
import { median as mid, Peer, ratio } from './peer.js';

function parseSizes(args: string[]): number[] {
  if (args.length === 0) return [256, 512, 1024];
  return args.map((a) => {
    const n = Number(a);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`matmul.bench: size '${a}' is not a positive integer`);
    return n;
  });
}

/** Compare a few entries of C = A B (float32) with float64 dot products. */
function spotCheck(a: Float32Array, b: Float32Array, c: Float32Array, n: number): void {
  for (const [i, j] of [[0, 0], [n - 1, n - 1], [n >> 1, n >> 2]] as const) {
    let s = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      s += a[i * n + k]! * b[k * n + j]!;
      mag += Math.abs(a[i * n + k]! * b[k * n + j]!);
    }
    const got = c[i * n + j]!;
    if (Math.abs(got - s) > 1e-5 * mag + 1e-6) throw new Error(`matmul.bench: C[${i}, ${j}] = ${got}, expected ${s} (n = ${n})`);
  }
}

/** --python P and --no-peer out of the arguments; the rest are sizes. */
function peerArgs(args: string[]): { python: string | undefined; skip: boolean; rest: string[] } {
  const rest: string[] = [];
  let python: string | undefined;
  let skip = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--python') python = args[++i];
    else if (args[i] === '--no-peer') skip = true;
    else rest.push(args[i]!);
  }
  return { python, skip, rest };
}

async function main(): Promise<void> {
  const pa = peerArgs(process.argv.slice(2));
  const sizes = parseSizes(pa.rest);
  await gemmWarmup();
  const bench = new Bench({ name: 'matmul float32 (cpu)', time: 1000, iterations: 5, warmupIterations: 2 });
  const inputs = new Map<number, { a: ReturnType<typeof rand>; b: ReturnType<typeof rand> }>();
  for (const n of sizes) {
    const a = rand([n, n], { seed: 1, low: -1, high: 1 });
    const b = rand([n, n], { seed: 2, low: -1, high: 1 });
    const c = matmul(a, b);
    spotCheck(a.data() as Float32Array, b.data() as Float32Array, c.data() as Float32Array, n);
    c.dispose();
    inputs.set(n, { a, b });
    bench.add(`${n}`, () => {
      matmul(a, b).dispose();
    });
  }
  const statsBefore = gemmStats();
  await bench.run();
  const stats = gemmStats();
  const peer = await Peer.start(pa.python, pa.skip);
  const peerMs = new Map<number, number>();
  if (typeof peer !== 'string') {
    for (const n of sizes) peerMs.set(n, mid((await peer.request({ op: 'gemm', m: n, n, k: n, threads: gemmThreads(), runs: 10 }))['ms'] as number[]));
    peer.close();
  }

  const rows = bench.tasks.map((task) => {
    const n = Number(task.name);
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`matmul.bench: task ${task.name} ended in state '${r.state}'${'error' in r ? `: ${String(r.error)}` : ''}`);
    const flops = 2 * n ** 3;
    const mean = r.latency.mean;
    const median = r.latency.p50;
    return {
      n: `${n}x${n}`,
      'mean ms': mean.toFixed(2),
      'median ms': median.toFixed(2),
      'GFLOP/s (mean)': (flops / (mean * 1e6)).toFixed(2),
      'GFLOP/s (median)': (flops / (median * 1e6)).toFixed(2),
      '±rme %': r.latency.rme.toFixed(1),
      runs: task.runs,
      'torch.mm ms': peerMs.get(n)?.toFixed(2) ?? '-',
      ratio: ratio(median, peerMs.get(n)),
    };
  });
  console.log(`matmul float32 on the cpu, sgemm threads ${gemmThreads()}, node ${process.version}`);
  console.table(rows);
  console.log(`peer: ${typeof peer === 'string' ? peer : peer.description}`);
  console.log(
    `sgemm paths during timing: js ${stats.js - statsBefore.js}, wasm single-thread ${stats.wasmSingle - statsBefore.wasmSingle}, ` +
      `wasm threaded ${stats.wasmThreaded - statsBefore.wasmThreaded} (workers ${stats.workers})`,
  );
  for (const { a, b } of inputs.values()) {
    a.dispose();
    b.dispose();
  }
  const left = memoryInfo('cpu');
  if (left.tensors !== 0) console.warn(`matmul.bench: ${left.tensors} tensors still alive at exit`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
