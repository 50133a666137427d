// Elementwise binary ops with NumPy broadcasting. Inputs are expanded (stride-0 views) to the output
// shape and handed to one kernel; gradients are summed back to each input's shape.

import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { broadcastShapes } from '../shape.js';
import { Tensor, type TensorOrScalar } from '../tensor.js';
import { elementwiseLoop, elementwiseParallel } from '../backends/cpu/strided.js';
import { checkSame, promote } from './common.js';
import { sumToShape } from './reduce.js';
import { log, neg } from './unary.js';
import { expand } from './views.js';
import { noGrad } from '../../autograd/grad-mode.js';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** out = a op b; out contiguous; a, b views of out's shape (broadcast dims have stride 0). */
export type BinaryKernel = (out: Tensor, a: Tensor, b: Tensor, op: BinaryOp) => void;

export const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'x0 + x1',
  sub: 'x0 - x1',
  mul: 'x0 * x1',
  div: 'x0 / x1',
  pow: 'Math.pow(x0, x1)',
  // NaN in either operand gives NaN (as torch.maximum/minimum), whichever side it is on.
  maximum: 'x0 > x1 || x0 !== x0 ? x0 : x1',
  minimum: 'x0 < x1 || x0 !== x0 ? x0 : x1',
  eq: 'x0 === x1 ? 1 : 0',
  ne: 'x0 !== x1 ? 1 : 0',
  lt: 'x0 < x1 ? 1 : 0',
  le: 'x0 <= x1 ? 1 : 0',
  gt: 'x0 > x1 ? 1 : 0',
  ge: 'x0 >= x1 ? 1 : 0',
};

registerKernel<BinaryKernel>('binary', 'cpu', (out, a, b, op) => {
  const args = [
    out.storage.cpuArray, out.offset, [a.storage.cpuArray, b.storage.cpuArray], [a.offset, b.offset],
    out.shape, [out.strides, a.strides, b.strides], [],
  ] as const;
  if (!elementwiseParallel(BINARY_EXPR[op], ...args)) elementwiseLoop(2, BINARY_EXPR[op])(...args);
});

/** Run the binary kernel with broadcasting (no graph). */
export function binaryRaw(a: Tensor, b: Tensor, op: BinaryOp): Tensor {
  checkSame(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = Tensor.empty(shape, a.dtype, a.device);
  if (out.size > 0) {
    noGrad(() => {
      const ea = expand(a, shape);
      const eb = expand(b, shape);
      getKernel<BinaryKernel>('binary', a.device.name)(out, ea, eb, op);
      if (ea !== a) ea.dispose();
      if (eb !== b) eb.dispose();
    });
  }
  return out;
}

function binary(op: BinaryOp, x: TensorOrScalar, y: TensorOrScalar, rule: (g: Tensor, a: Tensor, b: Tensor, out: Tensor, needs: readonly boolean[]) => (Tensor | null)[]): Tensor {
  // Numbers become 0-d constants: kept alive by the graph when one is recorded, freed at once otherwise.
  const [a, b, created] = promote(op, x, y);
  const out = binaryRaw(a, b, op);
  record(op, [a, b], out, (g, needs) => {
    const [ga, gb] = rule(g, a, b, out, needs);
    return [ga ? sumToShape(ga, a.shape) : null, gb ? sumToShape(gb, b.shape) : null];
  });
  if (out.gradFn === null) for (const t of created) t.dispose();
  return out;
}

export function add(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('add', a, b, (g) => [g, g]);
}

export function sub(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('sub', a, b, (g, _a, _b, _o, needs) => [g, needs[1] ? neg(g) : null]);
}

export function mul(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('mul', a, b, (g, x, y, _o, needs) => [needs[0] ? mul(g, y) : null, needs[1] ? mul(g, x) : null]);
}

export function div(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('div', a, b, (g, _x, y, out, needs) => [needs[0] ? div(g, y) : null, needs[1] ? neg(div(mul(g, out), y)) : null]);
}

/** a ** b. The gradient for b uses log(a) (defined for a > 0). */
export function pow(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('pow', a, b, (g, x, y, out, needs) => [
    needs[0] ? mul(g, mul(y, pow(x, sub(y, 1)))) : null,
    needs[1] ? mul(g, mul(out, log(x))) : null,
  ]);
}

/** Elementwise max; on ties the gradient goes to `a`. */
export function maximum(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('maximum', a, b, (g, x, y, _o, needs) => {
    const m = binaryRaw(x, y, 'ge');
    return [needs[0] ? mul(g, m) : null, needs[1] ? mul(g, sub(1, m)) : null];
  });
}

/** Elementwise min; on ties the gradient goes to `a`. */
export function minimum(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return binary('minimum', a, b, (g, x, y, _o, needs) => {
    const m = binaryRaw(x, y, 'le');
    return [needs[0] ? mul(g, m) : null, needs[1] ? mul(g, sub(1, m)) : null];
  });
}

function compare(op: BinaryOp, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const [x, y, created] = promote(op, a, b);
  const out = binaryRaw(x, y, op);
  for (const t of created) t.dispose();
  return out;
}

/** Comparisons give 1/0 in the inputs' dtype (usable directly as masks and in where()). */
export const eq = (a: TensorOrScalar, b: TensorOrScalar): Tensor => compare('eq', a, b);
export const ne = (a: TensorOrScalar, b: TensorOrScalar): Tensor => compare('ne', a, b);
export const lt = (a: TensorOrScalar, b: TensorOrScalar): Tensor => compare('lt', a, b);
export const le = (a: TensorOrScalar, b: TensorOrScalar): Tensor => compare('le', a, b);
export const gt = (a: TensorOrScalar, b: TensorOrScalar): Tensor => compare('gt', a, b);
export const ge = (a: TensorOrScalar, b: TensorOrScalar): Tensor => compare('ge', a, b);
