// Precise BN: set every BN layer's rolling statistics to the average batch statistics of a few
// training batches. Darknet's rolling statistics start at zero and move by 1% per forward, so a network
// trained for a few hundred iterations is far from its training-mode self in inference mode (measured on
// an overfit batch: mAP 0.05 in inference mode, 1.0 in training mode). Used before evaluations and the
// final weights when asked for (`--precise-bn N`); Darknet's training arithmetic is unchanged.

import { noGrad } from '../../autograd/grad-mode.js';
import { scope } from '../../tensor/memory.js';
import { copyInto } from '../../tensor/ops/copy.js';
import { fromHost } from '../../tensor/ops/creation.js';
import { BatchLoader, type LoaderOptions } from '../data/loader.js';
import type { BatchStats } from '../net/layers.js';
import type { Network } from '../net/network.js';

/**
 * Runs `batches` batches of `loader` (its own loader: the options are used as given, in this thread)
 * through `net` in training mode without gradients and stores the averages of the batch means and
 * (unbiased) variances as each BN layer's rollingMean / rollingVariance. Returns the layers updated.
 */
export async function preciseBatchNorm(net: Network, batches: number, loader: LoaderOptions): Promise<number> {
  if (batches <= 0) return 0;
  const l = new BatchLoader({ ...loader, workers: 0 });
  const sums = new Map<number, { mean: Float64Array; variance: Float64Array }>();
  const wasTraining = net.training;
  net.train();
  try {
    for (let k = 0; k < batches; k++) {
      const b = await l.next();
      scope(() =>
        noGrad(() => {
          const stats = new Map<number, BatchStats>();
          net.forward(fromHost(b.images, [b.batchSize, 3, b.height, b.width], { device: net.device }), { batchStats: stats });
          for (const [index, st] of stats) {
            const m = st.mean.data();
            const v = st.variance.data();
            let acc = sums.get(index);
            if (acc === undefined) sums.set(index, (acc = { mean: new Float64Array(m.length), variance: new Float64Array(v.length) }));
            for (let i = 0; i < m.length; i++) {
              acc.mean[i]! += m[i]! / batches;
              acc.variance[i]! += v[i]! / batches;
            }
          }
        }),
      );
    }
  } finally {
    await l.close();
    net.train(wasTraining);
  }
  noGrad(() => {
    for (const [index, acc] of sums) {
      const m = net.layers[index]!;
      for (const [name, values] of [['rollingMean', acc.mean], ['rollingVariance', acc.variance]] as const) {
        const t = m.weightTensor(name);
        if (t === null) throw new Error(`precise BN: layer ${index} reported batch statistics but has no '${name}'`);
        const src = fromHost(Float32Array.from(values), t.shape, { device: t.device });
        copyInto(t, src);
        src.dispose();
      }
    }
  });
  return sums.size;
}
