// Writing a dataset in Darknet's YOLO-txt layout (the reader is labels.ts):
//
//   OUT/images/<split>/<stem>.<ext>   images (written, copied or symlinked)
//   OUT/labels/<split>/<stem>.txt     their labels (Darknet's path rule from the image path)
//   OUT/train.txt, OUT/valid.txt      image paths, relative to OUT (or absolute on request)
//   OUT/<name>.names, OUT/<name>.data
//
// Every file is written through writeOutput (atomic over a regular file) and the .data file last, so a
// .data file that exists describes a complete data set.

import { randomBytes } from 'node:crypto';
import { rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { INPUT_LIMITS, readInputBytes } from '../../io/input.js';
import { ensureDir, TEMP_MARK, writeOutput } from '../../io/output.js';
import { labelFileText, labelPathFor, type DatasetItem, type LabelBox } from './labels.js';

/** Writes one label file (atomic). */
export async function writeLabelFile(file: string, boxes: readonly LabelBox[]): Promise<void> {
  await writeOutput(file, labelFileText(boxes));
}

/** Writes a names file, one class per line (atomic). */
export async function writeNamesFile(file: string, names: readonly string[]): Promise<void> {
  for (const n of names) {
    if (n.trim() === '' || /[\r\n]/.test(n)) throw new Error(`writeNamesFile ${file}: bad class name '${n}'`);
  }
  await writeOutput(file, names.map((n) => `${n}\n`).join(''));
}

/** Writes a list file of image paths: relative to the list's folder unless `absolute` (atomic). */
export async function writeListFile(file: string, images: readonly string[], absolute = false): Promise<void> {
  const dir = dirname(resolve(file));
  const text = images.map((p) => `${absolute ? resolve(p) : relative(dir, resolve(p)).split(sep).join('/')}\n`).join('');
  await writeOutput(file, text);
}

/** Contents of a .data file; paths are written relative to the .data file's folder. */
export interface DataFileFields {
  classes: number;
  train?: string;
  valid?: string;
  names?: string;
  labels?: string;
  backup?: string;
  /** More `key = value` lines (e.g. `top = 1` for classifiers, `eval = voc`). */
  extra?: Record<string, string | number>;
}

/** Writes a .data file (atomic). Write it last: its presence marks a complete data set. */
export async function writeDataFile(file: string, fields: DataFileFields): Promise<void> {
  const dir = dirname(resolve(file));
  const rel = (p: string): string => relative(dir, resolve(p)).split(sep).join('/') || '.';
  const out = [`classes = ${fields.classes}`];
  for (const key of ['train', 'valid', 'names', 'labels', 'backup'] as const) {
    const v = fields[key];
    if (v !== undefined) out.push(`${key} = ${rel(v)}`);
  }
  for (const [k, v] of Object.entries(fields.extra ?? {})) out.push(`${k} = ${v}`);
  await writeOutput(file, `${out.join('\n')}\n`);
}

/**
 * Checks that Darknet's label rule maps an image under `outDir/images/` to `outDir/labels/`: it
 * replaces the *first* folder named `images` (or `JPEGImages`), so the output path itself must not
 * contain such a folder.
 */
export function checkOutputDir(outDir: string): void {
  const parts = resolve(outDir).split(sep);
  for (const bad of ['images', 'JPEGImages']) {
    if (parts.includes(bad)) {
      throw new Error(`output folder ${outDir} has a folder named '${bad}' in its path; Darknet's label rule (first 'images' → 'labels') would then look for labels elsewhere. Choose another folder.`);
    }
  }
}

/** The image path for `stem` in a split, and the label path Darknet derives from it. */
export function datasetPaths(outDir: string, split: string, stem: string, ext: string): { image: string; label: string } {
  const image = join(resolve(outDir), 'images', split, `${stem}${ext}`);
  return { image, label: labelPathFor(image) };
}

export type ImageMode = 'copy' | 'symlink';

/** Copies (writeOutput) or symlinks (temporary name + rename) an existing image to `dest`. */
export async function placeImageFile(source: string, dest: string, mode: ImageMode): Promise<void> {
  if (mode === 'copy') {
    await writeOutput(dest, readInputBytes(source, 'image', INPUT_LIMITS.image));
    return;
  }
  ensureDir(dirname(dest));
  const tmp = `${dest}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await symlink(resolve(source), tmp);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new Error(`cannot create the link ${dest}: ${(e as Error).message}`);
  }
}

export interface WriteDatasetOptions {
  outDir: string;
  /** Base name of the .data and .names files. */
  name: string;
  names: readonly string[];
  splits: { train: readonly DatasetItem[]; valid?: readonly DatasetItem[] };
  /** How source images get into OUT/images/<split>/. Default 'symlink'. */
  imageMode?: ImageMode;
  /** Absolute paths in the list files (Darknet's convention) instead of paths relative to OUT. */
  absolutePaths?: boolean;
  /** Output file stem of an item (default: the image's base name without extension). Must be unique per split. */
  stem?: (item: DatasetItem, index: number) => string;
}

export interface WrittenDataset {
  dataFile: string;
  namesFile: string;
  lists: { train: string; valid?: string };
  counts: { train: number; valid: number; boxes: number };
}

/** Writes images (copy/symlink), labels, lists, names and finally the .data file. */
export async function writeYoloDataset(opts: WriteDatasetOptions): Promise<WrittenDataset> {
  checkOutputDir(opts.outDir);
  const out = resolve(opts.outDir);
  ensureDir(out);
  const mode = opts.imageMode ?? 'symlink';
  const stemOf = opts.stem ?? ((item: DatasetItem) => basename(item.image, extname(item.image)));
  let boxes = 0;
  const writeSplit = async (split: string, items: readonly DatasetItem[]): Promise<string> => {
    const seen = new Set<string>();
    const paths: string[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const stem = stemOf(item, i);
      if (seen.has(stem)) throw new Error(`writeYoloDataset: two images of split '${split}' map to the same name '${stem}' (${item.image})`);
      seen.add(stem);
      const ext = extname(item.image).toLowerCase() || '.jpg';
      const { image, label } = datasetPaths(out, split, stem, ext);
      await placeImageFile(item.image, image, mode);
      await writeLabelFile(label, item.boxes);
      boxes += item.boxes.length;
      paths.push(image);
    }
    const list = join(out, `${split}.txt`);
    await writeListFile(list, paths, opts.absolutePaths ?? false);
    return list;
  };
  const train = await writeSplit('train', opts.splits.train);
  const valid = opts.splits.valid !== undefined ? await writeSplit('valid', opts.splits.valid) : undefined;
  const namesFile = join(out, `${opts.name}.names`);
  await writeNamesFile(namesFile, opts.names);
  const dataFile = join(out, `${opts.name}.data`);
  const fields: DataFileFields = { classes: opts.names.length, train, names: namesFile, backup: join(out, 'backup') };
  if (valid !== undefined) fields.valid = valid;
  await writeDataFile(dataFile, fields);
  const lists: { train: string; valid?: string } = { train };
  if (valid !== undefined) lists.valid = valid;
  return {
    dataFile,
    namesFile,
    lists,
    counts: { train: opts.splits.train.length, valid: opts.splits.valid?.length ?? 0, boxes },
  };
}
