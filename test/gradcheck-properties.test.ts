// Property tests (fast-check) for every differentiable op: random small shapes, broadcasting patterns,
// convolution geometries and pooling windows, random values kept away from kinks and poles, and for each
// case `checkOp`: forward against the float64 definition (float64 and float32), full-Jacobian gradcheck,
// no leak. A failure prints fast-check's seed and path; replay with FC_SEED=<seed>; FC_RUNS=<n> runs n
// cases of every property (a long run by option).

import { test } from 'node:test';
import fc from 'fast-check';

import {
  abs,
  add,
  amax,
  amin,
  avgpool2d,
  batchnorm2d,
  cat,
  conv2d,
  clamp,
  crossEntropy,
  div,
  exp,
  expand,
  leakyRelu,
  linear,
  log,
  logSoftmax,
  matmul,
  max,
  maximum,
  maxpool2d,
  mean,
  min,
  minimum,
  mseLoss,
  mul,
  narrow,
  neg,
  permute,
  pixelShuffle,
  pow,
  relu,
  reorgDarknet,
  reshape,
  sigmoid,
  softmax,
  sqrt,
  squeeze,
  sub,
  sum,
  tanh,
  transpose,
  unsqueeze,
  where,
  type Tensor,
} from '../src/index.js';
import { broadcastShapesArb, convGeometryArb, dimsArb, distinctRefArb, refArb, runs, shapeArb, type ValueKind } from './helpers/arb.js';
import { checkOp } from './helpers/check.js';
import {
  catRef,
  crossEntropyRef,
  expandRef,
  mapRef,
  matmulRef,
  mseRef,
  narrowRef,
  permuteRef,
  reduceRef,
  ref,
  reshapeRef,
  rsigmoid,
  softmaxRef,
  toTensor,
  transposeRef,
  zipWith,
  type Ref,
} from './helpers/ref.js';

const RUNS = 20;

// ---------------------------------------------------------------------------------------------
// binary ops over random broadcast-compatible shape pairs

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number, ValueKind, ValueKind][] = [
  ['add', add, (a, b) => a + b, 'smooth', 'smooth'],
  ['sub', sub, (a, b) => a - b, 'smooth', 'smooth'],
  ['mul', mul, (a, b) => a * b, 'smooth', 'smooth'],
  ['div', div, (a, b) => a / b, 'smooth', 'awayFromZero'],
  ['pow', pow, Math.pow, 'positive', 'smooth'],
  ['maximum', maximum, Math.max, 'gridA', 'gridB'],
  ['minimum', minimum, Math.min, 'gridB', 'gridA'],
];

for (const [name, fn, f, ka, kb] of BINARY) {
  test(`property: ${name} over random broadcast shape pairs matches the reference and passes gradcheck`, () => {
    const arb = broadcastShapesArb(2).chain(([sa, sb]) => fc.tuple(refArb(sa!, ka), refArb(sb!, kb)));
    fc.assert(
      fc.property(arb, ([a, b]) => {
        checkOp(fn, [a, b], (x, y) => zipWith(f, x!, y!), { what: name, atol32: 1e-5, rtol32: 1e-5 });
      }),
      runs(RUNS),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// unary ops over random shapes (rank 0..3)

const UNARY: [string, (x: Tensor) => Tensor, (v: number) => number, ValueKind][] = [
  ['neg', neg, (v) => -v, 'smooth'],
  ['exp', exp, Math.exp, 'smooth'],
  ['log', log, Math.log, 'positive'],
  ['sqrt', sqrt, Math.sqrt, 'positive'],
  ['abs', abs, Math.abs, 'awayFromZero'],
  ['sigmoid', sigmoid, rsigmoid, 'smooth'],
  ['tanh', tanh, Math.tanh, 'smooth'],
  ['relu', relu, (v) => (v > 0 ? v : 0), 'awayFromZero'],
  ['leakyRelu(0.2)', (x) => leakyRelu(x, 0.2), (v) => (v > 0 ? v : 0.2 * v), 'awayFromZero'],
  ['clamp(-0.5, 0.5)', (x) => clamp(x, -0.5, 0.5), (v) => Math.min(0.5, Math.max(-0.5, v)), 'clampSafe'],
];

for (const [name, fn, f, kind] of UNARY) {
  test(`property: ${name} over random shapes matches the reference and passes gradcheck`, () => {
    fc.assert(
      fc.property(shapeArb().chain((s) => refArb(s, kind)), (x) => {
        checkOp(fn, [x], (r) => mapRef(r!, f), { what: name, atol32: 1e-6, rtol32: 1e-6 });
      }),
      runs(RUNS),
    );
  });
}

test('property: where over random broadcast triples (cond constant, a and b differentiable)', () => {
  const arb = broadcastShapesArb(3).chain(([sc, sa, sb]) =>
    fc.tuple(fc.array(fc.boolean(), { minLength: sc!.reduce((p, q) => p * q, 1), maxLength: sc!.reduce((p, q) => p * q, 1) }).map((bs) => ref(sc!, bs.map(Number))), refArb(sa!), refArb(sb!)),
  );
  fc.assert(
    fc.property(arb, ([c, a, b]) => {
      const cond = toTensor(c, { dtype: 'int32' });
      checkOp((ct, at, bt) => where(ct!, at!, bt!), [cond, a, b], (cr, ar, br) => zipWith((p, q, r) => (p !== 0 ? q : r), cr!, ar!, br!), { what: 'where' });
      cond.dispose();
    }),
    runs(RUNS),
  );
});

// ---------------------------------------------------------------------------------------------
// reductions over random dims

test('property: sum and mean over random dim subsets (negative dims too), keepdim random', () => {
  const arb = shapeArb(1, 3).chain((s) => fc.tuple(refArb(s), dimsArb(s.length), fc.boolean()));
  fc.assert(
    fc.property(arb, ([x, dims, keepdim]) => {
      checkOp((t) => sum(t, dims, keepdim), [x], (r) => reduceRef(r!, dims, 'sum', keepdim).values, { what: 'sum' });
      checkOp((t) => mean(t, dims, keepdim), [x], (r) => reduceRef(r!, dims, 'mean', keepdim).values, { what: 'mean' });
    }),
    runs(RUNS),
  );
});

test('property: amax/amin over random dim subsets, distinct values (no ties)', () => {
  const arb = shapeArb(1, 3).chain((s) => fc.tuple(distinctRefArb(s), dimsArb(s.length), fc.boolean()));
  fc.assert(
    fc.property(arb, ([x, dims, keepdim]) => {
      checkOp((t) => amax(t, dims, keepdim), [x], (r) => reduceRef(r!, dims, 'max', keepdim).values, { what: 'amax' });
      checkOp((t) => amin(t, dims, keepdim), [x], (r) => reduceRef(r!, dims, 'min', keepdim).values, { what: 'amin' });
    }),
    runs(RUNS),
  );
});

test('property: max/min(x, dim).values over a random dim', () => {
  const arb = shapeArb(1, 3).chain((s) => fc.tuple(distinctRefArb(s), fc.integer({ min: -s.length, max: s.length - 1 }), fc.boolean()));
  fc.assert(
    fc.property(arb, ([x, dim, keepdim]) => {
      checkOp((t) => max(t, dim, keepdim).values, [x], (r) => reduceRef(r!, dim, 'max', keepdim).values, { what: 'max' });
      checkOp((t) => min(t, dim, keepdim).values, [x], (r) => reduceRef(r!, dim, 'min', keepdim).values, { what: 'min' });
    }),
    runs(RUNS),
  );
});

// ---------------------------------------------------------------------------------------------
// matmul, linear

interface MatmulCase {
  a: Ref;
  b: Ref;
  transA: boolean;
  transB: boolean;
}

/** Operands stored transposed when trans* is set (the op then sees a transposed view). */
const matmulArb: fc.Arbitrary<MatmulCase> = fc
  .record({
    batch: broadcastShapesArb(2, 2, 2),
    M: fc.integer({ min: 1, max: 3 }),
    K: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 3 }),
    vecA: fc.boolean(),
    vecB: fc.boolean(),
    transA: fc.boolean(),
    transB: fc.boolean(),
  })
  .chain(({ batch, M, K, N, vecA, vecB, transA, transB }) => {
    const tA = transA && !vecA;
    const tB = transB && !vecB;
    const sa = vecA ? [K] : tA ? [...batch[0]!, K, M] : [...batch[0]!, M, K];
    const sb = vecB ? [K] : tB ? [...batch[1]!, N, K] : [...batch[1]!, K, N];
    return fc.record({ a: refArb(sa), b: refArb(sb), transA: fc.constant(tA), transB: fc.constant(tB) });
  });

test('property: matmul with random batch broadcasting, 1-D promotion and transposed views', () => {
  fc.assert(
    fc.property(matmulArb, ({ a, b, transA, transB }) => {
      const view = (t: Tensor, tr: boolean): Tensor => (tr ? transpose(t, -1, -2) : t);
      const rview = (r: Ref, tr: boolean): Ref => (tr ? transposeRef(r, -1, -2) : r);
      checkOp((x, y) => matmul(view(x!, transA), view(y!, transB)), [a, b], (x, y) => matmulRef(rview(x!, transA), rview(y!, transB)), { what: 'matmul' });
    }),
    runs(RUNS),
  );
});

test('property: linear with random batch dims, sizes and optional bias', () => {
  const arb = fc
    .record({ lead: shapeArb(0, 2, 2), inF: fc.integer({ min: 1, max: 3 }), outF: fc.integer({ min: 1, max: 3 }), bias: fc.boolean() })
    .chain(({ lead, inF, outF, bias }) => fc.tuple(refArb([...lead, inF]), refArb([outF, inF]), bias ? refArb([outF]) : fc.constant(null)));
  fc.assert(
    fc.property(arb, ([x, w, b]) => {
      const expected = (xr: Ref, wr: Ref, br?: Ref): Ref => {
        const y = matmulRef(xr, transposeRef(wr, 0, 1));
        return br ? zipWith((p, q) => p + q, y, br) : y;
      };
      if (b) checkOp((xt, wt, bt) => linear(xt!, wt!, bt!), [x, w, b], (xr, wr, br) => expected(xr!, wr!, br!), { what: 'linear+bias' });
      else checkOp((xt, wt) => linear(xt!, wt!), [x, w], (xr, wr) => expected(xr!, wr!), { what: 'linear' });
    }),
    runs(RUNS),
  );
});

// ---------------------------------------------------------------------------------------------
// softmax, losses

test('property: softmax and logSoftmax over a random dim of a random shape', () => {
  const arb = shapeArb(1, 3, 4).chain((s) => fc.tuple(refArb(s), fc.integer({ min: -s.length, max: s.length - 1 })));
  fc.assert(
    fc.property(arb, ([x, dim]) => {
      checkOp((t) => softmax(t, dim), [x], (r) => softmaxRef(r!, dim), { what: 'softmax' });
      checkOp((t) => logSoftmax(t, dim), [x], (r) => softmaxRef(r!, dim, true), { what: 'logSoftmax' });
    }),
    runs(RUNS),
  );
});

test('property: crossEntropy with random N, C, spatial dims, targets and reduction', () => {
  const arb = fc
    .record({ N: fc.integer({ min: 1, max: 3 }), C: fc.integer({ min: 1, max: 4 }), spatial: shapeArb(0, 2, 2), reduction: fc.constantFrom('mean', 'sum', 'none') as fc.Arbitrary<'mean' | 'sum' | 'none'> })
    .chain(({ N, C, spatial, reduction }) => {
      const tShape = [N, ...spatial];
      const n = tShape.reduce((a, b) => a * b, 1);
      return fc.tuple(refArb([N, C, ...spatial]), fc.array(fc.integer({ min: 0, max: C - 1 }), { minLength: n, maxLength: n }).map((t) => ref(tShape, t)), fc.constant(reduction));
    });
  fc.assert(
    fc.property(arb, ([x, t, reduction]) => {
      const target = toTensor(t, { dtype: 'int32' });
      checkOp((xt, tt) => crossEntropy(xt!, tt!, reduction), [x, target], (xr, tr) => crossEntropyRef(xr!, tr!, reduction), { what: `crossEntropy ${reduction}` });
      target.dispose();
    }),
    runs(RUNS),
  );
});

test('property: mseLoss with random shapes and reduction (both inputs differentiable)', () => {
  const arb = shapeArb(0, 3).chain((s) => fc.tuple(refArb(s), refArb(s), fc.constantFrom('mean', 'sum', 'none') as fc.Arbitrary<'mean' | 'sum' | 'none'>));
  fc.assert(
    fc.property(arb, ([a, b, reduction]) => {
      checkOp((x, y) => mseLoss(x!, y!, reduction), [a, b], (x, y) => mseRef(x!, y!, reduction), { what: `mseLoss ${reduction}` });
    }),
    runs(RUNS),
  );
});

// ---------------------------------------------------------------------------------------------
// views

test('property: permute then reshape to the flat shape, narrow, squeeze/unsqueeze on random shapes', () => {
  const arb = shapeArb(1, 3).chain((s) =>
    fc.record({
      x: refArb(s),
      perm: fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }),
      dim: fc.integer({ min: 0, max: s.length - 1 }),
      start: fc.nat(),
      unsq: fc.integer({ min: -s.length - 1, max: s.length }),
    }),
  );
  fc.assert(
    fc.property(arb, ({ x, perm, dim, start, unsq }) => {
      checkOp((t) => reshape(permute(t, perm), [-1]), [x], (r) => reshapeRef(permuteRef(r!, perm), [r!.data.length]), { what: 'permute+reshape' });
      const n = x.shape[dim]!;
      const s0 = start % n;
      const len = n - s0;
      checkOp((t) => narrow(t, dim, s0, len), [x], (r) => narrowRef(r!, dim, s0, len), { what: 'narrow' });
      const d = unsq < 0 ? unsq + x.shape.length + 1 : unsq;
      const unsqShape = [...x.shape.slice(0, d), 1, ...x.shape.slice(d)];
      checkOp((t) => squeeze(mul(unsqueeze(t, unsq), 2), d), [x], (r) => mapRef(r!, (v) => 2 * v), { what: 'unsqueeze/squeeze' });
      checkOp((t) => unsqueeze(t, unsq), [x], (r) => reshapeRef(r!, unsqShape), { what: 'unsqueeze' });
    }),
    runs(RUNS),
  );
});

test('property: expand a random operand shape to its broadcast shape; cat along a random dim', () => {
  const arb = broadcastShapesArb(2).chain(([sa, sb]) => fc.tuple(refArb(sa!), fc.constant(sb!)));
  fc.assert(
    fc.property(arb, ([a, sb]) => {
      const out = [...a.shape];
      // the broadcast of a's shape with sb: expand a to it
      const nd = Math.max(a.shape.length, sb.length);
      const target = Array.from({ length: nd }, (_, i) => Math.max(a.shape[i - nd + a.shape.length] ?? 1, sb[i - nd + sb.length] ?? 1));
      checkOp((t) => expand(t, target), [a], (r) => expandRef(r!, target), { what: `expand ${JSON.stringify(out)} -> ${JSON.stringify(target)}` });
      if (a.shape.length > 0) {
        const dim = a.shape.length - 1;
        checkOp((p, q) => cat([p!, q!], dim), [a, mapRef(a, (v) => v * 0.5 + 1)], (p, q) => catRef([p!, q!], dim), { what: 'cat' });
      }
    }),
    runs(RUNS),
  );
});

// ---------------------------------------------------------------------------------------------
// convolution, pooling, normalisation, rearrangement (gradcheck only: their forwards are checked
// against references in their own test files)

test('property: conv2d over random geometries (stride, per-side padding, dilation, groups) passes gradcheck', () => {
  const arb = convGeometryArb({ maxOutput: 3 }).chain((g) => fc.tuple(fc.constant(g), refArb(g.inputShape), refArb(g.weightShape), refArb([g.weightShape[0]])));
  fc.assert(
    fc.property(arb, ([g, x, w, b]) => {
      const opts = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups };
      checkOp((xt, wt, bt) => conv2d(xt!, wt!, bt!, opts), [x, w, b], null, { what: `conv2d ${JSON.stringify(g)}`, float32: false });
    }),
    runs(RUNS),
  );
});

test('property: maxpool2d / avgpool2d over random windows, batchnorm2d (both variants) over random shapes, reorg', () => {
  const pool = fc
    .record({ k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), pad: fc.boolean(), ceil: fc.boolean(), incl: fc.boolean(), H: fc.integer({ min: 3, max: 5 }), W: fc.integer({ min: 3, max: 5 }) })
    .chain((p) => fc.tuple(fc.constant(p), distinctRefArb([2, 2, p.H, p.W])));
  fc.assert(
    fc.property(pool, ([p, x]) => {
      const padding = p.pad ? Math.floor(p.k / 2) : 0;
      checkOp((t) => maxpool2d(t!, { kernel: p.k, stride: p.s, padding, ceilMode: p.ceil }), [x], null, { float32: false, what: `maxpool2d ${JSON.stringify(p)}` });
      checkOp((t) => avgpool2d(t!, { kernel: p.k, stride: p.s, padding, ceilMode: p.ceil, countIncludePad: p.incl }), [x], null, { float32: false, what: `avgpool2d ${JSON.stringify(p)}` });
    }),
    runs(RUNS),
  );
  const bn = fc
    .record({ N: fc.integer({ min: 1, max: 3 }), C: fc.integer({ min: 1, max: 3 }), H: fc.integer({ min: 1, max: 3 }), W: fc.integer({ min: 2, max: 3 }), variant: fc.constantFrom('pytorch', 'darknet') as fc.Arbitrary<'pytorch' | 'darknet'> })
    .chain((s) => fc.tuple(fc.constant(s), distinctRefArb([s.N, s.C, s.H, s.W]), refArb([s.C], 'positive'), refArb([s.C])));
  fc.assert(
    fc.property(bn, ([s, x, g, b]) => {
      const opts = { training: true, variant: s.variant, ...(s.variant === 'darknet' ? { darknetBackward: 'exact' as const } : {}) };
      checkOp((xt, gt, bt) => batchnorm2d(xt!, gt!, bt!, null, null, opts).y, [x, g, b], null, { float32: false, what: `batchnorm2d ${JSON.stringify(s)}` });
    }),
    runs(RUNS),
  );
  const reorgArb = fc.record({ B: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 2 }), w: fc.integer({ min: 1, max: 2 }) }).chain((r) => refArb([r.B, 4 * r.c, 2 * r.h, 2 * r.w]));
  fc.assert(
    fc.property(reorgArb, (x) => {
      checkOp((t) => reorgDarknet(t!), [x], null, { float32: false, what: 'reorgDarknet' });
      checkOp((t) => pixelShuffle(t!, 2), [x], null, { float32: false, what: 'pixelShuffle' });
    }),
    runs(RUNS),
  );
});
