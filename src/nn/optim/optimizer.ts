// Optimiser base: parameter groups (per-group lr scale and decay), per-parameter state tensors,
// step counting, zeroGrad, and state export/import for exact resume.

import type { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../autograd/grad-mode.js';

export interface ParamGroup {
  params: Tensor[];
  /** Multiplies the optimiser's learning rate for this group (default 1). */
  lrScale?: number;
  /** Overrides the optimiser's decay for this group. */
  decay?: number;
}

export abstract class Optimizer {
  readonly groups: ParamGroup[];
  /** Base learning rate (schedules set it before each step). */
  lr: number;
  readonly decay: number;
  /** Steps taken so far. */
  stepCount = 0;
  private readonly slots = new Map<Tensor, Map<string, Tensor>>();

  constructor(params: Tensor[] | ParamGroup[], lr: number, decay: number) {
    if (!(lr >= 0)) throw new Error(`optimizer: learning rate must be >= 0, got ${lr}`);
    const groups: ParamGroup[] = params.length > 0 && 'params' in (params[0] as object) ? (params as ParamGroup[]) : [{ params: params as Tensor[] }];
    for (const g of groups) for (const p of g.params) if (!p.requiresGrad) throw new Error(`optimizer: parameter #${p.id} does not require grad`);
    this.groups = groups;
    this.lr = lr;
    this.decay = decay;
  }

  protected state(p: Tensor, key: string): Tensor | undefined {
    return this.slots.get(p)?.get(key);
  }

  protected setState(p: Tensor, key: string, t: Tensor): Tensor {
    let m = this.slots.get(p);
    if (!m) this.slots.set(p, (m = new Map()));
    m.set(key, t);
    return t;
  }

  protected abstract update(p: Tensor, g: Tensor, group: ParamGroup, lr: number): void;

  /**
   * Throws (naming the parameter) when a parameter, its gradient or one of its state tensors was
   * disposed: an update would write into memory that may already belong to another tensor.
   */
  private checkAlive(): void {
    this.groups.forEach((group, gi) => {
      group.params.forEach((p, pi) => {
        const which = `optimizer.step: parameter ${pi} of group ${gi} (tensor #${p.id} [${p.shape.join(', ')}])`;
        if (p.isDisposed) throw new Error(`${which} was disposed (use after dispose)`);
        if (p.grad?.isDisposed) throw new Error(`${which}: its gradient #${p.grad.id} was disposed (use after dispose)`);
        for (const [key, t] of this.slots.get(p) ?? []) {
          if (t.isDisposed) throw new Error(`${which}: its optimiser slot '${key}' (#${t.id}) was disposed (use after dispose)`);
        }
      });
    });
  }

  /** Apply one update to every parameter that has a gradient. */
  step(): void {
    this.checkAlive();
    this.stepCount++;
    noGrad(() => {
      for (const group of this.groups) {
        const lr = this.lr * (group.lrScale ?? 1);
        for (const p of group.params) {
          if (!p.grad) continue;
          if (p.grad.device !== p.device) throw new Error(`optimizer: gradient of parameter #${p.id} is on '${p.grad.device.name}', parameter on '${p.device.name}'`);
          this.update(p, p.grad, group, lr);
        }
      }
    });
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  /** Every state tensor by (parameter index, slot name), for checkpoints. */
  stateTensors(): { index: number; key: string; tensor: Tensor }[] {
    const out: { index: number; key: string; tensor: Tensor }[] = [];
    this.allParams().forEach((p, index) => {
      for (const [key, tensor] of this.slots.get(p) ?? []) out.push({ index, key, tensor });
    });
    return out;
  }

  /** Restore state tensors saved by stateTensors() (the optimiser takes ownership). */
  loadStateTensors(entries: { index: number; key: string; tensor: Tensor }[], stepCount: number): void {
    const params = this.allParams();
    for (const e of entries) {
      const p = params[e.index];
      if (!p) throw new Error(`optimizer state: parameter index ${e.index} out of range (${params.length} parameters)`);
      if (e.tensor.size !== p.size) throw new Error(`optimizer state: slot '${e.key}' of parameter ${e.index} has ${e.tensor.size} elements, parameter has ${p.size}`);
      this.setState(p, e.key, e.tensor.device === p.device ? e.tensor : e.tensor.to(p.device));
    }
    this.stepCount = stepCount;
  }

  allParams(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }
}
