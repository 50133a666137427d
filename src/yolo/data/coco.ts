// COCO detection annotations (instances_*.json) ↔ the in-memory dataset, and conversion to YOLO-txt.
//
// COCO boxes are `[x, y, w, h]` in pixels, (x, y) the top-left corner, 0-based continuous coordinates:
//   YOLO x = (x + w/2)/W,  y = (y + h/2)/H,  w = w/W,  h = h/H   (after clipping the box to the image).
// Category ids are sparse (1..90 for the 80 COCO classes); class ids are the categories sorted by id
// (Darknet's coco.names order), unless a class list is given, which then selects and orders them by name.
// Crowd annotations (`iscrowd = 1`) are left out unless asked for.

import { InputFileError, readInputText } from '../../io/input.js';
import { join, resolve } from 'node:path';
import { DataError, DataIssue, type Dataset, type DatasetItem, type LabelBox } from './labels.js';
import { writeYoloDataset, type ImageMode, type WrittenDataset } from './write.js';

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area?: number;
  iscrowd?: number;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
}

export interface CocoJson {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

function fail(file: string, msg: string): never {
  throw new DataError(`${file}: ${msg}`);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Checks the parts of a COCO JSON document this code uses; errors name the file and the entry. */
export function validateCoco(doc: unknown, file: string): CocoJson {
  if (doc === null || typeof doc !== 'object') fail(file, 'not a JSON object');
  const d = doc as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(d[key])) fail(file, `'${key}' must be an array`);
  }
  const images = d.images as Record<string, unknown>[];
  images.forEach((im, i) => {
    if (!isNum(im.id) || typeof im.file_name !== 'string' || !isNum(im.width) || !isNum(im.height) || im.width <= 0 || im.height <= 0) {
      fail(file, `images[${i}] needs numeric id, file_name, positive width and height`);
    }
  });
  (d.categories as Record<string, unknown>[]).forEach((c, i) => {
    if (!isNum(c.id) || typeof c.name !== 'string' || c.name === '') fail(file, `categories[${i}] needs numeric id and a name`);
  });
  (d.annotations as Record<string, unknown>[]).forEach((a, i) => {
    const bb = a.bbox;
    if (!isNum(a.image_id) || !isNum(a.category_id) || !Array.isArray(bb) || bb.length !== 4 || !bb.every(isNum)) {
      fail(file, `annotations[${i}] needs numeric image_id, category_id and bbox [x,y,w,h]`);
    }
  });
  return doc as CocoJson;
}

export function readCocoJson(file: string): CocoJson {
  let text: string;
  try {
    // instances_train2017.json is 450 MB; allow twice that.
    text = readInputText(file, 'COCO annotation file', 1024 * 2 ** 20);
  } catch (e) {
    if (e instanceof InputFileError && e.code === 'ENOENT') fail(file, 'COCO annotation file not found');
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(file, `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validateCoco(doc, file);
}

export interface CocoConvertOptions {
  /** Class names to keep, in class-id order (default: every category, sorted by id). */
  names?: readonly string[];
  /** Keep `iscrowd = 1` annotations. Default false. */
  includeCrowd?: boolean;
}

export interface CocoReport {
  images: number;
  boxes: number;
  skippedCrowd: number;
  skippedUnknownClass: number;
  skippedInvalid: number;
  issues: DataIssue[];
}

/** COCO document → dataset. Image paths are `imagesDir/file_name`. */
export function cocoToDataset(coco: CocoJson, imagesDir: string, file: string, opts: CocoConvertOptions = {}): { dataset: Dataset; report: CocoReport } {
  const cats = [...coco.categories].sort((a, b) => a.id - b.id);
  const names = opts.names !== undefined ? [...opts.names] : cats.map((c) => c.name);
  const byName = new Map(names.map((n, i) => [n, i] as const));
  if (opts.names !== undefined) {
    const known = new Set(cats.map((c) => c.name));
    const missing = names.filter((n) => !known.has(n));
    if (missing.length > 0) fail(file, `class names not among the categories: ${missing.join(', ')}`);
  }
  const catToClass = new Map<number, number>();
  for (const c of cats) {
    const k = byName.get(c.name);
    if (k !== undefined) catToClass.set(c.id, k);
  }
  const report: CocoReport = { images: 0, boxes: 0, skippedCrowd: 0, skippedUnknownClass: 0, skippedInvalid: 0, issues: [] };
  const items = new Map<number, DatasetItem>();
  for (const im of coco.images) {
    if (items.has(im.id)) fail(file, `duplicate image id ${im.id}`);
    items.set(im.id, { image: join(imagesDir, im.file_name), boxes: [], width: im.width, height: im.height });
  }
  coco.annotations.forEach((a, i) => {
    const item = items.get(a.image_id);
    if (item === undefined) fail(file, `annotations[${i}] refers to unknown image_id ${a.image_id}`);
    if (a.iscrowd === 1 && !opts.includeCrowd) {
      report.skippedCrowd++;
      return;
    }
    const cls = catToClass.get(a.category_id);
    if (cls === undefined) {
      report.skippedUnknownClass++;
      return;
    }
    const W = item.width!;
    const H = item.height!;
    const [bx, by, bw, bh] = a.bbox;
    const x1 = Math.max(0, Math.min(W, bx));
    const y1 = Math.max(0, Math.min(H, by));
    const x2 = Math.max(0, Math.min(W, bx + bw));
    const y2 = Math.max(0, Math.min(H, by + bh));
    if (!(x2 > x1 && y2 > y1)) {
      report.skippedInvalid++;
      report.issues.push(new DataIssue(file, 0, `annotations[${i}] (image ${a.image_id}) has an empty box after clipping: [${a.bbox.join(', ')}]`));
      return;
    }
    const box: LabelBox = { cls, x: (x1 + x2) / 2 / W, y: (y1 + y2) / 2 / H, w: (x2 - x1) / W, h: (y2 - y1) / H };
    item.boxes.push(box);
  });
  const list = [...items.values()];
  report.images = list.length;
  report.boxes = list.reduce((s, it) => s + it.boxes.length, 0);
  return { dataset: { names, items: list }, report };
}

/**
 * Dataset → COCO document (categories get ids 1..K in class order; image ids 1..N). Items need
 * `width`/`height`. Image `file_name`s are the paths relative to `imagesDir`.
 */
export function datasetToCoco(ds: Dataset, imagesDir: string): CocoJson {
  const base = resolve(imagesDir);
  const images: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  ds.items.forEach((item, i) => {
    if (item.width === undefined || item.height === undefined) throw new Error(`datasetToCoco: ${item.image} has no width/height`);
    const abs = resolve(item.image);
    const name = abs.startsWith(`${base}/`) ? abs.slice(base.length + 1) : item.image;
    images.push({ id: i + 1, file_name: name, width: item.width, height: item.height });
    for (const b of item.boxes) {
      const w = b.w * item.width;
      const h = b.h * item.height;
      annotations.push({
        id: annotations.length + 1,
        image_id: i + 1,
        category_id: b.cls + 1,
        bbox: [b.x * item.width - w / 2, b.y * item.height - h / 2, w, h],
        area: w * h,
        iscrowd: 0,
      });
    }
  });
  return { images, annotations, categories: ds.names.map((name, k) => ({ id: k + 1, name })) };
}

/** An annotation file and the folder its `file_name`s are relative to. */
export interface CocoSplitSpec {
  json: string;
  images: string;
}

export interface ConvertCocoOptions extends CocoConvertOptions {
  train: CocoSplitSpec;
  valid?: CocoSplitSpec;
  outDir: string;
  /** Base name of the .data/.names files. Default 'coco'. */
  name?: string;
  imageMode?: ImageMode;
  absolutePaths?: boolean;
}

/** COCO annotation files → YOLO-txt data set in `outDir`. Both splits use the train file's class list. */
export async function convertCoco(opts: ConvertCocoOptions): Promise<{ written: WrittenDataset; train: CocoReport; valid?: CocoReport }> {
  const train = cocoToDataset(readCocoJson(opts.train.json), opts.train.images, opts.train.json, opts);
  const valid =
    opts.valid !== undefined ? cocoToDataset(readCocoJson(opts.valid.json), opts.valid.images, opts.valid.json, { ...opts, names: train.dataset.names }) : undefined;
  const stem = (item: DatasetItem): string => item.image.split('/').pop()!.replace(/\.[^.]*$/, '');
  const splits: { train: DatasetItem[]; valid?: DatasetItem[] } = { train: train.dataset.items };
  if (valid !== undefined) splits.valid = valid.dataset.items;
  const written = await writeYoloDataset({
    outDir: opts.outDir,
    name: opts.name ?? 'coco',
    names: train.dataset.names,
    splits,
    imageMode: opts.imageMode ?? 'symlink',
    absolutePaths: opts.absolutePaths ?? false,
    stem,
  });
  const result: { written: WrittenDataset; train: CocoReport; valid?: CocoReport } = { written, train: train.report };
  if (valid !== undefined) result.valid = valid.report;
  return result;
}
