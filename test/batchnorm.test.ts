// Batch norm, both variants: PyTorch reference cases (batchnorm2d, conv_bn_leaky, leaky_relu), Darknet's
// own train-mode and inference dumps of yolov2-tiny-voc (bit for bit), naive float64 references,
// running-statistic updates, and float64 gradchecks (exact rules) plus a check that Darknet's own backward
// rule is what Darknet computes and is not the derivative of its forward.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';

import { fromHost, leakyRelu, memoryInfo, mul, Rng, scope, sum, type Tensor } from '../src/index.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { batchnorm2d, DARKNET_BN_BACKWARD_EPS, DARKNET_BN_EPS, type BatchNorm2dOptions } from '../src/tensor/ops/batchnorm2d.js';

import { DARKNET_REFS as darknetRefs, loadRef, readF32, type RefTensor } from './helpers/refs.js';

// ---- torch-refs helpers ----

function refTensor(r: RefTensor, dtype: 'float32' | 'float64' = 'float32', requiresGrad = false): Tensor {
  const host = Float32Array.from(r.data);
  return fromHost(dtype === 'float32' ? host : Float64Array.from(host), r.shape, { requiresGrad });
}

/** README tolerance: |mine - ref| <= 1e-5*max(1, absmax) + 1e-4*|ref|. */
function assertMatchesRef(actual: Tensor | ArrayLike<number>, ref: RefTensor, absmax: number, label: string): void {
  const a = 'data' in actual && typeof actual.data === 'function' ? (actual as Tensor).data() : (actual as ArrayLike<number>);
  const want = Float32Array.from(ref.data);
  assert.equal(a.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * Math.max(1, absmax) + 1e-4 * Math.abs(want[i]!);
    if (!(Math.abs(a[i]! - want[i]!) <= tol)) assert.fail(`${label}[${i}]: ${a[i]} vs reference ${want[i]} (tol ${tol})`);
  }
}

function assertArraysEqual(actual: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  let bad = 0;
  let first = '';
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(actual[i], want[i])) {
      if (bad++ === 0) first = `[${i}]: ${actual[i]} vs ${want[i]}`;
    }
  }
  if (bad) assert.fail(`${label}: ${bad} of ${want.length} values differ, first ${first}`);
}

function assertArraysClose(actual: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(actual[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) assert.fail(`${label}[${i}]: ${actual[i]} vs ${want[i]}`);
  }
}

// ---- naive float64 references ----

type Shape4 = [number, number, number, number];

/** Per-channel mean and the biased and unbiased variances by definition. */
function channelStats(x: Float64Array, [N, C, H, W]: Shape4): { mean: number[]; biased: number[]; unbiased: number[] } {
  const n = N * H * W;
  const mean: number[] = [];
  const biased: number[] = [];
  const unbiased: number[] = [];
  for (let c = 0; c < C; c++) {
    const vals: number[] = [];
    for (let b = 0; b < N; b++) for (let k = 0; k < H * W; k++) vals.push(x[(b * C + c) * H * W + k]!);
    const m = vals.reduce((s, v) => s + v, 0) / n;
    const ss = vals.reduce((s, v) => s + (v - m) ** 2, 0);
    mean.push(m);
    biased.push(ss / n);
    unbiased.push(ss / (n - 1));
  }
  return { mean, biased, unbiased };
}

/** y by definition for the given statistics: (x-m)/sqrt(v+eps) (pytorch) or (x-m)/(sqrt(v)+eps) (darknet), ·γ + β. */
function naiveNormalize(x: Float64Array, [N, C, H, W]: Shape4, mean: number[], variance: number[], gamma: number[] | null, beta: number[] | null, variant: 'pytorch' | 'darknet', eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      const den = variant === 'pytorch' ? Math.sqrt(variance[c]! + eps) : Math.sqrt(variance[c]!) + eps;
      for (let k = 0; k < H * W; k++) {
        const i = (b * C + c) * H * W + k;
        y[i] = ((x[i]! - mean[c]!) / den) * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);
      }
    }
  }
  return y;
}

function normals(n: number, rng: Rng, mean = 0, std = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal(mean, std));
}

// ---- PyTorch reference cases ----

test('batchnorm2d (pytorch, training) matches torch-refs batchnorm2d_1: y, batch stats, running stats and grads x/weight/bias', () => {
  const c = loadRef('batchnorm2d_1');
  assert.equal(c.params['training'], true);
  const x = refTensor(c.inputs['x']!, 'float32', true);
  const weight = refTensor(c.inputs['weight']!, 'float32', true);
  const bias = refTensor(c.inputs['bias']!, 'float32', true);
  const rm = refTensor(c.inputs['running_mean']!);
  const rv = refTensor(c.inputs['running_var']!);
  const r = batchnorm2d(x, weight, bias, rm, rv, { training: true, momentum: c.params['momentum'] as number, eps: c.params['eps'] as number });
  const am = c.meta.absmax;
  assertMatchesRef(r.y, c.outputs['y']!, am['out:y']!, 'y');
  assertMatchesRef(r.batchMean!, c.outputs['batch_mean']!, am['out:batch_mean']!, 'batch_mean');
  assertMatchesRef(r.batchVar!, c.outputs['batch_var_biased']!, am['out:batch_var_biased']!, 'batch_var_biased');
  assertMatchesRef(rm, c.outputs['running_mean']!, am['out:running_mean']!, 'running_mean (updated in place)');
  assertMatchesRef(rv, c.outputs['running_var']!, am['out:running_var']!, 'running_var (updated in place, unbiased)');
  r.y.backward(refTensor(c.inputs['gout']!));
  assertMatchesRef(x.grad!, c.grads['x']!, am['grad:x']!, 'grad x');
  assertMatchesRef(weight.grad!, c.grads['weight']!, am['grad:weight']!, 'grad weight');
  assertMatchesRef(bias.grad!, c.grads['bias']!, am['grad:bias']!, 'grad bias');
});

test('leakyRelu(0.1) matches torch-refs leaky_relu_1 (the activation after BN in conv_bn_leaky)', () => {
  const c = loadRef('leaky_relu_1');
  const x = refTensor(c.inputs['x']!, 'float32', true);
  const y = leakyRelu(x, c.params['negative_slope'] as number);
  assertMatchesRef(y, c.outputs['y']!, c.meta.absmax['out:y']!, 'y');
  y.backward(refTensor(c.inputs['gout']!));
  assertMatchesRef(x.grad!, c.grads['x']!, c.meta.absmax['grad:x']!, 'grad x');
});

/** Cross-correlation, stride 1, zero padding p, float64: y[n,o,i,j] = Σ w[o,c,u,v]·xpad[n,c,i+u,j+v]. */
function conv2dNaive(x: Float64Array, [N, C, H, W]: Shape4, w: Float64Array, O: number, k: number, p: number): { y: Float64Array; shape: Shape4 } {
  const OH = H + 2 * p - k + 1;
  const OW = W + 2 * p - k + 1;
  const y = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = 0;
          for (let c = 0; c < C; c++)
            for (let u = 0; u < k; u++)
              for (let v = 0; v < k; v++) {
                const h = i + u - p;
                const ww = j + v - p;
                if (h >= 0 && h < H && ww >= 0 && ww < W) s += w[((o * C + c) * k + u) * k + v]! * x[((n * C + c) * H + h) * W + ww]!;
              }
          y[((n * O + o) * OH + i) * OW + j] = s;
        }
  return { y, shape: [N, O, OH, OW] };
}

/** Gradients of conv2dNaive for upstream gy: (dx, dw). */
function conv2dNaiveBackward(x: Float64Array, [N, C, H, W]: Shape4, w: Float64Array, O: number, k: number, p: number, gy: ArrayLike<number>): { dx: Float64Array; dw: Float64Array } {
  const OH = H + 2 * p - k + 1;
  const OW = W + 2 * p - k + 1;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          const g = gy[((n * O + o) * OH + i) * OW + j]!;
          for (let c = 0; c < C; c++)
            for (let u = 0; u < k; u++)
              for (let v = 0; v < k; v++) {
                const h = i + u - p;
                const ww = j + v - p;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                const xi = ((n * C + c) * H + h) * W + ww;
                const wi = ((o * C + c) * k + u) * k + v;
                dw[wi] += g * x[xi]!;
                dx[xi] += g * w[wi]!;
              }
        }
  return { dx, dw };
}

test('conv → batchnorm2d (pytorch, training, float64) → leakyRelu matches torch-refs conv_bn_leaky_1, grads through a naive conv', () => {
  const c = loadRef('conv_bn_leaky_1');
  const k = c.params['kernel_size'] as number;
  const p = c.params['padding'] as number;
  assert.equal(c.params['stride'], 1);
  const xr = c.inputs['x']!;
  const wr = c.inputs['conv_weight']!;
  const xs = Float64Array.from(Float32Array.from(xr.data));
  const ws = Float64Array.from(Float32Array.from(wr.data));
  const O = wr.shape[0]!;
  const conv = conv2dNaive(xs, xr.shape as Shape4, ws, O, k, p);
  const z = fromHost(conv.y, conv.shape, { requiresGrad: true });
  const gamma = refTensor(c.inputs['bn_weight']!, 'float64', true);
  const beta = refTensor(c.inputs['bn_bias']!, 'float64', true);
  const rm = refTensor(c.inputs['running_mean']!, 'float64');
  const rv = refTensor(c.inputs['running_var']!, 'float64');
  const bn = batchnorm2d(z, gamma, beta, rm, rv, { training: true, momentum: c.params['bn_momentum'] as number, eps: c.params['bn_eps'] as number });
  const y = leakyRelu(bn.y, c.params['negative_slope'] as number);
  const am = c.meta.absmax;
  assertMatchesRef(y, c.outputs['y']!, am['out:y']!, 'y');
  assertMatchesRef(rm, c.outputs['running_mean']!, am['out:running_mean']!, 'running_mean');
  assertMatchesRef(rv, c.outputs['running_var']!, am['out:running_var']!, 'running_var');
  y.backward(refTensor(c.inputs['gout']!, 'float64'));
  assertMatchesRef(gamma.grad!, c.grads['bn_weight']!, am['grad:bn_weight']!, 'grad bn_weight');
  assertMatchesRef(beta.grad!, c.grads['bn_bias']!, am['grad:bn_bias']!, 'grad bn_bias');
  const back = conv2dNaiveBackward(xs, xr.shape as Shape4, ws, O, k, p, z.grad!.data());
  assertMatchesRef(back.dx, c.grads['x']!, am['grad:x']!, 'grad x');
  assertMatchesRef(back.dw, c.grads['conv_weight']!, am['grad:conv_weight']!, 'grad conv_weight');
});

// ---- Darknet dumps (yolov2-tiny-voc 96x96, SEMANTICS.md 3.2, 6.1, 6.2, 8.1) ----

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function weightKey(seed: number, layer: number, tensorId: number): number {
  return fmix32((Math.imul(seed, 0x9e3779b9) + Math.imul(layer + 1, 0x85ebca6b) + Math.imul(tensorId + 1, 0xc2b2ae35)) >>> 0);
}

/** The generated parameter tensor `tensorId` of `layer`: float32(s·A + B), s uniform in [-1, 1). */
function generated(seed: number, layer: number, tensorId: number, count: number, A: number, B: number): Float32Array {
  const key = weightKey(seed, layer, tensorId);
  return Float32Array.from({ length: count }, (_, i) => {
    const h = fmix32((key + Math.imul(i, 0x9e3779b9)) >>> 0);
    return (2 * ((h >>> 8) / 16777216) - 1) * A + B;
  });
}

/** Darknet's conv (im2col + gemm): float32 accumulation from 0 in k = (c·size + ky)·size + kx order, zero padding. */
function darknetConv(x: Float32Array, C: number, H: number, W: number, w: Float32Array, O: number, size: number): Float32Array {
  const pad = Math.floor(size / 2);
  const out = new Float32Array(O * H * W);
  const f = Math.fround;
  for (let o = 0; o < O; o++) {
    const ob = o * H * W;
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < size; ky++)
        for (let kx = 0; kx < size; kx++) {
          const wv = w[((o * C + c) * size + ky) * size + kx]!;
          for (let i = 0; i < H; i++) {
            const h = i + ky - pad;
            for (let j = 0; j < W; j++) {
              const ww = j + kx - pad;
              const xv = h >= 0 && h < H && ww >= 0 && ww < W ? x[(c * H + h) * W + ww]! : 0;
              out[ob + i * W + j] = f(out[ob + i * W + j]! + f(wv * xv));
            }
          }
        }
  }
  return out;
}


const darknetLeaky = (v: number): number => (v > 0 ? v : Math.fround(0.1 * v));

test('weight generator helper reproduces the SEMANTICS.md 3.2 test vectors', () => {
  assert.equal(fmix32(1), 0x514e28b7);
  assert.equal(fmix32(0x12345678), 0xe37cd1bc);
  assert.equal(weightKey(1, 0, 4), 0x22b12d8a);
  // SEMANTICS prints these with 8 significant digits, which does not always pin down the float32.
  assertArraysClose(generated(1, 0, 4, 4, Math.sqrt(6 / 27), 0), [-0.3837092, 0.35398614, 0.21702217, 0.32108328], 3e-8, 'layer 0 weights');
  assertArraysClose(generated(1, 0, 0, 4, 0.1, 0), [0.09050993, 0.05882522, -0.04663653, -0.04861627], 5e-9, 'layer 0 biases');
  assert.deepEqual([...new Uint8Array(generated(1, 0, 4, 1, Math.sqrt(6 / 27), 0).buffer)], [0x88, 0x75, 0xc4, 0xbe], 'first weight bytes 8875c4be');
});

/** One conv+BN+leaky layer of yolov2-tiny-voc through batchnorm2d (darknet variant), float32. */
function darknetLayer(layer: number, input: Float32Array, C: number, H: number, W: number, O: number, training: boolean) {
  const w = generated(1, layer, 4, O * C * 9, Math.sqrt(6 / (C * 9)), 0);
  const z = darknetConv(input, C, H, W, w, O, 3);
  const beta = fromHost(generated(1, layer, 0, O, 0.1, 0), [O]);
  const gamma = fromHost(generated(1, layer, 1, O, 0.25, 1), [O]);
  const rm = fromHost(generated(1, layer, 2, O, 0.1, 0), [O]);
  const rv = fromHost(generated(1, layer, 3, O, 0.5, 1), [O]);
  const r = batchnorm2d(fromHost(z, [1, O, H, W]), gamma, beta, rm, rv, { training, variant: 'darknet' });
  return { y: Float32Array.from(r.y.data(), darknetLeaky), r, rm, rv };
}

test("batchnorm2d (darknet, eval) reproduces Darknet's inference output of yolov2-tiny-voc layer 0 bit for bit", () => {
  const dir = join(darknetRefs, 'yolov2-tiny-voc_96x96');
  const { y, rm } = darknetLayer(0, readF32(join(dir, 'input.f32')), 3, 96, 96, 16, false);
  assertArraysEqual(y, readF32(join(dir, 'L00_convolutional.f32')), 'L00 output');
  assertArraysEqual(rm.data(), generated(1, 0, 2, 16, 0.1, 0), 'rolling mean unchanged in eval');
});

for (const [layer, inFile, C, H, O] of [
  [0, 'input.f32', 3, 96, 16],
  [2, 'train_full_seen0/L01_maxpool.f32', 16, 48, 32],
] as const) {
  test(`batchnorm2d (darknet, training) reproduces Darknet's train-mode layer ${layer}: batch mean, unbiased variance, rolling 0.99/0.01 update and output, bit for bit`, () => {
    const dir = join(darknetRefs, 'yolov2-tiny-voc_96x96');
    const tf = (name: string): Float32Array => readF32(join(dir, 'train_full_seen0', `L${String(layer).padStart(2, '0')}_${name}.f32`));
    const { y, r, rm, rv } = darknetLayer(layer, readF32(join(dir, inFile)), C, H, H, O, true);
    assertArraysEqual(r.batchMean!.data(), tf('bn_mean'), 'batch mean');
    assertArraysEqual(r.batchVar!.data(), tf('bn_variance'), 'batch variance');
    assertArraysEqual(rm.data(), tf('bn_rolling_mean_after'), 'rolling mean after');
    assertArraysEqual(rv.data(), tf('bn_rolling_variance_after'), 'rolling variance after');
    assertArraysEqual(y, tf('convolutional'), 'layer output');
  });
}

// ---- naive references and running statistics ----

const bnArb = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 4 }),
    W: fc.integer({ min: 1, max: 5 }),
    affine: fc.boolean(),
    variant: fc.constantFrom('pytorch' as const, 'darknet' as const),
    seed: fc.integer({ min: 0, max: 1 << 30 }),
  })
  .filter((c) => c.N * c.H * c.W >= 2);

test('batchnorm2d equals naive float64 references in training and eval, both variants, and updates the running stats as specified', () => {
  fc.assert(
    fc.property(bnArb, (c) => {
      const shape: Shape4 = [c.N, c.C, c.H, c.W];
      const rng = new Rng(c.seed);
      const xs = normals(c.N * c.C * c.H * c.W, rng, 0.5, 2);
      const gamma = c.affine ? Array.from(normals(c.C, rng, 1, 0.3)) : null;
      const beta = c.affine ? Array.from(normals(c.C, rng)) : null;
      const rm0 = Array.from(normals(c.C, rng, 0, 0.1));
      const rv0 = Array.from({ length: c.C }, () => rng.range(0.5, 1.5));
      const darknet = c.variant === 'darknet';
      const eps = darknet ? DARKNET_BN_EPS : 1e-5;
      const m = darknet ? 0.01 : 0.1;
      for (const dtype of ['float64', 'float32'] as const) {
        const tol = dtype === 'float64' ? 1e-12 : 2e-6;
        const cast = (a: Float64Array | number[]): Float64Array | Float32Array => (dtype === 'float64' ? Float64Array.from(a) : Float32Array.from(a));
        const x = fromHost(cast(xs), shape);
        const w = gamma ? fromHost(cast(gamma), [c.C]) : null;
        const b = beta ? fromHost(cast(beta), [c.C]) : null;
        const rm = fromHost(cast(rm0), [c.C]);
        const rv = fromHost(cast(rv0), [c.C]);
        const xsd = Float64Array.from(x.data()); // the values actually used (float32-rounded in float32)
        const std = channelStats(xsd, shape);
        const usedD = darknet ? std.unbiased : std.biased;
        const g = gamma ? Array.from(w!.data()) : null;
        const be = beta ? Array.from(b!.data()) : null;
        const tr = batchnorm2d(x, w, b, rm, rv, { training: true, variant: c.variant });
        assertArraysClose(tr.y.data(), naiveNormalize(xsd, shape, std.mean, usedD, g, be, c.variant, eps), tol * 10, `${dtype} training y`);
        assertArraysClose(tr.batchMean!.data(), std.mean, tol, `${dtype} batch mean`);
        assertArraysClose(tr.batchVar!.data(), usedD, tol, `${dtype} batch var`);
        const rm0d = cast(rm0);
        const rv0d = cast(rv0);
        const rmWant = rm0.map((_, i) => (1 - m) * rm0d[i]! + m * std.mean[i]!);
        const rvWant = rv0.map((_, i) => (1 - m) * rv0d[i]! + m * std.unbiased[i]!);
        assertArraysClose(rm.data(), rmWant, tol, `${dtype} running mean`);
        assertArraysClose(rv.data(), rvWant, tol, `${dtype} running var (unbiased update)`);
        const rmAfter = Array.from(rm.data());
        const rvAfter = Array.from(rv.data());
        const ev = batchnorm2d(x, w, b, rm, rv, { training: false, variant: c.variant });
        assertArraysClose(ev.y.data(), naiveNormalize(xsd, shape, rmAfter, rvAfter, g, be, c.variant, eps), tol * 10, `${dtype} eval y`);
        assert.equal(ev.batchMean, null);
        assertArraysEqual(rm.data(), Float64Array.from(rmAfter), 'eval leaves running mean alone');
        assertArraysEqual(rv.data(), Float64Array.from(rvAfter), 'eval leaves running var alone');
      }
    }),
    { numRuns: 60, seed: 21 },
  );
});

// ---- gradients ----

const gradArb = fc
  .record({
    N: fc.integer({ min: 1, max: 2 }),
    C: fc.integer({ min: 1, max: 2 }),
    H: fc.integer({ min: 1, max: 3 }),
    W: fc.integer({ min: 1, max: 3 }),
    affine: fc.boolean(),
    training: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1 << 30 }),
  })
  .filter((c) => c.N * c.H * c.W >= 2);

function gradInputs(c: { N: number; C: number; H: number; W: number; affine: boolean; seed: number }): { x: Tensor; w: Tensor | null; b: Tensor | null; rm: Tensor; rv: Tensor } {
  const rng = new Rng(c.seed);
  return {
    x: fromHost(normals(c.N * c.C * c.H * c.W, rng, 0.3, 1.5), [c.N, c.C, c.H, c.W], { requiresGrad: true }),
    w: c.affine ? fromHost(normals(c.C, rng, 1, 0.3), [c.C], { requiresGrad: true }) : null,
    b: c.affine ? fromHost(normals(c.C, rng), [c.C], { requiresGrad: true }) : null,
    rm: fromHost(normals(c.C, rng, 0, 0.1), [c.C]),
    rv: fromHost(Float64Array.from({ length: c.C }, () => rng.range(0.5, 1.5)), [c.C]),
  };
}

function bnFn(t: { w: Tensor | null; b: Tensor | null; rm: Tensor; rv: Tensor }, opts: BatchNorm2dOptions): (...xs: Tensor[]) => Tensor {
  return (...xs: Tensor[]) => batchnorm2d(xs[0]!, t.w ? xs[1]! : null, t.b ? xs[2]! : null, t.rm, t.rv, opts).y;
}

for (const [label, opts] of [
  ['pytorch', { variant: 'pytorch' }],
  ["darknet with darknetBackward 'exact'", { variant: 'darknet', darknetBackward: 'exact' }],
] as const) {
  test(`gradcheck: batchnorm2d ${label} backward (training through mean and variance, and eval) is exact in float64`, () => {
    fc.assert(
      fc.property(gradArb, (c) => {
        const t = gradInputs(c);
        const inputs = [t.x, ...(t.w ? [t.w, t.b!] : [])];
        assert.ok(gradcheck(bnFn(t, { ...opts, training: c.training }), inputs, { mode: 'full' }).ok);
      }),
      { numRuns: 25, seed: 22 },
    );
  });
}

/** Darknet's backward_batchnorm_layer in float64: r = sqrt(v + 1e-5f), dmean, dvar, dx (SEMANTICS README note). */
function darknetBackwardNaive(x: Float64Array, [N, C, H, W]: Shape4, gy: Float64Array, gamma: number[] | null): Float64Array {
  const st = channelStats(x, [N, C, H, W]);
  const n = N * H * W;
  const dx = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    const idx: number[] = [];
    for (let b = 0; b < N; b++) for (let k = 0; k < H * W; k++) idx.push((b * C + c) * H * W + k);
    const g = gamma ? gamma[c]! : 1;
    const m = st.mean[c]!;
    const v = st.unbiased[c]!;
    const r = Math.sqrt(v + DARKNET_BN_BACKWARD_EPS);
    const dmean = idx.reduce((s, i) => s + gy[i]! * g, 0) * (-1 / r);
    const dvar = idx.reduce((s, i) => s + gy[i]! * g * (x[i]! - m), 0) * -0.5 * Math.pow(v + DARKNET_BN_BACKWARD_EPS, -1.5);
    for (const i of idx) dx[i] = (gy[i]! * g) / r + (dvar * 2 * (x[i]! - m)) / n + dmean / n;
  }
  return dx;
}

test("batchnorm2d darknet variant's default backward is Darknet's own rule (matches a naive transcription) and gradcheck shows it is not the forward's derivative", () => {
  let mismatching = 0;
  fc.assert(
    fc.property(gradArb, (c) => {
      const t = gradInputs({ ...c, N: 2, H: 2, W: 2 });
      const gy = normals(t.x.size, new Rng(c.seed + 7));
      const y = batchnorm2d(t.x, t.w, t.b, t.rm, t.rv, { training: true, variant: 'darknet' }).y;
      y.backward(fromHost(gy, [...y.shape]));
      const gamma = t.w ? Array.from(t.w.data()) : null;
      const want = darknetBackwardNaive(Float64Array.from(t.x.data()), [...t.x.shape] as Shape4, gy, gamma);
      assertArraysClose(t.x.grad!.data(), want, 1e-12, 'darknet-rule dx');
      // dγ and dβ are exact in every rule: Σ gy·x̂ and Σ gy.
      if (t.b) assertArraysClose(t.b.grad!.data(), Array.from({ length: c.C }, (_, ch) => gy.filter((_, i) => Math.floor(i / 4) % c.C === ch).reduce((s, v) => s + v, 0)), 1e-12, 'dbias');
      const inputs = [t.x, ...(t.w ? [t.w, t.b!] : [])];
      t.x.zeroGrad();
      const res = gradcheck(bnFn(t, { training: true, variant: 'darknet' }), inputs, { mode: 'full', throwOnFailure: false });
      if (!res.ok) mismatching++;
    }),
    { numRuns: 10, seed: 23 },
  );
  assert.equal(mismatching, 10, 'Darknet rule should differ from the numerical derivative of its forward');
});

test('eval-mode backward uses the running statistics as they were at forward time', () => {
  const t = gradInputs({ N: 2, C: 3, H: 2, W: 2, affine: true, seed: 5 });
  const y = batchnorm2d(t.x, t.w, t.b, t.rm, t.rv, { training: false }).y;
  const rvBefore = Array.from(t.rv.data());
  // A later training call changes the buffers in place before this backward runs.
  batchnorm2d(t.x.detach(), null, null, t.rm, t.rv, { training: true });
  assert.notDeepEqual(Array.from(t.rv.data()), rvBefore);
  sum(mul(y, y)).backward();
  const xs = t.x.data();
  const ys = y.data();
  const g = t.w!.data();
  for (let i = 0; i < xs.length; i++) {
    const c = Math.floor(i / 4) % 3;
    const want = 2 * ys[i]! * (g[c]! / Math.sqrt(rvBefore[c]! + 1e-5));
    assert.ok(Math.abs(t.x.grad!.data()[i]! - want) < 1e-12, `dx[${i}]`);
  }
});

test('batchnorm2d rejects bad input with errors naming the shapes', () => {
  const x = fromHost(new Float32Array(2 * 3 * 2 * 2), [2, 3, 2, 2]);
  const one = fromHost(new Float32Array(3), [1, 3, 1, 1]);
  const c3 = (): Tensor => fromHost(new Float32Array(3), [3]);
  assert.throws(() => batchnorm2d(one, null, null, c3(), c3(), { training: true }), /batchnorm2d: training needs more than one value per channel, got input \[1, 3, 1, 1\]/);
  assert.throws(() => batchnorm2d(x, null, null, null, null, { training: false }), /eval mode .* needs runningMean and runningVar/);
  assert.throws(() => batchnorm2d(x, fromHost(new Float32Array(4), [4]), null, c3(), c3(), { training: true }), /weight must have shape \[3\] for input \[2, 3, 2, 2\], got \[4\]/);
  assert.throws(() => batchnorm2d(x, null, null, fromHost(new Float64Array(3), [3]), c3(), { training: true }), /runningMean is float64/);
  assert.throws(() => batchnorm2d(x, null, null, c3(), c3(), { training: true, darknetBackward: 'darknet' }), /needs variant 'darknet'/);
  assert.throws(() => batchnorm2d(fromHost(new Float32Array(6), [2, 3]), null, null, c3(), c3(), { training: true }), /rank 4, got \[2, 3\]/);
});

test('batchnorm2d forward+backward inside a scope leaves only the running buffers alive', () => {
  const rm = fromHost(new Float64Array(3), [3]);
  const rv = fromHost(new Float64Array([1, 1, 1]), [3]);
  const before = memoryInfo('cpu').tensors;
  scope(() => {
    const t = gradInputs({ N: 2, C: 3, H: 3, W: 2, affine: true, seed: 9 });
    for (const variant of ['pytorch', 'darknet'] as const) {
      const r = batchnorm2d(t.x, t.w, t.b, rm, rv, { training: true, variant });
      sum(mul(r.y, r.y)).backward();
      r.batchMean!.dispose();
      t.x.zeroGrad();
      t.w!.zeroGrad();
      t.b!.zeroGrad();
    }
  });
  assert.equal(memoryInfo('cpu').tensors, before);
});
