// Darknet's YOLO-txt dataset layout: reading and validating it.
//
//   foo.data     key = value lines: classes, train, valid, names, backup (# or ; starts a comment)
//   foo.names    one class name per line; line k (0-based) is class id k
//   train.txt    one image path per line
//   labels       one .txt per image, found by Darknet's path rule (labelPathFor), one box per line:
//                `class x y w h`, class an integer id, x y the box centre and w h its size, all
//                relative to the image (0..1)
//
// Relative paths inside a .data or list file are resolved against the folder of that file; if
// nothing exists there, against the current directory (Darknet's only rule, which its stock .data
// files rely on). Labels are validated; each problem is reported as `file:line: message`. With
// `strict` the first problem throws; otherwise the bad box (or the image whose file or label file is
// missing) is skipped and counted.

import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { INPUT_LIMITS, readInputText } from '../../io/input.js';

/** One ground-truth box: class id and centre/size relative to the image. */
export interface LabelBox {
  cls: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One image of a dataset with its boxes. `width`/`height` are known when a converter supplied them. */
export interface DatasetItem {
  image: string;
  boxes: LabelBox[];
  width?: number;
  height?: number;
}

/** The in-memory form every reader (YOLO-txt, VOC, COCO, synth) produces. */
export interface Dataset {
  names: string[];
  items: DatasetItem[];
}

/** A data-set problem with its location. `toString()` gives `file:line: message`. */
export class DataIssue {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly message: string,
  ) {}
  toString(): string {
    return this.line > 0 ? `${this.file}:${this.line}: ${this.message}` : `${this.file}: ${this.message}`;
  }
}

/** Thrown for bad data files (strict mode, or files that make the whole data set unusable). */
export class DataError extends Error {
  constructor(
    message: string,
    readonly issue?: DataIssue,
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** What a lenient load skipped. */
export interface LoadReport {
  /** Images kept. */
  images: number;
  /** Boxes kept. */
  boxes: number;
  /** Images dropped (image or label file missing). */
  skippedImages: number;
  /** Label lines dropped (malformed or invalid). */
  skippedLabels: number;
  /** Every problem, in order found. */
  issues: DataIssue[];
}

export interface LabelCheckOptions {
  /** Throw a DataError on the first problem instead of skipping. Default false. */
  strict?: boolean;
  /** Check that every listed image exists. Default true. */
  checkImages?: boolean;
  /** Treat a missing label file as an image without objects instead of a problem. Default false. */
  allowMissingLabels?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Paths

/**
 * Resolves a path written inside `containingFile`: absolute as is; else relative to that file's
 * folder if it exists there, else relative to the current directory if it exists there, else
 * (for error messages and outputs to be created) relative to the file's folder.
 */
export function resolveDataPath(p: string, containingFile: string): string {
  if (isAbsolute(p)) return p;
  const local = resolve(dirname(containingFile), p);
  if (existsSync(local)) return local;
  const cwd = resolve(p);
  if (existsSync(cwd)) return cwd;
  return local;
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|gif|tiff?|webp)$/i;

/**
 * Darknet's label path rule (data.c fill_truth_*): the first folder named `images` becomes `labels`,
 * then the first folder named `JPEGImages` becomes `labels`; the image extension becomes `.txt`.
 * An image in neither kind of folder has its label beside it.
 */
export function labelPathFor(imagePath: string): string {
  const parts = imagePath.split('/');
  for (const folder of ['images', 'JPEGImages']) {
    const i = parts.indexOf(folder);
    if (i >= 0 && i < parts.length - 1) parts[i] = 'labels';
  }
  const last = parts.length - 1;
  const name = parts[last]!;
  parts[last] = IMAGE_EXT.test(name) ? name.replace(IMAGE_EXT, '.txt') : `${name}.txt`;
  return parts.join('/');
}

/** Image lists can be long (millions of lines); every other data-set file is small text. */
const LIST_LIMIT = 256 * 2 ** 20;

function readText(file: string, what: string, maxBytes: number = INPUT_LIMITS.text): string {
  try {
    return readInputText(file, what, maxBytes);
  } catch (e) {
    throw new DataError(e instanceof Error ? e.message : String(e));
  }
}

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

// ---------------------------------------------------------------------------------------------
// .data, .names and list files

/** A parsed .data file. Paths are resolved (see resolveDataPath); `values` holds every key as written. */
export interface DataConfig {
  file: string;
  classes: number;
  train?: string;
  valid?: string;
  names?: string;
  backup?: string;
  values: Record<string, string>;
}

/**
 * Parses the `key = value` lines of a .data file (text only; paths left as written). A key given twice
 * is an error (Darknet takes the last `train=` silently, so a stale line wins without a word).
 */
export function parseDataConfigText(text: string, file: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lineOf = new Map<string, number>();
  const ls = lines(text);
  for (let i = 0; i < ls.length; i++) {
    const line = ls[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new DataError(new DataIssue(file, i + 1, `expected 'key = value', got '${line}'`).toString());
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === '') throw new DataError(new DataIssue(file, i + 1, `empty key in '${line}'`).toString());
    const first = lineOf.get(key);
    if (first !== undefined) throw new DataError(new DataIssue(file, i + 1, `key '${key}' given twice (first at line ${first})`).toString());
    lineOf.set(key, i + 1);
    values[key] = value;
  }
  return values;
}

/**
 * Reads a .data file. `classes` must be a positive integer; if absent it is taken from the names
 * file; if both are there they must agree.
 */
export function readDataConfig(file: string): DataConfig {
  const values = parseDataConfigText(readText(file, 'data file'), file);
  const path = (key: string): string | undefined => (values[key] !== undefined && values[key] !== '' ? resolveDataPath(values[key]!, file) : undefined);
  const cfg: DataConfig = { file, classes: 0, values };
  const train = path('train');
  const valid = path('valid');
  const names = path('names') ?? path('labels');
  const backup = path('backup');
  if (train !== undefined) cfg.train = train;
  if (valid !== undefined) cfg.valid = valid;
  if (names !== undefined) cfg.names = names;
  if (backup !== undefined) cfg.backup = backup;
  let classes: number | undefined;
  if (values.classes !== undefined) {
    classes = Number(values.classes);
    if (!Number.isInteger(classes) || classes <= 0) throw new DataError(`${file}: 'classes' must be a positive integer, got '${values.classes}'`);
  }
  if (names !== undefined && existsSync(names)) {
    const n = readNames(names).length;
    if (classes === undefined) classes = n;
    else if (classes !== n) throw new DataError(`${file}: classes = ${classes} but ${names} has ${n} names`);
  }
  if (classes === undefined) throw new DataError(`${file}: no 'classes' key and no readable names file`);
  cfg.classes = classes;
  return cfg;
}

/** Class names, one per line. Trailing blank lines are ignored; a blank line before a name is an error. */
export function parseNamesText(text: string, file: string): string[] {
  const ls = lines(text).map((l) => l.trim());
  while (ls.length > 0 && ls[ls.length - 1] === '') ls.pop();
  ls.forEach((l, i) => {
    if (l === '') throw new DataError(new DataIssue(file, i + 1, 'empty class name').toString());
  });
  if (ls.length === 0) throw new DataError(`${file}: no class names`);
  return ls;
}

export function readNames(file: string): string[] {
  return parseNamesText(readText(file, 'names file'), file);
}

/** An image path from a list file, with where it was listed. */
export interface ListedImage {
  path: string;
  line: number;
}

/** The image paths of a list file (blank lines skipped), resolved with resolveDataPath. */
export function readImageList(file: string): ListedImage[] {
  const out: ListedImage[] = [];
  const ls = lines(readText(file, 'image list', LIST_LIMIT));
  for (let i = 0; i < ls.length; i++) {
    const p = ls[i]!.trim();
    if (p !== '') out.push({ path: resolveDataPath(p, file), line: i + 1 });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Label files

const INT = /^[+-]?\d+$/;
/** A decimal number as Darknet's label reader (fscanf %f) takes it: no hex, no Infinity, no NaN. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Checks one label line; returns the box or the problem's message. */
export function parseLabelLine(line: string, classes: number): LabelBox | string {
  const fields = line.trim().split(/\s+/);
  if (fields.length !== 5) return `malformed line: expected 'class x y w h', got ${fields.length} field${fields.length === 1 ? '' : 's'}`;
  const [c, ...rest] = fields as [string, string, string, string, string];
  if (!INT.test(c)) return `malformed class id '${c}' (expected an integer)`;
  const nums = rest.map(Number);
  for (let k = 0; k < 4; k++) {
    if (!DECIMAL.test(rest[k]!) || !Number.isFinite(nums[k]!)) return `malformed number '${rest[k]}' (expected a decimal number)`;
  }
  const cls = Number(c);
  const [x, y, w, h] = nums as [number, number, number, number];
  if (cls < 0 || cls >= classes) return `unknown class id ${cls} (classes: 0..${classes - 1})`;
  if (w <= 0 || h <= 0) return `box width and height must be > 0, got w=${w} h=${h}`;
  for (const [name, v] of [['x', x], ['y', y], ['w', w], ['h', h]] as const) {
    if (v < 0 || v > 1) return `coordinate ${name}=${v} outside [0,1]`;
  }
  return { cls, x, y, w, h };
}

/** Parses a label file's text; blank lines are skipped, bad lines reported. */
export function parseLabelText(text: string, file: string, classes: number): { boxes: LabelBox[]; issues: DataIssue[] } {
  const boxes: LabelBox[] = [];
  const issues: DataIssue[] = [];
  const ls = lines(text);
  for (let i = 0; i < ls.length; i++) {
    if (ls[i]!.trim() === '') continue;
    const r = parseLabelLine(ls[i]!, classes);
    if (typeof r === 'string') issues.push(new DataIssue(file, i + 1, r));
    else boxes.push(r);
  }
  return { boxes, issues };
}

/** Formats one box as a label line (6 decimals, as Darknet's converters write about). */
export function formatLabelLine(b: LabelBox): string {
  return `${b.cls} ${b.x.toFixed(6)} ${b.y.toFixed(6)} ${b.w.toFixed(6)} ${b.h.toFixed(6)}`;
}

/** A label file's text for these boxes (one line each, trailing newline; empty for no boxes). */
export function labelFileText(boxes: readonly LabelBox[]): string {
  return boxes.map((b) => `${formatLabelLine(b)}\n`).join('');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Loads the boxes of every image of a list file, validating as described in the file comment.
 * Returns the items kept and what was skipped.
 */
export function loadDetectionList(listFile: string, classes: number, opts: LabelCheckOptions = {}): { items: DatasetItem[]; report: LoadReport } {
  const strict = opts.strict ?? false;
  const checkImages = opts.checkImages ?? true;
  const report: LoadReport = { images: 0, boxes: 0, skippedImages: 0, skippedLabels: 0, issues: [] };
  const problem = (issue: DataIssue): void => {
    if (strict) throw new DataError(issue.toString(), issue);
    report.issues.push(issue);
  };
  const items: DatasetItem[] = [];
  for (const { path, line } of readImageList(listFile)) {
    if (checkImages && !isFile(path)) {
      problem(new DataIssue(listFile, line, `image not found: ${path}`));
      report.skippedImages++;
      continue;
    }
    const labelFile = labelPathFor(path);
    let text: string;
    if (isFile(labelFile)) {
      text = readText(labelFile, 'label file');
    } else if (opts.allowMissingLabels) {
      text = '';
    } else {
      problem(new DataIssue(listFile, line, `label file not found: ${labelFile} (for image ${path})`));
      report.skippedImages++;
      continue;
    }
    const { boxes, issues } = parseLabelText(text, labelFile, classes);
    for (const issue of issues) {
      problem(issue);
      report.skippedLabels++;
    }
    items.push({ image: path, boxes });
    report.images++;
    report.boxes += boxes.length;
  }
  return { items, report };
}

/** A dataset split loaded from a .data file. */
export interface LoadedSplit {
  config: DataConfig;
  dataset: Dataset;
  report: LoadReport;
}

/**
 * Loads the `train` or `valid` list of a .data file with its names (or `class<k>` names when the
 * .data file has no names file).
 */
export function loadDetectionData(dataFile: string, split: 'train' | 'valid', opts: LabelCheckOptions = {}): LoadedSplit {
  const config = readDataConfig(dataFile);
  const list = config[split];
  if (list === undefined) throw new DataError(`${dataFile}: no '${split}' key`);
  const names = config.names !== undefined ? readNames(config.names) : Array.from({ length: config.classes }, (_, k) => `class${k}`);
  const { items, report } = loadDetectionList(list, config.classes, opts);
  return { config, dataset: { names, items }, report };
}

/** One line per issue, then a summary line: for logs and the CLI. */
export function formatReport(report: LoadReport, maxIssues = 20): string {
  const out = report.issues.slice(0, maxIssues).map((i) => i.toString());
  if (report.issues.length > maxIssues) out.push(`... and ${report.issues.length - maxIssues} more`);
  out.push(`${report.images} images, ${report.boxes} boxes kept; skipped ${report.skippedImages} images, ${report.skippedLabels} labels`);
  return out.join('\n');
}
