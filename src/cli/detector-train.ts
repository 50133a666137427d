// `tsgrad detector train <data> <cfg> [weights]`: Darknet's detector train (see src/yolo/train/trainer.ts
// for what one iteration does and which files are written).

import { evaluateDetector } from '../yolo/eval.js';
import { formatReport, loadDetectionData, resolveDataPath } from '../yolo/data/labels.js';
import { layersOfType } from '../yolo/net/network.js';
import { trainDetector, type TrainDetectorResult } from '../yolo/train/trainer.js';
import { deviceArg, intArg, MAX_PIXELS_USAGE, maxPixelsArg, parseCommandArgs, processIO, runCommand, stringArg, UsageError, type CommandIO } from './darknet.js';

const USAGE = `usage: tsgrad detector train <data> <cfg> [weights] [--device cpu|cuda|cuda-emu] [--backup DIR]
                            [--clear] [--resume DIR/<cfg>_last.state] [--partial N] [--seed S]
                            [--no-augment] [--no-multiscale] [--workers N] [--save-every N] [--map-every N]
                            [--max-batches N] [--batch N] [--subdivisions N] [--learning-rate LR]
                            [--width W --height H] [--set key=value]... [--precise-bn N] [--strict] [--chart FILE|none]
                            [--stop-after N] [--max-pixels N]
  <data>       Darknet .data file (train=, valid=, names=, backup=)
  [weights]    starting weights; their header's 'seen' continues the schedule unless --clear
  --clear      start the schedule (iteration, burn-in, steps) at 0 whatever the weights have seen
  --resume     exact resume from a training state written by this command (same cfg)
  --partial N  load only layers 0..N-1 of the weights (e.g. a classifier's convolutional backbone)
  --map-every N  evaluate mAP@0.5 on the valid split every N iterations (and at the end); keeps
               <backup>/<cfg>_best.weights
  --set k=v    override any [net] key (e.g. --set burn_in=0 --set policy=constant)
  --precise-bn N  before each evaluation and the final weights, set the BN rolling statistics to the
               average of N training batches' statistics (default 0: Darknet's rolling average only)
  --stop-after N  stop (with a checkpoint) after N iterations of this run
  Bad labels are reported with file:line and skipped (counted), and so are images that do not decode
  (a one-line note each); --strict stops at the first of either.
  ${MAX_PIXELS_USAGE}`;

export async function detectorTrain(argv: string[], io: CommandIO = processIO): Promise<number> {
  let result: TrainDetectorResult | null = null;
  const code = await runCommand(argv, io, USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        device: { type: 'string' },
        backup: { type: 'string' },
        clear: { type: 'boolean' },
        resume: { type: 'string' },
        partial: { type: 'string' },
        seed: { type: 'string' },
        'no-augment': { type: 'boolean' },
        'no-multiscale': { type: 'boolean' },
        workers: { type: 'string' },
        'save-every': { type: 'string' },
        'map-every': { type: 'string' },
        'max-batches': { type: 'string' },
        batch: { type: 'string' },
        subdivisions: { type: 'string' },
        'learning-rate': { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        strict: { type: 'boolean' },
        chart: { type: 'string' },
        'stop-after': { type: 'string' },
        set: { type: 'string', multiple: true },
        'precise-bn': { type: 'string' },
        'max-pixels': { type: 'string' },
      },
      true,
    );
    if (positionals.length < 2 || positionals.length > 3) throw new UsageError(`expected <data> <cfg> [weights], got ${positionals.length} arguments`);
    const [dataFile, cfgFile, weightsFile] = positionals as [string, string, string | undefined];
    const overrides: Record<string, number | string> = {};
    for (const [flag, key, min, max] of [
      ['max-batches', 'max_batches', 1, 1e12],
      ['batch', 'batch', 1, 1 << 20],
      ['subdivisions', 'subdivisions', 1, 1 << 20],
      ['width', 'width', 32, 1 << 16],
      ['height', 'height', 32, 1 << 16],
    ] as const) {
      const v = intArg(values, flag, min, max);
      if (v !== undefined) overrides[key] = v;
    }
    const sets = values['set'];
    for (const kv of Array.isArray(sets) ? sets : []) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(String(kv));
      if (m === null) throw new UsageError(`--set: expected key=value, got '${String(kv)}'`);
      const num = Number(m[2]);
      overrides[m[1]!] = Number.isFinite(num) && /^[-+0-9.eE]+$/.test(m[2]!) ? num : m[2]!;
    }
    const lr = stringArg(values, 'learning-rate');
    if (lr !== undefined) {
      const v = Number(lr);
      if (!(Number.isFinite(v) && v > 0)) throw new UsageError(`--learning-rate: expected a positive number, got '${lr}'`);
      overrides['learning_rate'] = v;
    }
    const device = await deviceArg(values);
    const strict = values['strict'] === true;
    const train = loadDetectionData(dataFile, 'train', { strict });
    if (train.report.issues.length > 0) io.err(`${formatReport(train.report)}\n`);
    if (train.dataset.items.length === 0) throw new Error(`${dataFile}: the train list has no usable images`);
    const mapEvery = intArg(values, 'map-every', 0, 1e12) ?? 0;
    let valid: ReturnType<typeof loadDetectionData> | null = null;
    if (mapEvery > 0) {
      if (train.config.valid === undefined) throw new UsageError(`--map-every needs a valid= list in ${dataFile}`);
      valid = loadDetectionData(dataFile, 'valid', { strict });
      if (valid.report.issues.length > 0) io.err(`${formatReport(valid.report)}\n`);
    }
    const backupDir = stringArg(values, 'backup') ?? (train.config.backup !== undefined ? resolveDataPath(train.config.backup, dataFile) : 'backup');
    const chartArg = stringArg(values, 'chart');
    const classes = train.config.classes;
    const validItems = valid?.dataset.items ?? [];
    const workers = intArg(values, 'workers', 0, 64);
    const partial = intArg(values, 'partial', 1, 1 << 20);
    if (partial !== undefined && weightsFile === undefined) throw new UsageError('--partial N loads the first N layers of a weights file: give the [weights] argument');
    const saveEvery = intArg(values, 'save-every', 1, 1e12);
    const stopAfter = intArg(values, 'stop-after', 0, 1e12);
    const maxPixels = maxPixelsArg(values);
    const evalSkipped = new Set<string>();
    result = await trainDetector({
      cfgFile,
      overrides,
      items: train.dataset.items,
      weightsFile: weightsFile ?? null,
      ...(partial === undefined ? {} : { partial }),
      resume: stringArg(values, 'resume') ?? null,
      clear: values['clear'] === true,
      backupDir,
      device,
      seed: intArg(values, 'seed', 0, 0xffffffff) ?? 0,
      augment: values['no-augment'] !== true,
      ...(values['no-multiscale'] === true ? { multiScale: false } : {}),
      ...(workers === undefined ? {} : { workers }),
      ...(saveEvery === undefined ? {} : { saveEvery }),
      ...(stopAfter === undefined ? {} : { stopAfter }),
      preciseBn: intArg(values, 'precise-bn', 0, 1e6) ?? 0,
      strict,
      ...(maxPixels === undefined ? {} : { maxPixels }),
      evaluate:
        mapEvery > 0
          ? async (net) => {
              const layer = layersOfType(net, 'region', 'detection')[0];
              const ev = await evaluateDetector(net, validItems, {
                classes: layer?.classes ?? classes,
                undecodable: strict ? 'fail' : 'skip',
                onSkip: (image, reason) => {
                  if (evalSkipped.has(image)) return;
                  evalSkipped.add(image);
                  io.out(`note: skipping a valid image that does not decode (${evalSkipped.size} so far; --strict stops instead): ${reason}\n`);
                },
                ...(maxPixels === undefined ? {} : { maxPixels }),
              });
              return ev.map;
            }
          : null,
      evalEvery: mapEvery,
      chart: chartArg === 'none' ? null : (chartArg ?? undefined),
      log: (line) => io.out(`${line}\n`),
    });
    const r = result as TrainDetectorResult;
    io.out(
      `stopped at iteration ${r.iteration} (${r.stopped}), seen ${r.seen}, avg loss ${r.avgLoss.toFixed(4)}` +
        `${Number.isNaN(r.lastMap) ? '' : `, last mAP@0.5 ${(r.lastMap * 100).toFixed(2)}%`}; weights ${r.lastWeights ?? '(none written)'}, state ${r.lastState ?? '(none)'}` +
        `${r.skippedImages > 0 ? `; ${r.skippedImages} image${r.skippedImages === 1 ? '' : 's'} skipped (they do not decode)` : ''}\n`,
    );
  });
  if (code === 0 && result !== null && (result as TrainDetectorResult).stopped === 'non_finite') return 1;
  return code;
}
