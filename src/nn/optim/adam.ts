// Adam (Kingma & Ba) with bias correction and optional L2 decay added to the gradient:
//   g = grad + decay*w;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²
//   w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)

import { getKernel, registerKernel } from '../../tensor/registry.js';
import { zerosLike } from '../../tensor/ops/creation.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  decay: number;
  /** 1-based step count (bias correction). */
  step: number;
}

/** param, grad, m, v contiguous and same-shaped; updated in place. */
export type AdamKernel = (param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyper) => void;

registerKernel<AdamKernel>('adam', 'cpu', (param, grad, mt, vt, h) => {
  const w = param.storage.cpuArray;
  const g = grad.storage.cpuArray;
  const m = mt.storage.cpuArray;
  const v = vt.storage.cpuArray;
  const c1 = 1 - Math.pow(h.beta1, h.step);
  const c2 = 1 - Math.pow(h.beta2, h.step);
  for (let i = 0; i < param.size; i++) {
    const gi = g[grad.offset + i]! + h.decay * w[param.offset + i]!;
    const mi = h.beta1 * m[mt.offset + i]! + (1 - h.beta1) * gi;
    const vi = h.beta2 * v[vt.offset + i]! + (1 - h.beta2) * gi * gi;
    m[mt.offset + i] = mi;
    v[vt.offset + i] = vi;
    w[param.offset + i] = w[param.offset + i]! - (h.lr * (mi / c1)) / (Math.sqrt(vi / c2) + h.eps);
  }
});

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  decay?: number;
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions) {
    super(params, opts.lr, opts.decay ?? 0);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, lr: number): void {
    const m = this.state(p, 'm') ?? this.setState(p, 'm', keep(zerosLike(p)));
    const v = this.state(p, 'v') ?? this.setState(p, 'v', keep(zerosLike(p)));
    getKernel<AdamKernel>('adam', p.device.name)(p, g, m, v, {
      lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      decay: group.decay ?? this.decay,
      step: this.stepCount,
    });
  }
}
