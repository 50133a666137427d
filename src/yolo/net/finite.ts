// Non-finite activations: where a NaN or an infinity first appears in a forward pass.
//
// Weights holding 3e38 or flipped exponent bits overflow to ±Infinity, and ∞ − ∞ or 0·∞ to NaN, a few
// layers later; by the decode or loss layer every box is NaN and every probability Infinity%. The
// decode step (networkBoxes) and the training loss check their layer's values and, when they are not
// all finite, name the first layer whose output was not, which is where the damage shows.

import type { Tensor } from '../../tensor/tensor.js';
import { narrow } from '../../tensor/ops/views.js';
import type { DarknetLayer } from '../darknet/cfg-types.js';
import type { Network } from './network.js';

/** Values of `a` that are NaN or ±Infinity. */
export function countNonFinite(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) n++;
  return n;
}

function hostValues(t: Tensor, batchIndex: number | undefined): ArrayLike<number> {
  if (batchIndex === undefined) return t.data();
  const v = narrow(t, 0, batchIndex, 1);
  try {
    return v.data();
  } finally {
    if (v !== t) v.dispose();
  }
}

export interface NonFiniteLayer {
  layer: DarknetLayer;
  /** Non-finite values in its output, of `size`. */
  count: number;
  size: number;
}

/** The first layer whose output (batch item `batchIndex`, or every item) holds a non-finite value. */
export function firstNonFiniteLayer(net: Network, outputs: readonly Tensor[], batchIndex?: number): NonFiniteLayer | null {
  for (let i = 0; i < outputs.length && i < net.layers.length; i++) {
    const values = hostValues(outputs[i]!, batchIndex);
    const count = countNonFinite(values);
    if (count > 0) return { layer: net.layers[i]!.layer, count, size: values.length };
  }
  return null;
}

/** "layer 3 [convolutional] at file:line (12 of 4608 values)", or a note that no layer output is to blame. */
export function describeNonFinite(net: Network, found: NonFiniteLayer | null): string {
  if (found === null) return 'no layer output holds one (the input does, or the values were lost after the forward)';
  const l = found.layer;
  return `first produced by layer ${l.index} [${l.source.section}] at ${net.cfg.file}:${l.source.line} (${found.count} of ${found.size} values)`;
}

/** A forward pass whose decode or loss layer saw NaN or infinite values. */
export class NonFiniteOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteOutputError';
  }
}

/** Throws NonFiniteOutputError naming the first layer to blame when `values` (of layer `at`) are not all finite. */
export function checkFiniteOutput(net: Network, outputs: readonly Tensor[], at: DarknetLayer, values: ArrayLike<number>, batchIndex?: number): void {
  const bad = countNonFinite(values);
  if (bad === 0) return;
  const first = firstNonFiniteLayer(net, outputs, batchIndex);
  throw new NonFiniteOutputError(
    `${net.cfg.file}: the output of layer ${at.index} [${at.source.section}] holds ${bad} NaN or infinite values of ${values.length}; ${describeNonFinite(net, first)}. ` +
      'The weights are damaged or the network diverged.',
  );
}
