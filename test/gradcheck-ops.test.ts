// Every differentiable op through `checkOp`: forward (float64 and float32) against the float64
// definition, a full-Jacobian gradcheck in float64 on small shapes, a fast (random projection) gradcheck
// on a large shape, and a leak check. Inputs stay away from the points where an op has a kink or a pole.

import { test } from 'node:test';

import {
  abs,
  add,
  amax,
  amin,
  bmm,
  broadcastTo,
  cast,
  cat,
  clamp,
  clone,
  contiguous,
  crossEntropy,
  div,
  exp,
  expand,
  flatten,
  identity,
  leakyRelu,
  linear,
  log,
  logSoftmax,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mseLoss,
  mul,
  narrow,
  neg,
  permute,
  pow,
  reciprocal,
  relu,
  reshape,
  select,
  sigmoid,
  softmax,
  split,
  sqrt,
  square,
  squeeze,
  stack,
  sub,
  sum,
  tanh,
  transpose,
  unsqueeze,
  view,
  where,
  type Tensor,
} from '../src/index.js';
import { checkOp, type CheckOpOptions, type OpInput } from './helpers/check.js';
import {
  catRef,
  crossEntropyRef,
  expandRef,
  mapRef,
  matmulRef,
  mseRef,
  narrowRef,
  permuteRef,
  randAwayFromZero,
  randDistinct,
  randRef,
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
import { Rng } from '../src/tensor/random.js';

type Inputs = (size: 'small' | 'large') => OpInput[];

/**
 * One test per op: checkOp with a full gradcheck on the small inputs and a fast one on the large inputs.
 * `large` inputs should hold a few thousand elements.
 */
function opTest(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: Inputs, reference: (...xs: Ref[]) => Ref, opts: CheckOpOptions = {}): void {
  const desc = (xs: OpInput[]): string => xs.map((x) => JSON.stringify([...x.shape])).join(' ');
  const small = inputs('small');
  const large = inputs('large');
  test(`${name}: forward = float64 reference; gradcheck full on ${desc(small)}, fast on ${desc(large)}`, () => {
    checkOp(fn, small, reference, { ...opts, mode: 'full', what: `${name} (small)` });
    checkOp(fn, large, reference, { atol32: 1e-4, rtol32: 1e-4, ...opts, mode: 'fast', what: `${name} (large)` });
  });
}

/** Values in [-2, 2] at least `gap` away from each of `points`. */
function awayFrom(shape: number[], seed: number, points: number[], gap = 0.05): Ref {
  return mapRef(randRef(shape, seed, -2, 2), (v) => {
    for (const p of points) if (Math.abs(v - p) < gap) return p + (v < p ? -2 : 2) * gap;
    return v;
  });
}

/** 0.2 k + [0, 0.04) + offset: an A grid (offset 0) and a B grid (offset 0.1) never come within 0.06. */
function grid(shape: number[], seed: number, offset: number): Ref {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return ref(shape, Array.from({ length: n }, () => 0.2 * (rng.int(17) - 8) + 0.04 * rng.uniform() + offset));
}

const S = { small: [2, 3], large: [64, 64] } as const;
const shapeOf = (size: 'small' | 'large'): number[] => [...S[size]];

// ---------------------------------------------------------------------------------------------
// unary

const UNARY: [string, (x: Tensor) => Tensor, (v: number) => number, (shape: number[], seed: number) => Ref][] = [
  ['neg', neg, (v) => -v, (s, k) => randRef(s, k)],
  ['exp', exp, Math.exp, (s, k) => randRef(s, k, -2, 2)],
  ['log', log, Math.log, (s, k) => randRef(s, k, 0.3, 2.5)],
  ['sqrt', sqrt, Math.sqrt, (s, k) => randRef(s, k, 0.3, 2.5)],
  ['abs', abs, Math.abs, (s, k) => randAwayFromZero(s, k)],
  ['sigmoid', sigmoid, rsigmoid, (s, k) => randRef(s, k, -3, 3)],
  ['tanh', tanh, Math.tanh, (s, k) => randRef(s, k, -2, 2)],
  ['relu', relu, (v) => Math.max(v, 0), (s, k) => randAwayFromZero(s, k)],
  ['leakyRelu(0.1)', (x) => leakyRelu(x, 0.1), (v) => (v > 0 ? v : 0.1 * v), (s, k) => randAwayFromZero(s, k)],
  ['clamp(-0.5, 0.5)', (x) => clamp(x, -0.5, 0.5), (v) => Math.min(Math.max(v, -0.5), 0.5), (s, k) => awayFrom(s, k, [-0.5, 0.5])],
  ['clamp(null, 0.5)', (x) => clamp(x, null, 0.5), (v) => Math.min(v, 0.5), (s, k) => awayFrom(s, k, [0.5])],
  ['square', square, (v) => v * v, (s, k) => randRef(s, k)],
  ['reciprocal', reciprocal, (v) => 1 / v, (s, k) => randAwayFromZero(s, k, 0.3, 2)],
];

for (const [name, fn, f, values] of UNARY) {
  opTest(name, fn, (size) => [values(shapeOf(size), 1)], (x) => mapRef(x, f), name === 'leakyRelu(0.1)' || name.startsWith('clamp') ? { atol32: 1e-6, rtol32: 1e-6 } : {});
}

// ---------------------------------------------------------------------------------------------
// binary, with broadcasting: [2,3,1] op [4] (small) and [16,1,64] op [8,64] (large)

const B_SMALL: [number[], number[]] = [[2, 3, 1], [4]];
const B_LARGE: [number[], number[]] = [[16, 1, 64], [8, 64]];
const pair = (size: 'small' | 'large'): [number[], number[]] => (size === 'small' ? B_SMALL : B_LARGE);

opTest('add', add, (s) => [randRef(pair(s)[0], 1), randRef(pair(s)[1], 2)], (a, b) => zipWith((x, y) => x + y, a!, b!));
opTest('sub', sub, (s) => [randRef(pair(s)[0], 1), randRef(pair(s)[1], 2)], (a, b) => zipWith((x, y) => x - y, a!, b!));
opTest('mul', mul, (s) => [randRef(pair(s)[0], 1), randRef(pair(s)[1], 2)], (a, b) => zipWith((x, y) => x * y, a!, b!));
opTest('div', div, (s) => [randRef(pair(s)[0], 1), randAwayFromZero(pair(s)[1], 2, 0.4, 2)], (a, b) => zipWith((x, y) => x / y, a!, b!));
opTest('pow (tensor ** tensor)', pow, (s) => [randRef(pair(s)[0], 1, 0.3, 2), randRef(pair(s)[1], 2, -2, 2)], (a, b) => zipWith(Math.pow, a!, b!));
opTest('pow (tensor ** 3)', (x) => pow(x, 3), (s) => [randRef(shapeOf(s), 1, -2, 2)], (a) => mapRef(a!, (v) => v ** 3));
opTest('pow (2 ** tensor)', (x) => pow(2, x), (s) => [randRef(shapeOf(s), 1, -2, 2)], (a) => mapRef(a!, (v) => 2 ** v));
opTest('maximum', maximum, (s) => [grid(pair(s)[0], 1, 0), grid(pair(s)[1], 2, 0.1)], (a, b) => zipWith(Math.max, a!, b!));
opTest('minimum', minimum, (s) => [grid(pair(s)[0], 1, 0), grid(pair(s)[1], 2, 0.1)], (a, b) => zipWith(Math.min, a!, b!));
opTest('add (tensor + number)', (x) => add(x, 1.5), (s) => [randRef(shapeOf(s), 3)], (a) => mapRef(a!, (v) => v + 1.5));
opTest('div (number / tensor)', (x) => div(2, x), (s) => [randAwayFromZero(shapeOf(s), 3, 0.4, 2)], (a) => mapRef(a!, (v) => 2 / v));
opTest('identity (x + 0)', identity, (s) => [randRef(shapeOf(s), 3)], (a) => a!);

// where: gradient to a and b (cond constant), all three broadcasting
{
  const cond = (shape: number[]): Tensor => toTensor(mapRef(randRef(shape, 9), (v) => (v > 0 ? 1 : 0)), { dtype: 'int32' });
  const shapes = (s: 'small' | 'large'): number[][] => (s === 'small' ? [[3, 1], [2, 1, 4], [4]] : [[64, 1], [4, 1, 64], [64]]);
  opTest(
    'where',
    (c, a, b) => where(c!, a!, b!),
    (s) => [cond(shapes(s)[0]!), randRef(shapes(s)[1]!, 1), randRef(shapes(s)[2]!, 2)],
    (c, a, b) => zipWith((cv, av, bv) => (cv !== 0 ? av : bv), c!, a!, b!),
  );
}

// ---------------------------------------------------------------------------------------------
// reductions

const R_SMALL = [2, 3, 4];
const R_LARGE = [16, 32, 16];
const rshape = (s: 'small' | 'large'): number[] => (s === 'small' ? R_SMALL : R_LARGE);

for (const [dims, keepdim] of [[null, false], [1, false], [-1, true], [[0, 2], false], [[2, 0], true]] as [number | number[] | null, boolean][]) {
  const tag = `(${JSON.stringify(dims)}${keepdim ? ', keepdim' : ''})`;
  opTest(`sum${tag}`, (x) => sum(x, dims, keepdim), (s) => [randRef(rshape(s), 4)], (x) => reduceRef(x!, dims, 'sum', keepdim).values);
  opTest(`mean${tag}`, (x) => mean(x, dims, keepdim), (s) => [randRef(rshape(s), 4)], (x) => reduceRef(x!, dims, 'mean', keepdim).values);
  opTest(`amax${tag}`, (x) => amax(x, dims, keepdim), (s) => [randDistinct(rshape(s), 5, s === 'small' ? 0.1 : 0.01)], (x) => reduceRef(x!, dims, 'max', keepdim).values);
  opTest(`amin${tag}`, (x) => amin(x, dims, keepdim), (s) => [randDistinct(rshape(s), 5, s === 'small' ? 0.1 : 0.01)], (x) => reduceRef(x!, dims, 'min', keepdim).values);
}
for (const keepdim of [false, true]) {
  opTest(`max(x, 1${keepdim ? ', keepdim' : ''}).values`, (x) => max(x, 1, keepdim).values, (s) => [randDistinct(rshape(s), 6, s === 'small' ? 0.1 : 0.01)], (x) => reduceRef(x!, 1, 'max', keepdim).values);
  opTest(`min(x, -1${keepdim ? ', keepdim' : ''}).values`, (x) => min(x, -1, keepdim).values, (s) => [randDistinct(rshape(s), 6, s === 'small' ? 0.1 : 0.01)], (x) => reduceRef(x!, -1, 'min', keepdim).values);
}

// ---------------------------------------------------------------------------------------------
// views and data movement

const V_SMALL = [2, 3, 4];
const V_LARGE = [8, 16, 32];
const vshape = (s: 'small' | 'large'): number[] => (s === 'small' ? V_SMALL : V_LARGE);
const vin = (s: 'small' | 'large'): OpInput[] => [randRef(vshape(s), 7)];

opTest('view', (x) => view(x, [-1, x.shape[2]! * 2]), vin, (x) => reshapeRef(x!, [x!.data.length / (x!.shape[2]! * 2), x!.shape[2]! * 2]));
opTest('reshape of a permuted tensor (copy path)', (x) => reshape(permute(x, [2, 0, 1]), [-1]), vin, (x) => reshapeRef(permuteRef(x!, [2, 0, 1]), [x!.data.length]));
opTest('permute', (x) => permute(x, [1, 2, 0]), vin, (x) => permuteRef(x!, [1, 2, 0]));
opTest('transpose', (x) => transpose(x, 0, -1), vin, (x) => transposeRef(x!, 0, 2));
opTest('narrow', (x) => narrow(x, 2, 1, 2), vin, (x) => narrowRef(x!, 2, 1, 2));
opTest('select', (x) => select(x, 1, 2), vin, (x) => {
  const n = narrowRef(x!, 1, 2, 1);
  return reshapeRef(n, n.shape.filter((_, i) => i !== 1));
});
opTest('expand', (x) => expand(x, [3, x.shape[0]!, 5, x.shape[2]!]), (s) => [randRef(s === 'small' ? [2, 1, 4] : [16, 1, 64], 7)], (x) => expandRef(x!, [3, x!.shape[0]!, 5, x!.shape[2]!]));
opTest('broadcastTo', (x) => broadcastTo(x, [4, x.shape[0]!]), (s) => [randRef(s === 'small' ? [3] : [1024], 7)], (x) => expandRef(x!, [4, x!.shape[0]!]));
opTest('squeeze', (x) => squeeze(x, 1), (s) => [randRef(s === 'small' ? [3, 1, 2] : [64, 1, 64], 7)], (x) => reshapeRef(x!, [x!.shape[0]!, x!.shape[2]!]));
opTest('unsqueeze', (x) => unsqueeze(x, -2), vin, (x) => reshapeRef(x!, [x!.shape[0]!, x!.shape[1]!, 1, x!.shape[2]!]));
opTest('flatten(1)', (x) => flatten(x, 1), vin, (x) => reshapeRef(x!, [x!.shape[0]!, x!.shape[1]! * x!.shape[2]!]));
opTest('contiguous of a transposed view', (x) => contiguous(transpose(x, 0, 1)), vin, (x) => transposeRef(x!, 0, 1));
opTest('clone', clone, vin, (x) => x!);
opTest('cast float -> float32 -> back', (x) => cast(mul(cast(x, 'float32'), 2), x.dtype), vin, (x) => mapRef(x!, (v) => Math.fround(v) * 2), {
  gradcheck: { eps: 1e-3, atol: 1e-3, rtol: 1e-3 },
  atol: 1e-6,
  rtol: 1e-6,
});
opTest('cat along dim 1', (a, b) => cat([a!, b!], 1), (s) => [randRef(s === 'small' ? [2, 2, 3] : [16, 8, 32], 1), randRef(s === 'small' ? [2, 1, 3] : [16, 4, 32], 2)], (a, b) => catRef([a!, b!], 1));
opTest('stack along dim -1', (a, b) => stack([a!, b!], -1), (s) => [randRef(vshape(s), 1), randRef(vshape(s), 2)], (a, b) =>
  reshapeRef(catRef([reshapeRef(a!, [...a!.shape, 1]), reshapeRef(b!, [...b!.shape, 1])], -1), [...a!.shape, 2]),
);
opTest('split (pieces recombined with weights)', (x) => {
  const [p, q] = split(x, [1, x.shape[0]! - 1], 0);
  return add(sum(mul(p!, 2)), sum(mul(q!, 3)));
}, vin, (x) => {
  const n = x!.data.length / x!.shape[0]!;
  let s = 0;
  x!.data.forEach((v, i) => (s += (i < n ? 2 : 3) * v));
  return ref([], [s]);
}, { atol32: 1e-3, rtol32: 1e-4 });

// ---------------------------------------------------------------------------------------------
// matmul family

const MM: [string, number[], number[], number[], number[]][] = [
  ['[5,7]@[7,3]', [5, 7], [7, 3], [64, 48], [48, 40]],
  ['[2,4,6]@[6,5]', [2, 4, 6], [6, 5], [4, 32, 24], [24, 40]],
  ['[2,1,3,4]@[3,4,5]', [2, 1, 3, 4], [3, 4, 5], [2, 1, 16, 24], [3, 24, 20]],
  ['[7]@[7,4]', [7], [7, 4], [96], [96, 64]],
  ['[4]@[4]', [4], [4], [4096], [4096]],
  ['[3,6,7]@[3,7,2]', [3, 6, 7], [3, 7, 2], [4, 24, 32], [4, 32, 16]],
  ['[2,3,4]@[4]', [2, 3, 4], [4], [8, 32, 48], [48]],
];
for (const [name, sa, sb, la, lb] of MM) {
  opTest(`matmul ${name}`, matmul, (s) => [randRef(s === 'small' ? sa : la, 1), randRef(s === 'small' ? sb : lb, 2)], (a, b) => matmulRef(a!, b!));
}
opTest('matmul of transposed views (A^T @ B^T)', (a, b) => matmul(transpose(a!, -1, -2), transpose(b!, -1, -2)), (s) => [randRef(s === 'small' ? [7, 5] : [48, 64], 1), randRef(s === 'small' ? [3, 7] : [40, 48], 2)], (a, b) =>
  matmulRef(transposeRef(a!, 0, 1), transposeRef(b!, 0, 1)),
);
opTest('bmm with batch broadcast [1,M,K]@[B,K,N]', bmm, (s) => [randRef(s === 'small' ? [1, 3, 4] : [1, 32, 24], 1), randRef(s === 'small' ? [3, 4, 2] : [4, 24, 32], 2)], (a, b) => matmulRef(a!, b!));
opTest('linear with bias (x, W, b all differentiable)', (x, w, b) => linear(x!, w!, b!), (s) =>
  s === 'small' ? [randRef([2, 3, 4], 1), randRef([5, 4], 2), randRef([5], 3)] : [randRef([64, 48], 1), randRef([40, 48], 2), randRef([40], 3)],
(x, w, b) => zipWith((p, q) => p + q, matmulRef(x!, transposeRef(w!, 0, 1)), b!));
opTest('linear without bias', (x, w) => linear(x!, w!), (s) => (s === 'small' ? [randRef([3, 4], 1), randRef([2, 4], 2)] : [randRef([64, 48], 1), randRef([40, 48], 2)]), (x, w) =>
  matmulRef(x!, transposeRef(w!, 0, 1)),
);

// ---------------------------------------------------------------------------------------------
// softmax, losses

for (const dim of [0, 1, -1]) {
  opTest(`softmax(dim ${dim})`, (x) => softmax(x, dim), (s) => [randRef(s === 'small' ? [2, 3, 4] : [8, 16, 32], 1, -2, 2)], (x) => softmaxRef(x!, dim));
  opTest(`logSoftmax(dim ${dim})`, (x) => logSoftmax(x, dim), (s) => [randRef(s === 'small' ? [2, 3, 4] : [8, 16, 32], 1, -2, 2)], (x) => softmaxRef(x!, dim, true));
}

function classTargets(shape: number[], C: number, seed: number): Tensor {
  const r = randRef(shape, seed, 0, C);
  return toTensor(mapRef(r, Math.floor), { dtype: 'int32' });
}
for (const reduction of ['mean', 'sum'] as const) {
  opTest(`crossEntropy [N,C] ${reduction}`, (x, t) => crossEntropy(x!, t!, reduction), (s) =>
    s === 'small' ? [randRef([4, 3], 1, -2, 2), classTargets([4], 3, 2)] : [randRef([256, 20], 1, -2, 2), classTargets([256], 20, 2)],
  (x, t) => crossEntropyRef(x!, t!, reduction), { differentiable: [true, false], atol32: 1e-4, rtol32: 1e-5 });
  opTest(`crossEntropy [N,C,H,W] ${reduction}`, (x, t) => crossEntropy(x!, t!, reduction), (s) =>
    s === 'small' ? [randRef([2, 3, 2, 2], 1, -2, 2), classTargets([2, 2, 2], 3, 2)] : [randRef([4, 5, 16, 16], 1, -2, 2), classTargets([4, 16, 16], 5, 2)],
  (x, t) => crossEntropyRef(x!, t!, reduction), { differentiable: [true, false], atol32: 1e-3, rtol32: 1e-5 });
  opTest(`mseLoss ${reduction} (input and target differentiable)`, (a, b) => mseLoss(a!, b!, reduction), (s) => [randRef(vshape(s), 1), randRef(vshape(s), 2)], (a, b) => mseRef(a!, b!, reduction), { atol32: 1e-3, rtol32: 1e-5 });
}
opTest('crossEntropy none', (x, t) => crossEntropy(x!, t!, 'none'), (s) =>
  s === 'small' ? [randRef([3, 4, 2], 1, -2, 2), classTargets([3, 2], 4, 2)] : [randRef([64, 10, 8], 1, -2, 2), classTargets([64, 8], 10, 2)],
(x, t) => crossEntropyRef(x!, t!, 'none'), { differentiable: [true, false] });
