// `tsgrad data ...`: make synthetic data sets, convert VOC/COCO to Darknet's YOLO-txt layout, and
// check a data set (the options are defined in data-commands.ts). Exit codes: 0 success, 1 failure (bad
// data, I/O), 2 usage error.

import { availableParallelism } from 'node:os';

import { convertCoco } from '../yolo/data/coco.js';
import { checkImageFile, ImageDecodeError } from '../yolo/data/image.js';
import { DataIssue, formatReport, loadDetectionData, readImageList, readNames } from '../yolo/data/labels.js';
import { generateSynthDataset, type SynthKind } from '../yolo/data/synth.js';
import { SHAPE_NAMES } from '../yolo/data/shapes.js';
import { convertVoc, parseVocSetSpec, UnknownVocClassesError, type VocReport } from '../yolo/data/voc.js';
import type { ImageMode } from '../yolo/data/write.js';
import { processIO, runGroup, UsageError, type CommandIO, type ParsedArgs } from './args.js';
import { dataGroup } from './data-commands.js';
import { loopProgress } from './status-line.js';

function issueLines(issues: readonly DataIssue[], max = 10): string[] {
  const out = issues.slice(0, max).map((i) => `  ${i.toString()}`);
  if (issues.length > max) out.push(`  ... and ${issues.length - max} more`);
  return out;
}

function vocSummary(split: string, r: VocReport): string[] {
  return [
    `${split}: ${r.images} images, ${r.boxes} boxes; skipped ${r.skippedImages} images, ${r.skippedDifficult} difficult, ` +
      `${r.skippedUnknownClass} unknown-class and ${r.skippedInvalid} invalid objects`,
    ...issueLines(r.issues),
  ];
}

export async function synthBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const kind = a.string('kind') as SynthKind;
  if (kind !== 'detection' && kind !== 'classification') throw new UsageError(`--kind must be detection or classification, got '${kind}'`);
  const classes = a.int('classes', 1, SHAPE_NAMES.length);
  const opts = {
    outDir: a.string('out'),
    train: a.int('train', 0, 1e9),
    valid: a.int('valid', 0, 1e9),
    classes,
    size: a.optionalInt('size', 32, 1 << 14) ?? (kind === 'detection' ? 224 : 128),
    seed: a.int('seed', 0, 0xffffffff),
    kind,
    maxObjects: a.int('max-objects', 1, 1000),
    quality: a.int('quality', 1, 100),
  };
  const progress = loopProgress(io, 'synth');
  const r = await generateSynthDataset({ ...opts, onProgress: progress.update }).finally(progress.end);
  io.out(
    `wrote ${r.counts.train} train + ${r.counts.valid} valid images${kind === 'detection' ? `, ${r.counts.boxes} boxes` : ''}\n` +
      `classes (${r.names.length}): ${r.names.join(' ')}\n` +
      `data file: ${r.dataFile}\n`,
  );
}

export async function convertVocBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const outDir = a.string('out');
  let train;
  let valid;
  try {
    train = a.list('train').map(parseVocSetSpec);
    valid = a.list('valid').map(parseVocSetSpec);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const imageMode: ImageMode = a.flag('copy') ? 'copy' : 'symlink';
  const opts: Parameters<typeof convertVoc>[0] = {
    outDir,
    train,
    valid,
    imageMode,
    absolutePaths: a.flag('absolute'),
    includeDifficult: a.flag('include-difficult'),
    strict: a.flag('strict'),
  };
  const namesFile = a.optionalString('names');
  if (namesFile !== undefined) opts.names = readNames(namesFile);
  let r;
  try {
    r = await convertVoc(opts);
  } catch (e) {
    if (e instanceof UnknownVocClassesError) {
      throw new Error(
        `${e.message}. ${e.defaultNames ? 'Give the class names of this data set' : 'Check --names'} with --names FILE (one name per line, in class-id order; ` +
          `objects of classes not listed are skipped)`,
      );
    }
    throw e;
  }
  const lines = vocSummary('train', r.train);
  if (r.valid !== undefined) lines.push(...vocSummary('valid', r.valid));
  for (const rep of [r.train, r.valid]) {
    const unknown = Object.entries(rep?.unknownClasses ?? {});
    if (unknown.length > 0) io.err(`note: skipped objects of classes not in ${namesFile}: ${unknown.map(([n, c]) => `${n} (${c})`).join(', ')}\n`);
  }
  io.out(`${lines.join('\n')}\ndata file: ${r.written.dataFile}\n`);
}

export async function convertCocoBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const opts: Parameters<typeof convertCoco>[0] = {
    outDir: a.string('out'),
    train: { json: a.string('train-json'), images: a.string('train-images') },
    imageMode: a.flag('copy') ? 'copy' : 'symlink',
    absolutePaths: a.flag('absolute'),
    includeCrowd: a.flag('include-crowd'),
  };
  const vj = a.optionalString('valid-json');
  const vi = a.optionalString('valid-images');
  if ((vj === undefined) !== (vi === undefined)) throw new UsageError('give both --valid-json and --valid-images, or neither');
  if (vj !== undefined && vi !== undefined) opts.valid = { json: vj, images: vi };
  const namesFile = a.optionalString('names');
  if (namesFile !== undefined) opts.names = readNames(namesFile);
  const r = await convertCoco(opts);
  const lines: string[] = [];
  for (const [split, rep] of [['train', r.train], ['valid', r.valid]] as const) {
    if (rep === undefined) continue;
    lines.push(`${split}: ${rep.images} images, ${rep.boxes} boxes; skipped ${rep.skippedCrowd} crowd, ${rep.skippedUnknownClass} unknown-class and ${rep.skippedInvalid} invalid annotations`);
    lines.push(...issueLines(rep.issues));
  }
  io.out(`${lines.join('\n')}\ndata file: ${r.written.dataFile}\n`);
}

/**
 * Decodes every image (a few at a time: sharp decodes on its own threads too); returns those that do
 * not decode, in list order, with the reason. With `strict` the first one throws.
 */
async function checkImages(images: readonly string[], opts: { strict: boolean; maxPixels: number }): Promise<{ image: string; reason: string }[]> {
  const bad = new Map<number, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const k = next++;
      try {
        await checkImageFile(images[k]!, { maxPixels: opts.maxPixels });
      } catch (e) {
        if (!(e instanceof ImageDecodeError) || opts.strict) throw e;
        bad.set(k, e.message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, worker));
  return [...bad.keys()].sort((x, y) => x - y).map((k) => ({ image: images[k]!, reason: bad.get(k)! }));
}

export async function checkBody(a: ParsedArgs, io: CommandIO): Promise<number> {
  const split = a.string('split');
  if (split !== 'train' && split !== 'valid') throw new UsageError(`--split must be train or valid, got '${split}'`);
  const strict = a.flag('strict');
  const maxPixels = a.int('max-pixels', 1, Number.MAX_SAFE_INTEGER);
  const r = loadDetectionData(a.positional('data')!, split, { strict });
  // Every image is decoded too: one that exists but does not decode is reported here, not hours into training.
  const list = r.config[split]!;
  const lineOf = new Map<string, number>();
  for (const { path, line } of readImageList(list)) if (!lineOf.has(path)) lineOf.set(path, line);
  const images = r.dataset.items.map((it) => it.image);
  const bad = await checkImages(images, { strict, maxPixels });
  for (const { image, reason } of bad) {
    r.report.issues.push(new DataIssue(list, lineOf.get(image) ?? 0, reason));
    r.report.skippedImages++;
    r.report.images--;
    r.report.boxes -= r.dataset.items.find((it) => it.image === image)?.boxes.length ?? 0;
  }
  io.out(`decoded ${images.length - bad.length} of ${images.length} images${bad.length > 0 ? ` (${bad.length} do not decode)` : ''}\n`);
  io.out(`${formatReport(r.report, 50)}\n`);
  return r.report.issues.length === 0 ? 0 : 1;
}

/** Entry point of `tsgrad data`; `argv` are the arguments after `data`. */
export async function dataCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runGroup(dataGroup, argv, io);
}
