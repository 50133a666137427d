// local2d (Darknet [local]): forward and backward against a naive float64 reference that indexes the
// weights and biases in Darknet's flat order (local_layer.c: weights + location*size*size*c*n, then
// filter-major; biases one per output element); float32 vs that reference; finite-difference
// gradchecks (first and second order); Darknet option mapping; shape errors.
//
// Replay a failing fast-check run with FC_SEED=<seed>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { gradcheck } from '../src/autograd/gradcheck.js';
import { memoryInfo, scope } from '../src/tensor/memory.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { darknetLocalOptions, local2d, local2dBackwardInput, local2dBackwardWeight } from '../src/tensor/ops/local2d.js';

function runs(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env['FC_SEED'];
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) };
}

/** Deterministic values in [-1, 1) (mulberry32). */
function values(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

interface Geo {
  N: number; C: number; H: number; W: number; O: number; kh: number; kw: number;
  sh: number; sw: number; pt: number; pb: number; pl: number; pr: number;
}

function outSize(g: Geo): [number, number] {
  return [Math.floor((g.H + g.pt + g.pb - g.kh) / g.sh) + 1, Math.floor((g.W + g.pl + g.pr - g.kw) / g.sw) + 1];
}

/**
 * Every product term of the layer, with Darknet's flat indices: location j = i*OW + jx, k = (c*kh + u)*kw + v,
 * weight index j*(O*K) + o*K + k, output (and bias) index o*L + j within an image.
 */
function eachTerm(g: Geo, f: (yi: number, wi: number, xi: number) => void): void {
  const [OH, OW] = outSize(g);
  const L = OH * OW, K = g.C * g.kh * g.kw;
  for (let n = 0; n < g.N; n++)
    for (let loc = 0; loc < L; loc++) {
      const i = Math.floor(loc / OW), jx = loc % OW;
      for (let o = 0; o < g.O; o++)
        for (let c = 0; c < g.C; c++)
          for (let u = 0; u < g.kh; u++)
            for (let v = 0; v < g.kw; v++) {
              const iy = i * g.sh - g.pt + u, ix = jx * g.sw - g.pl + v;
              if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
              const k = (c * g.kh + u) * g.kw + v;
              f(n * g.O * L + o * L + loc, loc * g.O * K + o * K + k, ((n * g.C + c) * g.H + iy) * g.W + ix);
            }
    }
}

function naive(g: Geo, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, gy: ArrayLike<number>) {
  const [OH, OW] = outSize(g);
  const per = g.O * OH * OW;
  const y = new Float64Array(g.N * per);
  if (b) for (let k = 0; k < y.length; k++) y[k] = b[k % per]!;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(per);
  for (let k = 0; k < gy.length; k++) db[k % per] += gy[k]!;
  eachTerm(g, (yi, wi, xi) => {
    y[yi] += w[wi]! * x[xi]!;
    dx[xi] += w[wi]! * gy[yi]!;
    dw[wi] += x[xi]! * gy[yi]!;
  });
  return { y, dx, dw, db };
}

const optsOf = (g: Geo) => ({ stride: [g.sh, g.sw] as [number, number], padding: [g.pt, g.pb, g.pl, g.pr] as [number, number, number, number] });

function close(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) assert.fail(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

function runOurs(g: Geo, dtype: 'float32' | 'float64', x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, gy: ArrayLike<number>) {
  const [OH, OW] = outSize(g);
  return scope(() => {
    const arr = (v: ArrayLike<number>) => (dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    const xt = fromHost(arr(x), [g.N, g.C, g.H, g.W]).requireGrad();
    const wt = fromHost(arr(w), [OH, OW, g.O, g.C, g.kh, g.kw]).requireGrad();
    const bt = b ? fromHost(arr(b), [g.O, OH, OW]).requireGrad() : null;
    const y = local2d(xt, wt, bt, optsOf(g));
    y.backward(fromHost(arr(gy), [...y.shape]));
    const r = {
      y: Float64Array.from(y.data()),
      dx: Float64Array.from(xt.grad!.data()),
      dw: Float64Array.from(wt.grad!.data()),
      db: bt ? Float64Array.from(bt.grad!.data()) : null,
    };
    for (const t of [xt, wt, bt]) t?.zeroGrad();
    return r;
  });
}

const geoArb: fc.Arbitrary<Geo> = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 2 }),
    O: fc.integer({ min: 1, max: 3 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 2 }),
    sw: fc.integer({ min: 1, max: 2 }),
    pads: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
    extraH: fc.integer({ min: 0, max: 2 }),
    extraW: fc.integer({ min: 0, max: 3 }),
  })
  .map((r) => {
    const [pt, pb, pl, pr] = r.pads;
    const H = Math.max(1, r.kh - pt - pb) + r.extraH;
    const W = Math.max(1, r.kw - pl - pr) + r.extraW;
    return { N: r.N, C: r.C, H, W, O: r.O, kh: r.kh, kw: r.kw, sh: r.sh, sw: r.sw, pt, pb, pl, pr };
  });

function sizes(g: Geo) {
  const [OH, OW] = outSize(g);
  return { nx: g.N * g.C * g.H * g.W, nw: OH * OW * g.O * g.C * g.kh * g.kw, nb: g.O * OH * OW, ny: g.N * g.O * OH * OW, OH, OW };
}

test('local2d float64 forward and backward equal a naive reference indexing weights/biases in Darknet flat order', () => {
  fc.assert(
    fc.property(geoArb, fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (g, withBias, seed) => {
      const s = sizes(g);
      const x = values(s.nx, seed), w = values(s.nw, seed + 1), b = withBias ? values(s.nb, seed + 2) : null, gy = values(s.ny, seed + 3);
      const ours = runOurs(g, 'float64', x, w, b, gy);
      const ref = naive(g, x, w, b, gy);
      close('y', ours.y, ref.y, 1e-12, 1e-12);
      close('dx', ours.dx, ref.dx, 1e-12, 1e-12);
      close('dw', ours.dw, ref.dw, 1e-12, 1e-12);
      if (b) close('db', ours.db!, ref.db, 1e-12, 1e-12);
    }),
    runs(60),
  );
});

test('local2d float32 matches the float64 reference on a YOLOv1-like local layer (3x3, pad 1, 7x7, batch 2)', () => {
  const g: Geo = { N: 2, C: 16, H: 7, W: 7, O: 24, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1 };
  const s = sizes(g);
  const x = Float32Array.from(values(s.nx, 5)), w = Float32Array.from(values(s.nw, 6)), b = Float32Array.from(values(s.nb, 7)), gy = Float32Array.from(values(s.ny, 8));
  const ours = runOurs(g, 'float32', x, w, b, gy);
  const ref = naive(g, x, w, b, gy);
  close('y', ours.y, ref.y, 2e-5 * 16 * 9, 1e-5);
  close('dx', ours.dx, ref.dx, 2e-5 * 24 * 9, 1e-5);
  close('dw', ours.dw, ref.dw, 2e-5 * 2, 1e-5);
  close('db', ours.db!, ref.db, 2e-5 * 2, 1e-5);
});

test('local2d gradcheck (float64, full Jacobian) passes for random kernel/stride/per-side padding/batch', () => {
  fc.assert(
    fc.property(geoArb, fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (g, withBias, seed) => {
      scope(() => {
        const s = sizes(g);
        const x = fromHost(values(s.nx, seed), [g.N, g.C, g.H, g.W]).requireGrad();
        const w = fromHost(values(s.nw, seed + 1), [s.OH, s.OW, g.O, g.C, g.kh, g.kw]).requireGrad();
        const inputs = [x, w];
        if (withBias) inputs.push(fromHost(values(s.nb, seed + 2), [g.O, s.OH, s.OW]).requireGrad());
        const r = gradcheck((xi, wi, bi) => local2d(xi!, wi!, bi ?? null, optsOf(g)), inputs, { mode: 'full', names: ['x', 'weight', 'bias'] });
        assert.ok(r.ok, r.report);
      });
    }),
    runs(30),
  );
});

test('local2d backward ops are differentiable: gradcheck of local2dBackwardInput and local2dBackwardWeight', () => {
  fc.assert(
    fc.property(geoArb, fc.integer({ min: 1, max: 1e6 }), (g, seed) => {
      scope(() => {
        const s = sizes(g);
        const xShape = [g.N, g.C, g.H, g.W];
        const wShape = [s.OH, s.OW, g.O, g.C, g.kh, g.kw];
        const x = fromHost(values(s.nx, seed), xShape).requireGrad();
        const w = fromHost(values(s.nw, seed + 1), wShape).requireGrad();
        const gy = fromHost(values(s.ny, seed + 2), [g.N, g.O, s.OH, s.OW]).requireGrad();
        const r1 = gradcheck((gi, wi) => local2dBackwardInput(gi!, wi!, xShape, optsOf(g)), [gy, w], { mode: 'full', names: ['gout', 'weight'] });
        assert.ok(r1.ok, r1.report);
        const r2 = gradcheck((xi, gi) => local2dBackwardWeight(xi!, gi!, wShape, optsOf(g)), [x, gy], { mode: 'full', names: ['x', 'gout'] });
        assert.ok(r2.ok, r2.report);
      });
    }),
    runs(15),
  );
});

test('darknetLocalOptions uses pad literally and rejects size/pad combinations Darknet sizes inconsistently', () => {
  assert.deepEqual(darknetLocalOptions(3, 1, 1), { stride: [1, 1], padding: [1, 1, 1, 1] });
  assert.deepEqual(darknetLocalOptions(5, 2, 0), { stride: [2, 2], padding: [0, 0, 0, 0] });
  assert.throws(() => darknetLocalOptions(5, 1, 1), /size=5 pad=1 is inconsistent/);
  // Darknet's out size (H-1)/stride + 1 for pad != 0: 7x7, size 3, pad 1, stride 2 -> 4x4
  scope(() => {
    const x = fromHost(new Float32Array(1 * 2 * 7 * 7), [1, 2, 7, 7]);
    const w = fromHost(new Float32Array(4 * 4 * 3 * 2 * 9), [4, 4, 3, 2, 3, 3]);
    assert.deepEqual([...local2d(x, w, null, darknetLocalOptions(3, 2, 1)).shape], [1, 3, 4, 4]);
  });
});

test('local2d shape errors name the shapes', () => {
  scope(() => {
    const x = fromHost(new Float32Array(1 * 2 * 5 * 5), [1, 2, 5, 5]);
    const wWrongLoc = fromHost(new Float32Array(4 * 4 * 3 * 2 * 9), [4, 4, 3, 2, 3, 3]);
    assert.throws(() => local2d(x, wWrongLoc, null, { padding: 1 }), /input \[1, 2, 5, 5\] gives a 5x5 output, weight \[4, 4, 3, 2, 3, 3\] has filters for 4x4 locations/);
    const wWrongC = fromHost(new Float32Array(5 * 5 * 3 * 4 * 9), [5, 5, 3, 4, 3, 3]);
    assert.throws(() => local2d(x, wWrongC, null, { padding: 1 }), /input \[1, 2, 5, 5\] has 2 channels, weight \[5, 5, 3, 4, 3, 3\] expects 4/);
    const w = fromHost(new Float32Array(5 * 5 * 3 * 2 * 9), [5, 5, 3, 2, 3, 3]);
    const b = fromHost(new Float32Array(3), [3]);
    assert.throws(() => local2d(x, w, b, { padding: 1 }), /bias must be \[3, 5, 5\].*got \[3\]/);
    const w4 = fromHost(new Float32Array(2 * 9), [2, 9]);
    assert.throws(() => local2d(x, w4), /weight must be 6-D.*\[2, 9\]/);
  });
});

test('local2d forward + backward leaves no tensors behind', () => {
  const before = memoryInfo('cpu');
  scope(() => {
    const x = fromHost(values(2 * 2 * 4 * 4, 1), [2, 2, 4, 4]).requireGrad();
    const w = fromHost(values(4 * 4 * 3 * 2 * 9, 2), [4, 4, 3, 2, 3, 3]).requireGrad();
    const b = fromHost(values(3 * 16, 3), [3, 4, 4]).requireGrad();
    local2d(x, w, b, { padding: 1 }).sum().backward();
    for (const t of [x, w, b]) t.zeroGrad();
  });
  const after = memoryInfo('cpu');
  assert.equal(after.tensors, before.tensors, 'live tensors');
  assert.equal(after.bytes, before.bytes, 'live bytes');
});
