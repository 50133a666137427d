// Elementwise unary ops. One table row per op: its scalar formula (used by the CPU kernel, mirrored by
// native/kernels/unary.cu) and its backward rule written with other ops.

import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { Tensor } from '../tensor.js';
import { elementwiseLoop, elementwiseParallel } from '../backends/cpu/strided.js';
import { add, div, mul, sub } from './binary.js';
import { checkFloat } from './common.js';

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'clamp'
  | 'sign' | 'heaviside' | 'in_range' | 'square' | 'reciprocal' | 'floor';

/** out = op(x) elementwise; out contiguous, x any view of the same shape; params per op (slope, min, max). */
export type UnaryKernel = (out: Tensor, x: Tensor, op: UnaryOp, params: readonly number[]) => void;

/** Scalar formula per op: x0 is the input, p0/p1 the parameters. */
export const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-x0',
  exp: 'Math.exp(x0)',
  log: 'Math.log(x0)',
  sqrt: 'Math.sqrt(x0)',
  abs: 'Math.abs(x0)',
  sigmoid: '1 / (1 + Math.exp(-x0))',
  tanh: 'Math.tanh(x0)',
  relu: 'x0 > 0 ? x0 : 0',
  leaky_relu: 'x0 > 0 ? x0 : p0 * x0',
  clamp: 'x0 < p0 ? p0 : x0 > p1 ? p1 : x0',
  sign: 'x0 > 0 ? 1 : x0 < 0 ? -1 : 0',
  // 1 where x > 0, else p0 (the derivative factor of relu / leaky relu)
  heaviside: 'x0 > 0 ? 1 : p0',
  // 1 where p0 <= x <= p1 (the derivative factor of clamp)
  in_range: 'x0 >= p0 && x0 <= p1 ? 1 : 0',
  square: 'x0 * x0',
  reciprocal: '1 / x0',
  floor: 'Math.floor(x0)',
};

registerKernel<UnaryKernel>('unary', 'cpu', (out, x, op, params) => {
  const args = [out.storage.cpuArray, out.offset, [x.storage.cpuArray], [x.offset], out.shape, [out.strides, x.strides], params] as const;
  if (!elementwiseParallel(UNARY_EXPR[op], ...args)) elementwiseLoop(1, UNARY_EXPR[op])(...args);
});

/** Run the unary kernel (no graph). */
export function unaryRaw(x: Tensor, op: UnaryOp, params: readonly number[] = []): Tensor {
  x.assertAlive(op);
  checkFloat(op, x);
  const out = Tensor.empty(x.shape, x.dtype, x.device);
  if (out.size > 0) getKernel<UnaryKernel>('unary', x.device.name)(out, x, op, params);
  return out;
}

/** float32 tensors get float32 parameters, so that p*x rounds exactly as float32 arithmetic would. */
function param(x: Tensor, v: number): number {
  return x.dtype === 'float32' ? Math.fround(v) : v;
}

/** Largest integer ≤ x, elementwise. Its derivative is 0 wherever it exists (x not an integer). */
export function floor(x: Tensor): Tensor {
  return record('floor', [x], unaryRaw(x, 'floor'), (g) => [mul(g, 0)]);
}

export function neg(x: Tensor): Tensor {
  return record('neg', [x], unaryRaw(x, 'neg'), (g) => [neg(g)]);
}

export function exp(x: Tensor): Tensor {
  const y = unaryRaw(x, 'exp');
  return record('exp', [x], y, (g) => [mul(g, y)]);
}

export function log(x: Tensor): Tensor {
  return record('log', [x], unaryRaw(x, 'log'), (g) => [div(g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const y = unaryRaw(x, 'sqrt');
  return record('sqrt', [x], y, (g) => [div(g, mul(y, 2))]);
}

export function abs(x: Tensor): Tensor {
  return record('abs', [x], unaryRaw(x, 'abs'), (g) => [mul(g, unaryRaw(x, 'sign'))]);
}

export function sign(x: Tensor): Tensor {
  return unaryRaw(x, 'sign');
}

export function square(x: Tensor): Tensor {
  return record('square', [x], unaryRaw(x, 'square'), (g) => [mul(g, mul(x, 2))]);
}

export function reciprocal(x: Tensor): Tensor {
  const y = unaryRaw(x, 'reciprocal');
  return record('reciprocal', [x], y, (g) => [neg(mul(g, mul(y, y)))]);
}

export function sigmoid(x: Tensor): Tensor {
  const y = unaryRaw(x, 'sigmoid');
  return record('sigmoid', [x], y, (g) => [mul(g, mul(y, sub(1, y)))]);
}

export function tanh(x: Tensor): Tensor {
  const y = unaryRaw(x, 'tanh');
  return record('tanh', [x], y, (g) => [mul(g, sub(1, mul(y, y)))]);
}

export function relu(x: Tensor): Tensor {
  return record('relu', [x], unaryRaw(x, 'relu'), (g) => [mul(g, unaryRaw(x, 'heaviside', [0]))]);
}

/** max(x, 0) + slope * min(x, 0). For float32 the slope is rounded to float32 first (as Darknet's `.1f`). */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  const p = param(x, slope);
  return record('leaky_relu', [x], unaryRaw(x, 'leaky_relu', [p]), (g) => [mul(g, unaryRaw(x, 'heaviside', [p]))]);
}

/** Clamp to [min, max] (null = unbounded). The gradient passes where min <= x <= max. */
export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  const lo = min === null ? -Infinity : param(x, min);
  const hi = max === null ? Infinity : param(x, max);
  if (lo > hi) throw new Error(`clamp: min ${min} > max ${max}`);
  return record('clamp', [x], unaryRaw(x, 'clamp', [lo, hi]), (g) => [mul(g, unaryRaw(x, 'in_range', [lo, hi]))]);
}

/** x + 0 as a new tensor with a graph edge (used by composites that need a fresh output). */
export function identity(x: Tensor): Tensor {
  return add(x, 0);
}
