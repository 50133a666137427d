// conv2d: forward and backward against PyTorch reference cases (test/fixtures/torch-refs/conv2d_*.json)
// and against a naive float64 direct convolution written here from the definition; finite-difference
// gradchecks (first and second order) over random stride / per-side padding / dilation / groups /
// kernel sizes; batch-chunk and pointwise paths; shape errors; no leaked tensors.
//
// Replay a failing fast-check run with FC_SEED=<seed>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

import { gradcheck } from '../src/autograd/gradcheck.js';
import { noGrad } from '../src/autograd/grad-mode.js';
import { memoryInfo, scope } from '../src/tensor/memory.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { transpose } from '../src/tensor/ops/views.js';
import { conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dParams, conv2dTuning } from '../src/tensor/ops/conv2d.js';
import type { Tensor } from '../src/tensor/tensor.js';

import { TORCH_REFS as REFS, type RefCase, type RefTensor } from './helpers/refs.js';

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

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------------
// naive float64 reference, straight from the definition

interface Geo {
  N: number; C: number; H: number; W: number; O: number; kh: number; kw: number;
  sh: number; sw: number; pt: number; pb: number; pl: number; pr: number; dh: number; dw: number; G: number;
}

function outSize(g: Geo): [number, number] {
  return [
    Math.floor((g.H + g.pt + g.pb - g.dh * (g.kh - 1) - 1) / g.sh) + 1,
    Math.floor((g.W + g.pl + g.pr - g.dw * (g.kw - 1) - 1) / g.sw) + 1,
  ];
}

/** Visits every (output, weight, input) triple that contributes a product to the convolution. */
function eachTerm(g: Geo, f: (yi: number, wi: number, xi: number) => void): void {
  const [OH, OW] = outSize(g);
  const Cg = g.C / g.G, Og = g.O / g.G;
  for (let n = 0; n < g.N; n++)
    for (let o = 0; o < g.O; o++) {
      const grp = Math.floor(o / Og);
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          const yi = ((n * g.O + o) * OH + i) * OW + j;
          for (let c = 0; c < Cg; c++)
            for (let u = 0; u < g.kh; u++)
              for (let v = 0; v < g.kw; v++) {
                const iy = i * g.sh - g.pt + u * g.dh;
                const ix = j * g.sw - g.pl + v * g.dw;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                f(yi, ((o * Cg + c) * g.kh + u) * g.kw + v, ((n * g.C + grp * Cg + c) * g.H + iy) * g.W + ix);
              }
        }
    }
}

function naiveForward(g: Geo, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null): Float64Array {
  const [OH, OW] = outSize(g);
  const y = new Float64Array(g.N * g.O * OH * OW);
  if (b) for (let k = 0; k < y.length; k++) y[k] = b[Math.floor(k / (OH * OW)) % g.O]!;
  eachTerm(g, (yi, wi, xi) => (y[yi] += w[wi]! * x[xi]!));
  return y;
}

function naiveBackward(g: Geo, x: ArrayLike<number>, w: ArrayLike<number>, gy: ArrayLike<number>): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [OH, OW] = outSize(g);
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  const dw = new Float64Array(g.O * (g.C / g.G) * g.kh * g.kw);
  const db = new Float64Array(g.O);
  for (let k = 0; k < gy.length; k++) db[Math.floor(k / (OH * OW)) % g.O] += gy[k]!;
  eachTerm(g, (yi, wi, xi) => {
    dx[xi] += w[wi]! * gy[yi]!;
    dw[wi] += x[xi]! * gy[yi]!;
  });
  return { dx, dw, db };
}

function optsOf(g: Geo) {
  return { stride: [g.sh, g.sw] as [number, number], padding: [g.pt, g.pb, g.pl, g.pr] as [number, number, number, number], dilation: [g.dh, g.dw] as [number, number], groups: g.G };
}

function close(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) assert.fail(`${what}: element ${i} is ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Runs conv2d forward + backward(gout) in a dtype and returns host copies of y, dx, dw, db. */
function runOurs(g: Geo, dtype: 'float32' | 'float64', x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, gy: ArrayLike<number>) {
  return scope(() => {
    const arr = (v: ArrayLike<number>) => (dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    const xt = fromHost(arr(x), [g.N, g.C, g.H, g.W]).requireGrad();
    const wt = fromHost(arr(w), [g.O, g.C / g.G, g.kh, g.kw]).requireGrad();
    const bt = b ? fromHost(arr(b), [g.O]).requireGrad() : null;
    const y = conv2d(xt, wt, bt, optsOf(g));
    y.backward(fromHost(arr(gy), [...y.shape]));
    const r = {
      y: Float64Array.from(y.data()),
      dx: Float64Array.from(xt.grad!.data()),
      dw: Float64Array.from(wt.grad!.data()),
      db: bt ? Float64Array.from(bt.grad!.data()) : null,
    };
    // leaf grads are kept beyond scopes: release them
    for (const t of [xt, wt, bt]) t?.zeroGrad();
    return r;
  });
}

/**
 * Random geometry with a valid (>= 1) output; small enough for full gradchecks. `fast` restricts to
 * stride 1, dilation 1 and 3x3 / 1x1 kernels, the shapes with CPU fast paths (block im2col when the
 * padding keeps the width, gathered 3x3 col2im, pointwise 1x1), which the general draw rarely hits.
 */
function geoArbOf(fast: boolean): fc.Arbitrary<Geo> {
  const k = fast ? fc.constantFrom(1, 3) : fc.integer({ min: 1, max: 3 });
  const s = fast ? fc.constant(1) : fc.integer({ min: 1, max: 3 });
  const d = fast ? fc.constant(1) : fc.integer({ min: 1, max: 2 });
  return fc
    .record({
      N: fc.integer({ min: 1, max: fast ? 3 : 2 }),
      G: fc.integer({ min: 1, max: 2 }),
      Cg: fc.integer({ min: 1, max: 2 }),
      Og: fc.integer({ min: 1, max: 2 }),
      kh: k,
      kw: k,
      sh: s,
      sw: s,
      dh: d,
      dw: d,
      pads: fc.oneof(
        fc.integer({ min: 0, max: 2 }).map((p) => [p, p, p, p]),
        fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      ),
      extraH: fc.integer({ min: 0, max: 3 }),
      extraW: fc.integer({ min: 0, max: 4 }),
    })
    .map((r) => {
      const [pt, pb, pl, pr] = r.pads as number[];
      const H = Math.max(1, r.dh * (r.kh - 1) + 1 - pt! - pb!) + r.extraH;
      const W = Math.max(1, r.dw * (r.kw - 1) + 1 - pl! - pr!) + r.extraW;
      return { N: r.N, C: r.G * r.Cg, H, W, O: r.G * r.Og, kh: r.kh, kw: r.kw, sh: r.sh, sw: r.sw, pt: pt!, pb: pb!, pl: pl!, pr: pr!, dh: r.dh, dw: r.dw, G: r.G };
    });
}
const geoArb = fc.oneof(geoArbOf(false), geoArbOf(true));

// ---------------------------------------------------------------------------------------------

const pairOf = (v: unknown, dflt: number): [number, number] => (v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [(v as number[])[0]!, (v as number[])[1]!]);

test('conv2d float32 forward and x/weight/bias grads match every PyTorch reference case (README tolerance)', () => {
  const files = readdirSync(REFS).filter((f) => /^conv2d_\d+\.json$/.test(f)).sort();
  assert.ok(files.length >= 1, `no conv2d_*.json in ${REFS}`);
  for (const file of files) {
    const c = JSON.parse(readFileSync(join(REFS, file), 'utf8')) as RefCase;
    const p = c.params;
    const [sh, sw] = pairOf(p['stride'], 1);
    const [ph, pw] = pairOf(p['padding'], 0);
    const [dh, dw] = pairOf(p['dilation'], 1);
    const x = c.inputs['x']!, w = c.inputs['weight']!, gout = c.inputs['gout']!;
    const b = c.inputs['bias'] ?? null;
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [O, , kh, kw] = w.shape as [number, number, number, number];
    const G = (p['groups'] as number | undefined) ?? 1;
    const g: Geo = { N, C, H, W, O, kh, kw, sh, sw, pt: ph, pb: ph, pl: pw, pr: pw, dh, dw, G };
    const ours = runOurs(g, 'float32', Float32Array.from(x.data), Float32Array.from(w.data), b ? Float32Array.from(b.data) : null, Float32Array.from(gout.data));
    const check = (what: string, mine: ArrayLike<number>, ref: RefTensor, absmax: number, loosen: number): void => {
      const r = Float32Array.from(ref.data);
      close(`${file} ${what}`, mine, r, loosen * 1e-5 * Math.max(1, absmax), loosen * 1e-4);
    };
    check('y', ours.y, c.outputs['y']!, c.meta.absmax['out:y']!, 1);
    check('grad x', ours.dx, c.grads['x']!, c.meta.absmax['grad:x']!, 1);
    check('grad weight', ours.dw, c.grads['weight']!, c.meta.absmax['grad:weight']!, 10);
    if (b) check('grad bias', ours.db!, c.grads['bias']!, c.meta.absmax['grad:bias']!, 10);
  }
});

test('conv2d float64 forward and backward equal a naive direct convolution (random stride/padding/dilation/groups)', () => {
  fc.assert(
    fc.property(geoArb, fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (g, withBias, seed) => {
      const [OH, OW] = outSize(g);
      const x = values(g.N * g.C * g.H * g.W, seed);
      const w = values(g.O * (g.C / g.G) * g.kh * g.kw, seed + 1);
      const b = withBias ? values(g.O, seed + 2) : null;
      const gy = values(g.N * g.O * OH * OW, seed + 3);
      const ours = runOurs(g, 'float64', x, w, b, gy);
      const ref = naiveBackward(g, x, w, gy);
      close('y', ours.y, naiveForward(g, x, w, b), 1e-12, 1e-12);
      close('dx', ours.dx, ref.dx, 1e-12, 1e-12);
      close('dw', ours.dw, ref.dw, 1e-12, 1e-12);
      if (b) close('db', ours.db!, ref.db, 1e-12, 1e-12);
    }),
    runs(200),
  );
});

test('conv2d tiling paths (several images per GEMM, bands of output rows, bands of input rows) equal the naive reference', () => {
  // Tiny knobs make the random small shapes take the paths that real layers take at 13..416 pixels.
  const settings = [
    { targetCols: 1, tileElems: 1 }, // one output row per band, one image per tile
    { targetCols: 3, tileElems: 20 }, // bands of a few rows
    { targetCols: 64, tileElems: 64 }, // several whole images per GEMM
  ];
  for (const setting of settings) {
    const previous = conv2dTuning(setting);
    try {
      fc.assert(
        fc.property(geoArb, fc.integer({ min: 1, max: 1e6 }), (g, seed) => {
          const [OH, OW] = outSize(g);
          const x = values(g.N * g.C * g.H * g.W, seed);
          const w = values(g.O * (g.C / g.G) * g.kh * g.kw, seed + 1);
          const b = values(g.O, seed + 2);
          const gy = values(g.N * g.O * OH * OW, seed + 3);
          const ours = runOurs(g, 'float64', x, w, b, gy);
          const ref = naiveBackward(g, x, w, gy);
          const at = `tuning ${JSON.stringify(setting)}`;
          close(`${at} y`, ours.y, naiveForward(g, x, w, b), 1e-12, 1e-12);
          close(`${at} dx`, ours.dx, ref.dx, 1e-12, 1e-12);
          close(`${at} dw`, ours.dw, ref.dw, 1e-12, 1e-12);
          close(`${at} db`, ours.db!, ref.db, 1e-12, 1e-12);
        }),
        runs(100),
      );
    } finally {
      conv2dTuning(previous);
    }
  }
  assert.throws(() => conv2dTuning({ tileElems: 0 }), /tileElems must be integers >= 1/);
});

test('conv2d float32 (wasm sgemm path) matches the float64 naive reference on layer-like shapes', () => {
  const cases: Geo[] = [
    // 3x3 same conv, batch 3, small planes: several images per GEMM chunk
    { N: 3, C: 8, H: 9, W: 11, O: 16, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1, dh: 1, dw: 1, G: 1 },
    // large plane (OH*OW > 2048): one image per chunk, GEMM writes straight into y
    { N: 2, C: 3, H: 48, W: 50, O: 8, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1, dh: 1, dw: 1, G: 1 },
    // 1x1 pointwise, one image per chunk (input planes used as the column matrix) and chunked
    { N: 2, C: 16, H: 48, W: 48, O: 12, kh: 1, kw: 1, sh: 1, sw: 1, pt: 0, pb: 0, pl: 0, pr: 0, dh: 1, dw: 1, G: 1 },
    { N: 3, C: 32, H: 7, W: 5, O: 20, kh: 1, kw: 1, sh: 1, sw: 1, pt: 0, pb: 0, pl: 0, pr: 0, dh: 1, dw: 1, G: 1 },
    // strided, asymmetric padding, dilation, groups
    { N: 2, C: 8, H: 17, W: 14, O: 12, kh: 3, kw: 2, sh: 2, sw: 3, pt: 2, pb: 0, pl: 1, pr: 2, dh: 2, dw: 1, G: 4 },
  ];
  cases.forEach((g, k) => {
    const [OH, OW] = outSize(g);
    const x = Float32Array.from(values(g.N * g.C * g.H * g.W, 10 + k));
    const w = Float32Array.from(values(g.O * (g.C / g.G) * g.kh * g.kw, 20 + k));
    const b = Float32Array.from(values(g.O, 30 + k));
    const gy = Float32Array.from(values(g.N * g.O * OH * OW, 40 + k));
    const ours = runOurs(g, 'float32', x, w, b, gy);
    const ref = naiveBackward(g, x, w, gy);
    const K = (g.C / g.G) * g.kh * g.kw;
    const tol = 1e-6 * K;
    close(`case ${k} y`, ours.y, naiveForward(g, x, w, b), tol, 1e-5);
    close(`case ${k} dx`, ours.dx, ref.dx, 1e-6 * g.O * g.kh * g.kw, 1e-5);
    close(`case ${k} dw`, ours.dw, ref.dw, 1e-6 * g.N * OH * OW, 1e-5);
    close(`case ${k} db`, ours.db!, ref.db, 1e-6 * g.N * OH * OW, 1e-5);
  });
});

test('conv2d gradcheck (float64, full Jacobian) passes for random stride/per-side padding/dilation/groups/kernel sizes', () => {
  fc.assert(
    fc.property(geoArb, fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (g, withBias, seed) => {
      scope(() => {
        const x = fromHost(values(g.N * g.C * g.H * g.W, seed), [g.N, g.C, g.H, g.W]).requireGrad();
        const w = fromHost(values(g.O * (g.C / g.G) * g.kh * g.kw, seed + 1), [g.O, g.C / g.G, g.kh, g.kw]).requireGrad();
        const inputs = [x, w];
        if (withBias) inputs.push(fromHost(values(g.O, seed + 2), [g.O]).requireGrad());
        const r = gradcheck((xi, wi, bi) => conv2d(xi!, wi!, bi ?? null, optsOf(g)), inputs, { mode: 'full', names: ['x', 'weight', 'bias'] });
        assert.ok(r.ok, r.report);
      });
    }),
    runs(60),
  );
});

test('conv2d backward ops are differentiable: gradcheck of conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias', () => {
  fc.assert(
    fc.property(geoArb, fc.integer({ min: 1, max: 1e6 }), (g, seed) => {
      scope(() => {
        const [OH, OW] = outSize(g);
        const xShape = [g.N, g.C, g.H, g.W];
        const wShape = [g.O, g.C / g.G, g.kh, g.kw];
        const x = fromHost(values(prod(xShape), seed), xShape).requireGrad();
        const w = fromHost(values(prod(wShape), seed + 1), wShape).requireGrad();
        const gy = fromHost(values(g.N * g.O * OH * OW, seed + 2), [g.N, g.O, OH, OW]).requireGrad();
        const o = optsOf(g);
        const r1 = gradcheck((gi, wi) => conv2dBackwardInput(gi!, wi!, xShape, o), [gy, w], { mode: 'full', names: ['gout', 'weight'] });
        assert.ok(r1.ok, r1.report);
        const r2 = gradcheck((xi, gi) => conv2dBackwardWeight(xi!, gi!, wShape, o), [x, gy], { mode: 'full', names: ['x', 'gout'] });
        assert.ok(r2.ok, r2.report);
        const r3 = gradcheck((gi) => conv2dBackwardBias(gi!), [gy], { mode: 'full', names: ['gout'] });
        assert.ok(r3.ok, r3.report);
      });
    }),
    runs(30),
  );
});

test('conv2d accepts non-contiguous inputs (a transposed view) and gives the same result as a contiguous copy', () => {
  scope(() => {
    const g: Geo = { N: 1, C: 2, H: 5, W: 4, O: 3, kh: 3, kw: 2, sh: 1, sw: 2, pt: 1, pb: 0, pl: 1, pr: 1, dh: 1, dw: 1, G: 1 };
    const xT = fromHost(values(20 * 2, 7), [1, 2, 4, 5]); // W and H swapped, transposed back below
    const x = transpose(xT, 2, 3);
    assert.ok(!x.isContiguous());
    const w = fromHost(values(3 * 2 * 3 * 2, 8), [3, 2, 3, 2]);
    const y = conv2d(x, w, null, optsOf(g));
    const ref = naiveForward(g, x.data(), w.data(), null);
    close('y', y.data(), ref, 1e-12, 1e-12);
  });
});

test('conv2d option forms: number, [ph, pw] and [top, bottom, left, right] padding normalise as documented', () => {
  assert.deepEqual(conv2dParams({ padding: 2 }).padding, [2, 2, 2, 2]);
  assert.deepEqual(conv2dParams({ padding: [1, 3] }).padding, [1, 1, 3, 3]);
  assert.deepEqual(conv2dParams({ padding: [0, 1, 2, 3] }).padding, [0, 1, 2, 3]);
  assert.deepEqual(conv2dParams({ stride: [2, 3], dilation: 2 }), { stride: [2, 3], padding: [0, 0, 0, 0], dilation: [2, 2], groups: 1 });
  assert.throws(() => conv2dParams({ stride: 0 }), /stride must be an integer >= 1/);
  assert.throws(() => conv2dParams({ padding: [1, 2, 3] as unknown as [number, number] }), /padding must be/);
  assert.throws(() => conv2dParams({ groups: 1.5 }), /groups must be an integer >= 1/);
});

test('conv2d shape errors name the shapes', () => {
  scope(() => {
    const x = fromHost(new Float32Array(1 * 4 * 5 * 5), [1, 4, 5, 5]);
    const w3 = fromHost(new Float32Array(6 * 3 * 3 * 3), [6, 3, 3, 3]);
    assert.throws(() => conv2d(x, w3), /input \[1, 4, 5, 5\] has 4 channels, weight \[6, 3, 3, 3\]/);
    const w = fromHost(new Float32Array(6 * 2 * 3 * 3), [6, 2, 3, 3]);
    assert.throws(() => conv2d(x, w, null, { groups: 4 }), /groups=4 must divide.*\[1, 4, 5, 5\].*\[6, 2, 3, 3\]/);
    const wBig = fromHost(new Float32Array(2 * 4 * 7 * 7), [2, 4, 7, 7]);
    assert.throws(() => conv2d(x, wBig), /\[1, 4, 5, 5\] padded to 5x5 is smaller than the 7x7 kernel/);
    const w4 = fromHost(new Float32Array(2 * 4 * 3 * 3), [2, 4, 3, 3]);
    const b = fromHost(new Float32Array(3), [3]);
    assert.throws(() => conv2d(x, w4, b), /bias must be \[2\].*got \[3\]/);
    const x3 = fromHost(new Float32Array(20), [4, 5]);
    assert.throws(() => conv2d(x3, w4), /input must be 4-D.*\[4, 5\]/);
    const gBad = fromHost(new Float32Array(2 * 9), [1, 2, 3, 3]);
    assert.throws(() => conv2dBackwardInput(gBad, w4, [1, 4, 5, 5], { padding: 1 }), /gout \[1, 2, 3, 3\] does not match the conv2d output \[1, 2, 5, 5\]/);
    const x64 = fromHost(new Float64Array(100), [1, 4, 5, 5]);
    assert.throws(() => conv2d(x64, w4), /dtype mismatch/);
  });
});

test('conv2d forward + backward leaves no tensors behind and batch N=0 gives empty output and zero weight grad', () => {
  const before = memoryInfo('cpu');
  scope(() => {
    const x = fromHost(values(2 * 3 * 6 * 6, 1), [2, 3, 6, 6]).requireGrad();
    const w = fromHost(values(4 * 3 * 3 * 3, 2), [4, 3, 3, 3]).requireGrad();
    const b = fromHost(values(4, 3), [4]).requireGrad();
    const y = conv2d(x, w, b, { padding: 1, stride: 2 });
    y.sum().backward();
    assert.deepEqual([...x.grad!.shape], [2, 3, 6, 6]);
    for (const t of [x, w, b]) t.zeroGrad();
  });
  const after = memoryInfo('cpu');
  assert.equal(after.tensors, before.tensors, 'live tensors');
  assert.equal(after.bytes, before.bytes, 'live bytes');

  scope(() => {
    const x = fromHost(new Float64Array(0), [0, 3, 6, 6]);
    const w = fromHost(values(4 * 3 * 3 * 3, 2), [4, 3, 3, 3]);
    const y = conv2d(x, w, null, { padding: 1 });
    assert.deepEqual([...y.shape], [0, 4, 6, 6]);
    const dw = noGrad(() => conv2dBackwardWeight(x, y, [4, 3, 3, 3], { padding: 1 }));
    assert.ok(Array.from(dw.data()).every((v) => v === 0));
  });
});

test('conv2d under noGrad records nothing and the result equals the graph-mode result', () => {
  scope(() => {
    const x = fromHost(values(1 * 2 * 5 * 5, 3), [1, 2, 5, 5]).requireGrad();
    const w = fromHost(values(3 * 2 * 3 * 3, 4), [3, 2, 3, 3]).requireGrad();
    const a: Tensor = noGrad(() => conv2d(x, w, null, { padding: 1 }));
    const b = conv2d(x, w, null, { padding: 1 });
    assert.equal(a.gradFn, null);
    assert.notEqual(b.gradFn, null);
    assert.deepEqual(Array.from(a.data()), Array.from(b.data()));
  });
});
