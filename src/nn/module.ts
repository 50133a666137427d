// Module: a tree of named parameters, buffers and child modules, with train/eval mode and state I/O.

import type { DeviceLike } from '../tensor/device.js';
import { keep } from '../tensor/memory.js';
import { noGrad } from '../autograd/grad-mode.js';
import { shapeStr, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyInto } from '../tensor/ops/copy.js';

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  /** A learnable tensor (kept out of scopes, requires grad). */
  protected param(name: string, t: Tensor): Tensor {
    keep(t);
    t.requireGrad(true);
    this._params.set(name, t);
    return t;
  }

  /** A state tensor that is not learned (running statistics...). */
  protected buffer(name: string, t: Tensor): Tensor {
    keep(t);
    this._buffers.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  /** Replace the tensor held under a parameter or buffer name (after a device move or a load). */
  protected replace(name: string, t: Tensor): void {
    if (this._params.has(name)) this._params.set(name, keep(t.requireGrad(true)));
    else if (this._buffers.has(name)) this._buffers.set(name, keep(t));
    else throw new Error(`${this.constructor.name}: no parameter or buffer '${name}'`);
    this.onReplace(name, t);
  }

  /** Subclasses that cache parameter tensors in fields update them here. */
  protected onReplace(_name: string, _t: Tensor): void {}

  children(): [string, Module][] {
    return [...this._children];
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this._params].map(([k, v]) => [prefix + k, v]);
    for (const [name, c] of this._children) out.push(...c.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this._buffers].map(([k, v]) => [prefix + k, v]);
    for (const [name, c] of this._children) out.push(...c.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  /** Parameters and buffers by dotted name. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Copy values into the existing tensors; names and shapes must match (strict). */
  loadStateDict(state: Map<string, Tensor>, strict = true): void {
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !state.has(k));
      const extra = [...state.keys()].filter((k) => !own.has(k));
      if (missing.length || extra.length) throw new Error(`loadStateDict: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = state.get(k);
        if (!src) continue;
        if (!sameShape(src.shape, t.shape)) throw new Error(`loadStateDict: '${k}' has shape ${shapeStr(src.shape)}, expected ${shapeStr(t.shape)}`);
        copyInto(t, src.device === t.device ? src : src.to(t.device));
      }
    });
  }

  train(flag = true): this {
    this.training = flag;
    for (const c of this._children.values()) c.train(flag);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Move every parameter and buffer to `device` (in place: the module keeps its identity). */
  to(device: DeviceLike): this {
    for (const [k, t] of [...this._params, ...this._buffers]) {
      const moved = noGrad(() => t.to(device));
      if (moved !== t) {
        this.replace(k, moved);
        t.dispose();
      }
    }
    for (const c of this._children.values()) c.to(device);
    return this;
  }

  /** Number of learnable scalars. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }
}
