// Max / average / global average pooling: PyTorch reference cases (torch-refs), Darknet's own maxpool
// layer dumps (bit for bit), property tests against naive float64 loops over kernel/stride/padding/
// dilation/ceil mode and odd, non-square sizes, and float64 gradchecks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

import { fromHost, memoryInfo, Rng, scope, type Tensor } from '../src/index.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { maxpool2d, maxpool2dDarknet, maxpool2dWithIndices, type MaxPool2dOptions } from '../src/tensor/ops/maxpool2d.js';
import { avgpool2d, globalAvgPool2d } from '../src/tensor/ops/avgpool2d.js';

import { DARKNET_REFS as darknetRefs, loadRef, readF32, type RefTensor } from './helpers/refs.js';

// ---- torch-refs helpers ----

function refTensor(r: RefTensor, requiresGrad = false): Tensor {
  return fromHost(Float32Array.from(r.data), r.shape, { requiresGrad });
}

/** README tolerance: |mine - ref| <= 1e-5*max(1, absmax) + 1e-4*|ref|. */
function assertMatchesRef(actual: Tensor, ref: RefTensor, absmax: number, label: string): void {
  assert.deepEqual([...actual.shape], ref.shape, `${label}: shape`);
  const a = actual.data();
  const want = Float32Array.from(ref.data);
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * Math.max(1, absmax) + 1e-4 * Math.abs(want[i]!);
    if (!(Math.abs(a[i]! - want[i]!) <= tol)) assert.fail(`${label}[${i}]: ${a[i]} vs reference ${want[i]} (tol ${tol})`);
  }
}

/** Forward with x from the case, backward with its gout; compares y and grad x. */
function checkRefCase(name: string, f: (x: Tensor) => Tensor): void {
  const c = loadRef(name);
  const x = refTensor(c.inputs['x']!, true);
  const y = f(x);
  assertMatchesRef(y, c.outputs['y']!, c.meta.absmax['out:y']!, `${name} y`);
  y.backward(refTensor(c.inputs['gout']!));
  assertMatchesRef(x.grad!, c.grads['x']!, c.meta.absmax['grad:x']!, `${name} grad x`);
}

// ---- naive float64 references ----

interface Geometry {
  N: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  top: number;
  left: number;
  bottom: number;
  right: number;
  OH: number;
  OW: number;
}

/** Tie-free values: a shuffled ramp with gaps of 0.05 plus jitter below 0.01 (gradcheck eps is 1e-6). */
function distinctValues(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const perm = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  return Float64Array.from(perm, (p) => (p - n / 2) * 0.05 + rng.uniform() * 0.01);
}

/** Max over in-range taps by definition; first maximum in scan order; empty window → (empty, -1). */
function naiveMaxpool(x: Float64Array, g: Geometry, empty: number): { y: Float64Array; idx: Int32Array } {
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  const idx = new Int32Array(y.length);
  let o = 0;
  for (let p = 0; p < g.N * g.C; p++) {
    for (let i = 0; i < g.OH; i++) {
      for (let j = 0; j < g.OW; j++) {
        let best = empty;
        let at = -1;
        for (let u = 0; u < g.kh; u++) {
          for (let v = 0; v < g.kw; v++) {
            const h = i * g.sh - g.top + u * g.dh;
            const w = j * g.sw - g.left + v * g.dw;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
            const val = x[p * g.H * g.W + h * g.W + w]!;
            if (at === -1 || val > best) {
              best = val;
              at = h * g.W + w;
            }
          }
        }
        y[o] = best;
        idx[o++] = at;
      }
    }
  }
  return { y, idx };
}

function naiveMaxpoolGrad(gout: Float64Array, idx: Int32Array, g: Geometry): Float64Array {
  const gx = new Float64Array(g.N * g.C * g.H * g.W);
  const per = g.OH * g.OW;
  for (let k = 0; k < gout.length; k++) {
    const p = Math.floor(k / per);
    if (idx[k]! >= 0) gx[p * g.H * g.W + idx[k]!] += gout[k]!;
  }
  return gx;
}

/** Divisor = window cells inside the padded image (countIncludePad) or inside the real image. */
function naiveAvgpool(x: Float64Array, gout: Float64Array | null, g: Geometry, countIncludePad: boolean): { y: Float64Array; gx: Float64Array } {
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  const gx = new Float64Array(x.length);
  let o = 0;
  for (let p = 0; p < g.N * g.C; p++) {
    for (let i = 0; i < g.OH; i++) {
      for (let j = 0; j < g.OW; j++) {
        const cells: number[] = [];
        let padded = 0;
        for (let u = 0; u < g.kh; u++) {
          for (let v = 0; v < g.kw; v++) {
            const h = i * g.sh - g.top + u;
            const w = j * g.sw - g.left + v;
            if (h >= -g.top && h < g.H + g.bottom && w >= -g.left && w < g.W + g.right) padded++;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) cells.push(p * g.H * g.W + h * g.W + w);
          }
        }
        const div = countIncludePad ? padded : cells.length;
        y[o] = cells.reduce((s, k) => s + x[k]!, 0) / div;
        if (gout) for (const k of cells) gx[k] += gout[o]! / div;
        o++;
      }
    }
  }
  return { y, gx };
}

/** PyTorch's output size written as the docs state it (ceil / floor of (in + 2p - d(k-1) - 1)/s, + 1). */
function torchOutSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = (n + 2 * p - d * (k - 1) - 1) / s;
  let out = (ceil ? Math.ceil(span) : Math.floor(span)) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

function assertArraysEqual(actual: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) if (!Object.is(actual[i], want[i])) assert.fail(`${label}[${i}]: ${actual[i]} vs ${want[i]}`);
}

function assertArraysClose(actual: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(actual[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) assert.fail(`${label}[${i}]: ${actual[i]} vs ${want[i]}`);
  }
}


// ---- PyTorch reference cases ----

test('maxpool2d k2 s2 matches torch-refs maxpool2d_1 (values and routed gradient)', () => {
  const c = loadRef('maxpool2d_1');
  assert.deepEqual([c.params['kernel_size'], c.params['stride'], c.params['padding'], c.params['ceil_mode']], [2, 2, 0, false]);
  checkRefCase('maxpool2d_1', (x) => maxpool2d(x, { kernel: 2, stride: 2, padding: 0 }));
});

test("maxpool2d with darknetPad [0,1,0,1] and maxpool2dDarknet(2, 1) match torch-refs maxpool2d_darknet_1 (13x13 stays 13x13)", () => {
  const c = loadRef('maxpool2d_darknet_1');
  assert.deepEqual(c.params['pad'], [0, 1, 0, 1]);
  checkRefCase('maxpool2d_darknet_1', (x) => maxpool2d(x, { kernel: 2, stride: 1, darknetPad: [0, 1, 0, 1] }));
  checkRefCase('maxpool2d_darknet_1', (x) => {
    const y = maxpool2dDarknet(x, 2, 1);
    assert.ok(y.toArray().every((v) => Number.isFinite(v)), 'padded cells never win');
    return y;
  });
});

test('avgpool2d k2 s2 matches torch-refs avgpool2d_1', () => {
  const c = loadRef('avgpool2d_1');
  checkRefCase('avgpool2d_1', (x) =>
    avgpool2d(x, {
      kernel: c.params['kernel_size'] as number,
      stride: c.params['stride'] as number,
      padding: c.params['padding'] as number,
      countIncludePad: c.params['count_include_pad'] as boolean,
      ceilMode: c.params['ceil_mode'] as boolean,
    }),
  );
});

test('globalAvgPool2d matches torch-refs global_avgpool_1 ([2,5,7,9] -> [2,5,1,1])', () => {
  checkRefCase('global_avgpool_1', (x) => globalAvgPool2d(x));
});

// ---- Darknet dumps ----

for (const caseName of ['yolov2-tiny-voc_96x96', 'yolov1-tiny_128x128']) {
  test(`maxpool2dDarknet reproduces every maxpool layer of Darknet's ${caseName} dump bit for bit`, () => {
    const dir = join(darknetRefs, caseName);
    const layers = (JSON.parse(readFileSync(join(dir, 'layers.json'), 'utf8')) as { layers: Record<string, number | string>[] }).layers;
    const files = readFileSync(join(dir, 'case.json'), 'utf8');
    let checked = 0;
    for (const l of layers) {
      if (l['type'] !== 'maxpool') continue;
      const idx = l['index'] as number;
      const pad2 = (n: number): string => String(n).padStart(2, '0');
      const prev = layers[idx - 1]!;
      const inFile = join(dir, `L${pad2(idx - 1)}_${prev['type'] as string}.f32`);
      const outFile = join(dir, `L${pad2(idx)}_maxpool.f32`);
      assert.ok(existsSync(inFile) && existsSync(outFile) && files.includes(`L${pad2(idx)}_maxpool.f32`), `dumps of layer ${idx}`);
      const [c, h, w] = [l['c'] as number, l['h'] as number, l['w'] as number];
      const x = fromHost(readF32(inFile), [1, c, h, w]);
      const y = maxpool2dDarknet(x, l['size'] as number, l['stride'] as number, l['pad'] as number);
      assert.deepEqual([...y.shape], [1, l['out_c'], l['out_h'], l['out_w']], `layer ${idx} shape`);
      assertArraysEqual(y.data(), readF32(outFile), `${caseName} L${idx}`);
      checked++;
    }
    assert.equal(checked, 6);
  });
}

// ---- output sizes and errors ----

test('output sizes: 13x13 k2 s2 gives 6x6 (floor) and 7x7 (ceil); Darknet size 2 rounds odd inputs up and keeps the size at stride 1', () => {
  const x = fromHost(distinctValues(2 * 13 * 11, 1), [1, 2, 13, 11]);
  assert.deepEqual([...maxpool2d(x, { kernel: 2, stride: 2 }).shape], [1, 2, 6, 5]);
  assert.deepEqual([...maxpool2d(x, { kernel: 2, stride: 2, ceilMode: true }).shape], [1, 2, 7, 6]);
  assert.deepEqual([...avgpool2d(x, { kernel: 3, stride: 2, padding: 1, ceilMode: true }).shape], [1, 2, 7, 6]);
  assert.deepEqual([...maxpool2dDarknet(x, 2, 2).shape], [1, 2, 7, 6]);
  assert.deepEqual([...maxpool2dDarknet(x, 2, 1).shape], [1, 2, 13, 11]);
  assert.deepEqual([...maxpool2dDarknet(x, 3, 1).shape], [1, 2, 13, 11]);
  // The last window of a 5-wide input at size 2 stride 2 holds one real column.
  const r = fromHost(Float64Array.from({ length: 5 }, (_, i) => i + 1), [1, 1, 1, 5]);
  assert.deepEqual(maxpool2dDarknet(r, 2, 2).toArray(), [2, 4, 5]);
});

test('bad pooling arguments throw errors that name the op and the sizes', () => {
  const x = fromHost(distinctValues(36, 2), [1, 1, 6, 6]);
  assert.throws(() => maxpool2d(x, { kernel: 2, padding: 2 }), /maxpool2d: padding 2x2 must be at most half/);
  assert.throws(() => maxpool2d(x, { kernel: 7 }), /maxpool2d: output size .* too small for input 6x6/);
  assert.throws(() => maxpool2d(x, { kernel: 0 }), /maxpool2d: kernel must be positive/);
  assert.throws(() => maxpool2d(x, { kernel: 2, darknetPad: [0, 1, 0, 1], ceilMode: true }), /darknetPad excludes/);
  assert.throws(() => avgpool2d(x, { kernel: 3, padding: 2 }), /avgpool2d: padding 2x2 must be at most half the kernel 3x3/);
  assert.throws(() => maxpool2d(fromHost(new Float32Array(6), [6]), { kernel: 2 }), /maxpool2d: expected an NCHW input of rank 4, got \[6\]/);
  assert.throws(() => maxpool2d(fromHost(new Int32Array(36), [1, 1, 6, 6]), { kernel: 2 }), /maxpool2d: expected a float tensor/);
});

// ---- properties against naive references ----

const poolArb = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 7 }),
  W: fc.integer({ min: 1, max: 7 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 3 }),
  sw: fc.integer({ min: 1, max: 3 }),
  dh: fc.integer({ min: 1, max: 2 }),
  dw: fc.integer({ min: 1, max: 2 }),
  ph: fc.integer({ min: 0, max: 2 }),
  pw: fc.integer({ min: 0, max: 2 }),
  ceil: fc.boolean(),
  // 0 (one run in five): padding as drawn, often more than PyTorch accepts; else clipped to half the kernel.
  rawPad: fc.integer({ min: 0, max: 4 }),
  seed: fc.integer({ min: 0, max: 1 << 30 }),
});

type PoolCfg = typeof poolArb extends fc.Arbitrary<infer T> ? T : never;

/** The config with padding clipped to half the (dilated) kernel unless rawPad is 0; dilation 1 unless `dilated`. */
function torchCfg(c: PoolCfg, dilated: boolean): PoolCfg {
  const [dh, dw] = dilated ? [c.dh, c.dw] : [1, 1];
  if (c.rawPad === 0) return { ...c, dh, dw };
  return { ...c, dh, dw, ph: Math.min(c.ph, Math.floor((dh * (c.kh - 1) + 1) / 2)), pw: Math.min(c.pw, Math.floor((dw * (c.kw - 1) + 1) / 2)) };
}

/** PyTorch geometry of a config, or null when PyTorch rejects it (padding > half kernel, empty output). */
function torchGeometry(c: PoolCfg): Geometry | null {
  const { dh, dw } = c;
  const ekh = dh * (c.kh - 1) + 1;
  const ekw = dw * (c.kw - 1) + 1;
  if (2 * c.ph > ekh || 2 * c.pw > ekw) return null;
  const OH = torchOutSize(c.H, c.kh, c.sh, c.ph, dh, c.ceil);
  const OW = torchOutSize(c.W, c.kw, c.sw, c.pw, dw, c.ceil);
  if (OH < 1 || OW < 1) return null;
  return { N: c.N, C: c.C, H: c.H, W: c.W, kh: c.kh, kw: c.kw, sh: c.sh, sw: c.sw, dh, dw, top: c.ph, left: c.pw, bottom: c.ph, right: c.pw, OH, OW };
}

test('maxpool2d (PyTorch semantics) equals a naive float64 max over kernel/stride/padding/dilation/ceil, values, indices and gradient', () => {
  let valid = 0;
  fc.assert(
    fc.property(poolArb, (drawn) => {
      const c = torchCfg(drawn, true);
      const g = torchGeometry(c);
      const opts: MaxPool2dOptions = { kernel: [c.kh, c.kw], stride: [c.sh, c.sw], padding: [c.ph, c.pw], dilation: [c.dh, c.dw], ceilMode: c.ceil };
      const xs = distinctValues(c.N * c.C * c.H * c.W, c.seed);
      const x = fromHost(xs, [c.N, c.C, c.H, c.W], { requiresGrad: true });
      if (g === null) {
        assert.throws(() => maxpool2d(x, opts), /maxpool2d: (padding|output size)/);
        return;
      }
      valid++;
      const ref = naiveMaxpool(xs, g, -Infinity);
      const { values, indices } = maxpool2dWithIndices(x, opts);
      assert.deepEqual([...values.shape], [g.N, g.C, g.OH, g.OW]);
      assertArraysEqual(values.data(), ref.y, 'values');
      assertArraysEqual(indices.data(), ref.idx, 'indices');
      const gout = distinctValues(ref.y.length, c.seed + 1);
      values.backward(fromHost(gout, [...values.shape]));
      assertArraysClose(x.grad!.data(), naiveMaxpoolGrad(gout, ref.idx, g), 1e-15, 'grad');
    }),
    { numRuns: 150, seed: 11 },
  );
  assert.ok(valid >= 90, `only ${valid} of 150 configs were valid`);
});

test('maxpool2d with Darknet padding (size-1 split (size-1)/2 left/top, rest right/bottom) equals the naive max, float32 and float64', () => {
  fc.assert(
    fc.property(poolArb, (c) => {
      const size = c.kh + 1; // 2..4
      const padding = size - 1;
      const lo = Math.floor(padding / 2);
      const OH = Math.floor((c.H + padding - size) / c.sh) + 1;
      const OW = Math.floor((c.W + padding - size) / c.sh) + 1; // maxpool2dDarknet has one stride
      const g: Geometry = { N: c.N, C: c.C, H: c.H, W: c.W, kh: size, kw: size, sh: c.sh, sw: c.sh, dh: 1, dw: 1, top: lo, left: lo, bottom: padding - lo, right: padding - lo, OH, OW };
      const xs = distinctValues(c.N * c.C * c.H * c.W, c.seed);
      const ref = naiveMaxpool(xs, g, -3.4028234663852886e38);
      for (const host of [xs, Float32Array.from(xs)]) {
        const x = fromHost(host, [c.N, c.C, c.H, c.W], { requiresGrad: true });
        const y = maxpool2dDarknet(x, size, c.sh);
        assert.deepEqual([...y.shape], [c.N, c.C, OH, OW]);
        assertArraysEqual(y.data(), host instanceof Float32Array ? Float32Array.from(ref.y) : ref.y, `darknet size ${size} stride ${c.sh}`);
        const gout = distinctValues(ref.y.length, c.seed + 1);
        y.backward(fromHost(host instanceof Float32Array ? Float32Array.from(gout) : gout, [...y.shape]));
        const want = naiveMaxpoolGrad(host instanceof Float32Array ? Float64Array.from(Float32Array.from(gout)) : gout, ref.idx, g);
        assertArraysClose(x.grad!.data(), want, 1e-6, 'darknet grad');
      }
    }),
    { numRuns: 100, seed: 12 },
  );
});

test('avgpool2d equals a naive float64 average (countIncludePad true/false, ceil mode, padding, non-square)', () => {
  let valid = 0;
  fc.assert(
    fc.property(poolArb, fc.boolean(), (drawn, includePad) => {
      const c = torchCfg(drawn, false);
      const g = torchGeometry(c);
      const opts = { kernel: [c.kh, c.kw] as const, stride: [c.sh, c.sw] as const, padding: [c.ph, c.pw] as const, ceilMode: c.ceil, countIncludePad: includePad };
      const xs = distinctValues(c.N * c.C * c.H * c.W, c.seed);
      const x = fromHost(xs, [c.N, c.C, c.H, c.W], { requiresGrad: true });
      if (g === null) {
        assert.throws(() => avgpool2d(x, opts), /avgpool2d: (padding|output size)/);
        return;
      }
      valid++;
      const gout = distinctValues(g.N * g.C * g.OH * g.OW, c.seed + 1);
      const ref = naiveAvgpool(xs, gout, g, includePad);
      const y = avgpool2d(x, opts);
      assert.deepEqual([...y.shape], [g.N, g.C, g.OH, g.OW]);
      assertArraysClose(y.data(), ref.y, 1e-14, 'avg');
      y.backward(fromHost(gout, [...y.shape]));
      assertArraysClose(x.grad!.data(), ref.gx, 1e-14, 'avg grad');
    }),
    { numRuns: 150, seed: 13 },
  );
  assert.ok(valid >= 90, `only ${valid} of 150 configs were valid`);
});

// ---- gradchecks (float64, full Jacobian) ----

test('gradcheck: maxpool2d (PyTorch and Darknet padding) backward is the derivative of the forward away from ties', () => {
  let checked = 0;
  fc.assert(
    fc.property(poolArb, (c) => {
      const small = torchCfg({ ...c, rawPad: 1, N: 1, H: Math.min(c.H + 1, 6), W: Math.min(c.W + 2, 6) }, true);
      const xs = distinctValues(small.C * small.H * small.W, c.seed);
      const x = fromHost(xs, [1, small.C, small.H, small.W], { requiresGrad: true });
      const g = torchGeometry(small);
      if (g !== null && naiveMaxpool(xs, g, -Infinity).idx.every((i) => i >= 0)) {
        const opts: MaxPool2dOptions = { kernel: [c.kh, c.kw], stride: [c.sh, c.sw], padding: [small.ph, small.pw], dilation: [c.dh, c.dw], ceilMode: c.ceil };
        assert.ok(gradcheck((t) => maxpool2d(t, opts), [x], { mode: 'full' }).ok);
        checked++;
      }
      assert.ok(gradcheck((t) => maxpool2dDarknet(t, c.kh + 1, c.sh), [x], { mode: 'full' }).ok);
    }),
    { numRuns: 25, seed: 14 },
  );
  assert.ok(checked >= 15, `only ${checked} of 25 PyTorch configs checked`);
});

test('gradcheck: avgpool2d and globalAvgPool2d backward (float64, both countIncludePad settings)', () => {
  fc.assert(
    fc.property(poolArb, fc.boolean(), (c, includePad) => {
      const small = torchCfg({ ...c, rawPad: 1, N: 1, H: Math.min(c.H + 1, 6), W: Math.min(c.W + 2, 6) }, false);
      const x = fromHost(distinctValues(small.C * small.H * small.W, c.seed), [1, small.C, small.H, small.W], { requiresGrad: true });
      if (torchGeometry(small) !== null) {
        const opts = { kernel: [c.kh, c.kw] as const, stride: [c.sh, c.sw] as const, padding: [small.ph, small.pw] as const, ceilMode: c.ceil, countIncludePad: includePad };
        assert.ok(gradcheck((t) => avgpool2d(t, opts), [x], { mode: 'full' }).ok);
      }
      assert.ok(gradcheck((t) => globalAvgPool2d(t), [x], { mode: 'full' }).ok);
    }),
    { numRuns: 20, seed: 15 },
  );
});

test('pooling forward+backward inside a scope leaves no live tensors behind', () => {
  const before = memoryInfo('cpu').tensors;
  scope(() => {
    const x = fromHost(distinctValues(2 * 3 * 9 * 7, 3), [2, 3, 9, 7], { requiresGrad: true });
    const y = maxpool2d(x, { kernel: 3, stride: 2, padding: 1, ceilMode: true });
    const z = avgpool2d(y, { kernel: 2, stride: 1, countIncludePad: false });
    const s = globalAvgPool2d(maxpool2dDarknet(z, 2, 1)).sum();
    s.backward();
    assert.equal(x.grad!.shape.length, 4);
    x.zeroGrad();
  });
  assert.equal(memoryInfo('cpu').tensors, before);
});
