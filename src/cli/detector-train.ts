// `tsgrad detector train <data> <cfg> [weights]`: Darknet's detector train (see src/yolo/train/trainer.ts
// for what one iteration does and which files are written; detector-commands.ts for the options).

import { readCfgFile } from '../yolo/darknet/cfg.js';
import { evaluateDetector } from '../yolo/eval.js';
import { formatReport, loadDetectionData, resolveDataPath } from '../yolo/data/labels.js';
import { layersOfType } from '../yolo/net/network.js';
import { trainDetector, type TrainDetectorResult } from '../yolo/train/trainer.js';
import { EXIT, processIO, runCommand, UsageError, type CommandIO, type ParsedArgs } from './args.js';
import { trainSpec } from './detector-commands.js';
import { interruptHandler, resumeCommand, TrainReporter } from './train-report.js';

export async function detectorTrain(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(trainSpec, argv, io, (a) => trainBody(a, io));
}

/** --max-batches/--batch/--subdivisions/--width/--height/--learning-rate/--set as [net] overrides. */
export function netOverrides(a: ParsedArgs): Record<string, number | string> {
  const overrides: Record<string, number | string> = {};
  for (const [flag, key, min, max] of [
    ['max-batches', 'max_batches', 1, 1e12],
    ['batch', 'batch', 1, 1 << 20],
    ['subdivisions', 'subdivisions', 1, 1 << 20],
    ['width', 'width', 32, 1 << 16],
    ['height', 'height', 32, 1 << 16],
  ] as const) {
    const v = a.optionalInt(flag, min, max);
    if (v !== undefined) overrides[key] = v;
  }
  for (const kv of a.list('set')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(kv);
    if (m === null) throw new UsageError(`--set: expected key=value, got '${kv}'`);
    const num = Number(m[2]);
    overrides[m[1]!] = Number.isFinite(num) && /^[-+0-9.eE]+$/.test(m[2]!) ? num : m[2]!;
  }
  const lr = a.optionalString('learning-rate');
  if (lr !== undefined) {
    const v = Number(lr);
    if (!(Number.isFinite(v) && v > 0)) throw new UsageError(`--learning-rate: expected a positive number, got '${lr}'`);
    overrides['learning_rate'] = v;
  }
  return overrides;
}

/** --map-every: N, or auto (Darknet's -map: every max(100, 4 epochs) iterations). */
function mapEvery(a: ParsedArgs, cfgFile: string, overrides: Record<string, number | string>, images: number): number {
  if (a.optionalString('map-every') !== 'auto') return a.int('map-every', 0, 1e12);
  const batch = readCfgFile(cfgFile, { overrides }).net.batch;
  return Math.max(100, Math.floor((4 * images) / batch));
}

export async function trainBody(a: ParsedArgs, io: CommandIO): Promise<number> {
  const dataFile = a.positional('data')!;
  const cfgFile = a.positional('cfg')!;
  const weightsFile = a.positional('weights');
  const overrides = netOverrides(a);
  const device = await a.device();
  const strict = a.flag('strict');
  const logEvery = a.optionalInt('log-every', 1, 1e12);
  const workers = a.optionalInt('workers', 0, 64);
  const partial = a.optionalInt('partial', 1, 1 << 20);
  if (partial !== undefined && weightsFile === undefined) throw new UsageError('--partial N loads the first N layers of a weights file: give the [weights] argument');
  const maxPixels = a.int('max-pixels', 1, Number.MAX_SAFE_INTEGER);
  const saveEvery = a.int('save-every', 1, 1e12);
  const stopAfter = a.optionalInt('stop-after', 0, 1e12);
  const seed = a.int('seed', 0, 0xffffffff);
  const preciseBn = a.int('precise-bn', 0, 1e6);
  const chartArg = a.optionalString('chart');
  const train = loadDetectionData(dataFile, 'train', { strict });
  if (train.report.issues.length > 0) io.err(`${formatReport(train.report)}\n`);
  if (train.dataset.items.length === 0) throw new Error(`${dataFile}: the train list has no usable images`);
  const every = mapEvery(a, cfgFile, overrides, train.dataset.items.length);
  let valid: ReturnType<typeof loadDetectionData> | null = null;
  if (every > 0) {
    if (train.config.valid === undefined) throw new UsageError(`--map-every needs a valid= list in ${dataFile}`);
    valid = loadDetectionData(dataFile, 'valid', { strict });
    if (valid.report.issues.length > 0) io.err(`${formatReport(valid.report)}\n`);
  }
  const backupDir = a.optionalString('backup') ?? (train.config.backup !== undefined ? resolveDataPath(train.config.backup, dataFile) : 'backup');
  const classes = train.config.classes;
  const validItems = valid?.dataset.items ?? [];
  const evalSkipped = new Set<string>();

  const report = new TrainReporter(io, { logEvery, quiet: a.flag('quiet') });
  const resume = (state: string): string => resumeCommand(a, [dataFile, cfgFile], state);
  const interrupt = interruptHandler(report, resume);
  let r: TrainDetectorResult;
  try {
    r = await trainDetector({
      cfgFile,
      overrides,
      items: train.dataset.items,
      weightsFile: weightsFile ?? null,
      ...(partial === undefined ? {} : { partial }),
      resume: a.optionalString('resume') ?? null,
      clear: a.flag('clear'),
      backupDir,
      device,
      seed,
      augment: !a.flag('no-augment'),
      ...(a.flag('no-multiscale') ? { multiScale: false } : {}),
      ...(workers === undefined ? {} : { workers }),
      saveEvery,
      ...(stopAfter === undefined ? {} : { stopAfter }),
      preciseBn,
      strict,
      maxPixels,
      evaluate:
        every > 0
          ? async (net) => {
              const layer = layersOfType(net, 'region', 'detection')[0];
              const ev = await evaluateDetector(net, validItems, {
                classes: layer?.classes ?? classes,
                undecodable: strict ? 'fail' : 'skip',
                maxPixels,
                onSkip: (image, reason) => {
                  if (evalSkipped.has(image)) return;
                  evalSkipped.add(image);
                  report.message(`note: skipping a valid image that does not decode (${evalSkipped.size} so far; --strict stops instead): ${reason}`);
                },
              });
              return ev.map;
            }
          : null,
      evalEvery: every,
      chart: chartArg === 'none' ? null : (chartArg ?? undefined),
      log: (line) => report.message(line),
      ...report.hooks(interrupt.signal),
    });
  } finally {
    interrupt.dispose();
    report.done();
  }
  io.out(
    `stopped at iteration ${r.iteration} (${r.stopped}), seen ${r.seen}, avg loss ${r.avgLoss.toFixed(4)}` +
      `${Number.isNaN(r.lastMap) ? '' : `, last mAP@0.5 ${(r.lastMap * 100).toFixed(2)}%`}; weights ${r.lastWeights ?? '(none written)'}, state ${r.lastState ?? '(none)'}` +
      `${r.skippedImages > 0 ? `; ${r.skippedImages} image${r.skippedImages === 1 ? '' : 's'} skipped (they do not decode)` : ''}\n`,
  );
  if (r.stopped === 'interrupted') {
    if (r.lastState !== null) io.out(`resume with: ${resume(r.lastState)}\n`);
    return EXIT.interrupted;
  }
  return r.stopped === 'non_finite' ? EXIT.failed : EXIT.ok;
}
