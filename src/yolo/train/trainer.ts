// Training a Darknet detector (YOLOv1 [detection] or YOLOv2 [region] network), as Darknet's
// train_detector does, with what its users miss: exact resume, a clear -clear, NaN stops, a chart.
//
// One iteration = one optimiser update over [net] batch images, run as `subdivisions` forward/backward
// passes of batch/subdivisions images whose gradients accumulate (Darknet's train_network):
//   for each mini-batch: seen += mini-batch; forward (training mode: BN batch statistics, dropout);
//                        loss (the [region]/[detection] layers, Darknet's cost and delta); backward
//   lr = policy(iteration + 1) (get_current_rate after the seen update, burn_in included);
//   SGD with Darknet's momentum/decay convention (decay on weights only; lr and decay scaled by batch),
//   or Adam when [net] adam=1
//   reported loss = Σ costs / batch (Darknet's train_network return value), running average 0.9/0.1.
// The schedule position is `seen` (images), read from the weights header: training a .weights file
// continues its schedule unless `clear` restarts it (seen = 0), and the first line says which.
//
// Files, in `backupDir`, all written through writeOutput (atomic over regular files):
//   <base>_last.weights + <base>_last.state  every `saveEvery` iterations and at the end (the .state file
//                                             holds everything an exact resume needs: parameters, BN
//                                             statistics, optimiser moments, iteration, seen, RNG state,
//                                             loss average and chart history, and the SHA-256 of the
//                                             _last.weights written with it: a kill between the two
//                                             writes is found at resume, which rewrites the weights
//                                             from the state, so the pair always agrees)
//   <base>_<iteration>.weights                every 10·saveEvery iterations
//   <base>_final.weights                      when max_batches is reached
//   <base>_best.weights                       the best mAP so far (when an evaluation is given)
//   chart.png                                 loss (and mAP) chart, at every save
// A non-finite loss stops training before the update, names the iteration and the first layer whose
// activations were not finite, and leaves the last good checkpoint as it was.
// Before the first iteration the backup folder is created and a file written into it (an unwritable
// folder fails at once, not at the first save) and temporary files that killed runs left there are
// removed.
// Data: the loader (worker threads, seeded) draws the mini-batch of loader index
// iteration·subdivisions + s, so a resumed run sees exactly the batches an uninterrupted run would.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

import { readInputBytes, regularFileSize } from '../../io/input.js';
import { checkWritableDir, removeStaleTemps, writeOutput } from '../../io/output.js';

import { scope } from '../../tensor/memory.js';
import { fromHost } from '../../tensor/ops/creation.js';
import { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Adam } from '../../nn/optim/adam.js';
import type { Optimizer, ParamGroup } from '../../nn/optim/optimizer.js';
import { learningRate, type LrPolicy, type LrSchedule } from '../../nn/optim/schedule.js';
import { SGD } from '../../nn/optim/sgd.js';
import { readTensorFile, tensorFromEntry, writeTensorFile, type TensorFileInput } from '../../nn/checkpoint.js';
import { parseCfg, readCfgText, type NetOverrides } from '../darknet/cfg.js';
import type { DarknetNetwork, DetectionLayer, NetOptions, RegionLayer } from '../darknet/cfg-types.js';
import { readWeightsFileSync, writeWeights } from '../darknet/weights.js';
import { BatchLoader, type Batch, type LoaderOptions } from '../data/loader.js';
import type { DatasetItem } from '../data/labels.js';
import { multiScaleSize } from '../data/multiscale.js';
import type { SampleAugment } from '../data/sample.js';
import { fillDetectionTruth, readRegionTruth } from '../data/truth.js';
import { networkLoss, networkLossStats } from '../loss/network-loss.js';
import { formatLossStats } from '../loss/stats.js';
import { buildNetwork, type Network } from '../net/network.js';
import { describeNonFinite, firstNonFiniteLayer } from '../net/finite.js';
import { checkLossList, checkMapList, checkTrainingMeta } from './state-file.js';
import { exportWeights, loadWeights, saveWeightsFile } from '../net/weights.js';
import { writeTrainingChart } from './chart.js';
import { float32Text, formatProgress, LossAverage, ThroughputMeter, type ProgressInfo, type TrainHooks } from './progress.js';
import { preciseBatchNorm } from './precise-bn.js';

export const TRAIN_STATE_KIND = 'tsgrad-detector-train-state';
const STATE_VERSION = 1;

export interface TrainDetectorOptions extends TrainHooks {
  /** cfg file and its text's overrides (batch, subdivisions, max_batches, learning_rate, width, ...). */
  cfgFile: string;
  overrides?: NetOverrides;
  /** Training images with their boxes (already validated). */
  items: readonly DatasetItem[];
  /** Starting weights (Darknet .weights), or null for a random initialisation. */
  weightsFile?: string | null;
  /** Load only layers 0..partial-1 of the weights file (Darknet's partial; e.g. a classifier backbone). */
  partial?: number;
  /** Continue from a .state file written by this trainer (exact resume). */
  resume?: string | null;
  /** Restart the schedule: seen = 0 whatever the weights header says. */
  clear?: boolean;
  backupDir: string;
  device?: string;
  /** Seed of the initialisation, the data order, augmentation and multi-scale sizes. Default 0. */
  seed?: number;
  /** Darknet augmentation (jitter, HSV, flip) and multi-scale; false letterboxes/resizes only. Default true. */
  augment?: boolean;
  /** Multi-scale training (default: the [region] layer's random=1, when augmenting). */
  multiScale?: boolean;
  /** Loader worker threads (default: the loader's). */
  workers?: number;
  /** Checkpoint every this many iterations. Default 100. */
  saveEvery?: number;
  /** Stop (with a checkpoint) after this many iterations of this run, before max_batches. */
  stopAfter?: number;
  /** mAP (0..1) of the network, evaluated every `evalEvery` iterations and at the end. */
  evaluate?: ((net: Network) => Promise<number>) | null;
  evalEvery?: number;
  /**
   * Precise BN: before each evaluation and before the final weights, set every BN layer's rolling
   * statistics to the average batch statistics of this many training batches (a separate, seeded
   * loader; the training data order is unchanged). Darknet's own rolling average (0.99/0.01 from zero)
   * needs thousands of iterations to settle; 0 keeps it as Darknet does. Default 0.
   */
  preciseBn?: number;
  /** Where the chart goes (default <backupDir>/chart.png); null: no chart. */
  chart?: string | null;
  /**
   * An image of `items` that cannot be decoded stops training (naming it) instead of being skipped
   * with a note (the default: its slots take the next images, see loader.ts). Default false.
   */
  strict?: boolean;
  /** Pixel limit of the image decode (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /** One line per iteration and the messages. Default console.log. */
  log?: (line: string) => void;
}

export interface TrainDetectorResult {
  net: Network;
  /** Iteration reached (= seen / batch). */
  iteration: number;
  seen: number;
  /** Loss of each iteration run by this call. */
  losses: number[];
  avgLoss: number;
  /** Last mAP evaluated (NaN if none). */
  lastMap: number;
  stopped: 'max_batches' | 'stop_after' | 'interrupted' | 'non_finite';
  /** The weights and state written last. */
  lastWeights: string | null;
  lastState: string | null;
  /** Images skipped because they do not decode. */
  skippedImages: number;
}

interface History {
  losses: { iteration: number; loss: number; avg: number }[];
  maps: { iteration: number; map: number }[];
}

interface StateMeta {
  kind: string;
  version: number;
  cfgSha256: string;
  /** Hash of the layer sections only (everything after [net]): what must not change on resume. */
  layersSha256: string;
  cfgFile: string;
  iteration: number;
  seen: number;
  seed: number;
  optimizer: { type: 'sgd' | 'adam'; stepCount: number; slots: { index: number; key: string }[] };
  netRng: { seed: number; counter: number; used: number };
  avg: unknown;
  history: History;
  bestMap: number;
  /** The <base>_last.weights written with this state: its name (beside the state) and SHA-256. */
  weights?: { file: string; sha256: string };
}

/** The [net] learning-rate schedule. */
export function netSchedule(n: NetOptions): LrSchedule {
  let policy: LrPolicy;
  switch (n.policy) {
    case 'constant':
      policy = { policy: 'constant' };
      break;
    case 'step':
      policy = { policy: 'step', step: n.step, scale: n.scale };
      break;
    case 'steps':
      policy = { policy: 'steps', steps: [...n.steps], scales: [...n.scales] };
      break;
    case 'exp':
      policy = { policy: 'exp', gamma: n.gamma };
      break;
    case 'poly':
      policy = { policy: 'poly', power: n.power, maxBatches: n.maxBatches };
      break;
    case 'sigmoid':
      policy = { policy: 'sig', gamma: n.gamma, step: n.step };
      break;
    default:
      throw new Error(`${n.source.file}:${n.source.line}: learning-rate policy '${String(n.policy)}' is not supported for training`);
  }
  return { lr: n.learningRate, burnIn: n.burnIn, burnInPower: n.power, policy };
}

/**
 * The optimiser [net] asks for: Adam with `adam=1`, else SGD in Darknet's convention (momentum, decay,
 * lr and decay scaled by batch). Decay applies to the weights only, not to biases or BN scales.
 */
export function darknetOptimizer(net: Network): Optimizer {
  const decayed: Tensor[] = [];
  const plain: Tensor[] = [];
  for (const [name, p] of net.namedParameters()) (name.endsWith('.weights') ? decayed : plain).push(p);
  const n = net.cfg.net;
  const groups: ParamGroup[] = [{ params: decayed }, { params: plain, decay: 0 }];
  if (n.adam) return new Adam(groups, { lr: n.learningRate, beta1: n.B1, beta2: n.B2, eps: n.eps, decay: n.decay });
  return new SGD(groups, { lr: n.learningRate, momentum: n.momentum, decay: n.decay, variant: 'darknet', batch: n.batch });
}

/** Square multiple of 32 nearest to v (at least 32). */
function round32(v: number): number {
  return Math.max(32, 32 * Math.round(v / 32));
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Checks the types and ranges of a .state file's metadata (the CRC has already passed, so anything
 * wrong here was written by something else, or edited): an error naming the field otherwise.
 */
export function validateStateMeta(raw: unknown, path: string): StateMeta {
  const { meta: m, bad } = checkTrainingMeta(raw, path, { kind: TRAIN_STATE_KIND, version: STATE_VERSION, what: 'detector training state' });
  const h = m['history'] as Record<string, unknown> | null;
  if (h === null || typeof h !== 'object') bad('history', h, '{ losses: [...], maps: [...] }');
  checkLossList(h!['losses'], 'history.losses', bad);
  checkMapList(h!['maps'], 'history.maps', bad);
  if (m['bestMap'] !== undefined && !(typeof m['bestMap'] === 'number' && (m['bestMap'] as number) >= -1 && (m['bestMap'] as number) <= 1)) bad('bestMap', m['bestMap'], 'a number in [-1, 1]');
  const w = m['weights'] as Record<string, unknown> | undefined | null;
  if (w !== undefined && (w === null || typeof w !== 'object' || typeof w['file'] !== 'string' || basename(w['file'] as string) !== w['file'] || typeof w['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(w['sha256'] as string))) {
    bad('weights', w, '{ file: a file name, sha256: hex }');
  }
  return m as unknown as StateMeta;
}

/** The cfg's layer sections without comments and blank lines (the [net] section left out). */
function layerSections(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.replace(/[#;].*$/, '').trim())
    .filter((l) => l.length > 0);
  const second = lines.findIndex((l, i) => i > 0 && l.startsWith('['));
  return second < 0 ? '' : lines.slice(second).join('\n');
}

export class DetectorTrainer {
  readonly net: Network;
  readonly opt: Optimizer;
  readonly cfgText: string;
  readonly base: string;
  private readonly o: TrainDetectorOptions;
  private readonly log: (line: string) => void;
  private readonly schedule: LrSchedule;
  private readonly baseSize: { width: number; height: number };
  private readonly lossLayer: RegionLayer | DetectionLayer;
  private readonly seed: number;
  iteration = 0;
  seen = 0;
  avg = new LossAverage();
  history: History = { losses: [], maps: [] };
  bestMap = -1;
  /** Iteration of the last checkpoint written (named when a non-finite loss stops the run). */
  private lastSavedIteration = 0;
  /** Iteration at which precise BN last set the rolling statistics (-1: never). */
  private preciseBnAt = -1;
  /** A _last.weights beside the resumed state that is not the one saved with it (rewritten at start). */
  private weightsToRepair: string | null = null;
  /** Images skipped as undecodable (each noted once). */
  readonly skippedImages = new Set<string>();

  constructor(o: TrainDetectorOptions) {
    this.o = o;
    this.log = o.log ?? ((l) => console.log(l));
    this.seed = o.seed ?? 0;
    this.cfgText = readCfgText(o.cfgFile);
    const cfg = parseCfg(this.cfgText, { file: o.cfgFile, overrides: o.overrides ?? {} });
    this.base = basename(o.cfgFile, extname(o.cfgFile));
    this.baseSize = { width: cfg.net.width, height: cfg.net.height };
    const ll = cfg.layers.filter((l): l is RegionLayer | DetectionLayer => l.type === 'region' || l.type === 'detection');
    if (ll.length === 0) throw new Error(`${o.cfgFile}: no [region] or [detection] layer: not a detector cfg`);
    this.lossLayer = ll[ll.length - 1]!;
    if (cfg.net.miniBatch < 1) throw new Error(`${o.cfgFile}: batch=${cfg.net.batch} / subdivisions=${cfg.net.subdivisions} leaves no image per forward`);
    if (cfg.net.maxBatches <= 0) throw new Error(`${o.cfgFile}: max_batches must be set (> 0) for training`);
    this.schedule = netSchedule(cfg.net);
    this.net = buildNetwork(cfg, { device: o.device ?? 'cpu', seed: this.seed, randomInit: true, training: true });
    this.net.rng = new Rng(this.seed + 1);
    if (o.weightsFile) this.loadStartWeights(o.weightsFile);
    this.net.train();
    this.opt = darknetOptimizer(this.net);
    if (o.resume) this.loadState(o.resume);
  }

  get cfg(): DarknetNetwork {
    return this.net.cfg;
  }

  private loadStartWeights(file: string): void {
    const upTo = this.o.partial;
    for (const w of loadWeights(this.net, readWeightsFileSync(file, this.cfg, upTo === undefined ? {} : { upTo }))) this.log(`warning: ${file}: ${w}`);
    const seen = this.net.header.seen;
    if (this.o.clear || upTo !== undefined) {
      this.seen = 0;
      this.log(`${file}: weights loaded${upTo === undefined ? '' : ` (layers 0..${upTo - 1})`}; schedule starts at iteration 0${this.o.clear && seen > 0 ? ` (--clear: the file had seen ${seen} images)` : ''}`);
    } else {
      this.seen = seen;
      this.log(`${file}: weights loaded; the file has seen ${seen} images, so training continues at iteration ${Math.floor(seen / this.cfg.net.batch)} of the schedule (use --clear to start it at 0)`);
    }
    this.iteration = Math.floor(this.seen / this.cfg.net.batch);
  }

  /** Loader options for this run (images per forward, augmentation from the cfg, multi-scale). */
  loaderOptions(startIteration: number): LoaderOptions {
    const n = this.cfg.net;
    const augment = this.o.augment ?? true;
    const isRegion = this.lossLayer.type === 'region';
    const aug: SampleAugment = augment
      ? { mode: isRegion ? 'detection' : 'region', jitter: this.lossLayer.jitter, hue: n.hue, saturation: n.saturation, exposure: n.exposure, flip: true }
      : { mode: isRegion ? 'letterbox' : 'resize' };
    const multi = augment && (this.o.multiScale ?? (isRegion && (this.lossLayer as RegionLayer).random));
    const { width, height } = this.baseSize;
    const sub = n.subdivisions;
    const sizeForBatch = multi
      ? (b: number): { width: number; height: number } => {
          const dim = multiScaleSize(Math.floor(b / sub), {
            seed: this.seed,
            min: round32(width * 0.77),
            max: round32(width * 1.46),
            maxBatches: n.maxBatches,
          });
          return { width: dim, height: round32((dim * height) / width) };
        }
      : undefined;
    return {
      items: this.o.items,
      batchSize: n.miniBatch,
      seed: this.seed,
      augment: aug,
      width,
      height,
      ...(sizeForBatch ? { sizeForBatch } : {}),
      maxBoxes: this.lossLayer.maxBoxes,
      ...(this.o.workers === undefined ? {} : { workers: this.o.workers }),
      startBatch: startIteration * sub,
      undecodable: this.o.strict === true ? 'fail' : 'skip',
      onSkip: (image, reason) => this.noteSkipped(image, reason),
      ...(this.o.maxPixels === undefined ? {} : { maxPixels: this.o.maxPixels }),
    };
  }

  private noteSkipped(image: string, reason: string): void {
    if (this.skippedImages.has(image)) return;
    this.skippedImages.add(image);
    const n = this.skippedImages.size;
    this.log(`note: skipping an image that does not decode (${n} skipped so far; --strict stops instead): ${reason}`);
  }

  /** The network's truth tensor data for a loaded batch (region layout, or the YOLOv1 grid). */
  private truthFor(b: Batch): Float32Array {
    const l = this.lossLayer;
    if (l.type === 'region') return b.truths;
    const per = l.side * l.side * (5 + l.classes);
    const out = new Float32Array(b.batchSize * per);
    for (let i = 0; i < b.batchSize; i++) {
      fillDetectionTruth(readRegionTruth(b.truths, b.maxBoxes, i * b.maxBoxes * 5), l.side, l.classes, out, i * per);
    }
    return out;
  }

  private adoptSize(width: number, height: number): void {
    const n = this.cfg.net;
    if (n.width === width && n.height === height) return;
    this.net.adoptCfg(parseCfg(this.cfgText, { file: this.o.cfgFile, overrides: { ...(this.o.overrides ?? {}), width, height } }));
  }

  /** Runs until max_batches (or stopAfter / a non-finite loss). */
  async run(): Promise<TrainDetectorResult> {
    const n = this.cfg.net;
    const maxBatches = n.maxBatches;
    const saveEvery = Math.max(1, this.o.saveEvery ?? 100);
    const evalEvery = this.o.evalEvery ?? 0;
    const chart = this.o.chart === undefined ? join(this.o.backupDir, 'chart.png') : this.o.chart;
    const losses: number[] = [];
    const meter = new ThroughputMeter();
    let stopped: TrainDetectorResult['stopped'] = 'max_batches';
    let lastWeights: string | null = null;
    let lastState: string | null = null;
    const startIteration = this.iteration;
    this.log(
      `training ${this.o.cfgFile} on ${this.net.device.name}: ${this.o.items.length} images, batch ${n.batch} = ${n.subdivisions} × ${n.miniBatch}, ` +
        `${this.cfg.net.width}x${this.cfg.net.height}, iteration ${startIteration} → ${maxBatches}, lr ${float32Text(n.learningRate)} (${n.policy}${n.burnIn > 0 ? `, burn_in ${n.burnIn}` : ''}), ${n.adam ? 'adam' : `momentum ${float32Text(n.momentum)}, decay ${float32Text(n.decay)}`}`,
    );
    if (startIteration >= maxBatches) this.log(`iteration ${startIteration} >= max_batches ${maxBatches}: nothing to train (use --clear to restart the schedule)`);
    await this.prepareBackupDir(chart);
    const loader = new BatchLoader(this.loaderOptions(startIteration));
    const save = async (final: boolean): Promise<void> => {
      const w = join(this.o.backupDir, `${this.base}_last.weights`);
      const header = { ...this.net.header, seen: this.seen };
      const weightsSha256 = await this.saveLastWeights(w);
      lastWeights = w;
      if (this.iteration % (10 * saveEvery) === 0) await saveWeightsFile(this.net, join(this.o.backupDir, `${this.base}_${this.iteration}.weights`), header);
      if (final) {
        await this.preciseBatchNorm();
        lastWeights = join(this.o.backupDir, `${this.base}_final.weights`);
        await saveWeightsFile(this.net, lastWeights, header);
      }
      lastState = join(this.o.backupDir, `${this.base}_last.state`);
      await this.saveState(lastState, { file: basename(w), sha256: weightsSha256 });
      if (chart !== null) await writeTrainingChart(chart, { losses: this.history.losses, maps: this.history.maps, maxIterations: maxBatches, title: this.base });
      this.o.checkpoint?.({ iteration: this.iteration, weights: w, state: lastState });
    };
    try {
      while (this.iteration < maxBatches) {
        if (this.o.stopAfter !== undefined && this.iteration - startIteration >= this.o.stopAfter) {
          stopped = 'stop_after';
          break;
        }
        if (this.o.stop?.aborted) {
          stopped = 'interrupted';
          break;
        }
        const t0 = performance.now();
        let sum = 0;
        let statsLine = '';
        let blame = '';
        const seenBefore = this.seen;
        for (let s = 0; s < n.subdivisions; s++) {
          const b = await loader.next();
          this.adoptSize(b.width, b.height);
          const truth = this.truthFor(b);
          this.seen += b.batchSize;
          const seen = this.seen;
          const r = scope(() => {
            const x = fromHost(b.images, [b.batchSize, 3, b.height, b.width], { device: this.net.device });
            const t = fromHost(truth, [b.batchSize, truth.length / b.batchSize], { device: this.net.device });
            const outs = this.net.forward(x);
            const L = networkLoss(this.net, outs, t, { seen, seed: this.seed });
            const value = L.loss.item();
            if (Number.isFinite(value)) L.loss.backward();
            // The printed statistics are those of the last mini-batch (or of the one that failed).
            if (s < n.subdivisions - 1 && Number.isFinite(value)) return { value, line: '', blame: '' };
            const st = networkLossStats(L);
            const blame = Number.isFinite(value) ? '' : `non-finite activations ${describeNonFinite(this.net, firstNonFiniteLayer(this.net, outs))}`;
            return { value, line: st.map((x) => formatLossStats(x.type === 'region' ? 'Region' : 'Detection', x.stats)).join('; '), blame };
          });
          sum += r.value;
          if (r.line !== '') statsLine = r.line;
          if (r.blame !== '') blame = r.blame;
          if (!Number.isFinite(r.value)) break;
        }
        const loss = sum / n.batch;
        if (!Number.isFinite(loss)) {
          this.seen = seenBefore;
          this.opt.zeroGrad();
          stopped = 'non_finite';
          this.log(
            `iteration ${this.iteration + 1}: the loss is ${loss} (${statsLine})${blame === '' ? '' : `; ${blame}`}; stopping without updating the weights. ` +
              (lastWeights !== null ? `The last good checkpoint is ${lastWeights} (iteration ${this.lastSavedIteration}).` : 'No checkpoint was written in this run.') +
              ' Lower learning_rate or raise burn_in.',
          );
          break;
        }
        const lr = learningRate(this.schedule, Math.floor(this.seen / n.batch));
        this.opt.lr = lr;
        this.opt.step();
        this.opt.zeroGrad();
        this.iteration++;
        losses.push(loss);
        const avg = this.avg.update(loss);
        this.history.losses.push({ iteration: this.iteration, loss, avg });
        meter.update((performance.now() - t0) / 1000, n.batch);
        let extra = statsLine;
        const evaluate = this.o.evaluate;
        if (evaluate && evalEvery > 0 && (this.iteration % evalEvery === 0 || this.iteration === maxBatches)) {
          const map = await this.evaluateNow(evaluate);
          extra = `mAP@0.5 ${(map * 100).toFixed(2)}%, ${extra}`;
          if (map > this.bestMap) {
            this.bestMap = map;
            await saveWeightsFile(this.net, join(this.o.backupDir, `${this.base}_best.weights`), { ...this.net.header, seen: this.seen });
          }
        }
        const info: ProgressInfo = {
          iteration: this.iteration,
          maxIterations: maxBatches,
          loss,
          avgLoss: avg,
          lr,
          imagesPerSecond: meter.imagesPerSecond,
          secondsPerIteration: meter.secondsPerIteration,
          seen: this.seen,
          extra,
        };
        if (this.o.progress) this.o.progress(info);
        else this.log(formatProgress(info));
        const atEnd = this.iteration >= maxBatches;
        if (this.iteration % saveEvery === 0 || atEnd) {
          await save(atEnd);
          this.lastSavedIteration = this.iteration;
        }
      }
      if (stopped === 'stop_after' || stopped === 'interrupted') {
        await save(false);
        this.lastSavedIteration = this.iteration;
      }
    } finally {
      await loader.close();
    }
    const lastMap = this.history.maps.length > 0 ? this.history.maps[this.history.maps.length - 1]!.map : Number.NaN;
    return { net: this.net, iteration: this.iteration, seen: this.seen, losses, avgLoss: this.avg.value, lastMap, stopped, lastWeights, lastState, skippedImages: this.skippedImages.size };
  }

  /**
   * Before the first iteration: the backup folder (and the chart's) exist and take files, temporary
   * files of killed runs are gone, and a _last.weights that does not match the resumed state is
   * rewritten from it.
   */
  private async prepareBackupDir(chart: string | null): Promise<void> {
    await checkWritableDir(this.o.backupDir);
    // The chart's folder too, unless the chart goes to a device or FIFO (written through, no new file).
    const chartIsDevice = chart !== null && regularFileSize(chart) === null && existsSync(chart);
    if (chart !== null && !chartIsDevice && dirname(chart) !== this.o.backupDir) await checkWritableDir(dirname(chart));
    const stale = removeStaleTemps(this.o.backupDir);
    if (stale.length > 0) this.log(`removed ${stale.length} temporary file${stale.length === 1 ? '' : 's'} left in ${this.o.backupDir} by an interrupted run`);
    if (this.weightsToRepair !== null) {
      await this.saveLastWeights(this.weightsToRepair);
      this.log(`${this.weightsToRepair}: rewritten from the resumed state (iteration ${this.iteration}), which it did not match (a save was interrupted)`);
      this.weightsToRepair = null;
    }
  }

  /** Writes the network as a .weights file (header seen = this.seen); returns the SHA-256 of its bytes. */
  private async saveLastWeights(path: string): Promise<string> {
    const bytes = writeWeights(exportWeights(this.net, { ...this.net.header, seen: this.seen }), this.net.cfg, { file: path });
    await writeOutput(path, bytes);
    return sha256(bytes);
  }

  /** Evaluates at the cfg's own size in inference mode, then restores the training state. */
  private async evaluateNow(evaluate: (net: Network) => Promise<number>): Promise<number> {
    const { width, height } = this.cfg.net;
    await this.preciseBatchNorm();
    this.adoptSize(this.baseSize.width, this.baseSize.height);
    this.net.eval();
    try {
      const map = await evaluate(this.net);
      this.history.maps.push({ iteration: this.iteration, map });
      return map;
    } finally {
      this.net.train();
      this.adoptSize(width, height);
    }
  }

  /** See TrainDetectorOptions.preciseBn: a separate seeded loader at the cfg's own size. */
  async preciseBatchNorm(): Promise<void> {
    // Nothing to redo when no update happened since the last time (an evaluation at the last iteration).
    if (this.preciseBnAt === this.iteration) return;
    this.preciseBnAt = this.iteration;
    const opts: LoaderOptions = { ...this.loaderOptions(0), seed: this.seed + 0x5eed };
    delete (opts as { sizeForBatch?: unknown }).sizeForBatch;
    const { width, height } = this.cfg.net;
    this.adoptSize(this.baseSize.width, this.baseSize.height);
    try {
      await preciseBatchNorm(this.net, this.o.preciseBn ?? 0, opts);
    } finally {
      this.adoptSize(width, height);
    }
  }

  /** Writes the full training state (writeOutput); `weights` names the _last.weights saved with it. */
  async saveState(path: string, weights?: { file: string; sha256: string }): Promise<void> {
    const tensors = new Map<string, TensorFileInput>();
    for (const [name, t] of this.net.stateDict()) tensors.set(`net/${name}`, t);
    const slots: { index: number; key: string }[] = [];
    for (const s of this.opt.stateTensors()) {
      tensors.set(`opt/${s.index}/${s.key}`, s.tensor);
      slots.push({ index: s.index, key: s.key });
    }
    const meta: StateMeta = {
      kind: TRAIN_STATE_KIND,
      version: STATE_VERSION,
      cfgSha256: sha256(this.cfgText),
      layersSha256: sha256(layerSections(this.cfgText)),
      cfgFile: this.o.cfgFile,
      iteration: this.iteration,
      seen: this.seen,
      seed: this.seed,
      optimizer: { type: this.opt instanceof Adam ? 'adam' : 'sgd', stepCount: this.opt.stepCount, slots },
      netRng: this.net.rng.state(),
      avg: this.avg.toJSON(),
      history: this.history,
      bestMap: this.bestMap,
      ...(weights === undefined ? {} : { weights }),
    };
    await writeTensorFile(path, meta, tensors);
  }

  /** Restores a state written by saveState for the same cfg. */
  loadState(path: string): void {
    const { meta: raw, tensors } = readTensorFile(path);
    const meta = validateStateMeta(raw, path);
    if (meta.layersSha256 !== sha256(layerSections(this.cfgText))) {
      throw new Error(
        `${path}: the state was written for ${meta.cfgFile ?? 'another cfg'}, whose layers differ from those of ${this.o.cfgFile}; ` +
          `resume with the same layers (or start from ${this.base}_last.weights)`,
      );
    }
    if (meta.cfgSha256 !== sha256(this.cfgText)) {
      this.log(`${path}: note: the [net] section of ${this.o.cfgFile} differs from the one the state was written with (schedule or batch changed); the loss sequence will differ from the original run's`);
    }
    const state = new Map<string, Tensor>();
    for (const [name] of this.net.stateDict()) {
      const e = tensors.get(`net/${name}`);
      if (e === undefined) throw new Error(`${path}: no tensor for network entry '${name}'`);
      state.set(name, tensorFromEntry(e, 'cpu', name));
    }
    this.net.loadStateDict(state);
    for (const t of state.values()) t.dispose();
    const opt = meta.optimizer;
    const expected = this.opt instanceof Adam ? 'adam' : 'sgd';
    if (opt.type !== expected) throw new Error(`${path}: the state holds ${opt.type} moments, the cfg trains with ${expected}`);
    this.opt.loadStateTensors(
      opt.slots.map((s) => {
        const e = tensors.get(`opt/${s.index}/${s.key}`);
        if (e === undefined) throw new Error(`${path}: optimiser slot ${s.index}/${s.key} is missing`);
        return { index: s.index, key: s.key, tensor: tensorFromEntry(e, this.net.device, `${s.index}/${s.key}`) };
      }),
      opt.stepCount,
    );
    this.iteration = meta.iteration;
    this.seen = meta.seen;
    this.net.header = { ...this.net.header, seen: this.seen };
    this.net.rng = Rng.fromState(meta.netRng);
    this.avg = LossAverage.fromJSON(meta.avg);
    this.history = meta.history;
    this.bestMap = meta.bestMap ?? -1;
    this.lastSavedIteration = this.iteration;
    this.log(`${path}: resuming at iteration ${this.iteration} (seen ${this.seen})`);
    if (meta.weights !== undefined) {
      const w = join(dirname(path), meta.weights.file);
      if (existsSync(w) && sha256(readInputBytes(w, 'weights file', 2 ** 31)) !== meta.weights.sha256) this.weightsToRepair = w;
    }
  }
}

/** Builds the trainer and runs it. */
export async function trainDetector(o: TrainDetectorOptions): Promise<TrainDetectorResult> {
  return new DetectorTrainer(o).run();
}
