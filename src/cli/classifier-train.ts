// `tsgrad classifier train <data> <cfg> [weights]`: Darknet's classifier train (see
// src/yolo/train/classifier-trainer.ts). The .data file is Darknet's classifier format: train= and
// valid= lists, labels= (class names; an image's class is the name in its file name), backup=.

import { checkWritableDir, removeStaleTemps } from '../io/output.js';
import { readClassificationList } from '../yolo/data/classification.js';
import { readDataConfig, readNames, resolveDataPath } from '../yolo/data/labels.js';
import { trainClassifier } from '../yolo/train/classifier-trainer.js';
import { deviceArg, intArg, parseCommandArgs, processIO, runCommand, stringArg, UsageError, type CommandIO } from './darknet.js';

const USAGE = `usage: tsgrad classifier train <data> <cfg> [weights] [--device cpu|cuda|cuda-emu] [--backup DIR] [--clear]
                              [--seed S] [--no-augment] [--workers N] [--save-every N] [--eval-every N]
                              [--max-batches N] [--batch N] [--subdivisions N] [--strict] [--chart FILE|none]
                              [--precise-bn N]
  Writes <backup>/<cfg>_last.weights (every --save-every iterations), <cfg>_final.weights and chart.png,
  and prints the top-1 accuracy (--precise-bn N: BN rolling statistics from N batches first, see detector train) on the valid= list at the end (and every --eval-every iterations).
  Start a detector from the result with: tsgrad detector train <data> <detector.cfg> <cfg>_final.weights --partial N`;

export async function classifierTrain(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(argv, io, USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        device: { type: 'string' },
        backup: { type: 'string' },
        clear: { type: 'boolean' },
        seed: { type: 'string' },
        'no-augment': { type: 'boolean' },
        workers: { type: 'string' },
        'save-every': { type: 'string' },
        'eval-every': { type: 'string' },
        'max-batches': { type: 'string' },
        batch: { type: 'string' },
        subdivisions: { type: 'string' },
        strict: { type: 'boolean' },
        chart: { type: 'string' },
        'precise-bn': { type: 'string' },
      },
      true,
    );
    if (positionals.length < 2 || positionals.length > 3) throw new UsageError(`expected <data> <cfg> [weights], got ${positionals.length} arguments`);
    const [dataFile, cfgFile, weightsFile] = positionals as [string, string, string | undefined];
    const overrides: Record<string, number> = {};
    for (const [flag, key] of [['max-batches', 'max_batches'], ['batch', 'batch'], ['subdivisions', 'subdivisions']] as const) {
      const v = intArg(values, flag, 1, 1e12);
      if (v !== undefined) overrides[key] = v;
    }
    const config = readDataConfig(dataFile);
    const labels = config.values['labels'] ?? config.names;
    if (labels === undefined) throw new Error(`${dataFile}: no labels= (or names=) file with the class names`);
    const names = readNames(resolveDataPath(labels, dataFile));
    if (config.train === undefined) throw new Error(`${dataFile}: no 'train' key`);
    const strict = values['strict'] === true;
    const train = readClassificationList(config.train, names, { strict });
    for (const i of train.issues) io.err(`${i.toString()}\n`);
    if (train.issues.length > 0) io.err(`${train.items.length} images kept; skipped ${train.issues.length}\n`);
    if (train.items.length === 0) throw new Error(`${config.train}: no usable images`);
    const valid = config.valid !== undefined ? readClassificationList(config.valid, names, { strict }).items : [];
    const backupDir = stringArg(values, 'backup') ?? (config.backup !== undefined ? resolveDataPath(config.backup, dataFile) : 'backup');
    await checkWritableDir(backupDir);
    removeStaleTemps(backupDir);
    const chartArg = stringArg(values, 'chart');
    const workers = intArg(values, 'workers', 0, 64);
    const saveEvery = intArg(values, 'save-every', 1, 1e12);
    const r = await trainClassifier({
      cfgFile,
      overrides,
      items: train.items,
      validItems: valid,
      evalEvery: intArg(values, 'eval-every', 0, 1e12) ?? 0,
      weightsFile: weightsFile ?? null,
      clear: values['clear'] === true,
      backupDir,
      device: await deviceArg(values),
      seed: intArg(values, 'seed', 0, 0xffffffff) ?? 0,
      augment: values['no-augment'] !== true,
      ...(workers === undefined ? {} : { workers }),
      ...(saveEvery === undefined ? {} : { saveEvery }),
      chart: chartArg === 'none' ? null : (chartArg ?? undefined),
      preciseBn: intArg(values, 'precise-bn', 0, 1e6) ?? 0,
      strict,
      log: (line) => io.out(`${line}\n`),
    });
    io.out(`stopped at iteration ${r.iteration}, avg loss ${r.avgLoss.toFixed(4)}${Number.isNaN(r.top1) ? '' : `, top-1 ${(r.top1 * 100).toFixed(2)}%`}; weights ${r.finalWeights}\n`);
  });
}
