// Concatenation and splitting along a dim. cat copies each input into a slot of the output; its
// gradient is the matching slice of the upstream gradient (a view). split returns views.

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { normDim, shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkSame, composite } from './common.js';
import { copyInto } from './copy.js';
import { narrow } from './views.js';

export function cat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('cat: expected at least one tensor');
  checkSame('cat', ...xs);
  const first = xs[0]!;
  const d = normDim(dim, first.ndim, 'cat');
  for (const x of xs) {
    if (x.ndim !== first.ndim || x.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(`cat: shapes ${xs.map((t) => shapeStr(t.shape)).join(', ')} differ outside dim ${d}`);
    }
  }
  const shape = [...first.shape];
  shape[d] = xs.reduce((a, x) => a + x.shape[d]!, 0);
  const out = Tensor.empty(shape, first.dtype, first.device);
  const starts: number[] = [];
  let off = 0;
  noGrad(() => {
    for (const x of xs) {
      starts.push(off);
      const slot = narrow(out, d, off, x.shape[d]!);
      copyInto(slot, x);
      slot.dispose();
      off += x.shape[d]!;
    }
  });
  return record('cat', xs, out, (g, needs) => xs.map((x, i) => (needs[i] ? narrow(g, d, starts[i]!, x.shape[d]!) : null)));
}

/** Split into pieces of the given sizes (or equal pieces of `sizes` elements) along `dim`; views. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim(dim, x.ndim, 'split');
  const n = x.shape[d]!;
  const list = typeof sizes === 'number' ? Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes)) : [...sizes];
  if (list.reduce((a, b) => a + b, 0) !== n) throw new Error(`split: sizes [${list.join(', ')}] do not add up to ${n} (dim ${d} of ${shapeStr(x.shape)})`);
  let off = 0;
  return list.map((len) => {
    const piece = narrow(x, d, off, len);
    off += len;
    return piece;
  });
}

/** Stack same-shaped tensors along a new dim. */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: expected at least one tensor');
  const d = normDim(dim, xs[0]!.ndim + 1, 'stack');
  return composite(xs, () => cat(xs.map((x) => x.unsqueeze(d)), d));
}
