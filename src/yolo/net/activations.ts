// Darknet's activation functions (activations.h), one table row per cfg name, built from tensor ops
// so that they run on every device and are differentiable.
//
// Float arithmetic: Darknet evaluates most of these in double and rounds once to float. The rows below
// reproduce that exactly on the CPU for the activations the shipped cfgs use:
//   leaky     x > 0 ? x : (float)(0.1 * (double)x)   — the 0.1 is a double literal, so the slope is NOT
//             rounded to 0.1f first (about 20% of negative inputs would round differently). The unary
//             kernel computes `p0 * x0` in double with the parameter as given and rounds once on store.
//   logistic  (float)(1 / (1 + exp(-(double)x)))     — the unary 'sigmoid' row, computed in double.
//   relu      x > 0 ? x : 0,  linear: x (the input tensor itself, no copy).
// The rarer rows are compositions of float ops (each op rounds), so they can differ from Darknet by an
// ulp or so: elu, selu, loggy, tanh, plse, ramp, relie, hardtan, lhtan. `stair` is exact (floors, halves
// and one subtraction, all exact in float32) and uses Darknet's stair_gradient (0 at integers, else 1).
//
// Gradients: leaky/relie use Darknet's gradient (1 for x > 0, else the slope); the others use the exact
// derivative of the composed forward (Darknet's own *_gradient functions are the same math, evaluated
// from the output instead of the input).

import { record } from '../../autograd/record.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { add, ge, gt, lt, mul, ne, sub } from '../../tensor/ops/binary.js';
import { clamp, exp, relu, sigmoid, tanh, unaryRaw } from '../../tensor/ops/unary.js';
import { where } from '../../tensor/ops/where.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Activation } from '../darknet/cfg-types.js';

/** x > 0 ? x : slope*x with the product in double, rounded once (Darknet's leaky/relie arithmetic). */
export function darknetLeaky(x: Tensor, slope = 0.1): Tensor {
  const y = unaryRaw(x, 'leaky_relu', [slope]);
  return record('leaky_relu', [x], y, (g) => [mul(g, unaryRaw(x, 'heaviside', [slope]))]);
}

/**
 * Darknet's stair: n = floor(x); n even → floor(x/2), odd → (x − n) + floor(x/2) (every step exact in
 * float32). Its gradient is Darknet's: 0 where x is an integer, 1 elsewhere.
 */
export function darknetStair(x: Tensor): Tensor {
  const y = noGrad(() => {
    const n = unaryRaw(x, 'floor');
    const half = unaryRaw(mul(x, 0.5), 'floor');
    const odd = ne(sub(n, mul(unaryRaw(mul(n, 0.5), 'floor'), 2)), 0);
    return where(odd, add(sub(x, n), half), half);
  });
  return record('stair', [x], y, (g) => [mul(g, ne(unaryRaw(x, 'floor'), x))]);
}

/** The activation functions by cfg name (Darknet's activations.h). */
export const ACTIVATION_TABLE: Readonly<Record<Activation, (x: Tensor) => Tensor>> = {
  linear: (x) => x,
  leaky: (x) => darknetLeaky(x, 0.1),
  logistic: (x) => sigmoid(x),
  relu: (x) => relu(x),
  // relie: x > 0 ? x : .01*x
  relie: (x) => darknetLeaky(x, 0.01),
  // ramp: x*(x>0) + .1*x
  ramp: (x) => add(relu(x), mul(x, 0.1)),
  // loggy: 2/(1+exp(-x)) - 1
  loggy: (x) => sub(mul(sigmoid(x), 2), 1),
  // tanh: (exp(2x)-1)/(exp(2x)+1)
  tanh: (x) => tanh(x),
  // elu: x >= 0 ? x : exp(x)-1
  elu: (x) => where(ge(x, 0), x, sub(exp(x), 1)),
  // selu: x >= 0 ? 1.0507*x : 1.0507*1.6732*(exp(x)-1)
  selu: (x) => where(ge(x, 0), mul(x, 1.0507), mul(sub(exp(x), 1), 1.0507 * 1.6732)),
  // plse: x < -4 ? .01*(x+4) : x > 4 ? .01*(x-4)+1 : .125*x+.5
  plse: (x) => where(lt(x, -4), mul(add(x, 4), 0.01), where(gt(x, 4), add(mul(sub(x, 4), 0.01), 1), add(mul(x, 0.125), 0.5))),
  // hardtan: clamp to [-1, 1]
  hardtan: (x) => clamp(x, -1, 1),
  // lhtan: x < 0 ? .001*x : x > 1 ? .001*(x-1)+1 : x
  lhtan: (x) => where(lt(x, 0), mul(x, 0.001), where(gt(x, 1), add(mul(sub(x, 1), 0.001), 1), x)),
  // stair: floor-based steps (darknetStair)
  stair: (x) => darknetStair(x),
};

/** Throws (naming `where`) if the activation is unknown; call at network build time. */
export function checkActivation(act: Activation, where: string): void {
  if (!(act in ACTIVATION_TABLE)) throw new Error(`${where}: unknown activation '${String(act)}'`);
}

/** Applies Darknet activation `act` to x. */
export function activate(x: Tensor, act: Activation): Tensor {
  const fn = ACTIVATION_TABLE[act] as ((x: Tensor) => Tensor) | undefined;
  if (fn === undefined) throw new Error(`activate: unknown activation '${String(act)}'`);
  return fn(x);
}
