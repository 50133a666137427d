// conv2d throughput on the YOLOv2-tiny-VOC conv layers (416x416, batch 1, float32), against PyTorch's
// F.conv2d (bench/pytorch_peer.py, timed right after ours, layer by layer, in the same run):
//   node dist/bench/conv.bench.js [--batch 1] [--layers 1,2,9] [--time 1000] [--threads 2] [--python P] [--no-peer]
//
// Per layer: forward (conv2d) and forward+backward (conv2d + conv2dBackwardInput +
// conv2dBackwardWeight [+ conv2dBackwardBias]) GFLOP/s, FLOP = 2*MACs forward and 3x that for
// forward+backward (the peer's convention), from the median time; the GEMM alone on a ready column
// matrix (what im2col, bias and allocation add on top); the ratios of our median times to the peer's.
// The machine may be shared: numbers are noisy. ~1 minute at the defaults.

import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';

import { noGrad } from '../src/autograd/grad-mode.js';
import { gemmThreads, gemmWarmup, sgemm } from '../src/tensor/backends/cpu/gemm/index.js';
import { im2col } from '../src/tensor/backends/cpu/im2col.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dOutputShape, conv2dParams } from '../src/tensor/ops/conv2d.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { median as mid, Peer, PEER_OPTIONS, ratio } from './peer.js';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '1' },
    layers: { type: 'string', default: '' },
    time: { type: 'string', default: '1000' },
    threads: { type: 'string', default: '' },
    ...PEER_OPTIONS,
  },
});
const batch = Number(args.batch);
const timeMs = Number(args.time);
if (args.threads) gemmThreads(Number(args.threads));

interface Layer {
  name: string;
  C: number;
  O: number;
  size: number;
  k: number;
  bias: boolean;
}

// yolov2-tiny-voc.cfg: 3x3 pad=1 stride-1 convs with batch norm (no conv bias) between 2x2 maxpools
// (the last one stride 1), then the 1x1 detection conv (125 = 5 anchors x (5 + 20)) with a bias.
const LAYERS: Layer[] = [
  { name: 'conv1 3->16 @416', C: 3, O: 16, size: 416, k: 3, bias: false },
  { name: 'conv2 16->32 @208', C: 16, O: 32, size: 208, k: 3, bias: false },
  { name: 'conv3 32->64 @104', C: 32, O: 64, size: 104, k: 3, bias: false },
  { name: 'conv4 64->128 @52', C: 64, O: 128, size: 52, k: 3, bias: false },
  { name: 'conv5 128->256 @26', C: 128, O: 256, size: 26, k: 3, bias: false },
  { name: 'conv6 256->512 @13', C: 256, O: 512, size: 13, k: 3, bias: false },
  { name: 'conv7 512->1024 @13', C: 512, O: 1024, size: 13, k: 3, bias: false },
  { name: 'conv8 1024->1024 @13', C: 1024, O: 1024, size: 13, k: 3, bias: false },
  { name: 'conv9 1024->125 1x1 @13', C: 1024, O: 125, size: 13, k: 1, bias: true },
];

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function median(fn: () => void, ms: number): number {
  const bench = new Bench({ time: ms, iterations: 3, warmupIterations: 2, warmupTime: 0 });
  bench.add('t', fn);
  bench.runSync();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`bench: ${r.state === 'errored' ? r.error.message : r.state}`);
  return r.latency.p50;
}

await gemmWarmup();
const peer = await Peer.start(args.python, args['no-peer']);
const selected = args.layers ? args.layers.split(',').map((s) => LAYERS[Number(s) - 1]!) : LAYERS;
console.log(`conv2d float32, batch ${batch}, gemm threads ${gemmThreads()}; GFLOP/s from median times (FLOP = 2*MACs fwd, 3x for fwd+bwd)`);
const header =
  `${'layer'.padEnd(26)}${'GFLOP fwd'.padStart(10)}${'fwd ms'.padStart(9)}${'fwd GF/s'.padStart(10)}${'f+b ms'.padStart(9)}${'f+b GF/s'.padStart(10)}` +
  `${'gemm-only fwd ms'.padStart(18)}${'torch fwd'.padStart(11)}${'torch f+b'.padStart(11)}${'fwd ratio'.padStart(11)}${'f+b ratio'.padStart(11)}`;
console.log(header);
console.log('-'.repeat(header.length));
let totalFwd = 0;
let totalFb = 0;
let totalFlop = 0;
let peerFwd = 0;
let peerFb = 0;
for (const L of selected) {
  const pad = Math.floor(L.k / 2);
  const p = conv2dParams({ padding: pad });
  const x = fromHost(random(batch * L.C * L.size * L.size, 1), [batch, L.C, L.size, L.size]);
  const w = fromHost(random(L.O * L.C * L.k * L.k, 2), [L.O, L.C, L.k, L.k]);
  const b = L.bias ? fromHost(random(L.O, 3), [L.O]) : null;
  const outShape = conv2dOutputShape('bench', x.shape, w.shape, p);
  const g = fromHost(random(outShape.reduce((a, c) => a * c, 1), 4), outShape);
  const OH = outShape[2], OW = outShape[3];
  const macs = batch * L.O * OH * OW * L.C * L.k * L.k;
  const flop = 2 * macs;
  const drop = (...ts: (Tensor | null)[]): void => ts.forEach((t) => t?.dispose());
  const fwd = median(() => noGrad(() => drop(conv2d(x, w, b, p))), timeMs);
  const fb = median(
    () =>
      noGrad(() => {
        const y = conv2d(x, w, b, p);
        const dx = conv2dBackwardInput(g, w, x.shape, p);
        const dw = conv2dBackwardWeight(x, g, w.shape, p);
        const db = b ? conv2dBackwardBias(g) : null;
        drop(y, dx, dw, db);
      }),
    timeMs * 1.5,
  );
  // The forward GEMM alone on a ready column matrix: what im2col + bias + allocation add on top.
  const K = L.C * L.k * L.k, Lc = OH * OW;
  const col = new Float32Array(K * Lc);
  im2col(x.storage.cpuArray as Float32Array, 0, { C: L.C, H: L.size, W: L.size, kh: L.k, kw: L.k, sh: 1, sw: 1, dh: 1, dw: 1, padTop: pad, padLeft: pad, OH, OW }, col, 0, Lc);
  const Y = new Float32Array(L.O * Lc);
  const gemmOnly = batch * median(() => sgemm(false, false, L.O, Lc, K, 1, w.storage.cpuArray as Float32Array, 0, K, col, 0, Lc, 0, Y, 0, Lc), timeMs / 2);
  totalFwd += fwd;
  totalFb += fb;
  totalFlop += flop;
  let tf: number | undefined;
  let tb: number | undefined;
  if (typeof peer !== 'string') {
    const r = await peer.request({ op: 'conv', cin: L.C, cout: L.O, k: L.k, hw: L.size, batch, bias: L.bias, runs: 10 });
    tf = mid(r['fwd_ms'] as number[]);
    tb = mid(r['fwdbwd_ms'] as number[]);
    peerFwd += tf;
    peerFb += tb;
  }
  console.log(
    `${L.name.padEnd(26)}${(flop / 1e9).toFixed(3).padStart(10)}${fwd.toFixed(2).padStart(9)}${(flop / fwd / 1e6).toFixed(1).padStart(10)}` +
      `${fb.toFixed(2).padStart(9)}${((3 * flop) / fb / 1e6).toFixed(1).padStart(10)}${gemmOnly.toFixed(2).padStart(18)}` +
      `${(tf?.toFixed(2) ?? '-').padStart(11)}${(tb?.toFixed(2) ?? '-').padStart(11)}${ratio(fwd, tf).padStart(11)}${ratio(fb, tb).padStart(11)}`,
  );
  drop(x, w, b, g);
}
console.log('-'.repeat(header.length));
console.log(
  `${'total'.padEnd(26)}${(totalFlop / 1e9).toFixed(3).padStart(10)}${totalFwd.toFixed(2).padStart(9)}${(totalFlop / totalFwd / 1e6).toFixed(1).padStart(10)}` +
    `${totalFb.toFixed(2).padStart(9)}${((3 * totalFlop) / totalFb / 1e6).toFixed(1).padStart(10)}${''.padStart(18)}` +
    (typeof peer === 'string' ? '' : `${peerFwd.toFixed(2).padStart(11)}${peerFb.toFixed(2).padStart(11)}${ratio(totalFwd, peerFwd).padStart(11)}${ratio(totalFb, peerFb).padStart(11)}`),
);
console.log(`peer: ${typeof peer === 'string' ? peer : peer.description}`);
if (typeof peer !== 'string') peer.close();
process.exit(0);
