// `tsgrad classifier train <data> <cfg> [weights]`: Darknet's classifier train (see
// src/yolo/train/classifier-trainer.ts; the options are defined in classifier-commands.ts). The .data file
// is Darknet's classifier format: train= and valid= lists, labels= (class names; an image's class is the
// name in its file name), backup=.

import { checkWritableDir, removeStaleTemps } from '../io/output.js';
import { readClassificationList } from '../yolo/data/classification.js';
import { readDataConfig, readNames, resolveDataPath } from '../yolo/data/labels.js';
import { trainClassifier, type TrainClassifierResult } from '../yolo/train/classifier-trainer.js';
import { EXIT, processIO, runCommand, type CommandIO, type ParsedArgs } from './args.js';
import { classifierTrainSpec } from './classifier-commands.js';
import { netOverrides } from './detector-train.js';
import { interruptHandler, resumeCommand, TrainReporter } from './train-report.js';

export async function classifierTrain(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(classifierTrainSpec, argv, io, (a) => classifierTrainBody(a, io));
}

export async function classifierTrainBody(a: ParsedArgs, io: CommandIO): Promise<number> {
  const dataFile = a.positional('data')!;
  const cfgFile = a.positional('cfg')!;
  const weightsFile = a.positional('weights');
  const overrides = netOverrides(a);
  const device = await a.device();
  const strict = a.flag('strict');
  const workers = a.optionalInt('workers', 0, 64);
  const saveEvery = a.int('save-every', 1, 1e12);
  const stopAfter = a.optionalInt('stop-after', 0, 1e12);
  const evalEvery = a.int('eval-every', 0, 1e12);
  const seed = a.int('seed', 0, 0xffffffff);
  const preciseBn = a.int('precise-bn', 0, 1e6);
  const logEvery = a.optionalInt('log-every', 1, 1e12);
  const chartArg = a.optionalString('chart');
  const config = readDataConfig(dataFile);
  const labels = config.values['labels'] ?? config.names;
  if (labels === undefined) throw new Error(`${dataFile}: no labels= (or names=) file with the class names`);
  const names = readNames(resolveDataPath(labels, dataFile));
  if (config.train === undefined) throw new Error(`${dataFile}: no 'train' key`);
  const train = readClassificationList(config.train, names, { strict });
  for (const i of train.issues) io.err(`${i.toString()}\n`);
  if (train.issues.length > 0) io.err(`${train.items.length} images kept; skipped ${train.issues.length}\n`);
  if (train.items.length === 0) throw new Error(`${config.train}: no usable images`);
  const valid = config.valid !== undefined ? readClassificationList(config.valid, names, { strict }).items : [];
  const backupDir = a.optionalString('backup') ?? (config.backup !== undefined ? resolveDataPath(config.backup, dataFile) : 'backup');
  // Found before the first iteration: a folder that cannot be written, and temporary files of killed runs.
  await checkWritableDir(backupDir);
  removeStaleTemps(backupDir);

  const report = new TrainReporter(io, { logEvery, quiet: a.flag('quiet') });
  const resume = (state: string): string => resumeCommand(a, [dataFile, cfgFile], state);
  const interrupt = interruptHandler(report, resume);
  let r: TrainClassifierResult;
  try {
    r = await trainClassifier({
      cfgFile,
      overrides,
      items: train.items,
      validItems: valid,
      evalEvery,
      weightsFile: weightsFile ?? null,
      clear: a.flag('clear'),
      resume: a.optionalString('resume') ?? null,
      ...(stopAfter === undefined ? {} : { stopAfter }),
      backupDir,
      device,
      seed,
      augment: !a.flag('no-augment'),
      ...(workers === undefined ? {} : { workers }),
      saveEvery,
      chart: chartArg === 'none' ? null : (chartArg ?? undefined),
      preciseBn,
      strict,
      log: (line) => report.message(line),
      ...report.hooks(interrupt.signal),
    });
  } finally {
    interrupt.dispose();
    report.done();
  }
  io.out(
    `stopped at iteration ${r.iteration} (${r.stopped}), avg loss ${r.avgLoss.toFixed(4)}${Number.isNaN(r.top1) ? '' : `, top-1 ${(r.top1 * 100).toFixed(2)}%`}; ` +
      `weights ${r.finalWeights ?? '(none written)'}, state ${r.lastState ?? '(none)'}\n`,
  );
  if (r.stopped === 'interrupted') {
    if (r.lastState !== null) io.out(`resume with: ${resume(r.lastState)}\n`);
    return EXIT.interrupted;
  }
  return r.stopped === 'non_finite' ? EXIT.failed : EXIT.ok;
}
