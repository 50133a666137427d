// Inference (eval mode, no grad) of YOLOv2-tiny-VOC and YOLOv2-VOC at 416x416, batch 1, on the CPU
// backend, against the PyTorch peer measured in the same run: the peer's own model definitions
// (shared/peer/pytorch_cpu_bench.py: tiny_yolo_voc, YoloV2VOC) timed by a short inline Python script with
// 2 threads, as the peer bench does. Prints the median of --runs timed runs after one warm-up.
//   node dist/bench/inference.bench.js [--runs 5] [--no-peer] [--peer-dir ../shared/peer]

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { noGrad, randn, scope } from '../src/index.js';
import { readCfgFile } from '../src/yolo/darknet/cfg.js';
import { buildNetwork } from '../src/yolo/net/network.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, 'no-peer': { type: 'boolean' }, 'peer-dir': { type: 'string' }, 'cfg-dir': { type: 'string' } },
});
const runs = Number(values.runs);
const shared = resolve(process.cwd(), '..', 'shared');
const cfgDir = values['cfg-dir'] ?? join(shared, 'darknet', 'cfg');
const peerDir = values['peer-dir'] ?? join(shared, 'peer');

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

function ours(cfgName: string): number {
  const cfg = readCfgFile(join(cfgDir, cfgName), { overrides: { width: 416, height: 416, batch: 1, subdivisions: 1 } });
  const net = buildNetwork(cfg, { seed: 1 }).eval();
  const x = randn([1, 3, 416, 416], { seed: 2 });
  const once = (): void => scope(() => noGrad(() => void net.forward(x)));
  once();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    once();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const PEER = `
import sys, time, statistics, json
sys.path.insert(0, sys.argv[1])
import torch
import pytorch_cpu_bench as pb
torch.set_num_threads(2)
out = {}
for name, make in (("yolov2-tiny-voc", pb.tiny_yolo_voc), ("yolov2-voc", pb.YoloV2VOC)):
    torch.manual_seed(0)
    m = make().eval()
    x = torch.rand(1, 3, 416, 416)
    with torch.no_grad():
        m(x)
        t = []
        for _ in range(int(sys.argv[2])):
            t0 = time.perf_counter(); m(x); t.append((time.perf_counter() - t0) * 1e3)
    out[name] = statistics.median(t)
print(json.dumps(out))
`;

function peer(): Record<string, number> | string {
  if (values['no-peer']) return 'skipped (--no-peer)';
  if (!existsSync(join(peerDir, 'pytorch_cpu_bench.py'))) return `no peer script in ${peerDir}`;
  const r = spawnSync('/usr/bin/python3', ['-c', PEER, peerDir, String(Math.max(runs, 5))], { encoding: 'utf8' });
  if (r.status !== 0) return `peer failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

const rows: [string, string][] = [
  ['yolov2-tiny-voc', 'yolov2-tiny-voc.cfg'],
  ['yolov2-voc', 'yolov2-voc.cfg'],
];
const mine = rows.map(([name, cfg]) => [name, ours(cfg)] as const);
const p = peer();
console.log(`inference, 416x416, batch 1, median of ${runs} (ms)`);
console.log('model             tsgrad cpu   PyTorch cpu   ratio');
for (const [name, ms] of mine) {
  const pm = typeof p === 'string' ? undefined : p[name];
  console.log(`${name.padEnd(16)} ${ms.toFixed(1).padStart(10)}   ${pm === undefined ? '-'.padStart(11) : pm.toFixed(1).padStart(11)}   ${pm === undefined ? '-' : `${(ms / pm).toFixed(2)}x`}`);
}
if (typeof p === 'string') console.log(`peer: ${p}`);
