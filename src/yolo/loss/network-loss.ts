// The training loss of a whole Darknet network: every [region] and [detection] layer computes its
// loss against the same truth (Darknet's net.truth), and the network cost is their sum (Darknet's
// net->cost = Σ over layers with a cost). Each loss op sends −delta to its layer's output.

import type { Tensor } from '../../tensor/tensor.js';
import { add } from '../../tensor/ops/binary.js';
import type { DetectionLayer, RegionLayer } from '../darknet/cfg-types.js';
import type { Network } from '../net/network.js';
import { detectionLoss, detectionLossAttrs } from './detection-loss.js';
import { regionLoss, regionLossAttrs } from './region-loss.js';
import { readLossStats, type LossStats } from './stats.js';

export interface LayerLoss {
  index: number;
  type: 'region' | 'detection';
  /** Scalar: the layer's Darknet cost. */
  loss: Tensor;
  /** The layer's Darknet delta, [N, outputs]. */
  delta: Tensor;
  /** [LOSS_STATS] sums. */
  stats: Tensor;
  /** Objectness values the stats' slot 3 summed (for the averages). */
  predictions: number;
}

export interface NetworkLoss {
  /** Scalar: Σ of the layers' costs (Darknet's net cost); backward reaches every loss layer. */
  loss: Tensor;
  layers: LayerLoss[];
}

export interface NetworkLossOptions {
  /** Images seen before this batch (Darknet's *net.seen). */
  seen: number;
  /** Seed of the YOLOv1 `random` box choice. Default 0. */
  seed?: number;
}

/** The loss layers of a network: its [region] and [detection] layers. */
export function lossLayers(net: Network): (RegionLayer | DetectionLayer)[] {
  return net.layers.map((m) => m.layer).filter((l): l is RegionLayer | DetectionLayer => l.type === 'region' || l.type === 'detection');
}

/**
 * The loss of `outputs` (Network.forward's result) against `truth` ([N, truths], Darknet's layout for
 * the network's loss layer: region boxes or the YOLOv1 grid).
 */
export function networkLoss(net: Network, outputs: readonly Tensor[], truth: Tensor, opts: NetworkLossOptions): NetworkLoss {
  const layers: LayerLoss[] = [];
  for (const l of lossLayers(net)) {
    const out = outputs[l.index];
    if (out === undefined) throw new Error(`network loss: no output for layer ${l.index} (${outputs.length} outputs)`);
    const n = out.shape[0]!;
    if (l.type === 'region') {
      const a = regionLossAttrs(l, opts.seen);
      const r = regionLoss(out, truth, a);
      layers.push({ index: l.index, type: 'region', ...r, predictions: n * a.n * a.w * a.h });
    } else {
      const a = detectionLossAttrs(l, opts.seen, opts.seed ?? 0);
      const r = detectionLoss(out, truth, a);
      layers.push({ index: l.index, type: 'detection', ...r, predictions: n * a.side * a.side * a.n });
    }
  }
  if (layers.length === 0) throw new Error(`${net.cfg.file}: the network has no [region] or [detection] layer to compute a detection loss`);
  let loss = layers[0]!.loss;
  for (const l of layers.slice(1)) loss = add(loss, l.loss);
  return { loss, layers };
}

/** Host summaries of each loss layer's stats (one small read per layer). */
export function networkLossStats(l: NetworkLoss): { index: number; type: 'region' | 'detection'; stats: LossStats }[] {
  return l.layers.map((x) => ({ index: x.index, type: x.type, stats: readLossStats(x.stats, x.predictions) }));
}
