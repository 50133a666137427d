// Whole training step of YOLOv2-tiny-voc at 416x416 on the CPU backend, as the PyTorch peer times it
// (shared/peer/pytorch_cpu_bench.py): zero grads, forward, loss = sum(out^2), backward, SGD step.
// Also inference (eval, no grad). Prints median seconds over a few runs.
//   node dist/bench/train-step.bench.js [--size 416] [--batch 1] [--runs 5]

import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { buildNetwork } from '../src/yolo/net/network.js';
import { randn, scope, noGrad, SGD, mul, sum } from '../src/index.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '416' }, batch: { type: 'string', default: '1' }, runs: { type: 'string', default: '5' }, cfg: { type: 'string' } } });
const size = Number(values.size);
const batch = Number(values.batch);
const runs = Number(values.runs);
const cfgPath = values.cfg ?? join(process.cwd(), '..', 'shared', 'darknet', 'cfg', 'yolov2-tiny-voc.cfg');
const cfg = readCfgFile(cfgPath, { overrides: { width: size, height: size, batch, subdivisions: 1 } });
const net = buildNetwork(cfg, { seed: 1 });
const x = randn([batch, 3, size, size], { seed: 2 });
const opt = new SGD(net.parameters(), { lr: 1e-6, momentum: 0.9 });

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number[] {
  fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push((performance.now() - t0) / 1000);
  }
  return t;
}

net.train();
const train = time(() =>
  scope(() => {
    opt.zeroGrad();
    const outs = net.forward(x);
    const y = outs[outs.length - 1]!;
    sum(mul(y, y)).backward();
    opt.step();
  }),
);
net.eval();
const infer = time(() => scope(() => noGrad(() => void net.forward(x))));
console.log(`YOLOv2-tiny-voc ${size}x${size} batch ${batch}, cpu backend, ${runs} runs after 1 warm-up`);
console.log(`train step (zero_grad, forward, sum(out^2), backward, SGD): median ${median(train).toFixed(3)} s  [${train.map((v) => v.toFixed(3)).join(', ')}]`);
console.log(`inference (eval, no grad):                                median ${median(infer).toFixed(3)} s  [${infer.map((v) => v.toFixed(3)).join(', ')}]`);
