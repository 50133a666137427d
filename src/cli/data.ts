// `tsgrad data ...`: make synthetic data sets, convert VOC/COCO to Darknet's YOLO-txt layout, and
// check a data set. Exit codes: 0 success, 1 failure (bad data, I/O), 2 usage error.

import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { checkImageFile, DEFAULT_MAX_PIXELS, ImageDecodeError } from '../yolo/data/image.js';
import { convertCoco } from '../yolo/data/coco.js';
import { DataIssue, formatReport, loadDetectionData, readImageList, readNames } from '../yolo/data/labels.js';
import { attachNegativeValues } from './args.js';
import { generateSynthDataset, type SynthKind } from '../yolo/data/synth.js';
import { SHAPE_NAMES } from '../yolo/data/shapes.js';
import { convertVoc, parseVocSetSpec, type VocReport } from '../yolo/data/voc.js';
import type { ImageMode } from '../yolo/data/write.js';

const USAGE = `usage:
  tsgrad data synth --out DIR --train N --valid M [--classes K] [--size S] [--seed S]
                    [--kind detection|classification] [--max-objects N] [--quality Q]
      Synthetic shapes/digits data set (K <= ${SHAPE_NAMES.length} classes; defaults K=6, S=224
      for detection and 128 for classification, seed 1, up to 4 objects per image).
  tsgrad data convert-voc --out DIR --train ROOT:SET [--train ROOT:SET ...] [--valid ROOT:SET ...]
                    [--names FILE] [--include-difficult] [--copy] [--absolute] [--strict]
      ROOT is a VOC year folder (Annotations/, JPEGImages/, ImageSets/Main/SET.txt),
      e.g. --train VOCdevkit/VOC2007:trainval --train VOCdevkit/VOC2012:trainval --valid VOCdevkit/VOC2007:test
  tsgrad data convert-coco --out DIR --train-json FILE --train-images DIR
                    [--valid-json FILE --valid-images DIR] [--names FILE] [--include-crowd] [--copy] [--absolute]
  tsgrad data check FILE.data [--split train|valid] [--strict] [--max-pixels N]
      Validates the labels of a split and decodes every image (in parallel); prints every problem as
      file:line: message (--strict: stops at the first). Images over --max-pixels pixels (default
      ${DEFAULT_MAX_PIXELS}, 8192x8192) are refused from their header, as training would.
Images are symlinked into DIR/images/<split>/ unless --copy. List files hold paths relative to DIR
unless --absolute.`;

class UsageError extends Error {}

type OptionTable = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** parseArgs with positionals, negative numbers kept as option values (their range check reports them). */
function parseWith<T extends OptionTable>(args: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: T }>> {
  return parseArgs({ args: attachNegativeValues(args, options), allowPositionals: true, options });
}

/**
 * Decodes every image (a few at a time: sharp decodes on its own threads too); returns those that do
 * not decode, in list order, with the reason. With `strict` the first one throws.
 */
async function checkImages(images: readonly string[], opts: { strict: boolean; maxPixels?: number }): Promise<{ image: string; reason: string }[]> {
  const bad = new Map<number, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const k = next++;
      try {
        await checkImageFile(images[k]!, opts.maxPixels === undefined ? {} : { maxPixels: opts.maxPixels });
      } catch (e) {
        if (!(e instanceof ImageDecodeError)) throw e;
        if (opts.strict) throw e;
        bad.set(k, e.message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, worker));
  return [...bad.keys()].sort((a, b) => a - b).map((k) => ({ image: images[k]!, reason: bad.get(k)! }));
}

function intArg(v: string | undefined, name: string, min: number, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  if (!/^[+-]?\d+$/.test(v.trim())) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  const n = Number(v);
  if (n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${n}`);
  return n;
}

function required(v: string | undefined, name: string): string {
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
}

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

async function synth(args: string[]): Promise<number> {
  const { values, positionals } = parseWith(args, {
    out: { type: 'string' },
    train: { type: 'string' },
    valid: { type: 'string' },
    classes: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string' },
    kind: { type: 'string' },
    'max-objects': { type: 'string' },
    quality: { type: 'string' },
  });
  noPositionals(positionals);
  const kind = (values.kind ?? 'detection') as SynthKind;
  if (kind !== 'detection' && kind !== 'classification') throw new UsageError(`--kind must be detection or classification, got '${values.kind}'`);
  const classes = intArg(values.classes, 'classes', 1, 6);
  if (classes > SHAPE_NAMES.length) throw new UsageError(`--classes must be <= ${SHAPE_NAMES.length}, got ${classes}`);
  const opts = {
    outDir: required(values.out, 'out'),
    train: intArg(values.train, 'train', 0),
    valid: intArg(values.valid, 'valid', 0),
    classes,
    size: intArg(values.size, 'size', 32, kind === 'detection' ? 224 : 128),
    seed: intArg(values.seed, 'seed', 0, 1),
    kind,
    maxObjects: intArg(values['max-objects'], 'max-objects', 1, 4),
    quality: intArg(values.quality, 'quality', 1, 90),
  };
  if (opts.quality > 100) throw new UsageError(`--quality must be <= 100, got ${opts.quality}`);
  const total = opts.train + opts.valid;
  const step = Math.max(1, Math.floor(total / 10));
  const r = await generateSynthDataset({
    ...opts,
    onProgress: (done, all) => {
      if (done % step === 0 || done === all) process.stderr.write(`\rsynth: ${done}/${all} images`);
    },
  });
  if (total > 0) process.stderr.write('\n');
  console.log(`wrote ${r.counts.train} train + ${r.counts.valid} valid images${kind === 'detection' ? `, ${r.counts.boxes} boxes` : ''}`);
  console.log(`classes (${r.names.length}): ${r.names.join(' ')}`);
  console.log(`data file: ${r.dataFile}`);
  return 0;
}

async function convertVocCmd(args: string[]): Promise<number> {
  const { values, positionals } = parseWith(args, {
    out: { type: 'string' },
    train: { type: 'string', multiple: true },
    valid: { type: 'string', multiple: true },
    names: { type: 'string' },
    'include-difficult': { type: 'boolean' },
    copy: { type: 'boolean' },
    absolute: { type: 'boolean' },
    strict: { type: 'boolean' },
  });
  noPositionals(positionals);
  const outDir = required(values.out, 'out');
  if (values.train === undefined || values.train.length === 0) throw new UsageError('--train ROOT:SET is required');
  let train;
  let valid;
  try {
    train = values.train.map(parseVocSetSpec);
    valid = (values.valid ?? []).map(parseVocSetSpec);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const imageMode: ImageMode = values.copy ? 'copy' : 'symlink';
  const opts: Parameters<typeof convertVoc>[0] = {
    outDir,
    train,
    valid,
    imageMode,
    absolutePaths: values.absolute ?? false,
    includeDifficult: values['include-difficult'] ?? false,
    strict: values.strict ?? false,
  };
  if (values.names !== undefined) opts.names = readNames(values.names);
  const r = await convertVoc(opts);
  for (const line of vocSummary('train', r.train)) console.log(line);
  if (r.valid !== undefined) for (const line of vocSummary('valid', r.valid)) console.log(line);
  console.log(`data file: ${r.written.dataFile}`);
  return 0;
}

async function convertCocoCmd(args: string[]): Promise<number> {
  const { values, positionals } = parseWith(args, {
    out: { type: 'string' },
    'train-json': { type: 'string' },
    'train-images': { type: 'string' },
    'valid-json': { type: 'string' },
    'valid-images': { type: 'string' },
    names: { type: 'string' },
    'include-crowd': { type: 'boolean' },
    copy: { type: 'boolean' },
    absolute: { type: 'boolean' },
  });
  noPositionals(positionals);
  const opts: Parameters<typeof convertCoco>[0] = {
    outDir: required(values.out, 'out'),
    train: { json: required(values['train-json'], 'train-json'), images: required(values['train-images'], 'train-images') },
    imageMode: values.copy ? 'copy' : 'symlink',
    absolutePaths: values.absolute ?? false,
    includeCrowd: values['include-crowd'] ?? false,
  };
  if ((values['valid-json'] === undefined) !== (values['valid-images'] === undefined)) throw new UsageError('give both --valid-json and --valid-images, or neither');
  if (values['valid-json'] !== undefined) opts.valid = { json: values['valid-json'], images: values['valid-images']! };
  if (values.names !== undefined) opts.names = readNames(values.names);
  const r = await convertCoco(opts);
  for (const [split, rep] of [['train', r.train], ['valid', r.valid]] as const) {
    if (rep === undefined) continue;
    console.log(`${split}: ${rep.images} images, ${rep.boxes} boxes; skipped ${rep.skippedCrowd} crowd, ${rep.skippedUnknownClass} unknown-class and ${rep.skippedInvalid} invalid annotations`);
    for (const line of issueLines(rep.issues)) console.log(line);
  }
  console.log(`data file: ${r.written.dataFile}`);
  return 0;
}

async function checkCmd(args: string[]): Promise<number> {
  const { values, positionals } = parseWith(args, { split: { type: 'string' }, strict: { type: 'boolean' }, 'max-pixels': { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('give exactly one .data file');
  const split = values.split ?? 'train';
  if (split !== 'train' && split !== 'valid') throw new UsageError(`--split must be train or valid, got '${split}'`);
  const strict = values.strict ?? false;
  const maxPixels = values['max-pixels'] === undefined ? undefined : intArg(values['max-pixels'], 'max-pixels', 1);
  const r = loadDetectionData(positionals[0]!, split, { strict });
  const list = r.config[split]!;
  const lineOf = new Map<string, number>();
  for (const { path, line } of readImageList(list)) if (!lineOf.has(path)) lineOf.set(path, line);
  const images = r.dataset.items.map((it) => it.image);
  const bad = await checkImages(images, { strict, ...(maxPixels === undefined ? {} : { maxPixels }) });
  for (const { image, reason } of bad) {
    r.report.issues.push(new DataIssue(list, lineOf.get(image) ?? 0, reason));
    r.report.skippedImages++;
    r.report.images--;
    r.report.boxes -= r.dataset.items.find((it) => it.image === image)?.boxes.length ?? 0;
  }
  console.log(`decoded ${images.length - bad.length} of ${images.length} images${bad.length > 0 ? ` (${bad.length} do not decode)` : ''}`);
  console.log(formatReport(r.report, 50));
  return r.report.issues.length === 0 ? 0 : 1;
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  synth,
  'convert-voc': convertVocCmd,
  'convert-coco': convertCocoCmd,
  check: checkCmd,
};

/** Entry point of `tsgrad data`; `argv` are the arguments after `data`. */
export async function dataCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? console.error : console.log)(USAGE);
    return sub === undefined ? 2 : 0;
  }
  const run = SUBCOMMANDS[sub];
  if (run === undefined) {
    console.error(`tsgrad data: unknown subcommand '${sub}'\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  try {
    return await run(rest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`tsgrad data ${sub}: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    console.error(`tsgrad data ${sub}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
