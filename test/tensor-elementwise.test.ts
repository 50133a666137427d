// Elementwise ops with NumPy broadcasting against a float64 reference (plain loops), comparisons and
// where, scalar operands, strided inputs, and the errors for shape, dtype and device mismatches.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  abs,
  add,
  clamp,
  div,
  eq,
  exp,
  fromHost,
  ge,
  gt,
  le,
  leakyRelu,
  log,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  registerDevice,
  relu,
  sigmoid,
  sqrt,
  sub,
  tanh,
  tensor,
  where,
  type Device,
  type DType,
  type MemoryStats,
  type Tensor,
  type TypedArray,
} from '../src/index.js';
import { assertClose, assertThrowsMatching, assertValues } from './helpers/check.js';
import { mapRef, randAwayFromZero, randRef, ref, refOf, rsigmoid, toTensor, transposeRef, zipWith, type Ref } from './helpers/ref.js';

const F64 = { atol: 1e-14, rtol: 1e-14 };
const F32 = { atol: 1e-6, rtol: 1e-6 };

type Binary = (a: Tensor | number, b: Tensor | number) => Tensor;

const BINARY: [string, Binary, (a: number, b: number) => number][] = [
  ['add', add, (a, b) => a + b],
  ['sub', sub, (a, b) => a - b],
  ['mul', mul, (a, b) => a * b],
  ['div', div, (a, b) => a / b],
  ['maximum', maximum, (a, b) => Math.max(a, b)],
  ['minimum', minimum, (a, b) => Math.min(a, b)],
];

/** Broadcast pairs: trailing alignment, size-1 stretch on both sides, missing leading dims, 0-d. */
const PAIRS: [number[], number[]][] = [
  [[2, 3, 4], [2, 3, 4]],
  [[2, 3, 1], [4]],
  [[3, 1], [1, 4]],
  [[1, 3, 1], [2, 1, 5]],
  [[4], []],
  [[], [2, 2]],
  [[2, 0, 3], [1, 3]],
];

for (const [name, fn, f] of BINARY) {
  test(`${name} broadcasts like NumPy (float64 exact, float32 within 1e-6) for ${PAIRS.length} shape pairs`, () => {
    PAIRS.forEach(([sa, sb], k) => {
      const a = randRef(sa, 10 + k);
      const b = name === 'div' ? randAwayFromZero(sb, 20 + k) : randRef(sb, 20 + k);
      const expected = zipWith(f, a, b);
      assertClose(fn(toTensor(a), toTensor(b)), expected, { ...F64, what: `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}` });
      const y32 = fn(toTensor(a, { dtype: 'float32' }), toTensor(b, { dtype: 'float32' }));
      assert.equal(y32.dtype, 'float32');
      assertClose(y32, expected, { ...F32, what: `${name} float32` });
    });
  });
}

test('binary ops accept numbers on either side (promoted to 0-d tensors of the tensor dtype)', () => {
  const x = tensor([1, 2, 4], { dtype: 'float64' });
  assertValues(add(x, 1), [3], [2, 3, 5]);
  assertValues(sub(10, x), [3], [9, 8, 6]);
  assertValues(mul(x, 0.5), [3], [0.5, 1, 2]);
  assertValues(div(1, x), [3], [1, 0.5, 0.25]);
  assertValues(pow(x, 2), [3], [1, 4, 16]);
  assertValues(pow(2, x), [3], [2, 4, 16]);
  assertValues(maximum(x, 2), [3], [2, 2, 4]);
  assertValues(minimum(2, x), [3], [1, 2, 2]);
  assert.equal(add(x, 1).dtype, 'float64');
  assertThrowsMatching(() => add(1 as unknown as Tensor, 2), 'at least one operand must be a tensor');
  // method sugar
  assertValues(x.add(1).mul(2).sub(1).div(2), [3], [1.5, 2.5, 4.5]);
});

test('pow: tensor exponents broadcast; negative bases with integer exponents are exact', () => {
  const base = tensor([[-2], [3]], { dtype: 'float64' });
  const e = tensor([2, 3, 0.5], { dtype: 'float64' });
  const y = pow(base, e);
  assert.deepEqual([...y.shape], [2, 3]);
  const v = y.toArray();
  assert.deepEqual(v.slice(0, 2), [4, -8]);
  assert.ok(Number.isNaN(v[2]!), 'negative base ** 0.5 is NaN');
  assertClose(v.slice(3), [9, 27, Math.sqrt(3)], F64);
});

test('maximum/minimum propagate NaN from either operand (as torch.maximum)', () => {
  const a = tensor([Number.NaN, 1, 2], { dtype: 'float64' });
  const b = tensor([1, Number.NaN, 0], { dtype: 'float64' });
  for (const f of [maximum, minimum]) {
    const v1 = f(a, b).toArray();
    const v2 = f(b, a).toArray();
    assert.ok(Number.isNaN(v1[0]!) && Number.isNaN(v1[1]!), `${f.name}(a, b) ${v1}`);
    assert.ok(Number.isNaN(v2[0]!) && Number.isNaN(v2[1]!), `${f.name}(b, a) ${v2}`);
  }
  assert.equal(maximum(a, b).toArray()[2], 2);
  assert.equal(minimum(a, b).toArray()[2], 0);
});

const UNARY: [string, (x: Tensor) => Tensor, (v: number) => number, 'any' | 'positive'][] = [
  ['neg', neg, (v) => -v, 'any'],
  ['exp', exp, Math.exp, 'any'],
  ['log', log, Math.log, 'positive'],
  ['sqrt', sqrt, Math.sqrt, 'positive'],
  ['abs', abs, Math.abs, 'any'],
  ['sigmoid', sigmoid, rsigmoid, 'any'],
  ['tanh', tanh, Math.tanh, 'any'],
  ['relu', relu, (v) => Math.max(v, 0), 'any'],
  ['leakyRelu (default slope 0.01)', (x) => leakyRelu(x), (v) => (v > 0 ? v : 0.01 * v), 'any'],
  ['leakyRelu(0.2)', (x) => leakyRelu(x, 0.2), (v) => (v > 0 ? v : 0.2 * v), 'any'],
  ['clamp(-0.3, 0.4)', (x) => clamp(x, -0.3, 0.4), (v) => Math.min(Math.max(v, -0.3), 0.4), 'any'],
  ['clamp(null, 0.4)', (x) => clamp(x, null, 0.4), (v) => Math.min(v, 0.4), 'any'],
  ['clamp(-0.3, null)', (x) => clamp(x, -0.3, null), (v) => Math.max(v, -0.3), 'any'],
];

for (const [name, fn, f, domain] of UNARY) {
  test(`${name} matches the scalar formula on contiguous and transposed inputs (float64 and float32)`, () => {
    const x = domain === 'positive' ? randRef([3, 5], 1, 0.05, 4) : randRef([3, 5], 1, -3, 3);
    assertClose(fn(toTensor(x)), mapRef(x, f), { ...F64, what: name });
    assertClose(fn(toTensor(x, { dtype: 'float32' })), mapRef(x, f), { ...F32, what: `${name} float32` });
    // a transposed (strided) input
    const t = toTensor(x).T;
    assertClose(fn(t), mapRef(transposeRef(x, 0, 1), f), { ...F64, what: `${name} of a transposed view` });
  });
}

test('unary ops on special values: log(0) = -inf, sqrt(-1) = NaN, sigmoid saturates without NaN', () => {
  const v = (t: Tensor): number[] => t.toArray();
  assert.deepEqual(v(log(tensor([0], { dtype: 'float64' }))), [-Infinity]);
  assert.ok(Number.isNaN(v(sqrt(tensor([-1], { dtype: 'float64' })))[0]!));
  assert.deepEqual(v(sigmoid(tensor([-800, 800], { dtype: 'float64' }))), [0, 1]);
  assert.deepEqual(v(tanh(tensor([-50, 50]))), [-1, 1]);
  assert.deepEqual(v(relu(tensor([-0.5, 0, 0.5]))), [0, 0, 0.5]);
});

test('leakyRelu on float32 uses the slope rounded to float32 (as Darknet .1f)', () => {
  const y = leakyRelu(tensor([-3]), 0.1).item();
  assert.equal(y, Math.fround(Math.fround(0.1) * -3));
  const y64 = leakyRelu(tensor([-3], { dtype: 'float64' }), 0.1).item();
  assert.equal(y64, 0.1 * -3);
});

test('clamp with min > max is an error; method sugar matches the functions', () => {
  assertThrowsMatching(() => clamp(tensor([1]), 2, 1), 'clamp: min 2 > max 1');
  const x = toTensor(randRef([4], 3));
  assert.deepEqual(x.clamp(-0.1, 0.1).toArray(), clamp(x, -0.1, 0.1).toArray());
  assert.deepEqual(x.leakyRelu(0.3).toArray(), leakyRelu(x, 0.3).toArray());
  assertClose(x.abs().neg().exp().log(), neg(abs(x)), F32);
});

test('comparisons eq/ne/lt/le/gt/ge broadcast and give 1/0 in the input dtype', () => {
  const a = tensor([[1], [2], [3]], { dtype: 'float64' }); // [3, 1]
  const b = tensor([1, 2, 3, 4], { dtype: 'float64' }); // [4]
  const cases: [string, (x: Tensor | number, y: Tensor | number) => Tensor, (x: number, y: number) => boolean][] = [
    ['eq', eq, (x, y) => x === y],
    ['ne', ne, (x, y) => x !== y],
    ['lt', lt, (x, y) => x < y],
    ['le', le, (x, y) => x <= y],
    ['gt', gt, (x, y) => x > y],
    ['ge', ge, (x, y) => x >= y],
  ];
  for (const [name, fn, f] of cases) {
    const y = fn(a, b);
    assert.equal(y.dtype, 'float64', name);
    assertClose(y, zipWith((x, z) => (f(x, z) ? 1 : 0), refOf(a), refOf(b)), { what: name });
    assert.equal(y.requiresGrad, false);
    // with a number operand
    assertValues(fn(b, 2), [4], [1, 2, 3, 4].map((x) => (f(x, 2) ? 1 : 0)), `${name} scalar`);
  }
  const i = tensor([1, 5], { dtype: 'int32' });
  assert.equal(gt(i, 2).dtype, 'int32');
  assertValues(gt(i, 2), [2], [0, 1]);
  // NaN compares unequal to everything
  assertValues(eq(tensor([Number.NaN]), tensor([Number.NaN])), [1], [0]);
});

test('where(cond, a, b) broadcasts all three; cond may be int32 or a float mask; a/b may be numbers', () => {
  const cond = tensor([[1], [0]], { dtype: 'int32' }); // [2, 1]
  const a = tensor([10, 20, 30], { dtype: 'float64' }); // [3]
  const b = tensor([[-1, -2, -3], [-4, -5, -6]], { dtype: 'float64' }); // [2, 3]
  assertValues(where(cond, a, b), [2, 3], [10, 20, 30, -4, -5, -6]);
  const x = tensor([-1, 2, -3, 4], { dtype: 'float64' });
  assertValues(where(gt(x, 0), x, 0), [4], [0, 2, 0, 4]);
  assertValues(where(gt(x, 0), 1, x), [4], [-1, 1, -3, 1]);
  assertThrowsMatching(() => where(gt(x, 0), 1, 2), 'a or b must be a tensor');
  assertThrowsMatching(() => where(tensor([1, 0, 1]), x, 0), 'where', '[3]', '[4]');
});

test('where uses the reference semantics on random broadcast shapes', () => {
  const c: Ref = mapRef(randRef([3, 1, 4], 5), (v) => (v > 0 ? 1 : 0));
  const a = randRef([2, 1], 6);
  const b = randRef([4], 7);
  assertClose(where(toTensor(c), toTensor(a), toTensor(b)), zipWith((cv, av, bv) => (cv !== 0 ? av : bv), c, a, b), F64);
});

test('elementwise ops read strided and broadcast (stride-0) views correctly', () => {
  const x = randRef([4, 3], 8);
  const y = randRef([3, 4], 9);
  const t = toTensor(x).T; // [3, 4] strided
  assertClose(add(t, toTensor(y)), zipWith((p, q) => p + q, transposeRef(x, 0, 1), y), F64);
  const e = toTensor(ref([3, 1], [1, 2, 3])).expand(3, 4);
  assertClose(mul(e, t), zipWith((p, q) => p * q, ref([3, 1], [1, 2, 3]), transposeRef(x, 0, 1)), F64);
  const n = toTensor(randRef([5, 6], 10)).narrow(1, 2, 3).narrow(0, 1, 4);
  assertClose(exp(n), mapRef(refOf(n), Math.exp), F64);
});

test('int32 arithmetic stays int32', () => {
  const a = tensor([7, -7], { dtype: 'int32' });
  const s = add(a, 3);
  assert.equal(s.dtype, 'int32');
  assertValues(s, [2], [10, -4]);
  assertValues(mul(a, a), [2], [49, 49]);
});

test('broadcast errors name the op and both shapes', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([1, 2, 3, 4]);
  assertThrowsMatching(() => add(a, b), 'add: shapes [2, 3] and [4] cannot be broadcast together', 'dim 1: 3 vs 4');
  assertThrowsMatching(() => mul(tensor([[1], [2], [3]]), tensor([[1, 2], [3, 4]])), 'mul', '[3, 1]', '[2, 2]');
  assertThrowsMatching(() => maximum(a, b), 'maximum', '[2, 3]', '[4]');
  assertThrowsMatching(() => lt(a, b), 'lt', '[2, 3]', '[4]');
});

test('dtype mismatch is an error naming both dtypes and shapes (no silent promotion)', () => {
  const f32 = tensor([1, 2]);
  const f64 = tensor([1, 2], { dtype: 'float64' });
  assertThrowsMatching(() => add(f32, f64), 'add: dtype mismatch', 'float32 [2]', 'float64 [2]', '.cast()');
  assertThrowsMatching(() => where(tensor([1, 0]), f32, f64), 'where', 'dtype mismatch');
});

/** A host-memory device with no kernels: enough to place tensors on a second device. */
class HostTestDevice implements Device {
  readonly name = 'test-host';
  readonly available = true;
  readonly reason = '';
  readonly dtypes: readonly DType[] = ['float32', 'float64', 'int32'];
  alloc(dtype: DType, size: number): unknown {
    return dtype === 'float64' ? new Float64Array(size) : dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  }
  free(): void {}
  write(handle: unknown, _d: DType, offset: number, src: TypedArray): void {
    (handle as TypedArray).set(src, offset);
  }
  read(handle: unknown, _d: DType, offset: number, size: number): TypedArray {
    return (handle as TypedArray).slice(offset, offset + size);
  }
  memoryStats(): MemoryStats {
    return { allocated: 0, reserved: 0, peak: 0 };
  }
  synchronize(): void {}
}

test('device mismatch is an error naming both devices; .to() moves data; a missing kernel names op and device', () => {
  registerDevice(new HostTestDevice());
  const onCpu = tensor([1, 2, 3]);
  const other = fromHost(new Float32Array([4, 5, 6]), [3], { device: 'test-host' });
  assert.equal(other.device.name, 'test-host');
  assertThrowsMatching(() => add(onCpu, other), "add: tensors on different devices ('cpu' [3] and 'test-host' [3])", '.to()');
  assertThrowsMatching(() => where(tensor([1, 0, 1]), onCpu, other), 'where', 'different devices');
  const moved = other.to('cpu');
  assert.equal(moved.device.name, 'cpu');
  assertValues(add(onCpu, moved), [3], [5, 7, 9]);
  assert.deepEqual(onCpu.to('test-host').toArray(), [1, 2, 3]);
  assertThrowsMatching(() => exp(other), "no kernel for op 'unary' on device 'test-host'");
});
