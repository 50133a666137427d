// gradcheck against torch.autograd.gradcheck on the same functions and the same float64 inputs, measured
// in the same run: full mode on both sides (the whole Jacobian, PyTorch's default slow mode), and our
// fast mode beside it. Each side gets --warmup warm-up runs (3; the JIT needs them) and the median of --runs
// runs; the verdicts must agree
// (every function here is correct, so both must pass).
//   node dist/bench/gradcheck.bench.js [--runs 3] [--warmup 3] [--only attention,conv2d] [--python python3] [--no-peer]
// The Python interpreter (with torch) is --python, else $PYTHON, else python3 on the PATH.

import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

import {
  avgpool2d,
  batchnorm2d,
  conv2d,
  crossEntropy,
  exp,
  fromHost,
  gradcheck,
  linear,
  logSoftmax,
  matmul,
  maxpool2d,
  mean,
  mul,
  relu,
  Rng,
  scope,
  sigmoid,
  softmax,
  sqrt,
  sub,
  sum,
  tanh,
  transpose,
  type GradcheckResult,
  type Tensor,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    only: { type: 'string', default: '' },
    python: { type: 'string' },
    'no-peer': { type: 'boolean' },
  },
});
const runs = Math.max(1, Number(values.runs));
const warmup = Math.max(0, Number(values.warmup));
const python = values.python ?? process.env['PYTHON'] ?? 'python3';

interface Case {
  name: string;
  /** shapes of the float64 inputs (all differentiable) */
  shapes: number[][];
  /** int32 constants (class targets): shape and values */
  ints?: { shape: number[]; values: number[] }[];
  fn: (...xs: Tensor[]) => Tensor | Tensor[];
  /** the same function in PyTorch, as a Python lambda over (float inputs..., int inputs...) */
  py: string;
  /** values: 'smooth' in [-1, 1], 'distinct' (no ties), 'away' (|v| >= 0.2: relu kinks) */
  values?: 'smooth' | 'distinct' | 'away';
}

const CASES: Case[] = [
  {
    name: 'elementwise',
    shapes: [[32, 32], [32, 32]],
    fn: (x, y) => add3(mul(tanh(x!), sigmoid(y!)), exp(mul(x!, 0.1))),
    py: 'lambda x, y: torch.tanh(x) * torch.sigmoid(y) + torch.exp(x * 0.1)',
  },
  {
    name: 'matmul+softmax',
    shapes: [[16, 24], [24, 16]],
    fn: (a, b) => softmax(matmul(a!, b!), -1),
    py: 'lambda a, b: torch.softmax(a @ b, -1)',
  },
  {
    name: 'attention',
    shapes: [[32, 32], [32, 32], [32, 32]],
    fn: (q, k, v) => matmul(softmax(mul(matmul(q!, transpose(k!, -2, -1)), 1 / Math.sqrt(32)), -1), v!),
    py: 'lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(32), -1) @ v',
  },
  {
    name: 'mlp',
    shapes: [[16, 20], [32, 20], [32], [10, 32], [10]],
    fn: (x, w1, b1, w2, b2) => linear(tanh(linear(x!, w1!, b1!)), w2!, b2!),
    py: 'lambda x, w1, b1, w2, b2: F.linear(torch.tanh(F.linear(x, w1, b1)), w2, b2)',
  },
  {
    name: 'layernorm',
    shapes: [[32, 32]],
    fn: (x) => {
      const c = sub(x!, mean(x!, -1, true));
      return mul(c, 1).div(sqrt(mean(mul(c, c), -1, true).add(1e-5)));
    },
    py: 'lambda x: (x - x.mean(-1, keepdim=True)) / torch.sqrt(((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True) + 1e-5)',
  },
  {
    name: 'conv2d+relu',
    shapes: [[2, 3, 8, 8], [4, 3, 3, 3], [4]],
    fn: (x, w, b) => relu(conv2d(x!, w!, b!, { padding: 1 })),
    py: 'lambda x, w, b: torch.relu(F.conv2d(x, w, b, padding=1))',
    values: 'away',
  },
  {
    name: 'batchnorm2d(train)',
    shapes: [[4, 3, 6, 6], [3], [3]],
    fn: (x, g, b) => batchnorm2d(x!, g!, b!, null, null, { training: true }).y,
    py: 'lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True)',
  },
  {
    name: 'maxpool2d+avgpool2d',
    shapes: [[2, 4, 8, 8]],
    fn: (x) => [maxpool2d(x!, { kernel: 2 }), avgpool2d(x!, { kernel: 2 })],
    py: 'lambda x: (F.max_pool2d(x, 2), F.avg_pool2d(x, 2))',
    values: 'distinct',
  },
  {
    name: 'crossEntropy',
    shapes: [[64, 10]],
    ints: [{ shape: [64], values: Array.from({ length: 64 }, (_, i) => (i * 7) % 10) }],
    fn: (x, t) => crossEntropy(x!, t!),
    py: 'lambda x, t: F.cross_entropy(x, t)',
  },
  {
    name: 'logSoftmax+sum',
    shapes: [[48, 40]],
    fn: (x) => sum(mul(logSoftmax(x!, 1), x!), 1),
    py: 'lambda x: (torch.log_softmax(x, 1) * x).sum(1)',
  },
];

function add3(a: Tensor, b: Tensor): Tensor {
  return a.add(b);
}

function valuesFor(c: Case, seed: number): number[][] {
  const rng = new Rng(seed);
  return c.shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    if (c.values === 'distinct') return rng.shuffle(Array.from({ length: n }, (_, i) => (i - n / 2) * (2 / n)));
    if (c.values === 'away') return Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1) * rng.range(0.2, 1));
    return Array.from({ length: n }, () => rng.range(-1, 1));
  });
}

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

function ours(c: Case, vals: number[][], mode: 'full' | 'fast'): { ms: number; result: GradcheckResult } {
  let result: GradcheckResult | null = null;
  const once = (): number =>
    scope(() => {
      const xs = vals.map((v, i) => fromHost(Float64Array.from(v), c.shapes[i]!).requireGrad());
      const ints = (c.ints ?? []).map((t) => fromHost(Int32Array.from(t.values), t.shape));
      const t0 = performance.now();
      result = gradcheck((...a) => c.fn(...a), [...xs, ...ints], { mode, throwOnFailure: false });
      return performance.now() - t0;
    });
  for (let w = 0; w < warmup; w++) once();
  const t: number[] = [];
  for (let r = 0; r < runs; r++) t.push(once());
  return { ms: median(t), result: result! };
}

const PEER = `
import sys, json, time, math, statistics
import torch
import torch.nn.functional as F
torch.set_num_threads(2)
spec = json.load(sys.stdin)
out = {}
for c in spec["cases"]:
    fn = eval(c["py"])
    def make():
        xs = [torch.tensor(v, dtype=torch.float64).reshape(s).requires_grad_() for v, s in zip(c["values"], c["shapes"])]
        ts = [torch.tensor(t["values"], dtype=torch.int64).reshape(t["shape"]) for t in c["ints"]]
        return tuple(xs + ts)
    def once():
        inputs = make()
        t0 = time.perf_counter()
        ok = torch.autograd.gradcheck(fn, inputs, raise_exception=False)
        return (time.perf_counter() - t0) * 1e3, ok
    for _ in range(spec["warmup"]):
        once()
    runs = [once() for _ in range(spec["runs"])]
    out[c["name"]] = {"ms": statistics.median([r[0] for r in runs]), "ok": all(r[1] for r in runs)}
print(json.dumps(out))
`;

function peer(cases: Case[], vals: number[][][]): Record<string, { ms: number; ok: boolean }> | string {
  if (values['no-peer']) return 'skipped (--no-peer)';
  const spec = { runs, warmup, cases: cases.map((c, i) => ({ name: c.name, py: c.py, shapes: c.shapes, values: vals[i], ints: c.ints ?? [] })) };
  const r = spawnSync(python, ['-c', PEER], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error) return `peer failed to start (${python}): ${r.error.message}; set --python or $PYTHON`;
  if (r.status !== 0) return `peer failed: ${(r.stderr || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { ms: number; ok: boolean }>;
}

const selected = values.only ? CASES.filter((c) => values.only!.split(',').includes(c.name)) : CASES;
const vals = selected.map((c, i) => valuesFor(c, 100 + i));
const mine = selected.map((c, i) => ({ full: ours(c, vals[i]!, 'full'), fast: ours(c, vals[i]!, 'fast') }));
const p = peer(selected, vals);
console.log(`gradcheck, float64, median of ${runs} runs after ${warmup} warm-ups (ms); PyTorch ${python} torch.autograd.gradcheck (slow mode), 2 threads`);
const head = `${'function'.padEnd(22)}${'inputs'.padStart(7)}${'outputs'.padStart(8)}${'tsgrad full'.padStart(13)}${'PyTorch'.padStart(10)}${'ratio'.padStart(8)}${'tsgrad fast'.padStart(13)}  verdicts  numerical side (full)`;
console.log(head);
console.log('-'.repeat(head.length + 20));
let logSum = 0;
let count = 0;
selected.forEach((c, i) => {
  const { full, fast } = mine[i]!;
  const pm = typeof p === 'string' ? undefined : p[c.name];
  const nIn = c.shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const nOut = full.result.checked / Math.max(1, nIn);
  const ratio = pm ? full.ms / pm.ms : NaN;
  if (pm) {
    logSum += Math.log(ratio);
    count++;
  }
  const verdicts = `${full.result.ok ? 'pass' : 'FAIL'}/${fast.result.ok ? 'pass' : 'FAIL'}/${pm ? (pm.ok ? 'pass' : 'FAIL') : '-'}`;
  const s = full.result.stats;
  const side = `${s.points} points in ${s.forwards} forwards${s.vectorized.length ? ` (batched: ${s.vectorized.join(',')})` : ''}, ${s.groups} column groups`;
  console.log(
    `${c.name.padEnd(22)}${String(nIn).padStart(7)}${String(Math.round(nOut)).padStart(8)}${full.ms.toFixed(0).padStart(13)}${pm ? pm.ms.toFixed(0).padStart(10) : '-'.padStart(10)}` +
      `${pm ? `${ratio.toFixed(2)}x`.padStart(8) : '-'.padStart(8)}${fast.ms.toFixed(0).padStart(13)}  ${verdicts.padEnd(9)} ${side}`,
  );
});
if (count) console.log(`geometric mean of tsgrad full / PyTorch: ${Math.exp(logSum / count).toFixed(2)}x over ${count} functions`);
if (typeof p === 'string') console.log(`peer: ${p}`);
