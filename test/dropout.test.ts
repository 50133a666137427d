// Dropout: the mask is the documented Philox stream (new Rng(seed), drop when u < p), survivors scaled by
// 1/(1-p) in the data type, identity at inference, backward through the same mask, seeded reproducibility.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { fromHost, memoryInfo, mul, Rng, scope, sum } from '../src/index.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { dropout } from '../src/tensor/ops/dropout.js';

function values(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** Expected mask from the spec: element k kept iff the k-th uniform of new Rng(seed) is >= p. */
function expectedKeep(n: number, seed: number, p: number): boolean[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.uniform() >= p);
}

test('training dropout keeps exactly the elements whose Rng(seed) uniform is >= p, scaled by float32(1/(1-p))', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.integer({ min: 1, max: 50 }), (seed, p, n) => {
      const xs = Float32Array.from(values(n * 3, seed));
      const x = fromHost(xs, [n, 3]);
      const y = dropout(x, p, { training: true, seed }).data();
      const keep = expectedKeep(n * 3, seed, p);
      const scale = Math.fround(1 / (1 - p));
      for (let k = 0; k < xs.length; k++) assert.equal(y[k], keep[k] ? Math.fround(xs[k]! * scale) : 0, `element ${k}`);
    }),
    { numRuns: 100, seed: 41 },
  );
});

test('the drop rate is p and the expectation is preserved (100k elements, within 5 sigma)', () => {
  const n = 100_000;
  const x = fromHost(new Float64Array(n).fill(1), [n]);
  for (const p of [0.1, 0.5, 0.8]) {
    const y = dropout(x, p, { training: true, seed: 1234 }).data();
    let dropped = 0;
    let total = 0;
    for (const v of y) {
      if (v === 0) dropped++;
      total += v;
    }
    const sigma = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(dropped - n * p) < 5 * sigma, `p=${p}: dropped ${dropped}`);
    assert.ok(Math.abs(total / n - 1) < (5 * sigma) / (n * (1 - p)), `p=${p}: mean ${total / n}`);
  }
});

test('same seed gives the same mask; an rng gives a fresh mask per call and advances by one uint32', () => {
  const x = fromHost(values(200, 3), [10, 20]);
  assert.deepEqual(dropout(x, 0.5, { training: true, seed: 7 }).toArray(), dropout(x, 0.5, { training: true, seed: 7 }).toArray());
  const rng = new Rng(99);
  const a = dropout(x, 0.5, { training: true, rng }).toArray();
  const b = dropout(x, 0.5, { training: true, rng }).toArray();
  assert.notDeepEqual(a, b);
  const probe = new Rng(99);
  assert.deepEqual(a, dropout(x, 0.5, { training: true, seed: probe.nextU32() }).toArray());
  assert.deepEqual(b, dropout(x, 0.5, { training: true, seed: probe.nextU32() }).toArray());
  assert.deepEqual(rng.state(), probe.state());
});

test('inference and p = 0 return the input itself; p = 1 drops everything', () => {
  const x = fromHost(values(12, 5), [3, 4]);
  assert.equal(dropout(x, 0.5, { training: false }), x);
  assert.equal(dropout(x, 0, { training: true, seed: 1 }), x);
  assert.deepEqual(dropout(x, 1, { training: true, seed: 1 }).toArray(), new Array(12).fill(0));
});

test('backward multiplies the upstream gradient by the same mask (0 or 1/(1-p))', () => {
  const xs = values(60, 8);
  const x = fromHost(xs, [3, 4, 5], { requiresGrad: true });
  const p = 0.3;
  const y = dropout(x, p, { training: true, seed: 2024 });
  const g = values(60, 9);
  y.backward(fromHost(g, [3, 4, 5]));
  const keep = expectedKeep(60, 2024, p);
  const grad = x.grad!.data();
  // === so that -0 (a negative gradient times a 0 mask) counts as 0.
  for (let k = 0; k < 60; k++) assert.ok(grad[k] === (keep[k] ? g[k]! * (1 / (1 - p)) : 0), `grad ${k}: ${grad[k]}`);
});

test('gradcheck: dropout with a fixed seed is exact in float64', () => {
  const x = fromHost(values(24, 10), [2, 3, 4], { requiresGrad: true });
  assert.ok(gradcheck((t) => dropout(t, 0.4, { training: true, seed: 77 }), [x], { mode: 'full' }).ok);
});

test('a non-contiguous input draws the mask in its logical row-major order', () => {
  const base = fromHost(values(12, 11), [3, 4]);
  const xt = base.transpose(0, 1);
  const y = dropout(xt, 0.5, { training: true, seed: 5 });
  const want = dropout(xt.contiguous(), 0.5, { training: true, seed: 5 });
  assert.deepEqual(y.toArray(), want.toArray());
});

test('dropout rejects bad arguments with clear errors', () => {
  const x = fromHost(values(4, 1), [4]);
  assert.throws(() => dropout(x, 1.5, { training: true, seed: 1 }), /dropout: probability must be in \[0, 1\], got 1.5/);
  assert.throws(() => dropout(x, 0.5, { training: true }), /dropout: training needs a mask source/);
  assert.throws(() => dropout(x, 0.5, { training: true, seed: -1 }), /seed must be an integer in \[0, 2\^32\)/);
  assert.throws(() => dropout(fromHost(new Int32Array(4), [4]), 0.5, { training: true, seed: 1 }), /dropout: expected a float tensor/);
});

test('dropout forward+backward inside a scope leaves no live tensors; without grad no mask is kept', () => {
  const before = memoryInfo('cpu').tensors;
  scope(() => {
    const x = fromHost(values(30, 12), [5, 6], { requiresGrad: true });
    sum(mul(dropout(x, 0.5, { training: true, seed: 3 }), 2)).backward();
    assert.equal(x.grad!.size, 30);
    x.zeroGrad();
  });
  assert.equal(memoryInfo('cpu').tensors, before);
  const x = fromHost(values(30, 12), [5, 6]);
  const mid = memoryInfo('cpu').tensors;
  const y = dropout(x, 0.5, { training: true, seed: 3 });
  assert.equal(memoryInfo('cpu').tensors, mid + 1, 'only the output is alive');
  y.dispose();
  x.dispose();
});
