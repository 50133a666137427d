// Whole training step, inference and network building of a Darknet network on the CPU backend, against
// the same model and step in PyTorch (bench/pytorch_peer.py) timed alternately in the same run.
//
//   node dist/bench/train-step.bench.js [--model yolov2-tiny-voc] [--batch 1] [--size 416] [--runs 5]
//        [--rounds 2] [--only train,infer,init] [--python /usr/bin/python3] [--no-peer]
//
// Models: yolov2-tiny-voc, yolov2-voc (cfg/darknet/, loss = sum(out^2), SGD momentum 0.9 and decay
// 5e-4, as the peer) and yolov2-tiny-synth (cfg/yolov2-tiny-synth.cfg at 96x96, batch 16 by default: the demo's own
// step, the region loss against 4 seeded boxes per image, Darknet's SGD from the cfg).
// train: zero grads, forward, loss, backward, optimiser step. infer: eval mode, no grad. init: building
// the network with random weights (PyTorch: constructing the nn.Module).
// Each round times --runs calls of ours, then of the peer's; figures are medians over all rounds.

import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { fromHost, mul, noGrad, randn, Rng, scope, SGD, sum } from '../src/index.js';
import { gemmWarmup } from '../src/tensor/backends/cpu/gemm/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { networkLoss } from '../src/yolo/loss/network-loss.js';
import { buildNetwork, layersOfType, type Network } from '../src/yolo/net/network.js';
import type { Optimizer } from '../src/nn/optim/optimizer.js';
import { darknetOptimizer } from '../src/yolo/train/trainer.js';
import { median, Peer, PEER_OPTIONS, ratio, table, timeRuns } from './peer.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'yolov2-tiny-voc' },
    batch: { type: 'string' },
    size: { type: 'string' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    only: { type: 'string', default: 'train,infer,init' },
    ...PEER_OPTIONS,
  },
});
const model = values.model;
const CFGS: Record<string, string> = {
  'yolov2-tiny-voc': join('cfg', 'darknet', 'yolov2-tiny-voc.cfg'),
  'yolov2-voc': join('cfg', 'darknet', 'yolov2-voc.cfg'),
  'yolov2-tiny-synth': join('cfg', 'yolov2-tiny-synth.cfg'),
};
const cfgFile = CFGS[model];
if (cfgFile === undefined) throw new Error(`train-step.bench: --model must be one of ${Object.keys(CFGS).join(', ')}, got '${model}'`);
const synth = model === 'yolov2-tiny-synth';
const batch = Number(values.batch ?? (synth ? 16 : 1));
const size = Number(values.size ?? (synth ? 96 : 416));
const runs = Number(values.runs);
const rounds = Number(values.rounds);
const only = new Set(values.only.split(','));

const cfg = readCfgFile(join(process.cwd(), cfgFile), { overrides: { width: size, height: size, batch, subdivisions: 1 } });
await gemmWarmup();

/** Seeded truth: 4 boxes per image (x, y in [0.1, 0.9), w, h in [0.1, 0.4), a class), the rest empty. */
function synthTruth(net: Network): Tensor {
  const region = layersOfType(net, 'region')[0]!;
  const per = region.maxBoxes * 5;
  const t = new Float32Array(batch * per);
  const rng = new Rng(3);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < 4; k++) {
      const o = b * per + k * 5;
      t[o] = rng.range(0.1, 0.9);
      t[o + 1] = rng.range(0.1, 0.9);
      t[o + 2] = rng.range(0.1, 0.4);
      t[o + 3] = rng.range(0.1, 0.4);
      t[o + 4] = rng.int(region.classes);
    }
  }
  return fromHost(t, [batch, per]);
}

const net = buildNetwork(cfg, { seed: 1 });
const x = randn([batch, 3, size, size], { seed: 2 });
const truth = synth ? synthTruth(net) : null;
const opt: Optimizer = synth ? darknetOptimizer(net) : new SGD(net.parameters(), { lr: 1e-6, momentum: 0.9, decay: 5e-4 });

function trainStep(): void {
  scope(() => {
    opt.zeroGrad();
    const outs = net.forward(x);
    if (truth !== null) {
      networkLoss(net, outs, truth, { seen: 0 }).loss.backward();
    } else {
      const y = outs[outs.length - 1]!;
      sum(mul(y, y)).backward();
    }
    opt.step();
  });
}

const peer = await Peer.start(values.python, values['no-peer']);
const peerNote = typeof peer === 'string' ? `peer: ${peer}` : `peer: ${peer.description}`;
if (typeof peer !== 'string') await peer.request({ op: 'setup', model, batch, size });

interface Row {
  label: string;
  ours: number[];
  theirs: number[];
}
const rows: Row[] = [];
const row = (label: string): Row => {
  let r = rows.find((q) => q.label === label);
  if (!r) rows.push((r = { label, ours: [], theirs: [] }));
  return r;
};

for (let round = 0; round < rounds; round++) {
  if (only.has('train')) {
    net.train();
    row('train step').ours.push(...timeRuns(trainStep, runs));
    if (typeof peer !== 'string') row('train step').theirs.push(...((await peer.request({ op: 'train', runs })) as { ms: number[] }).ms);
  }
  if (only.has('infer')) {
    net.eval();
    row('inference').ours.push(...timeRuns(() => scope(() => noGrad(() => void net.forward(x))), runs));
    if (typeof peer !== 'string') row('inference').theirs.push(...((await peer.request({ op: 'infer', runs })) as { ms: number[] }).ms);
  }
  if (only.has('init')) {
    const initRuns = Math.max(1, Math.ceil(runs / 2));
    row('build (weight init)').ours.push(...timeRuns(() => scope(() => void buildNetwork(cfg, { seed: 1 })), initRuns, 0));
    if (typeof peer !== 'string') row('build (weight init)').theirs.push(...((await peer.request({ op: 'init', runs: initRuns })) as { ms: number[] }).ms);
  }
}
if (typeof peer !== 'string') peer.close();

console.log(`${model} ${size}x${size} batch ${batch}, cpu backend; ${rounds} rounds of ${runs} runs, ours and the peer alternately; medians (ms)`);
console.log(
  table(
    ['', 'tsgrad cpu', 'PyTorch cpu', 'ratio'],
    rows.map((r) => {
      const o = median(r.ours);
      const t = r.theirs.length ? median(r.theirs) : undefined;
      return [r.label, o.toFixed(1), t === undefined ? '-' : t.toFixed(1), ratio(o, t)];
    }),
  ),
);
for (const r of rows) console.log(`  ${r.label}: ours [${r.ours.map((v) => v.toFixed(0)).join(', ')}], peer [${r.theirs.map((v) => v.toFixed(0)).join(', ')}]`);
console.log(peerNote);
process.exit(0);
