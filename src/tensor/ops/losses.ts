// Losses composed from primitives (their gradients come from the primitives' rules).

import { shapeStr, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { mul, sub } from './binary.js';
import { composite } from './common.js';
import { oneHot } from './one-hot.js';
import { logSoftmax } from './softmax.js';
import { mean, sum } from './reduce.js';
import { neg } from './unary.js';
import { permute } from './views.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(x: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'sum') return sum(x);
  if (reduction === 'mean') return mean(x);
  return x;
}

/**
 * Cross entropy of logits `input` [N, C] or [N, C, d1, ...] against int32 class indices `target` [N] or
 * [N, d1, ...]: -log_softmax(input, 1)[target]. 'mean' divides by the number of target elements.
 */
export function crossEntropy(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (input.ndim < 2) throw new Error(`crossEntropy: input must be [N, C, ...], got ${shapeStr(input.shape)}`);
  const expected = [input.shape[0]!, ...input.shape.slice(2)];
  if (!sameShape(target.shape, expected)) {
    throw new Error(`crossEntropy: target shape ${shapeStr(target.shape)} does not match input ${shapeStr(input.shape)} (expected ${shapeStr(expected)})`);
  }
  if (target.dtype !== 'int32') throw new Error(`crossEntropy: target must hold int32 class indices, got ${target.dtype}`);
  return composite([input], () => crossEntropyBody(input, target, reduction));
}

function crossEntropyBody(input: Tensor, target: Tensor, reduction: Reduction): Tensor {
  const C = input.shape[1]!;
  const logp = logSoftmax(input, 1);
  // one-hot [N, ..., C] moved to [N, C, ...]
  let mask = oneHot(target, C, input.dtype);
  if (input.ndim > 2) {
    const nd = input.ndim;
    mask = permute(mask, [0, nd - 1, ...Array.from({ length: nd - 2 }, (_, i) => i + 1)]);
  }
  const picked = sum(mul(logp, mask), 1); // [N, ...]
  return reduce(neg(picked), reduction);
}

/** Squared error (input - target)^2, summed, averaged or per element. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (!sameShape(input.shape, target.shape)) {
    throw new Error(`mseLoss: input ${shapeStr(input.shape)} and target ${shapeStr(target.shape)} differ`);
  }
  return composite([input, target], () => {
    const d = sub(input, target);
    return reduce(mul(d, d), reduction);
  });
}
