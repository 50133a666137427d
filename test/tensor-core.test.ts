// Tensor core: dtypes, shape/strides/offset, views that share storage (and the ones that must copy or
// fail), contiguous(), creation functions, and the seeded random streams.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  arange,
  broadcastTo,
  cast,
  clone,
  contiguous,
  empty,
  expand,
  flatten,
  fromHost,
  full,
  narrow,
  ones,
  permute,
  rand,
  randn,
  reshape,
  Rng,
  select,
  squeeze,
  tensor,
  transpose,
  unsqueeze,
  view,
  zeros,
  zerosLike,
  onesLike,
  fullLike,
  exp,
  getDevice,
} from '../src/index.js';
import { philox4x32 } from '../src/tensor/random.js';
import { runs, shapeArb } from './helpers/arb.js';
import { assertThrowsMatching, assertValues } from './helpers/check.js';

// ---------------------------------------------------------------------------------------------
// dtypes

test('dtypes: float32/float64/int32 are backed by Float32Array/Float64Array/Int32Array', () => {
  const f32 = zeros([2, 3]);
  const f64 = zeros([2, 3], { dtype: 'float64' });
  const i32 = zeros([2, 3], { dtype: 'int32' });
  assert.equal(f32.dtype, 'float32');
  assert.ok(f32.storage.cpuArray instanceof Float32Array);
  assert.ok(f64.storage.cpuArray instanceof Float64Array);
  assert.ok(i32.storage.cpuArray instanceof Int32Array);
  assert.equal(f32.storage.bytes, 24);
  assert.equal(f64.storage.bytes, 48);
  assert.equal(i32.storage.bytes, 24);
  assert.ok(f32.data() instanceof Float32Array);
  assert.ok(f64.data() instanceof Float64Array);
  assert.ok(i32.data() instanceof Int32Array);
});

test('dtypes: float32 rounds, float64 keeps full precision, int32 truncates on cast', () => {
  assert.equal(tensor([0.1]).item(), Math.fround(0.1));
  assert.equal(tensor([0.1], { dtype: 'float64' }).item(), 0.1);
  assertValues(cast(tensor([1.9, -1.9, 2.5], { dtype: 'float64' }), 'int32'), [3], [1, -1, 2]);
  const c = cast(tensor([1, 2, 3], { dtype: 'int32' }), 'float64');
  assert.equal(c.dtype, 'float64');
  assertValues(c, [3], [1, 2, 3]);
  // casting to the same dtype is the identity (no copy)
  const x = tensor([1, 2]);
  assert.equal(cast(x, 'float32'), x);
});

test('dtypes: int32 tensors cannot require grad and float-only ops reject them', () => {
  const i = tensor([1, 2], { dtype: 'int32' });
  assertThrowsMatching(() => i.requireGrad(), 'int32 tensors cannot require gradients');
  assertThrowsMatching(() => exp(i), 'exp', 'expected a float tensor, got int32 [2]');
});

// ---------------------------------------------------------------------------------------------
// shape / strides / offset

test('shape, strides, offset, ndim, size of a fresh tensor are row-major contiguous', () => {
  const x = zeros([2, 3, 4]);
  assert.deepEqual([...x.shape], [2, 3, 4]);
  assert.deepEqual([...x.strides], [12, 4, 1]);
  assert.equal(x.offset, 0);
  assert.equal(x.ndim, 3);
  assert.equal(x.size, 24);
  assert.ok(x.isContiguous());
  const s = zeros([]);
  assert.equal(s.ndim, 0);
  assert.equal(s.size, 1);
  assert.deepEqual([...s.strides], []);
  const e = zeros([3, 0]);
  assert.equal(e.size, 0);
  assert.deepEqual(e.toArray(), []);
});

test('shape and strides are frozen (a view cannot be mutated into an invalid layout)', () => {
  const x = zeros([2, 3]);
  assert.ok(Object.isFrozen(x.shape));
  assert.ok(Object.isFrozen(x.strides));
});

test('negative or fractional dims are rejected with the shape in the message', () => {
  assertThrowsMatching(() => zeros([2, -1]), '[2, -1]', 'non-negative integers');
  assertThrowsMatching(() => zeros([1.5]), '[1.5]');
});

// ---------------------------------------------------------------------------------------------
// views

test('reshape/view of a contiguous tensor share storage (no copy) and keep values', () => {
  const x = arange(12);
  const r = reshape(x, [3, 4]);
  const v = view(x, [2, -1, 2]);
  assert.equal(r.storage, x.storage);
  assert.equal(v.storage, x.storage);
  assert.deepEqual([...r.strides], [4, 1]);
  assert.deepEqual([...v.shape], [2, 3, 2]);
  assert.deepEqual([...v.strides], [6, 2, 1]);
  assert.deepEqual(v.toArray(), x.toArray());
  // writes through the storage are seen by every view
  (x.storage.cpuArray as Float32Array)[5] = 100;
  assert.equal(r.toArray()[5], 100);
  assert.equal(v.toArray()[5], 100);
  // method sugar takes varargs
  assert.deepEqual([...x.view(4, 3).shape], [4, 3]);
  assert.deepEqual([...x.reshape(-1, 6).shape], [2, 6]);
});

test('view of a non-contiguous tensor fails (naming the shapes) where reshape copies', () => {
  const x = reshape(arange(6), [2, 3]);
  const t = transpose(x, 0, 1); // [3, 2] strides [1, 3]
  assert.ok(!t.isContiguous());
  assertThrowsMatching(() => view(t, [6]), 'view', '[6]', '[3, 2]', 'reshape()');
  const r = reshape(t, [6]);
  assert.notEqual(r.storage, x.storage, 'reshape of a transposed tensor must copy');
  assert.deepEqual(r.toArray(), [0, 3, 1, 4, 2, 5]);
  assert.ok(r.isContiguous());
});

test('view of a non-contiguous tensor works when the layout allows it (split a strided dim)', () => {
  const x = reshape(arange(24), [4, 6]);
  const n = narrow(x, 1, 1, 4); // [4, 4] strides [6, 1] offset 1
  assert.ok(!n.isContiguous());
  const v = view(n, [2, 2, 4]);
  assert.equal(v.storage, x.storage);
  assert.deepEqual([...v.strides], [12, 6, 1]);
  assert.equal(v.offset, 1);
  assert.deepEqual(v.toArray(), n.toArray());
  assertThrowsMatching(() => view(n, [16]), 'incompatible with the strides');
});

test('reshape errors: wrong size, two -1, -1 that cannot be inferred', () => {
  const x = arange(6);
  assertThrowsMatching(() => reshape(x, [4, 2]), '[4, 2]', 'size 6');
  assertThrowsMatching(() => reshape(x, [-1, -1]), 'only one dimension can be -1');
  assertThrowsMatching(() => reshape(x, [4, -1]), 'cannot infer -1');
});

test('permute/transpose are views with permuted strides; values follow the index mapping', () => {
  const x = reshape(arange(24), [2, 3, 4]);
  const p = permute(x, [2, 0, 1]);
  assert.equal(p.storage, x.storage);
  assert.deepEqual([...p.shape], [4, 2, 3]);
  assert.deepEqual([...p.strides], [1, 12, 4]);
  // p[k, i, j] = x[i, j, k] = 12 i + 4 j + k
  const vals = p.toArray();
  for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) assert.equal(vals[k * 6 + i * 3 + j], 12 * i + 4 * j + k);
  const t = x.transpose(0, -1);
  assert.deepEqual([...t.shape], [4, 3, 2]);
  assert.deepEqual([...t.strides], [1, 4, 12]);
  assert.deepEqual([...x.T.shape], [2, 4, 3]);
  assertThrowsMatching(() => permute(x, [0, 0, 1]), 'repeated dim');
  assertThrowsMatching(() => permute(x, [0, 1]), '2 dims given for a tensor of rank 3');
  assertThrowsMatching(() => transpose(x, 0, 3), 'dim 3 out of range for a tensor of rank 3');
});

test('narrow/select are views at an offset; out-of-range is an error naming the dim', () => {
  const x = reshape(arange(12), [3, 4]);
  const n = narrow(x, 1, 1, 2);
  assert.equal(n.storage, x.storage);
  assert.equal(n.offset, 1);
  assert.deepEqual([...n.strides], [4, 1]);
  assertValues(n, [3, 2], [1, 2, 5, 6, 9, 10]);
  const rowNeg = narrow(x, 0, -1, 1); // negative start counts from the end
  assertValues(rowNeg, [1, 4], [8, 9, 10, 11]);
  const s = select(x, 0, 2);
  assert.equal(s.storage, x.storage);
  assert.equal(s.offset, 8);
  assertValues(s, [4], [8, 9, 10, 11]);
  const c = select(x, 1, 3);
  assert.deepEqual([...c.strides], [4]);
  assertValues(c, [3], [3, 7, 11]);
  assertThrowsMatching(() => narrow(x, 1, 3, 2), 'narrow', 'dim 1 of size 4', '[3, 4]');
});

test('expand/broadcastTo give stride-0 views; incompatible targets name both shapes', () => {
  const x = tensor([[1], [2], [3]]); // [3, 1]
  const e = expand(x, [2, 3, 4]);
  assert.equal(e.storage, x.storage);
  assert.deepEqual([...e.strides], [0, 1, 0]);
  assert.deepEqual(e.toNested(), [
    [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]],
    [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]],
  ]);
  const k = x.expand(-1, 2); // -1 keeps the dim
  assertValues(k, [3, 2], [1, 1, 2, 2, 3, 3]);
  const b = broadcastTo(tensor([5, 6]), [2, 2]);
  assert.deepEqual([...b.strides], [0, 1]);
  assertValues(b, [2, 2], [5, 6, 5, 6]);
  assertThrowsMatching(() => expand(x, [3, 2, 4].slice(1)), 'cannot expand [3, 1] to [2, 4]');
  assertThrowsMatching(() => broadcastTo(tensor([1, 2, 3]), [2, 2]), '[3]', '[2, 2]');
});

test('squeeze/unsqueeze/flatten are views with the expected shapes and strides', () => {
  const x = zeros([2, 1, 3, 1]);
  const s = squeeze(x);
  assert.equal(s.storage, x.storage);
  assert.deepEqual([...s.shape], [2, 3]);
  assert.deepEqual([...squeeze(x, 1).shape], [2, 3, 1]);
  assert.deepEqual([...squeeze(x, -1).shape], [2, 1, 3]);
  assert.equal(squeeze(x, 0), x, 'squeezing a dim that is not 1 is the identity');
  const y = reshape(arange(6), [2, 3]);
  const u0 = unsqueeze(y, 0);
  const u2 = unsqueeze(y, -1);
  assert.equal(u0.storage, y.storage);
  assert.deepEqual([...u0.shape], [1, 2, 3]);
  assert.deepEqual([...u2.shape], [2, 3, 1]);
  assert.deepEqual(u2.toArray(), y.toArray());
  const z = reshape(arange(24), [2, 3, 4]);
  const f = flatten(z, 1);
  assert.equal(f.storage, z.storage);
  assert.deepEqual([...f.shape], [2, 12]);
  assert.deepEqual([...flatten(z).shape], [24]);
  assert.deepEqual([...z.flatten(0, 1).shape], [6, 4]);
  // flatten of a non-contiguous tensor copies
  const ft = flatten(transpose(z, 0, 2));
  assert.notEqual(ft.storage, z.storage);
  assert.equal(ft.toArray()[1], 12);
});

test('contiguous() returns the tensor itself when contiguous and a row-major copy otherwise', () => {
  const x = reshape(arange(6), [2, 3]);
  assert.equal(contiguous(x), x);
  const t = x.T;
  const c = contiguous(t);
  assert.notEqual(c.storage, x.storage);
  assert.ok(c.isContiguous());
  assert.deepEqual([...c.strides], [2, 1]);
  assertValues(c, [3, 2], [0, 3, 1, 4, 2, 5]);
  // expanded (stride 0) and narrowed views materialise too
  const e = contiguous(expand(tensor([1, 2]), [2, 2]));
  assertValues(e, [2, 2], [1, 2, 1, 2]);
  // a size-1 dim with any stride still counts as contiguous
  assert.ok(select(x, 0, 1).isContiguous());
  const cl = clone(x);
  assert.notEqual(cl.storage, x.storage);
  assert.deepEqual(cl.toArray(), x.toArray());
});

// ---------------------------------------------------------------------------------------------
// creation

test('zeros, ones, full, *Like and empty fill the requested shape, dtype and value', () => {
  assertValues(zeros([2, 2]), [2, 2], [0, 0, 0, 0]);
  assertValues(ones([3], { dtype: 'int32' }), [3], [1, 1, 1]);
  const f = full([2, 1], 2.5, { dtype: 'float64' });
  assert.equal(f.dtype, 'float64');
  assertValues(f, [2, 1], [2.5, 2.5]);
  const like = fullLike(f, 7);
  assert.equal(like.dtype, 'float64');
  assertValues(like, [2, 1], [7, 7]);
  assertValues(zerosLike(f), [2, 1], [0, 0]);
  assertValues(onesLike(f, { dtype: 'int32' }), [2, 1], [1, 1]);
  assert.equal(onesLike(f, { dtype: 'int32' }).dtype, 'int32');
  assert.deepEqual([...empty([4, 0]).shape], [4, 0]);
  assert.equal(full([2], 1, { requiresGrad: true }).requiresGrad, true);
});

test('arange follows Python range: end only, start/end/step, negative and fractional steps', () => {
  assertValues(arange(5), [5], [0, 1, 2, 3, 4]);
  assertValues(arange(2, 8, 3), [2], [2, 5]);
  assertValues(arange(5, 0, -2), [3], [5, 3, 1]);
  assertValues(arange(0, 1, 0.25, { dtype: 'float64' }), [4], [0, 0.25, 0.5, 0.75]);
  assertValues(arange(3, 3), [0], []);
  assert.equal(arange(4, undefined, 1, { dtype: 'int32' }).dtype, 'int32');
  assertThrowsMatching(() => arange(0, 3, 0), 'step must be non-zero');
});

test('tensor() from nested arrays infers the shape; scalars give 0-d tensors', () => {
  const t = tensor([[[1, 2], [3, 4], [5, 6]]]);
  assertValues(t, [1, 3, 2], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(t.toNested(), [[[1, 2], [3, 4], [5, 6]]]);
  const s = tensor(3.5);
  assert.equal(s.ndim, 0);
  assert.equal(s.item(), 3.5);
  assert.equal(s.toNested(), 3.5);
  assertValues(tensor([1, 2, 3, 4], { shape: [2, 2] }), [2, 2], [1, 2, 3, 4]);
  assertValues(tensor([]), [0], []);
});

test('tensor() rejects ragged arrays and non-numbers with the position in the message', () => {
  assertThrowsMatching(() => tensor([[1, 2], [3]]), 'ragged', '[1]', 'expected length 2 at dim 1');
  assertThrowsMatching(() => tensor([[1, 2], 3]), 'ragged', '[1]');
  assertThrowsMatching(() => tensor([[1, 'a']]), '[0][1]', 'string', 'expected a number');
  assertThrowsMatching(() => tensor([1, 2, 3], { shape: [2, 2] }), '3 values do not fill shape [2, 2]');
  assertThrowsMatching(() => tensor('abc'), 'unsupported data of type string');
});

test('tensor() from typed arrays infers dtype and copies (no aliasing of the caller array)', () => {
  const src = new Float64Array([1, 2, 3, 4, 5, 6]);
  const t = tensor(src, { shape: [2, 3] });
  assert.equal(t.dtype, 'float64');
  assertValues(t, [2, 3], [1, 2, 3, 4, 5, 6]);
  src[0] = 99;
  assert.equal(t.toArray()[0], 1);
  assert.equal(tensor(new Int32Array([1, 2])).dtype, 'int32');
  assert.equal(tensor(new Float32Array([1, 2])).dtype, 'float32');
  assert.equal(tensor(new Float64Array([1.5]), { dtype: 'int32' }).dtype, 'int32');
  const u = tensor(new Uint8Array([200, 7]));
  assert.equal(u.dtype, 'float32');
  assertValues(u, [2], [200, 7]);
  const fh = fromHost(new Float32Array([1, 2]), [2, 1]);
  assertValues(fh, [2, 1], [1, 2]);
});

test('item() requires exactly one element; toString shows shape, dtype and device', () => {
  assertThrowsMatching(() => zeros([2]).item(), 'item()', '2 elements', '[2]');
  const s = tensor([[1, 2]], { dtype: 'float64' }).toString();
  assert.match(s, /Tensor\(\[1, 2\], float64, cpu\) \[\[1,2\]\]/);
});

test('unknown devices are an error naming the known ones', () => {
  assertThrowsMatching(() => getDevice('tpu'), "unknown device 'tpu'", 'cpu');
  assertThrowsMatching(() => zeros([1], { device: 'tpu' }), "unknown device 'tpu'");
});

// ---------------------------------------------------------------------------------------------
// random

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  const out = new Uint32Array(4);
  const hex = (): string[] => [...out].map((v) => v.toString(16).padStart(8, '0'));
  philox4x32(0, 0, 0, 0, 0, 0, out);
  assert.deepEqual(hex(), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
  assert.deepEqual(hex(), ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
  philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
  assert.deepEqual(hex(), ['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
});

test('rand/randn: the first values for seed 0 are pinned (a PRNG change is caught)', () => {
  assert.deepEqual(rand([2, 3], { seed: 0 }).toArray(), [
    0.3990464210510254, 0.8805201649665833, 0.7357127666473389, 0.6054818034172058, 0.9722411632537842, 0.362091064453125,
  ]);
  assert.deepEqual(randn([4], { seed: 0 }).toArray(), [0.9911375045776367, -0.6176090836524963, -0.1536381095647812, 0.8317351341247559]);
  const r = new Rng(42);
  assert.deepEqual([r.nextU32(), r.nextU32()], [2632642643, 2012563771]);
  // uniform values carry 24 bits, so float32 and float64 tensors hold the same numbers
  assert.deepEqual(rand([6], { seed: 0, dtype: 'float64' }).toArray(), rand([6], { seed: 0 }).toArray());
});

test('rand/randn are reproducible for a seed, and different seeds give different values', () => {
  for (const f of [rand, randn]) {
    const a = f([50], { seed: 123, dtype: 'float64' }).toArray();
    const b = f([50], { seed: 123, dtype: 'float64' }).toArray();
    const c = f([50], { seed: 124, dtype: 'float64' }).toArray();
    assert.deepEqual(a, b);
    assert.ok(a.every((v, i) => v !== c[i]), `${f.name}: seeds 123 and 124 share a value`);
  }
  // large seeds use the high key word too
  assert.notDeepEqual(rand([4], { seed: 2 ** 32 + 5 }).toArray(), rand([4], { seed: 5 }).toArray());
});

test('rand respects low/high and randn mean/std (moments of 20k samples)', () => {
  const u = rand([20000], { seed: 1, low: -2, high: 3, dtype: 'float64' }).toArray();
  assert.ok(u.every((v) => v >= -2 && v < 3));
  const mu = u.reduce((a, v) => a + v, 0) / u.length;
  assert.ok(Math.abs(mu - 0.5) < 0.05, `uniform mean ${mu}`);
  const n = randn([20000], { seed: 2, mean: 1, std: 2, dtype: 'float64' }).toArray();
  const m = n.reduce((a, v) => a + v, 0) / n.length;
  const sd = Math.sqrt(n.reduce((a, v) => a + (v - m) ** 2, 0) / n.length);
  assert.ok(Math.abs(m - 1) < 0.06, `normal mean ${m}`);
  assert.ok(Math.abs(sd - 2) < 0.06, `normal std ${sd}`);
});

test('an Rng passed to rand() advances: two draws of 3 equal one draw of 6', () => {
  const rng = new Rng(9);
  const a = rand([3], { rng, dtype: 'float64' }).toArray();
  const b = rand([3], { rng, dtype: 'float64' }).toArray();
  assert.deepEqual([...a, ...b], rand([6], { seed: 9, dtype: 'float64' }).toArray());
});

test('Rng state save/restore continues the stream exactly (mid-block and at a block boundary)', () => {
  for (const skip of [0, 3, 4, 5, 8]) {
    const r = new Rng(77);
    for (let i = 0; i < skip; i++) r.nextU32();
    const st = JSON.parse(JSON.stringify(r.state())) as ReturnType<Rng['state']>;
    const rest = Array.from({ length: 10 }, () => r.nextU32());
    const restored = Rng.fromState(st);
    assert.deepEqual(Array.from({ length: 10 }, () => restored.nextU32()), rest, `after ${skip} draws`);
  }
  // randn consumes two uint32 per value: the restored stream continues the same normals
  const r = new Rng(5);
  randn([3], { rng: r });
  const st = r.state();
  const next = randn([5], { rng: r, dtype: 'float64' }).toArray();
  assert.deepEqual(randn([5], { rng: Rng.fromState(st), dtype: 'float64' }).toArray(), next);
});

test('Rng helpers: int in range, shuffle is a permutation, fork is deterministic', () => {
  const r = new Rng(3);
  for (let i = 0; i < 200; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
  const items = Array.from({ length: 20 }, (_, i) => i);
  const sh = new Rng(4).shuffle([...items]);
  assert.deepEqual([...sh].sort((a, b) => a - b), items);
  assert.notDeepEqual(sh, items);
  assert.deepEqual(new Rng(4).shuffle([...items]), sh);
  assert.equal(new Rng(10).fork().nextU32(), new Rng(10).fork().nextU32());
  assertThrowsMatching(() => new Rng(Number.NaN), 'seed must be a finite number');
  assertThrowsMatching(() => r.int(0), 'n must be positive');
});

// ---------------------------------------------------------------------------------------------
// property: views of strided tensors

/** A factorisation of n into up to 3 factors (a target shape for reshape/view), in random order. */
function targetShapeArb(n: number): fc.Arbitrary<number[]> {
  const divisors = Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
  return fc.tuple(fc.constantFrom(...divisors), fc.constantFrom(...divisors), fc.boolean()).map(([a, b, unit]) => {
    const shape = n % (a * b) === 0 ? [a, b, n / (a * b)] : [a, n / a];
    return unit ? [1, ...shape] : shape;
  });
}

test('property: view of a permuted/narrowed tensor either shares storage with the right values or throws; reshape always gives them', () => {
  const arb = shapeArb(1, 3, 4)
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        perm: fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length }),
        narrowDim: fc.integer({ min: 0, max: shape.length - 1 }),
        cut: fc.integer({ min: 0, max: 1 }),
      }),
    )
    .chain((c) => {
      const len = Math.max(1, c.shape[c.perm[c.narrowDim]!]! - c.cut);
      const size = (c.shape.reduce((a, b) => a * b, 1) / c.shape[c.perm[c.narrowDim]!]!) * len;
      return targetShapeArb(size).map((target) => ({ ...c, len, target }));
    });
  fc.assert(
    fc.property(arb, ({ shape, perm, narrowDim, len, target }) => {
      const base = reshape(arange(shape.reduce((a, b) => a * b, 1) * 2), [2, ...shape]);
      // a strided tensor: a select (offset), a permutation, a narrow (a gap between rows when len < size)
      let x = permute(select(base, 0, 1), perm);
      x = narrow(x, narrowDim, 0, len);
      const expected = contiguous(x).toArray();
      let v: ReturnType<typeof view> | null = null;
      try {
        v = view(x, target);
      } catch (e) {
        assert.match((e as Error).message, /use reshape\(\)/);
      }
      if (v) {
        assert.equal(v.storage, base.storage, 'a view must not copy');
        assert.deepEqual(v.toArray(), expected, `view ${JSON.stringify(target)} of ${JSON.stringify(x.shape)} strides ${JSON.stringify(x.strides)}`);
      }
      if (x.isContiguous()) assert.ok(v, 'a contiguous tensor can always be viewed');
      const r = reshape(x, target);
      assert.deepEqual([...r.shape], target);
      assert.deepEqual(r.toArray(), expected);
    }),
    runs(80),
  );
});
