// Training a Darknet classifier (e.g. a Darknet-19-style backbone ending in [softmax]), as Darknet's
// train_classifier does: batch/subdivisions with gradient accumulation, the [net] schedule, SGD with
// Darknet's momentum/decay convention, Darknet augmentation (random aspect/placement, HSV, flip), and
// weights that `detector train --partial N` can start a detector from.
//
// Loss: Darknet's softmax layer in training sets delta = truth − p and cost = Σ −t·log p (cross
// entropy); a following [cost] layer adds scale·(truth − p) to the same delta. So the gradient at the
// softmax input is (1 + scale)·(p − t) with a [cost] layer and (p − t) without; the reported loss is
// the cross entropy per image. Computed from the softmax layer's input with log_softmax (stable).

import { basename, extname, join } from 'node:path';

import { scope } from '../../tensor/memory.js';
import { fromHost } from '../../tensor/ops/creation.js';
import { mul } from '../../tensor/ops/binary.js';
import { sum } from '../../tensor/ops/reduce.js';
import { logSoftmax } from '../../tensor/ops/softmax.js';
import { reshape } from '../../tensor/ops/views.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { learningRate } from '../../nn/optim/schedule.js';
import { readTensorFile, writeTensorFile } from '../../nn/checkpoint.js';
import { Rng } from '../../tensor/random.js';
import { parseCfg, readCfgText, type NetOverrides } from '../darknet/cfg.js';
import type { CostLayer, SoftmaxLayer } from '../darknet/cfg-types.js';
import { BatchLoader, type Batch, type LoaderOptions } from '../data/loader.js';
import type { ClassifiedImage } from '../data/classification.js';
import { buildNetwork, type Network } from '../net/network.js';
import { loadWeightsFile, saveWeightsFile } from '../net/weights.js';
import { writeTrainingChart } from './chart.js';
import { float32Text, formatProgress, LossAverage, ThroughputMeter, type ProgressInfo, type TrainHooks } from './progress.js';
import { preciseBatchNorm } from './precise-bn.js';
import { checkLossList, checkMapList, checkTrainingMeta, layersHash, restoreTraining, sha256, trainingTensors, type OptimizerMeta } from './state-file.js';
import { darknetOptimizer, netSchedule } from './trainer.js';

export const CLASSIFIER_STATE_KIND = 'tsgrad-classifier-train-state';
const STATE_VERSION = 1;

/** The meta of <base>_last.state (tensors: see state-file.ts). */
interface ClassifierStateMeta {
  kind: string;
  version: number;
  cfgSha256: string;
  layersSha256: string;
  cfgFile: string;
  iteration: number;
  seen: number;
  seed: number;
  optimizer: OptimizerMeta;
  netRng: { seed: number; counter: number; used: number };
  avg: unknown;
  history: { iteration: number; loss: number; avg: number }[];
  maps: { iteration: number; map: number }[];
}

export interface TrainClassifierOptions extends TrainHooks {
  cfgFile: string;
  overrides?: NetOverrides;
  items: readonly ClassifiedImage[];
  /** Held-out images for the top-1 accuracy printed at the end (and every evalEvery iterations). */
  validItems?: readonly ClassifiedImage[];
  evalEvery?: number;
  weightsFile?: string | null;
  clear?: boolean;
  /** Continue exactly from a <base>_last.state written by this trainer (same cfg layers). */
  resume?: string | null;
  /** Stop (with a checkpoint) after this many iterations of this run. */
  stopAfter?: number;
  backupDir: string;
  device?: string;
  seed?: number;
  augment?: boolean;
  workers?: number;
  saveEvery?: number;
  chart?: string | null;
  /** Precise BN batches before each accuracy evaluation and the final weights (see precise-bn.ts). Default 0. */
  preciseBn?: number;
  /** Stop at an image that does not decode instead of skipping it with a note (the default). */
  strict?: boolean;
  log?: (line: string) => void;
}

export interface TrainClassifierResult {
  net: Network;
  iteration: number;
  losses: number[];
  avgLoss: number;
  /** Top-1 accuracy on validItems at the end (NaN without them or when stopped early). */
  top1: number;
  stopped: 'max_batches' | 'stop_after' | 'interrupted' | 'non_finite';
  /** <base>_final.weights at max_batches, else the last checkpoint's weights (null: none written). */
  finalWeights: string | null;
  lastState: string | null;
}

/** Top-1 accuracy of `net` (inference mode, letterboxed as classifier predict does) on `items`. */
export async function classifierAccuracy(net: Network, items: readonly ClassifiedImage[], seed = 0): Promise<number> {
  if (items.length === 0) return Number.NaN;
  const [, h, w] = net.inputShape;
  const loader = new BatchLoader({
    items: items.map((i) => ({ image: i.image, boxes: [] })),
    batchSize: 1,
    seed,
    augment: { mode: 'letterbox' },
    width: w,
    height: h,
    shuffle: false,
    workers: 0,
  });
  const wasTraining = net.training;
  net.eval();
  let right = 0;
  try {
    for (let k = 0; k < items.length; k++) {
      const b = await loader.next();
      const out = scope(() => noGrad(() => net.output(net.forward(fromHost(b.images, [1, 3, b.height, b.width], { device: net.device }))).data()));
      let best = 0;
      for (let c = 1; c < out.length; c++) if (out[c]! > out[best]!) best = c;
      if (best === items[k]!.cls) right++;
    }
  } finally {
    await loader.close();
    net.train(wasTraining);
  }
  return right / items.length;
}

export async function trainClassifier(o: TrainClassifierOptions): Promise<TrainClassifierResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const cfgText = readCfgText(o.cfgFile);
  const cfg = parseCfg(cfgText, { file: o.cfgFile, overrides: o.overrides ?? {} });
  const softmaxLayer = cfg.layers.find((l): l is SoftmaxLayer => l.type === 'softmax');
  if (softmaxLayer === undefined) throw new Error(`${o.cfgFile}: no [softmax] layer: not a classifier cfg`);
  if (softmaxLayer.groups !== 1) throw new Error(`${o.cfgFile}:${softmaxLayer.source.line}: [softmax] groups=${softmaxLayer.groups}; classifier training supports groups=1`);
  const classes = softmaxLayer.shape.outputs;
  for (const it of o.items) if (it.cls >= classes) throw new Error(`${it.image}: class ${it.cls}, but the network has ${classes} outputs`);
  const costLayer = cfg.layers.find((l): l is CostLayer => l.type === 'cost' && l.index > softmaxLayer.index);
  const gradScale = 1 + (costLayer?.scale ?? 0);
  const n = cfg.net;
  if (n.maxBatches <= 0) throw new Error(`${o.cfgFile}: max_batches must be set (> 0) for training`);
  const seed = o.seed ?? 0;
  const net = buildNetwork(cfg, { device: o.device ?? 'cpu', seed, randomInit: true, training: true });
  let seen = 0;
  if (o.weightsFile) {
    for (const w of await loadWeightsFile(net, o.weightsFile)) log(`warning: ${o.weightsFile}: ${w}`);
    seen = o.clear ? 0 : net.header.seen;
  }
  net.train();
  const opt = darknetOptimizer(net);
  const schedule = netSchedule(n);
  const base = basename(o.cfgFile, extname(o.cfgFile));
  const augment = o.augment ?? true;
  const classOf = new Map(o.items.map((i) => [i.image, i.cls]));
  let iteration = Math.floor(seen / n.batch);
  const skipped = new Set<string>();
  let avg = new LossAverage();
  let history: { iteration: number; loss: number; avg: number }[] = [];
  let maps: { iteration: number; map: number }[] = [];
  if (o.resume) {
    const { meta: raw, tensors } = readTensorFile(o.resume);
    // Types and ranges of every field, after the CRC (a state edited or written by something else).
    const checked = checkTrainingMeta(raw, o.resume, { kind: CLASSIFIER_STATE_KIND, version: STATE_VERSION, what: 'classifier training state' });
    checkLossList(checked.meta['history'], 'history', checked.bad);
    checkMapList(checked.meta['maps'], 'maps', checked.bad);
    const meta = checked.meta as unknown as Partial<ClassifierStateMeta>;
    if (meta.layersSha256 !== layersHash(cfgText)) throw new Error(`${o.resume}: the state was written for ${meta.cfgFile ?? 'another cfg'}, whose layers differ from those of ${o.cfgFile}`);
    if (meta.cfgSha256 !== sha256(cfgText)) log(`${o.resume}: note: the [net] section of ${o.cfgFile} differs from the one the state was written with; the loss sequence will differ from the original run's`);
    restoreTraining(o.resume, tensors, net, opt, meta.optimizer!);
    iteration = meta.iteration!;
    seen = meta.seen!;
    net.rng = Rng.fromState(meta.netRng!);
    avg = LossAverage.fromJSON(meta.avg);
    history = meta.history!;
    maps = meta.maps!;
    log(`${o.resume}: resuming at iteration ${iteration} (seen ${seen})`);
  }
  const loaderOptions: LoaderOptions = {
    items: o.items.map((i) => ({ image: i.image, boxes: [] })),
    batchSize: n.miniBatch,
    seed,
    augment: augment ? { mode: 'detection', jitter: 0.2, hue: n.hue, saturation: n.saturation, exposure: n.exposure, flip: true } : { mode: 'letterbox' },
    width: n.width,
    height: n.height,
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    startBatch: iteration * n.subdivisions,
    undecodable: o.strict === true ? 'fail' : 'skip',
    onSkip: (image, reason) => {
      if (skipped.has(image)) return;
      skipped.add(image);
      log(`note: skipping an image that does not decode (${skipped.size} skipped so far; --strict stops instead): ${reason}`);
    },
  };
  const loader = new BatchLoader(loaderOptions);
  const preciseBn = (): Promise<number> => preciseBatchNorm(net, o.preciseBn ?? 0, { ...loaderOptions, seed: seed + 0x5eed, startBatch: 0 });
  const meter = new ThroughputMeter();
  const losses: number[] = [];
  const saveEvery = Math.max(1, o.saveEvery ?? 100);
  const chart = o.chart === undefined ? join(o.backupDir, 'chart.png') : o.chart;
  log(
    `training classifier ${o.cfgFile} on ${net.device.name}: ${o.items.length} images, ${classes} classes, batch ${n.batch} = ${n.subdivisions} × ${n.miniBatch}, ` +
      `${n.width}x${n.height}, iteration ${iteration} → ${n.maxBatches}, lr ${float32Text(n.learningRate)} (${n.policy}${n.burnIn > 0 ? `, burn_in ${n.burnIn}` : ''})`,
  );
  const startIteration = iteration;
  let stopped: TrainClassifierResult['stopped'] = 'max_batches';
  let lastWeights: string | null = null;
  let lastState: string | null = null;
  const checkpoint = async (): Promise<void> => {
    const w = join(o.backupDir, `${base}_last.weights`);
    await saveWeightsFile(net, w, { ...net.header, seen });
    const st = join(o.backupDir, `${base}_last.state`);
    const { tensors, optimizer } = trainingTensors(net, opt);
    const meta: ClassifierStateMeta = {
      kind: CLASSIFIER_STATE_KIND,
      version: STATE_VERSION,
      cfgSha256: sha256(cfgText),
      layersSha256: layersHash(cfgText),
      cfgFile: o.cfgFile,
      iteration,
      seen,
      seed,
      optimizer,
      netRng: net.rng.state(),
      avg: avg.toJSON(),
      history,
      maps,
    };
    await writeTensorFile(st, meta, tensors);
    if (chart !== null) await writeTrainingChart(chart, { losses: history, maps, maxIterations: n.maxBatches, title: `${base} (mAP axis: top-1)` });
    lastWeights = w;
    lastState = st;
    o.checkpoint?.({ iteration, weights: w, state: st });
  };
  const truthOf = (b: Batch): Float32Array => {
    const t = new Float32Array(b.batchSize * classes);
    b.paths.forEach((p, i) => {
      const c = classOf.get(p);
      if (c === undefined) throw new Error(`${p}: no class for this image`);
      t[i * classes + c] = 1;
    });
    return t;
  };
  let top1 = Number.NaN;
  try {
    while (iteration < n.maxBatches) {
      if (o.stopAfter !== undefined && iteration - startIteration >= o.stopAfter) {
        stopped = 'stop_after';
        break;
      }
      if (o.stop?.aborted) {
        stopped = 'interrupted';
        break;
      }
      const t0 = performance.now();
      let total = 0;
      for (let s = 0; s < n.subdivisions; s++) {
        const b = await loader.next();
        const truth = truthOf(b);
        seen += b.batchSize;
        total += scope(() => {
          const outs = net.forward(fromHost(b.images, [b.batchSize, 3, b.height, b.width], { device: net.device }));
          const logits = reshape(outs[softmaxLayer.index - 1] ?? outs[0]!, [b.batchSize, classes]);
          const t = fromHost(truth, [b.batchSize, classes], { device: net.device });
          const ce = sum(mul(t, logSoftmax(logits, 1))).neg();
          const value = ce.item();
          if (Number.isFinite(value)) mul(ce, gradScale).backward();
          return value;
        });
      }
      const loss = total / n.batch;
      if (!Number.isFinite(loss)) {
        opt.zeroGrad();
        stopped = 'non_finite';
        log(`iteration ${iteration + 1}: the loss is ${loss}; stopping without updating the weights (last checkpoint: ${lastWeights ?? 'none written in this run'})`);
        break;
      }
      const lr = learningRate(schedule, Math.floor(seen / n.batch));
      opt.lr = lr;
      opt.step();
      opt.zeroGrad();
      iteration++;
      losses.push(loss);
      const a = avg.update(loss);
      history.push({ iteration, loss, avg: a });
      meter.update((performance.now() - t0) / 1000, n.batch);
      let extra: string | undefined;
      if (o.validItems && o.validItems.length > 0 && (o.evalEvery ?? 0) > 0 && iteration % o.evalEvery! === 0) {
        await preciseBn();
        top1 = await classifierAccuracy(net, o.validItems);
        maps.push({ iteration, map: top1 });
        extra = `top-1 ${(top1 * 100).toFixed(1)}%`;
      }
      const info: ProgressInfo = { iteration, maxIterations: n.maxBatches, loss, avgLoss: a, lr, imagesPerSecond: meter.imagesPerSecond, secondsPerIteration: meter.secondsPerIteration, seen, ...(extra ? { extra } : {}) };
      if (o.progress) o.progress(info);
      else log(formatProgress(info));
      if (iteration % saveEvery === 0 || iteration >= n.maxBatches) await checkpoint();
    }
    if (stopped === 'stop_after' || stopped === 'interrupted') await checkpoint();
  } finally {
    await loader.close();
  }
  if (iteration < n.maxBatches) return { net, iteration, losses, avgLoss: avg.value, top1: Number.NaN, stopped, finalWeights: lastWeights, lastState };
  await preciseBn();
  const finalWeights = join(o.backupDir, `${base}_final.weights`);
  await saveWeightsFile(net, finalWeights, { ...net.header, seen });
  if (o.validItems && o.validItems.length > 0) {
    top1 = await classifierAccuracy(net, o.validItems);
    log(`top-1 accuracy on ${o.validItems.length} held-out images: ${(top1 * 100).toFixed(2)}%`);
  }
  return { net, iteration, losses, avgLoss: avg.value, top1, stopped, finalWeights, lastState };
}
