// The backward pass: order the graph above the roots topologically, push gradients from the roots down,
// and either accumulate into the .grad of leaves that require gradients (and of tensors with
// retainGrad()) — backward() — or hand back the gradients of chosen tensors — grad().
//
// Rules (the lifetime of a graph):
// - A backward pass without `retainGraph` releases every node it runs through: a second pass through
//   the same nodes is an error naming the op (PyTorch's "Trying to backward through the graph a second
//   time"). `retainGraph: true` keeps the graph for another pass.
// - With `createGraph` the rules run with recording on, so the gradients are themselves differentiable
//   (higher-order gradients, gradient penalties, Hessian-vector products). Their graph lives in the
//   caller's scope like any recorded op; without it the pass runs inside a scope of its own and frees
//   every intermediate gradient.
// - The tensors of a graph must be alive when backward runs through them. A scope() frees what it did
//   not return, so a result returned from a scope keeps its value but not the intermediates its graph
//   goes through: backward() on it raises an error naming the freed tensor instead of silently treating
//   it as a leaf. Run backward inside the scope that built the graph.

import { keep, scope } from '../tensor/memory.js';
import { shapeStr, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { onesLike } from '../tensor/ops/creation.js';
import { add } from '../tensor/ops/binary.js';
import { contiguous, clone, detach } from '../tensor/ops/copy.js';
import { withGradMode } from './grad-mode.js';
import type { GradNode } from './node.js';
import { record } from './record.js';

export interface BackwardOptions {
  /** Keep the graph so that another backward pass can go through it (default: createGraph). */
  retainGraph?: boolean;
  /** Record the backward pass, so that the gradients are differentiable (default false). */
  createGraph?: boolean;
}

export interface GradOptions extends BackwardOptions {
  /** Upstream gradient per output (same shape, dtype and device); null or omitted for a one-element output = 1. */
  gradOutputs?: Tensor | readonly (Tensor | null | undefined)[];
  /** Return null for an input the outputs do not depend on, instead of throwing (default false). */
  allowUnused?: boolean;
}

interface Pass {
  what: string;
  roots: readonly Tensor[];
  seeds: readonly Tensor[];
  /** grad(): the tensors whose gradients are wanted; backward(): null (accumulate into leaves). */
  targets: ReadonlySet<Tensor> | null;
  createGraph: boolean;
  retainGraph: boolean;
}

function describe(t: Tensor): string {
  return `tensor #${t.id} ${shapeStr(t.shape)}`;
}

/**
 * Tensors above the roots in topological order (each before the tensors it was computed from), keeping
 * only those a gradient must pass through: every tensor that requires grad for backward(), and for
 * grad() the ones from which a target can be reached. Iterative (real networks overflow recursion).
 */
function topoOrder(roots: readonly Tensor[], targets: ReadonlySet<Tensor> | null): Tensor[] {
  const post: Tensor[] = [];
  const seen = new Set<Tensor>();
  const leadsToTarget = new Set<Tensor>();
  for (const root of roots) {
    if (seen.has(root)) continue;
    seen.add(root);
    const stack: [Tensor, number][] = [[root, 0]];
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
        post.push(t);
        if (targets && (targets.has(t) || inputs.some((x) => leadsToTarget.has(x)))) leadsToTarget.add(t);
      }
    }
  }
  const order = targets ? post.filter((t) => leadsToTarget.has(t)) : post;
  return order.reverse();
}

/** Every node the pass will run must be alive and not yet released; checked before any rule runs. */
function validate(order: readonly Tensor[], what: string): void {
  for (const t of order) {
    const node = t.gradFn;
    if (node?.released) {
      throw new Error(
        `${what}: the graph through '${node.name}' (${describe(t)}) was already freed by an earlier backward pass; ` +
          'pass { retainGraph: true } to the first backward() or grad() to go through a graph twice',
      );
    }
    for (const [i, x] of (node?.inputs ?? []).entries()) {
      if (x.requiresGrad && x.isDisposed) {
        throw new Error(
          `${what}: ${describe(x)}, input ${i} of '${node!.name}' (${describe(t)}), was disposed before the backward pass ` +
            '(a scope() frees the intermediates it does not return: run backward() inside the scope that built the graph)',
        );
      }
    }
  }
}

/** Under createGraph, the results of a once-differentiable rule: values without a graph, behind a node that raises when differentiated. */
function onceDifferentiable(node: GradNode, g: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
  const results = withGradMode(false, () => node.backward(g, needs));
  const sources = [g, ...node.inputs];
  const name = node.name;
  return results.map((r) =>
    r === null || r === undefined
      ? null
      : record(`${name} (differentiable once)`, sources, detach(r), () => {
          throw new Error(`backward of '${name}': its gradient is differentiable once (the rule has no derivative of its own); a higher-order gradient through it is not available`);
        }),
  );
}

function runRule(node: GradNode, t: Tensor, g: Tensor, needs: readonly boolean[], what: string, createGraph: boolean): readonly (Tensor | null)[] {
  try {
    return createGraph && node.onceDifferentiable ? onceDifferentiable(node, g, needs) : node.backward(g, needs);
  } catch (e) {
    if (e instanceof Error && /was disposed/.test(e.message)) {
      throw new Error(
        `${what}: backward of '${node.name}' (${describe(t)}) needs a tensor that was disposed: ${e.message} ` +
          '(a scope() frees the intermediates it does not return: run backward() inside the scope that built the graph)',
      );
    }
    throw e;
  }
}

function released(name: string): never {
  throw new Error(`backward of '${name}': the graph was freed by an earlier backward pass; pass { retainGraph: true } to go through it twice`);
}

/** Runs the pass; returns the gradient that reached each target (grad()), or an empty map (backward()). */
function run(pass: Pass): Map<Tensor, Tensor> {
  const { what, targets } = pass;
  const order = topoOrder(pass.roots, targets);
  validate(order, what);
  const onPath = targets ? new Set(order) : null;
  const grads = new Map<Tensor, Tensor>();
  const captured = new Map<Tensor, Tensor>();
  // A rule may hand the same tensor to several inputs (add), and the caller owns the seeds: a leaf (or a
  // captured target) gets its own copy in those cases so that disposing one gradient never frees another.
  const owned = new Set<Tensor>(pass.seeds);
  const own = (g: Tensor): Tensor => {
    const c = !g.isContiguous() ? contiguous(g) : owned.has(g) ? clone(g) : g;
    owned.add(c);
    return c;
  };
  pass.roots.forEach((r, i) => {
    const prev = grads.get(r);
    grads.set(r, prev ? add(prev, pass.seeds[i]!) : pass.seeds[i]!);
  });
  for (const t of order) {
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    const node = t.gradFn;
    if (targets) {
      if (targets.has(t)) captured.set(t, own(g));
    } else if ((node === null || t.retainsGrad) && t.requiresGrad) {
      const gi = own(g);
      if (t.grad === null) t.grad = keep(gi);
      else {
        const old = t.grad;
        t.grad = keep(add(old, gi));
        old.dispose();
      }
    }
    if (node === null) continue;
    const needs = node.inputs.map((x) => x.requiresGrad && (onPath === null || onPath.has(x)));
    if (!needs.some(Boolean)) continue;
    const inGrads = runRule(node, t, g, needs, what, pass.createGraph);
    for (let i = 0; i < node.inputs.length; i++) {
      const x = node.inputs[i]!;
      const gi = inGrads[i];
      if (!needs[i] || gi === null || gi === undefined) continue;
      if (!sameShape(gi.shape, x.shape)) {
        throw new Error(`backward of '${node.name}': gradient for input ${i} has shape ${shapeStr(gi.shape)}, input has ${shapeStr(x.shape)}`);
      }
      if (gi.dtype !== x.dtype) throw new Error(`backward of '${node.name}': gradient for input ${i} is ${gi.dtype}, input ${shapeStr(x.shape)} is ${x.dtype}`);
      if (gi.device !== x.device) {
        throw new Error(`backward of '${node.name}': gradient for input ${i} is on '${gi.device.name}', input ${shapeStr(x.shape)} on '${x.device.name}'`);
      }
      const prev = grads.get(x);
      grads.set(x, prev ? add(prev, gi) : gi);
    }
    if (!pass.retainGraph) {
      node.released = true;
      const name = node.name;
      node.backward = () => released(name);
    }
  }
  return captured;
}

function checkSeed(what: string, root: Tensor, g: Tensor | null | undefined, index: number | null): Tensor | null {
  const of = index === null ? '' : ` ${index}`;
  if (g === null || g === undefined) {
    if (root.size !== 1) throw new Error(`${what}: a gradient must be given for a non-scalar output${of} ${shapeStr(root.shape)}`);
    return null;
  }
  g.assertAlive(what);
  if (!sameShape(g.shape, root.shape)) throw new Error(`${what}: gradient shape ${shapeStr(g.shape)} does not match output${of} shape ${shapeStr(root.shape)}`);
  if (g.device !== root.device) throw new Error(`${what}: gradient on '${g.device.name}', output${of} on '${root.device.name}'`);
  if (g.dtype !== root.dtype) throw new Error(`${what}: gradient is ${g.dtype}, output${of} ${shapeStr(root.shape)} is ${root.dtype}`);
  return g;
}

/** Runs `body` the way the pass needs: recording and in the caller's scope, or unrecorded in a scope of its own. */
function passMode<T>(createGraph: boolean, body: () => T): T {
  return createGraph ? withGradMode(true, body) : withGradMode(false, () => scope(body));
}

/** Reverse-mode gradient of `root` (a one-element tensor, or with an explicit upstream gradient) into the leaves' .grad. */
export function backward(root: Tensor, gradOutput?: Tensor, opts: BackwardOptions = {}): void {
  const what = 'backward()';
  root.assertAlive(what);
  if (!root.requiresGrad) throw new Error(`${what}: the tensor does not require grad (no input requires grad, or it was made under noGrad)`);
  const given = checkSeed(what, root, gradOutput, null);
  const createGraph = opts.createGraph ?? false;
  passMode(createGraph, () => {
    run({ what, roots: [root], seeds: [given ?? onesLike(root)], targets: null, createGraph, retainGraph: opts.retainGraph ?? createGraph });
  });
}

/**
 * The gradients of `outputs` (summed, each weighted by its gradOutput) with respect to `inputs`, returned
 * instead of accumulated into .grad (PyTorch's torch.autograd.grad). Inputs may be any tensors of the
 * graph, leaves or not. With `createGraph` the results carry a graph of their own (differentiate them again).
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts?: GradOptions & { allowUnused?: false }): Tensor[];
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions): (Tensor | null)[];
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const what = 'grad()';
  const outs = Array.isArray(outputs) ? [...(outputs as readonly Tensor[])] : [outputs as Tensor];
  const ins = Array.isArray(inputs) ? [...(inputs as readonly Tensor[])] : [inputs as Tensor];
  if (outs.length === 0) throw new Error(`${what}: no outputs`);
  if (ins.length === 0) throw new Error(`${what}: no inputs`);
  const gos = opts.gradOutputs === undefined ? [] : Array.isArray(opts.gradOutputs) ? opts.gradOutputs : [opts.gradOutputs as Tensor];
  if (gos.length !== 0 && gos.length !== outs.length) throw new Error(`${what}: ${gos.length} gradOutputs for ${outs.length} outputs`);
  outs.forEach((y, i) => {
    y.assertAlive(what);
    if (!y.requiresGrad) throw new Error(`${what}: output ${i} ${shapeStr(y.shape)} does not require grad (no input requires grad, or it was made under noGrad)`);
  });
  ins.forEach((x, i) => {
    x.assertAlive(what);
    if (!x.requiresGrad) throw new Error(`${what}: input ${i} ${shapeStr(x.shape)} does not require grad`);
  });
  const given = outs.map((y, i) => checkSeed(what, y, gos[i], outs.length > 1 ? i : null));
  const createGraph = opts.createGraph ?? false;
  const result = passMode(createGraph, () => {
    const captured = run({
      what,
      roots: outs,
      seeds: outs.map((y, i) => given[i] ?? onesLike(y)),
      targets: new Set(ins),
      createGraph,
      retainGraph: opts.retainGraph ?? createGraph,
    });
    // The same tensor given twice as an input gets two independent results.
    const handed = new Set<Tensor>();
    return ins.map((x) => {
      let g = captured.get(x) ?? null;
      if (g && handed.has(g)) g = clone(g);
      if (g) handed.add(g);
      return g;
    });
  });
  if (!opts.allowUnused) {
    const unused = result.findIndex((g) => g === null);
    if (unused >= 0) {
      for (const g of result) g?.dispose();
      throw new Error(`${what}: input ${unused} ${shapeStr(ins[unused]!.shape)} is not used by the outputs (allowUnused: true returns null for it)`);
    }
  }
  return result;
}
