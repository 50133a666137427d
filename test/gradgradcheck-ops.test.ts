// Second derivatives of every differentiable op: gradgradcheck (the vjp differentiated in the input and in
// the gradOutput, full Jacobian, float64 central differences) on small inputs kept away from kinks and
// poles, and nothing left alive afterwards. The dedicated backward kernels (conv2d, local2d, pools,
// batchnorm) are recorded ops themselves, so they are covered here too.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  abs,
  add,
  amax,
  amin,
  avgpool2d,
  batchnorm2d,
  bmm,
  broadcastTo,
  cast,
  cat,
  clamp,
  clone,
  contiguous,
  conv2d,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  crossEntropy,
  div,
  dropout,
  exp,
  expand,
  flatten,
  floor,
  globalAvgPool2d,
  gradgradcheck,
  identity,
  leakyRelu,
  linear,
  local2d,
  log,
  logSoftmax,
  matmul,
  max,
  maximum,
  maxpool2d,
  maxpool2dDarknet,
  mean,
  memoryInfo,
  min,
  minimum,
  mseLoss,
  mul,
  narrow,
  neg,
  permute,
  pixelShuffle,
  pixelUnshuffle,
  pow,
  reciprocal,
  relu,
  reorgArdi,
  reorgDarknet,
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
  Tensor,
  type GradgradcheckOptions,
} from '../src/index.js';
import { mapRef, randAwayFromZero, randDistinct, randRef, toTensor, type Ref } from './helpers/ref.js';

type Input = Ref | Tensor;

/** gradgradcheck of fn at the inputs (Refs become float64 leaves; Tensors are constants), leak-free. */
function second(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: () => Input[], opts: GradgradcheckOptions = {}): void {
  test(`second derivatives: ${name}`, () => {
    const before = memoryInfo('cpu');
    const tensors = inputs().map((x) => (x instanceof Tensor ? x : toTensor(x, { requiresGrad: true })));
    const r = gradgradcheck(fn, tensors, { throwOnFailure: false, ...opts });
    assert.ok(r.ok, r.report);
    for (const t of tensors) t.dispose();
    assert.deepEqual(memoryInfo('cpu'), before, 'tensors alive before and after');
  });
}

const int32 = (shape: number[], values: number[]): Tensor => toTensor({ shape, data: Float64Array.from(values) }, { dtype: 'int32' });

// ---- unary

second('neg', neg, () => [randRef([2, 3], 1)]);
second('exp', exp, () => [randRef([2, 3], 1)]);
second('log', log, () => [randRef([2, 3], 1, 0.3, 2)]);
second('sqrt', sqrt, () => [randRef([2, 3], 1, 0.3, 2)]);
second('abs', abs, () => [randAwayFromZero([2, 3], 1)]);
second('sigmoid', sigmoid, () => [randRef([2, 3], 1, -2, 2)]);
second('tanh', tanh, () => [randRef([2, 3], 1, -2, 2)]);
second('relu', relu, () => [randAwayFromZero([2, 3], 1)]);
second('leakyRelu(0.1)', (x) => leakyRelu(x, 0.1), () => [randAwayFromZero([2, 3], 1)]);
second('clamp(-0.5, 0.5)', (x) => clamp(x, -0.5, 0.5), () => [mapRef(randAwayFromZero([2, 3], 1, 0.1, 1.2), (v) => (Math.abs(Math.abs(v) - 0.5) < 0.05 ? v * 1.3 : v))]);
second('square', square, () => [randRef([2, 3], 1)]);
second('reciprocal', reciprocal, () => [randAwayFromZero([2, 3], 1, 0.3, 2)]);
second('floor (derivative 0)', (x) => add(floor(x), mul(x, x)), () => [mapRef(randRef([2, 3], 1), (v) => Math.floor(v) + 0.3 + 0.4 * (v - Math.floor(v)))]);
second('identity', (x) => mul(identity(x), x), () => [randRef([2, 3], 1)]);

// ---- binary (with broadcasting), where

const pairs = (): Ref[] => [randRef([2, 3, 1], 1), randRef([4], 2)];
second('add', (a, b) => mul(add(a!, b!), a!), pairs);
second('sub', (a, b) => mul(sub(a!, b!), b!), pairs);
second('mul', mul, pairs);
second('div', div, () => [randRef([2, 3, 1], 1), randAwayFromZero([4], 2, 0.4, 2)]);
second('pow (tensor ** tensor)', pow, () => [randRef([2, 3, 1], 1, 0.3, 2), randRef([4], 2, -2, 2)]);
second('pow (tensor ** 3)', (x) => pow(x, 3), () => [randRef([2, 3], 1)]);
second('pow (2 ** tensor)', (x) => pow(2, x), () => [randRef([2, 3], 1)]);
second('maximum', (a, b) => mul(maximum(a!, b!), a!), () => [randRef([2, 3], 1), mapRef(randRef([3], 2), (v) => v + 0.1)]);
second('minimum', (a, b) => mul(minimum(a!, b!), b!), () => [randRef([2, 3], 1), mapRef(randRef([3], 2), (v) => v + 0.1)]);
second('where (cond constant)', (c, a, b) => mul(where(c!, a!, b!), a!), () => [int32([3, 1], [1, 0, 1]), randRef([2, 1, 4], 1), randRef([4], 2)]);

// ---- reductions

for (const [dims, keepdim] of [[null, false], [1, true], [[0, 2], false]] as [number | number[] | null, boolean][]) {
  const tag = `(${JSON.stringify(dims)}${keepdim ? ', keepdim' : ''})`;
  second(`sum${tag}`, (x) => square(sum(x, dims, keepdim)), () => [randRef([2, 3, 2], 1)]);
  second(`mean${tag}`, (x) => square(mean(x, dims, keepdim)), () => [randRef([2, 3, 2], 1)]);
  second(`amax${tag}`, (x) => square(amax(x, dims, keepdim)), () => [randDistinct([2, 3, 2], 1)]);
  second(`amin${tag}`, (x) => square(amin(x, dims, keepdim)), () => [randDistinct([2, 3, 2], 1)]);
}
second('max(x, 1).values', (x) => square(max(x, 1).values), () => [randDistinct([2, 3], 2)]);
second('min(x, -1, keepdim).values', (x) => square(min(x, -1, true).values), () => [randDistinct([2, 3], 2)]);

// ---- views and data movement (linear: their second derivative in x is 0, in the gradOutput the view's adjoint)

const v3 = (): Ref[] => [randRef([2, 3, 2], 3)];
second('view', (x) => mul(view(x, [-1, 4]), view(x, [3, 4])), v3);
second('reshape of a permuted tensor', (x) => square(reshape(permute(x, [2, 0, 1]), [-1])), v3);
second('permute', (x) => square(permute(x, [1, 2, 0])), v3);
second('transpose', (x) => square(transpose(x, 0, -1)), v3);
second('narrow', (x) => mul(narrow(x, 1, 1, 2), narrow(x, 1, 0, 2)), v3);
second('select', (x) => square(select(x, 1, 2)), v3);
second('expand', (x) => square(expand(x, [3, 2, 2, 2])), () => [randRef([2, 1, 2], 3)]);
second('broadcastTo', (x) => square(broadcastTo(x, [2, 3])), () => [randRef([3], 3)]);
second('squeeze / unsqueeze', (x) => square(squeeze(unsqueeze(x, 1), 1)), v3);
second('flatten', (x) => square(flatten(x, 1)), v3);
second('contiguous of a transposed view', (x) => square(contiguous(transpose(x, 0, 1))), v3);
second('clone', (x) => square(clone(x)), v3);
second('cast float64 -> float32 -> float64', (x) => cast(square(cast(x, 'float32')), 'float64'), v3, { eps: 1e-3, atol: 1e-3, rtol: 1e-3 });
second('cat along dim 1', (a, b) => mul(cat([a!, b!], 1), cat([b!, a!], 1)), () => [randRef([2, 2, 2], 1), randRef([2, 2, 2], 2)]);
second('stack along dim -1', (a, b) => square(stack([a!, b!], -1)), () => [randRef([2, 2], 1), randRef([2, 2], 2)]);
second('split', (x) => {
  const [p, q] = split(x, [1, 1], 0);
  return mul(p!, q!);
}, v3);

// ---- matmul family, softmax, losses

second('matmul [2,3]@[3,2]', matmul, () => [randRef([2, 3], 1), randRef([3, 2], 2)]);
second('matmul [2,1,2,3]@[2,3,2] (batch broadcast)', matmul, () => [randRef([2, 1, 2, 3], 1), randRef([2, 3, 2], 2)]);
second('matmul [3]@[3]', matmul, () => [randRef([3], 1), randRef([3], 2)]);
second('bmm [1,2,3]@[2,3,2]', bmm, () => [randRef([1, 2, 3], 1), randRef([2, 3, 2], 2)]);
second('linear with bias', (x, w, b) => tanh(linear(x!, w!, b!)), () => [randRef([2, 3], 1), randRef([2, 3], 2), randRef([2], 3)]);
second('softmax(dim 1)', (x) => softmax(x, 1), () => [randRef([2, 3], 1, -2, 2)]);
second('logSoftmax(dim 0)', (x) => logSoftmax(x, 0), () => [randRef([2, 3], 1, -2, 2)]);
second('crossEntropy [N,C] mean', (x, t) => crossEntropy(x!, t!), () => [randRef([3, 4], 1, -2, 2), int32([3], [0, 3, 1])]);
second('crossEntropy [N,C,H,W] sum', (x, t) => crossEntropy(x!, t!, 'sum'), () => [randRef([2, 3, 1, 2], 1, -2, 2), int32([2, 1, 2], [0, 2, 1, 1])]);
second('mseLoss mean (both inputs)', (a, b) => mseLoss(a!, b!), () => [randRef([2, 3], 1), randRef([2, 3], 2)]);

// ---- convolutions (their backward ops are recorded ops whose gradients are again these ops)

second('conv2d with bias, stride 2, padding 1', (x, w, b) => conv2d(x!, w!, b!, { stride: 2, padding: 1 }), () => [randRef([1, 2, 4, 4], 1), randRef([2, 2, 3, 3], 2), randRef([2], 3)]);
second('conv2d groups 2, dilation 2, per-side padding', (x, w) => conv2d(x!, w!, null, { groups: 2, dilation: 2, padding: [1, 0, 0, 1] }), () => [randRef([1, 2, 4, 4], 1), randRef([2, 1, 2, 2], 2)]);
second('conv2d then tanh (second derivative through the nonlinearity)', (x, w) => tanh(conv2d(x!, w!, null, { padding: 1 })), () => [randRef([1, 1, 3, 3], 1), randRef([2, 1, 3, 3], 2)]);
second('conv2dBackwardInput', (g, w) => conv2dBackwardInput(g!, w!, [1, 2, 4, 4], { padding: 1 }), () => [randRef([1, 2, 4, 4], 1), randRef([2, 2, 3, 3], 2)]);
second('conv2dBackwardWeight', (x, g) => conv2dBackwardWeight(x!, g!, [2, 2, 3, 3], { padding: 1 }), () => [randRef([1, 2, 4, 4], 1), randRef([1, 2, 4, 4], 2)]);
second('conv2dBackwardBias', (g) => square(conv2dBackwardBias(g)), () => [randRef([2, 3, 2, 2], 1)]);
second('local2d with bias', (x, w, b) => local2d(x!, w!, b!, { stride: 1 }), () => [randRef([1, 2, 3, 3], 1), randRef([2, 2, 2, 2, 2, 2], 2), randRef([2, 2, 2], 3)]);

// ---- pooling, batchnorm, reorg, dropout

const planes = (): Ref[] => [randDistinct([1, 2, 4, 4], 1)];
second('maxpool2d kernel 2', (x) => square(maxpool2d(x, { kernel: 2 })), planes);
second('maxpool2d kernel 3, stride 1, padding 1, dilation 1', (x) => square(maxpool2d(x, { kernel: 3, stride: 1, padding: 1 })), planes);
second('maxpool2dDarknet size 2 stride 1', (x) => square(maxpool2dDarknet(x, 2, 1)), planes);
second('avgpool2d kernel 3, stride 2, padding 1, count_include_pad false', (x) => square(avgpool2d(x, { kernel: 3, stride: 2, padding: 1, countIncludePad: false })), planes);
second('globalAvgPool2d', (x) => square(globalAvgPool2d(x)), planes);
const bnInputs = (): Ref[] => [randRef([2, 2, 2, 3], 1), randRef([2], 2, 0.5, 1.5), randRef([2], 3)];
second('batchnorm2d pytorch, training', (x, g, b) => batchnorm2d(x!, g!, b!, null, null, { training: true }).y, bnInputs);
second('batchnorm2d pytorch, eval', (x, g, b) => {
  const rm = toTensor(randRef([2], 4));
  const rv = toTensor(randRef([2], 5, 0.5, 2));
  return batchnorm2d(x!, g!, b!, rm, rv, { training: false }).y;
}, bnInputs);
second('batchnorm2d darknet, training, exact backward', (x, g, b) => batchnorm2d(x!, g!, b!, null, null, { training: true, variant: 'darknet', darknetBackward: 'exact' }).y, bnInputs);
second("batchnorm2d darknet, training, Darknet's backward (its own derivative)", (x, g, b) => batchnorm2d(x!, g!, b!, null, null, { training: true, variant: 'darknet' }).y, bnInputs);
second('batchnorm2d without affine parameters', (x) => square(batchnorm2d(x, null, null, null, null, { training: true }).y), () => [randRef([2, 2, 2, 2], 1)]);
second('reorgDarknet', (x) => square(reorgDarknet(x)), () => [randRef([1, 4, 2, 2], 1)]);
second('reorgArdi', (x) => square(reorgArdi(x)), () => [randRef([1, 2, 2, 2], 1)]);
second('pixelUnshuffle / pixelShuffle', (x) => square(pixelShuffle(pixelUnshuffle(x, 2), 2)), () => [randRef([1, 1, 2, 4], 1)]);
second('dropout (fixed seed)', (x) => square(dropout(x, 0.4, { training: true, seed: 7 })), () => [randRef([2, 4], 1)]);
