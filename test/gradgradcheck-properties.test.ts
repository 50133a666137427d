// Property tests of second derivatives (fast-check, the arbitraries of tsgrad/testing): for random
// shapes, broadcasting patterns, dims, convolution geometries and pooling windows, gradgradcheck of every
// differentiable op family in float64. Few runs per property here; FC_RUNS=<n> runs n of each (a long
// run by option), FC_SEED=<seed> replays a failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  abs,
  add,
  amax,
  avgpool2d,
  batchnorm2d,
  clamp,
  conv2d,
  crossEntropy,
  div,
  exp,
  gradgradcheck,
  leakyRelu,
  log,
  logSoftmax,
  matmul,
  maximum,
  maxpool2d,
  mean,
  memoryInfo,
  minimum,
  mseLoss,
  mul,
  narrow,
  permute,
  pow,
  relu,
  reshape,
  sigmoid,
  softmax,
  sqrt,
  square,
  sub,
  sum,
  tanh,
  where,
  type Tensor,
} from '../src/index.js';
import { broadcastShapesArb, convGeometryArb, dimsArb, distinctHostTensorArb, hostTensorArb, runs, shapeArb, toTensor, type HostTensor, type ValueKind } from '../src/testing/index.js';

const RUNS = 6;

/** gradgradcheck with the host tensors as float64 leaves (Tensors as constants); no leak. */
function holds(fn: (...xs: Tensor[]) => Tensor, inputs: readonly (HostTensor | Tensor)[]): void {
  const before = memoryInfo('cpu').tensors;
  const made: Tensor[] = [];
  const xs = inputs.map((x) => ('storage' in x ? x : (made[made.length] = toTensor(x, { requiresGrad: true }))));
  try {
    const r = gradgradcheck(fn, xs, { throwOnFailure: false });
    assert.ok(r.ok, r.report);
  } finally {
    for (const x of made) x.dispose();
  }
  assert.equal(memoryInfo('cpu').tensors, before, 'tensors alive before and after');
}

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, ValueKind, ValueKind][] = [
  ['add', (a, b) => mul(add(a, b), a), 'smooth', 'smooth'],
  ['sub', (a, b) => mul(sub(a, b), b), 'smooth', 'smooth'],
  ['mul', mul, 'smooth', 'smooth'],
  ['div', div, 'smooth', 'awayFromZero'],
  ['pow', pow, 'positive', 'smooth'],
  ['maximum', (a, b) => mul(maximum(a, b), a), 'gridA', 'gridB'],
  ['minimum', (a, b) => mul(minimum(a, b), b), 'gridB', 'gridA'],
];
for (const [name, fn, ka, kb] of BINARY) {
  test(`property (2nd order): ${name} over random broadcast shape pairs`, () => {
    const arb = broadcastShapesArb(2, 3, 2).chain(([sa, sb]) => fc.tuple(hostTensorArb(sa!, ka), hostTensorArb(sb!, kb)));
    fc.assert(fc.property(arb, ([a, b]) => holds(fn, [a, b])), runs(RUNS));
  });
}

const UNARY: [string, (x: Tensor) => Tensor, ValueKind][] = [
  ['exp', exp, 'smooth'],
  ['log', log, 'positive'],
  ['sqrt', sqrt, 'positive'],
  ['abs', (x) => mul(abs(x), x), 'awayFromZero'],
  ['sigmoid', sigmoid, 'smooth'],
  ['tanh', tanh, 'smooth'],
  ['relu', (x) => mul(relu(x), x), 'awayFromZero'],
  ['leakyRelu(0.2)', (x) => mul(leakyRelu(x, 0.2), x), 'awayFromZero'],
  ['clamp(-0.5, 0.5)', (x) => mul(clamp(x, -0.5, 0.5), x), 'clampSafe'],
];
for (const [name, fn, kind] of UNARY) {
  test(`property (2nd order): ${name} over random shapes`, () => {
    fc.assert(fc.property(shapeArb(0, 3, 2).chain((s) => hostTensorArb(s, kind)), (x) => holds(fn, [x])), runs(RUNS));
  });
}

test('property (2nd order): where over random broadcast triples', () => {
  const arb = broadcastShapesArb(3, 3, 2).chain(([sc, sa, sb]) =>
    fc.tuple(hostTensorArb(sc!, fc.integer({ min: 0, max: 1 })), hostTensorArb(sa!), hostTensorArb(sb!)),
  );
  fc.assert(
    fc.property(arb, ([c, a, b]) => {
      const cond = toTensor(c, { dtype: 'int32' });
      holds((ct, at, bt) => mul(where(ct!, at!, bt!), where(ct!, bt!, at!)), [cond, a, b]);
      cond.dispose();
    }),
    runs(RUNS),
  );
});

test('property (2nd order): sum, mean and amax over random dims, squared', () => {
  const arb = shapeArb(1, 3, 3).chain((s) => fc.tuple(distinctHostTensorArb(s), dimsArb(s.length), fc.boolean()));
  fc.assert(
    fc.property(arb, ([x, dims, keepdim]) => {
      holds((t) => square(sum(t, dims, keepdim)), [x]);
      holds((t) => square(mean(t, dims, keepdim)), [x]);
      holds((t) => square(amax(t, dims, keepdim)), [x]);
    }),
    runs(RUNS),
  );
});

test('property (2nd order): matmul of random sizes with broadcast batch dims', () => {
  const arb = fc
    .record({ batch: broadcastShapesArb(2, 1, 2), M: fc.integer({ min: 1, max: 2 }), K: fc.integer({ min: 1, max: 3 }), N: fc.integer({ min: 1, max: 2 }) })
    .chain(({ batch, M, K, N }) => fc.tuple(hostTensorArb([...batch[0]!, M, K]), hostTensorArb([...batch[1]!, K, N])));
  fc.assert(fc.property(arb, ([a, b]) => holds((x, y) => tanh(matmul(x!, y!)), [a, b])), runs(RUNS));
});

test('property (2nd order): softmax and logSoftmax over a random dim; crossEntropy and mseLoss', () => {
  const arb = shapeArb(1, 3, 3).chain((s) => fc.tuple(hostTensorArb(s), fc.integer({ min: -s.length, max: s.length - 1 })));
  fc.assert(
    fc.property(arb, ([x, dim]) => {
      holds((t) => softmax(t, dim), [x]);
      holds((t) => logSoftmax(t, dim), [x]);
    }),
    runs(RUNS),
  );
  const ce = fc.record({ N: fc.integer({ min: 1, max: 3 }), C: fc.integer({ min: 1, max: 3 }) }).chain(({ N, C }) =>
    fc.tuple(hostTensorArb([N, C]), hostTensorArb([N], fc.integer({ min: 0, max: C - 1 })), hostTensorArb([N, C])),
  );
  fc.assert(
    fc.property(ce, ([x, t, y]) => {
      const target = toTensor(t, { dtype: 'int32' });
      holds((xt, tt) => crossEntropy(xt!, tt!), [x, target]);
      holds((a, b) => mseLoss(a!, b!, 'sum'), [x, y]);
      target.dispose();
    }),
    runs(RUNS),
  );
});

test('property (2nd order): views (permute, reshape, narrow) on random shapes', () => {
  const arb = shapeArb(1, 3, 3).chain((s) =>
    fc.record({ x: hostTensorArb(s), perm: fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }), dim: fc.integer({ min: 0, max: s.length - 1 }) }),
  );
  fc.assert(
    fc.property(arb, ({ x, perm, dim }) => {
      holds((t) => square(reshape(permute(t, perm), [-1])), [x]);
      const n = x.shape[dim]!;
      holds((t) => mul(narrow(t, dim, 0, n), exp(narrow(t, dim, 0, n))), [x]);
    }),
    runs(RUNS),
  );
});

test('property (2nd order): conv2d over random geometries (stride, padding per side, dilation, groups), then tanh', () => {
  const arb = convGeometryArb({ maxBatch: 1, maxOutput: 2, maxChannels: 2 }).chain((g) =>
    fc.tuple(fc.constant(g), hostTensorArb(g.inputShape), hostTensorArb(g.weightShape), hostTensorArb([g.weightShape[0]])),
  );
  fc.assert(
    fc.property(arb, ([g, x, w, b]) => {
      const opts = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups };
      holds((xt, wt, bt) => tanh(conv2d(xt!, wt!, bt!, opts)), [x, w, b]);
    }),
    runs(RUNS),
  );
});

test('property (2nd order): maxpool2d and avgpool2d over random windows; batchnorm2d training over random shapes', () => {
  const pool = fc
    .record({ k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 2 }), pad: fc.boolean(), H: fc.integer({ min: 3, max: 4 }), W: fc.integer({ min: 3, max: 4 }), incl: fc.boolean() })
    .chain((p) => fc.tuple(fc.constant(p), distinctHostTensorArb([1, 2, p.H, p.W])));
  fc.assert(
    fc.property(pool, ([p, x]) => {
      const padding = p.pad ? Math.floor(p.k / 2) : 0;
      holds((t) => square(maxpool2d(t, { kernel: p.k, stride: p.s, padding })), [x]);
      holds((t) => square(avgpool2d(t, { kernel: p.k, stride: p.s, padding, countIncludePad: p.incl })), [x]);
    }),
    runs(RUNS),
  );
  const bn = fc
    .record({ N: fc.integer({ min: 1, max: 2 }), C: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 1, max: 2 }), W: fc.integer({ min: 2, max: 3 }), variant: fc.constantFrom('pytorch', 'darknet') as fc.Arbitrary<'pytorch' | 'darknet'> })
    .chain((s) => fc.tuple(fc.constant(s), distinctHostTensorArb([s.N, s.C, s.H, s.W]), hostTensorArb([s.C], 'positive'), hostTensorArb([s.C])));
  fc.assert(
    fc.property(bn, ([s, x, g, b]) => {
      holds((xt, gt, bt) => batchnorm2d(xt!, gt!, bt!, null, null, { training: true, variant: s.variant, ...(s.variant === 'darknet' ? { darknetBackward: 'exact' as const } : {}) }).y, [x, g, b]);
    }),
    runs(RUNS),
  );
});
