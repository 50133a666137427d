// Inference (eval mode, no grad) of YOLOv2-tiny-VOC and YOLOv2-VOC (cfg/darknet/) at 416x416 on the CPU
// backend, against the same models in PyTorch (bench/pytorch_peer.py) timed alternately in the same run.
//   node dist/bench/inference.bench.js [--batch 1] [--runs 5] [--rounds 2] [--models yolov2-tiny-voc,yolov2-voc]
//        [--python /usr/bin/python3] [--no-peer]
// Each round times --runs calls of ours, then of the peer's, per model; figures are medians over all rounds.

import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { noGrad, randn, scope } from '../src/index.js';
import { gemmWarmup } from '../src/tensor/backends/cpu/gemm/index.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { buildNetwork } from '../src/yolo/net/network.js';
import { median, Peer, PEER_OPTIONS, ratio, table, timeRuns } from './peer.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    models: { type: 'string', default: 'yolov2-tiny-voc,yolov2-voc' },
    ...PEER_OPTIONS,
  },
});
const batch = Number(values.batch);
const runs = Number(values.runs);
const rounds = Number(values.rounds);
const models = values.models.split(',');

await gemmWarmup();
const peer = await Peer.start(values.python, values['no-peer']);
const results: { name: string; ours: number[]; theirs: number[] }[] = [];
for (const name of models) {
  const cfg = readCfgFile(join(process.cwd(), 'cfg', 'darknet', `${name}.cfg`), { overrides: { width: 416, height: 416, batch, subdivisions: 1 } });
  const net = buildNetwork(cfg, { seed: 1 }).eval();
  const x = randn([batch, 3, 416, 416], { seed: 2 });
  const r = { name, ours: [] as number[], theirs: [] as number[] };
  if (typeof peer !== 'string') await peer.request({ op: 'setup', model: name, batch, size: 416 });
  for (let round = 0; round < rounds; round++) {
    r.ours.push(...timeRuns(() => scope(() => noGrad(() => void net.forward(x))), runs));
    if (typeof peer !== 'string') r.theirs.push(...((await peer.request({ op: 'infer', runs })) as { ms: number[] }).ms);
  }
  results.push(r);
}
if (typeof peer !== 'string') peer.close();

console.log(`inference, 416x416, batch ${batch}; ${rounds} rounds of ${runs} runs, ours and the peer alternately; medians (ms)`);
console.log(
  table(
    ['model', 'tsgrad cpu', 'PyTorch cpu', 'ratio'],
    results.map((r) => {
      const o = median(r.ours);
      const t = r.theirs.length ? median(r.theirs) : undefined;
      return [r.name, o.toFixed(1), t === undefined ? '-' : t.toFixed(1), ratio(o, t)];
    }),
  ),
);
console.log(`peer: ${typeof peer === 'string' ? peer : peer.description}`);
process.exit(0);
