// SGD with momentum and weight decay, in two conventions (an attribute of the optimiser, not a global):
//
//  pytorch:  g = grad + decay*w;  v = momentum*v + g  (v = g on the first step);  w -= lr*v
//  darknet:  u = v - grad - decay*batch*w;  w += (lr/batch)*u;  v = momentum*u
//            (Darknet's update_convolutional_layer with our grad = dLoss/dw, the loss summed over the
//            batch as Darknet's cost is: weight_updates accumulate -grad, decay scaled by batch,
//            the step divided by batch, then the updates are scaled by momentum.)
//
// One kernel, 'sgd', updates a parameter and its velocity in place.

import { getKernel, registerKernel } from '../../tensor/registry.js';
import { arenaIndex, chunkFor, parallelFor } from '../../tensor/backends/cpu/parallel.js';
import { TASK } from '../../tensor/backends/cpu/tasks.js';
import { zerosLike } from '../../tensor/ops/creation.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

export type SgdVariant = 'pytorch' | 'darknet';

export interface SgdHyper {
  lr: number;
  momentum: number;
  decay: number;
  /** Darknet only: images per update (lr and decay scaling). */
  batch: number;
  variant: SgdVariant;
  /** PyTorch only: whether v starts as the first gradient (true) or as zeros. */
  firstStep: boolean;
}

/** param, grad, velocity: contiguous, same shape; updated in place. */
export type SgdKernel = (param: Tensor, grad: Tensor, velocity: Tensor, h: SgdHyper) => void;

registerKernel<SgdKernel>('sgd', 'cpu', (param, grad, velocity, h) => {
  const w = param.storage.cpuArray;
  const g = grad.storage.cpuArray;
  const v = velocity.storage.cpuArray;
  const n = param.size;
  const pw = param.offset;
  const pg = grad.offset;
  const pv = velocity.offset;
  // float32 in the shared arena: the same loop on every core (each element is independent).
  const iw = w instanceof Float32Array ? arenaIndex(w, pw) : -1;
  const ig = g instanceof Float32Array ? arenaIndex(g, pg) : -1;
  const iv = v instanceof Float32Array ? arenaIndex(v, pv) : -1;
  if (iw >= 0 && ig >= 0 && iv >= 0) {
    const darknet = h.variant === 'darknet';
    parallelFor(darknet ? TASK.sgdDarknet : TASK.sgdTorch, n, chunkFor(n), 3 * n, (ia, fa) => {
      ia[4] = iw;
      ia[5] = ig;
      ia[6] = iv;
      if (darknet) {
        fa[0] = h.lr / h.batch;
        fa[1] = h.decay * h.batch;
        fa[2] = h.momentum;
      } else {
        fa[0] = h.lr;
        fa[1] = h.decay;
        fa[2] = h.momentum;
        fa[3] = h.firstStep ? 1 : 0;
      }
    });
    return;
  }
  if (h.variant === 'darknet') {
    const step = h.lr / h.batch;
    const dec = h.decay * h.batch;
    for (let i = 0; i < n; i++) {
      const u = v[pv + i]! - g[pg + i]! - dec * w[pw + i]!;
      w[pw + i] = w[pw + i]! + step * u;
      v[pv + i] = h.momentum * u;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const gi = g[pg + i]! + h.decay * w[pw + i]!;
      const vi = h.firstStep ? gi : h.momentum * v[pv + i]! + gi;
      v[pv + i] = vi;
      w[pw + i] = w[pw + i]! - h.lr * vi;
    }
  }
});

export interface SgdOptions {
  lr: number;
  momentum?: number;
  /** Weight decay (L2); per group overridable (Darknet decays weights, not biases or BN scales). */
  decay?: number;
  variant?: SgdVariant;
  /** Darknet: batch size the loss is summed over. */
  batch?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly variant: SgdVariant;
  readonly batch: number;

  constructor(params: Tensor[] | ParamGroup[], opts: SgdOptions) {
    super(params, opts.lr, opts.decay ?? 0);
    this.momentum = opts.momentum ?? 0;
    this.variant = opts.variant ?? 'pytorch';
    this.batch = opts.batch ?? 1;
    if (this.batch <= 0) throw new Error(`SGD: batch must be positive, got ${this.batch}`);
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, lr: number): void {
    let v = this.state(p, 'velocity');
    const first = v === undefined;
    if (!v) v = this.setState(p, 'velocity', keep(zerosLike(p)));
    getKernel<SgdKernel>('sgd', p.device.name)(p, g, v, {
      lr,
      momentum: this.momentum,
      decay: group.decay ?? this.decay,
      batch: this.batch,
      variant: this.variant,
      firstStep: first,
    });
  }
}
