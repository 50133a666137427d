// Space-to-depth orders: PyTorch reference cases (pixel_unshuffle, reorg_ardi), Darknet's [reorg] order
// as SEMANTICS.md 6.5 states it (numpy reshape/transpose and the index formula), inverse permutations as
// backward, property tests over strides and odd channel counts, float64 gradchecks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { arange, fromHost, memoryInfo, mul, Rng, scope, sum, type Tensor } from '../src/index.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { pixelShuffle, pixelUnshuffle, reorg, reorgArdi, reorgDarknet, reorgInverse, type ReorgMode } from '../src/tensor/ops/reorg.js';

import { loadRef } from './helpers/refs.js';

function assertArraysEqual(actual: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) if (!Object.is(actual[i], want[i])) assert.fail(`${label}[${i}]: ${actual[i]} vs ${want[i]}`);
}

/** numpy-style: view flat `data` as `shape`, permute axes by `perm`, return the flat row-major result. */
function transposeFlat(data: ArrayLike<number>, shape: number[], perm: number[]): Float64Array {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]!);
  const out = new Float64Array(data.length);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += idx[d]! * strides[perm[d]!]!;
    out[k] = data[src]!;
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** The three orders written as reshape + transpose of the flat input (independent of the kernel's index math). */
function reference(mode: ReorgMode, x: ArrayLike<number>, [B, C, H, W]: number[], s: number): Float64Array {
  const h = H / s;
  const w = W / s;
  if (mode === 'pixel_unshuffle') return transposeFlat(x, [B, C, h, s, w, s], [0, 1, 3, 5, 2, 4]);
  if (mode === 'ardi') return transposeFlat(x, [B, C, h, s, w, s], [0, 3, 5, 1, 2, 4]);
  // SEMANTICS.md 6.5: per batch item X.reshape(C/s², H, s, W, s).transpose(2, 4, 0, 1, 3).
  return transposeFlat(x, [B, C / (s * s), H, s, W, s], [0, 3, 5, 1, 2, 4]);
}

function values(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

test('pixelUnshuffle(x, 2) matches torch-refs pixel_unshuffle_1 (values and gradient)', () => {
  const c = loadRef('pixel_unshuffle_1');
  const x = fromHost(Float32Array.from(c.inputs['x']!.data), c.inputs['x']!.shape, { requiresGrad: true });
  const y = pixelUnshuffle(x, c.params['downscale_factor'] as number);
  assert.deepEqual([...y.shape], c.outputs['y']!.shape);
  assertArraysEqual(y.data(), Float32Array.from(c.outputs['y']!.data), 'y');
  y.backward(fromHost(Float32Array.from(c.inputs['gout']!.data), c.inputs['gout']!.shape));
  assertArraysEqual(x.grad!.data(), Float32Array.from(c.grads['x']!.data), 'grad x');
});

test('reorgArdi(x, 2) matches torch-refs reorg_ardi_1 (values and gradient)', () => {
  const c = loadRef('reorg_ardi_1');
  const x = fromHost(Float32Array.from(c.inputs['x']!.data), c.inputs['x']!.shape, { requiresGrad: true });
  const y = reorgArdi(x, c.params['stride'] as number);
  assert.deepEqual([...y.shape], c.outputs['y']!.shape);
  assertArraysEqual(y.data(), Float32Array.from(c.outputs['y']!.data), 'y');
  y.backward(fromHost(Float32Array.from(c.inputs['gout']!.data), c.inputs['gout']!.shape));
  assertArraysEqual(x.grad!.data(), Float32Array.from(c.grads['x']!.data), 'grad x');
});

test("reorgDarknet follows SEMANTICS.md 6.5's index formula on a 64x6x6 input (yolov2-voc layer 27 at 192x192) -> 256x3x3", () => {
  const [C, H, W] = [64, 6, 6];
  const xs = values(C * H * W, 1);
  const y = reorgDarknet(fromHost(xs, [1, C, H, W]));
  assert.deepEqual([...y.shape], [1, 256, 3, 3]);
  const out = y.data();
  // X' = the flat input read as [C/4, 2H, 2W]; out[off*(C/4)*H*W + c2*H*W + j*W + i] = X'[c2][2j + off/2][2i + off%2].
  for (let off = 0; off < 4; off++)
    for (let c2 = 0; c2 < C / 4; c2++)
      for (let j = 0; j < H; j++)
        for (let i = 0; i < W; i++) {
          const src = (c2 * 2 * H + (2 * j + Math.floor(off / 2))) * 2 * W + 2 * i + (off % 2);
          assert.equal(out[off * (C / 4) * H * W + c2 * H * W + j * W + i], xs[src], `off ${off} c2 ${c2} j ${j} i ${i}`);
        }
  // ... and is neither of the true-tensor orders.
  assert.notDeepEqual(Array.from(out), Array.from(pixelUnshuffle(fromHost(xs, [1, C, H, W]), 2).data()));
  assert.notDeepEqual(Array.from(out), Array.from(reorgArdi(fromHost(xs, [1, C, H, W]), 2).data()));
});

test('reorgDarknet on arange(64) as [1,16,2,2] gives the order numpy gives for the SEMANTICS reshape/transpose', () => {
  const y = reorgDarknet(arange(0, 64).reshape(1, 16, 2, 2));
  assert.deepEqual([...y.shape], [1, 64, 1, 1]);
  // numpy: np.arange(64).reshape(4, 2, 2, 2, 2).transpose(2, 4, 0, 1, 3).reshape(-1)
  const want = [0, 2, 8, 10, 16, 18, 24, 26, 32, 34, 40, 42, 48, 50, 56, 58, 1, 3, 9, 11, 17, 19, 25, 27, 33, 35, 41, 43, 49, 51, 57, 59, 4, 6, 12, 14, 20, 22, 28, 30, 36, 38, 44, 46, 52, 54, 60, 62, 5, 7, 13, 15, 21, 23, 29, 31, 37, 39, 45, 47, 53, 55, 61, 63];
  assert.deepEqual(y.toArray(), want);
});

const reorgArb = fc
  .record({
    mode: fc.constantFrom('darknet' as const, 'pixel_unshuffle' as const, 'ardi' as const),
    s: fc.integer({ min: 1, max: 3 }),
    B: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 5 }),
    h: fc.integer({ min: 1, max: 3 }),
    w: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 0, max: 1 << 30 }),
  })
  .map((r) => ({ ...r, C: r.mode === 'darknet' ? r.c * r.s * r.s : r.c, H: r.h * r.s, W: r.w * r.s }));

test('every mode equals its reshape/transpose reference; the backward is the inverse permutation; reorgInverse undoes reorg', () => {
  fc.assert(
    fc.property(reorgArb, ({ mode, s, B, C, H, W, seed }) => {
      const shape = [B, C, H, W];
      const xs = values(B * C * H * W, seed);
      const x = fromHost(xs, shape, { requiresGrad: true });
      const y = reorg(x, s, mode);
      assert.deepEqual([...y.shape], [B, C * s * s, H / s, W / s]);
      const want = reference(mode, xs, shape, s);
      assertArraysEqual(y.data(), want, `${mode} s=${s}`);
      // d(Σ g·y)/dx[k] = g at the output position that holds x[k].
      const gs = values(y.size, seed + 1);
      y.backward(fromHost(gs, [...y.shape]));
      const pos = reference(mode, Float64Array.from({ length: xs.length }, (_, k) => k), shape, s);
      const gradWant = new Float64Array(xs.length);
      pos.forEach((k, o) => (gradWant[k] = gs[o]!));
      assertArraysEqual(x.grad!.data(), gradWant, `${mode} grad`);
      assertArraysEqual(reorgInverse(y, s, mode).data(), xs, `${mode} inverse`);
    }),
    { numRuns: 120, seed: 31 },
  );
});

test('pixelShuffle inverts pixelUnshuffle, float32', () => {
  const x = fromHost(Float32Array.from(values(2 * 3 * 6 * 4, 4)), [2, 3, 6, 4]);
  const y = pixelUnshuffle(x, 2);
  assert.deepEqual([...y.shape], [2, 12, 3, 2]);
  assertArraysEqual(pixelShuffle(y, 2).data(), x.data(), 'round trip');
});

test('gradcheck: reorg (all modes) and reorgInverse backward are exact in float64', () => {
  fc.assert(
    fc.property(reorgArb, ({ mode, s, C, H, W, seed }) => {
      if (C * H * W > 72) return;
      const x = fromHost(values(C * H * W, seed), [1, C, H, W], { requiresGrad: true });
      assert.ok(gradcheck((t) => reorg(t, s, mode), [x], { mode: 'full' }).ok);
      const y = fromHost(values(C * H * W, seed), [1, C * s * s, H / s, W / s], { requiresGrad: true });
      // Second order through the recorded inverse: reorg(reorgInverse(y)) is the identity map.
      assert.ok(gradcheck((t) => mul(reorgInverse(t, s, mode), reorgInverse(t, s, mode)), [y], { mode: 'full' }).ok);
    }),
    { numRuns: 30, seed: 32 },
  );
});

test('reorg rejects shapes it cannot rearrange, naming the shapes', () => {
  assert.throws(() => reorgDarknet(fromHost(new Float32Array(2 * 4 * 4), [1, 2, 4, 4])), /Darknet's reorg needs channels divisible by stride² = 4, got \[1, 2, 4, 4\]/);
  assert.throws(() => pixelUnshuffle(fromHost(new Float32Array(3 * 5 * 4), [1, 3, 5, 4]), 2), /height and width of \[1, 3, 5, 4\] must be multiples of the stride 2/);
  assert.throws(() => reorgArdi(fromHost(new Float32Array(12), [3, 4]), 2), /rank 4, got \[3, 4\]/);
  assert.throws(() => pixelShuffle(fromHost(new Float32Array(6), [1, 6, 1, 1]), 2), /channels of \[1, 6, 1, 1\] must be a multiple of stride² = 4/);
  assert.throws(() => reorg(fromHost(new Float32Array(4), [1, 1, 2, 2]), 0, 'ardi'), /stride must be a positive integer/);
});

test('reorg forward+backward inside a scope leaves no live tensors behind', () => {
  const before = memoryInfo('cpu').tensors;
  scope(() => {
    const leaf = fromHost(values(2 * 8 * 4 * 4, 5), [2, 8, 4, 4], { requiresGrad: true });
    const x: Tensor = leaf.transpose(2, 3);
    sum(mul(reorgDarknet(x), pixelUnshuffle(x, 2))).backward();
    assert.equal(leaf.grad!.size, 256);
    leaf.zeroGrad();
  });
  assert.equal(memoryInfo('cpu').tensors, before);
});
