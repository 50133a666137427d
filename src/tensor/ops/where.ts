// where(cond, a, b): a where cond != 0, else b, with broadcasting over all three.

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { broadcastShapes } from '../shape.js';
import { Tensor, type TensorOrScalar } from '../tensor.js';
import { elementwiseLoop } from '../backends/cpu/strided.js';
import { checkSame } from './common.js';
import { cast } from './copy.js';
import { scalarLike, zerosLike } from './creation.js';
import { sumToShape } from './reduce.js';
import { expand } from './views.js';

/** out = cond != 0 ? a : b; all views of out's shape; cond has the dtype of a and b. */
export type WhereKernel = (out: Tensor, cond: Tensor, a: Tensor, b: Tensor) => void;

registerKernel<WhereKernel>('where', 'cpu', (out, c, a, b) => {
  elementwiseLoop(3, 'x0 !== 0 ? x1 : x2')(
    out.storage.cpuArray, out.offset, [c.storage.cpuArray, a.storage.cpuArray, b.storage.cpuArray], [c.offset, a.offset, b.offset],
    out.shape, [out.strides, c.strides, a.strides, b.strides], [],
  );
});

export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : null;
  if (!like) throw new Error('where: a or b must be a tensor');
  const ta = typeof a === 'number' ? scalarLike(a, like) : a;
  const tb = typeof b === 'number' ? scalarLike(b, like) : b;
  const c = cond.dtype === ta.dtype ? cond : cast(cond, ta.dtype);
  checkSame('where', c, ta, tb);
  const shape = broadcastShapes('where', c.shape, ta.shape, tb.shape);
  const out = Tensor.empty(shape, ta.dtype, ta.device);
  if (out.size > 0) {
    noGrad(() => {
      const views = [expand(c, shape), expand(ta, shape), expand(tb, shape)] as const;
      getKernel<WhereKernel>('where', ta.device.name)(out, ...views);
      views.forEach((v, i) => v !== [c, ta, tb][i] && v.dispose());
    });
  }
  record('where', [ta, tb], out, (g, needs) => {
    const z = zerosLike(g);
    return [needs[0] ? sumToShape(where(c, g, z), ta.shape) : null, needs[1] ? sumToShape(where(c, z, g), tb.shape) : null];
  });
  // Constants made here (scalar operands, the cast condition) live on only in a recorded graph.
  if (out.gradFn === null) {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
    if (c !== cond) c.dispose();
  }
  return out;
}
