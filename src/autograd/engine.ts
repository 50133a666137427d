// The backward pass: order the graph above the root topologically, push gradients from the root down,
// accumulate into the .grad of leaves that require gradients (and of tensors with retainGrad()).

import { keep, scope } from '../tensor/memory.js';
import { shapeStr, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { onesLike } from '../tensor/ops/creation.js';
import { add } from '../tensor/ops/binary.js';
import { withGradMode } from './grad-mode.js';

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS (graphs of real networks are deep enough to overflow recursion).
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const child = inputs[i]!;
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

function accumulate(t: Tensor, g: Tensor, owned: Set<Tensor>): void {
  // A rule may hand the same tensor to several inputs (add), and the caller owns gradOutput: a leaf
  // gets its own copy in those cases so that disposing one .grad never frees another's.
  if (!g.isContiguous()) g = g.contiguous();
  else if (owned.has(g)) g = g.clone();
  owned.add(g);
  if (t.grad === null) {
    t.grad = keep(g);
  } else {
    const old = t.grad;
    t.grad = keep(add(old, g));
    old.dispose();
  }
}

export function backward(root: Tensor, gradOutput?: Tensor): void {
  root.assertAlive('backward');
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require grad (no input requires grad, or it was made under noGrad)');
  if (gradOutput === undefined && root.size !== 1) {
    throw new Error(`backward(): a gradient must be given for a non-scalar output ${shapeStr(root.shape)}`);
  }
  if (gradOutput !== undefined) {
    if (!sameShape(gradOutput.shape, root.shape)) {
      throw new Error(`backward(): gradient shape ${shapeStr(gradOutput.shape)} does not match output shape ${shapeStr(root.shape)}`);
    }
    if (gradOutput.device !== root.device) throw new Error(`backward(): gradient on '${gradOutput.device.name}', output on '${root.device.name}'`);
  }
  withGradMode(false, () =>
    scope(() => {
      const order = topoOrder(root);
      const grads = new Map<Tensor, Tensor>();
      const owned = new Set<Tensor>();
      if (gradOutput) owned.add(gradOutput);
      grads.set(root, gradOutput ?? onesLike(root));
      for (const t of order) {
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        const node = t.gradFn;
        if (node === null || t.retainsGrad) {
          if (t.requiresGrad) accumulate(t, g, owned);
          if (node === null) continue;
        }
        const needs = node.inputs.map((x) => x.requiresGrad);
        const inGrads = node.backward(g, needs);
        for (let i = 0; i < node.inputs.length; i++) {
          const x = node.inputs[i]!;
          const gi = inGrads[i];
          if (!needs[i] || gi === null || gi === undefined) continue;
          if (!sameShape(gi.shape, x.shape)) {
            throw new Error(`backward of '${node.name}': gradient for input ${i} has shape ${shapeStr(gi.shape)}, input has ${shapeStr(x.shape)}`);
          }
          const prev = grads.get(x);
          grads.set(x, prev ? add(prev, gi) : gi);
        }
      }
    }),
  );
}
