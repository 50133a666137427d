// The running sums both YOLO losses report beside their value (Darknet prints them each step:
// "Region Avg IOU, Class, Obj, No Obj, Avg Recall, count"). A loss kernel fills a float32 tensor of
// LOSS_STATS sums; readLossStats turns it into averages on the host (LOSS_STATS floats, not the
// activations, cross to the host).

import type { Tensor } from '../../tensor/tensor.js';

/** Slots: 0 Σ IoU of the assigned predictions, 1 # of them with IoU > 0.5, 2 Σ objectness of the
 * assigned predictions, 3 Σ objectness of every prediction, 4 Σ probability of the true class,
 * 5 # truths, 6 Σ probability of every class at the assigned cells (YOLOv1 only), 7 unused. */
export const LOSS_STATS = 8;

export interface LossStats {
  /** Truths (objects) in the batch. */
  count: number;
  /** Mean IoU of the responsible prediction with its truth. */
  avgIou: number;
  /** Fraction of truths whose responsible prediction has IoU > 0.5. */
  recall: number;
  /** Mean objectness of the responsible predictions. */
  avgObj: number;
  /** Mean objectness over every prediction. */
  avgNoObj: number;
  /** Mean probability of the true class at the responsible predictions. */
  avgClass: number;
}

/** Averages from a stats tensor; `predictions` = how many objectness values slot 3 summed. */
export function readLossStats(stats: Tensor, predictions: number): LossStats {
  const s = stats.data();
  const count = s[5]!;
  const per = (v: number): number => (count > 0 ? v / count : 0);
  return {
    count,
    avgIou: per(s[0]!),
    recall: per(s[1]!),
    avgObj: per(s[2]!),
    avgNoObj: predictions > 0 ? s[3]! / predictions : 0,
    avgClass: per(s[4]!),
  };
}

/** Darknet's summary line, e.g. "Region Avg IOU: 0.512, Class: 0.301, Obj: 0.210, No Obj: 0.004, Avg Recall: 0.450, count: 12". */
export function formatLossStats(kind: 'Region' | 'Detection', s: LossStats): string {
  const n = (v: number): string => v.toFixed(3);
  return `${kind} Avg IOU: ${n(s.avgIou)}, Class: ${n(s.avgClass)}, Obj: ${n(s.avgObj)}, No Obj: ${n(s.avgNoObj)}, Avg Recall: ${n(s.recall)}, count: ${s.count}`;
}
