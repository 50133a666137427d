// Pascal VOC annotations (Annotations/<id>.xml, JPEGImages/<id>.jpg, ImageSets/Main/<set>.txt):
// parsing, writing, and conversion to the YOLO-txt layout.
//
// Box conversion as Darknet's scripts/voc_label.py does it: VOC corners are 1-based pixel indices,
//   x = ((xmin + xmax)/2 − 1)/W,  y = ((ymin + ymax)/2 − 1)/H,  w = (xmax − xmin)/W,  h = (ymax − ymin)/H.
// Objects marked `difficult` are left out unless asked for; objects whose class is not in the class
// list are left out and counted.

import { existsSync } from 'node:fs';
import { readInputText } from '../../io/input.js';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import sharp from 'sharp';
import { DataError, DataIssue, type DatasetItem, type LabelBox } from './labels.js';
import { writeYoloDataset, type ImageMode, type WrittenDataset } from './write.js';

/** The 20 Pascal VOC classes in Darknet's order (data/voc.names). */
export const VOC_NAMES: readonly string[] = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

export interface VocObject {
  name: string;
  difficult: boolean;
  truncated: boolean;
  /** 1-based pixel corners as written in the file. */
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export interface VocAnnotation {
  filename: string;
  folder?: string;
  /** 0 when the file has no (or a zero) size. */
  width: number;
  height: number;
  objects: VocObject[];
}

const parser = new XMLParser({
  isArray: (_name: string, jpath: unknown) => jpath === 'annotation.object',
  parseTagValue: false,
  trimValues: true,
});

function num(v: unknown, what: string, file: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new DataError(`${file}: ${what} is not a number (${JSON.stringify(v)})`);
  return n;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

/** Parses a VOC XML annotation. Errors name the file (and the line for malformed XML). */
export function parseVocXml(text: string, file: string): VocAnnotation {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new DataError(new DataIssue(file, valid.err.line, `malformed XML: ${valid.err.msg}`).toString());
  const doc = parser.parse(text) as Record<string, unknown>;
  const ann = doc.annotation as Record<string, unknown> | undefined;
  if (ann === undefined || typeof ann !== 'object') throw new DataError(`${file}: no <annotation> element`);
  const size = (ann.size ?? {}) as Record<string, unknown>;
  const width = size.width !== undefined ? num(size.width, '<size><width>', file) : 0;
  const height = size.height !== undefined ? num(size.height, '<size><height>', file) : 0;
  const objects: VocObject[] = [];
  const raw = (ann.object ?? []) as Record<string, unknown>[];
  raw.forEach((o, i) => {
    const where = `object ${i + 1}`;
    const bb = o.bndbox as Record<string, unknown> | undefined;
    if (bb === undefined || typeof bb !== 'object') throw new DataError(`${file}: ${where} has no <bndbox>`);
    const name = str(o.name).trim();
    if (name === '') throw new DataError(`${file}: ${where} has no <name>`);
    objects.push({
      name,
      difficult: str(o.difficult).trim() === '1',
      truncated: str(o.truncated).trim() === '1',
      xmin: num(bb.xmin, `${where} <xmin>`, file),
      ymin: num(bb.ymin, `${where} <ymin>`, file),
      xmax: num(bb.xmax, `${where} <xmax>`, file),
      ymax: num(bb.ymax, `${where} <ymax>`, file),
    });
  });
  const out: VocAnnotation = { filename: str(ann.filename).trim(), width, height, objects };
  const folder = str(ann.folder).trim();
  if (folder !== '') out.folder = folder;
  return out;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Writes a VOC XML annotation (the subset parseVocXml reads). */
export function vocToXml(ann: VocAnnotation): string {
  const lines = ['<annotation>'];
  if (ann.folder !== undefined) lines.push(`\t<folder>${xmlEscape(ann.folder)}</folder>`);
  lines.push(`\t<filename>${xmlEscape(ann.filename)}</filename>`);
  lines.push(`\t<size>\n\t\t<width>${ann.width}</width>\n\t\t<height>${ann.height}</height>\n\t\t<depth>3</depth>\n\t</size>`);
  for (const o of ann.objects) {
    lines.push('\t<object>');
    lines.push(`\t\t<name>${xmlEscape(o.name)}</name>`);
    lines.push(`\t\t<truncated>${o.truncated ? 1 : 0}</truncated>`);
    lines.push(`\t\t<difficult>${o.difficult ? 1 : 0}</difficult>`);
    lines.push(`\t\t<bndbox>\n\t\t\t<xmin>${o.xmin}</xmin>\n\t\t\t<ymin>${o.ymin}</ymin>\n\t\t\t<xmax>${o.xmax}</xmax>\n\t\t\t<ymax>${o.ymax}</ymax>\n\t\t</bndbox>`);
    lines.push('\t</object>');
  }
  lines.push('</annotation>');
  return `${lines.join('\n')}\n`;
}

/** voc_label.py's conversion of 1-based VOC corners to a relative centre box. */
export function vocBoxToYolo(o: Pick<VocObject, 'xmin' | 'ymin' | 'xmax' | 'ymax'>, width: number, height: number): { x: number; y: number; w: number; h: number } {
  return {
    x: ((o.xmin + o.xmax) / 2 - 1) / width,
    y: ((o.ymin + o.ymax) / 2 - 1) / height,
    w: (o.xmax - o.xmin) / width,
    h: (o.ymax - o.ymin) / height,
  };
}

/** The inverse of vocBoxToYolo (for writing VOC files from YOLO boxes). */
export function yoloBoxToVoc(b: { x: number; y: number; w: number; h: number }, width: number, height: number): { xmin: number; ymin: number; xmax: number; ymax: number } {
  const cx = b.x * width + 1;
  const cy = b.y * height + 1;
  return { xmin: cx - (b.w * width) / 2, xmax: cx + (b.w * width) / 2, ymin: cy - (b.h * height) / 2, ymax: cy + (b.h * height) / 2 };
}

export interface VocConvertOptions {
  /** Class list (default VOC_NAMES). */
  names?: readonly string[];
  /** Keep objects marked difficult. Default false (as voc_label.py). */
  includeDifficult?: boolean;
  /** Throw on the first bad annotation instead of skipping it. Default false. */
  strict?: boolean;
}

export interface VocReport {
  images: number;
  boxes: number;
  skippedImages: number;
  skippedDifficult: number;
  skippedUnknownClass: number;
  /** Objects skipped per class name that is not in the class list. */
  unknownClasses: Record<string, number>;
  skippedInvalid: number;
  issues: DataIssue[];
}

export function emptyVocReport(): VocReport {
  return { images: 0, boxes: 0, skippedImages: 0, skippedDifficult: 0, skippedUnknownClass: 0, unknownClasses: {}, skippedInvalid: 0, issues: [] };
}

/**
 * Objects of classes outside the class list when the list is the default 20 VOC classes (a data set of
 * other classes), or when they leave no box at all: convertVoc writes nothing and throws this.
 */
export class UnknownVocClassesError extends DataError {
  constructor(
    /** Objects per unknown class name, most frequent first. */
    readonly counts: readonly [string, number][],
    /** True when the class list was the default VOC one. */
    readonly defaultNames: boolean,
  ) {
    const total = counts.reduce((n, [, c]) => n + c, 0);
    const list = counts.slice(0, 10).map(([n, c]) => `${n} (${c})`).join(', ') + (counts.length > 10 ? `, ... (${counts.length} names)` : '');
    super(`${total} object${total === 1 ? ' has a class name' : 's have class names'} outside ${defaultNames ? 'the 20 VOC classes' : 'the class list'}: ${list}; nothing was written`);
  }
}

/**
 * One annotation → YOLO boxes. Boxes are clipped to the image; boxes that are empty after clipping
 * are counted as invalid (and reported as issues against `file`).
 */
export function vocAnnotationToBoxes(ann: VocAnnotation, file: string, names: readonly string[], report: VocReport, includeDifficult = false): LabelBox[] {
  const index = new Map(names.map((n, i) => [n, i] as const));
  const W = ann.width;
  const H = ann.height;
  const boxes: LabelBox[] = [];
  ann.objects.forEach((o, i) => {
    const cls = index.get(o.name);
    if (cls === undefined) {
      report.skippedUnknownClass++;
      report.unknownClasses[o.name] = (report.unknownClasses[o.name] ?? 0) + 1;
      return;
    }
    if (o.difficult && !includeDifficult) {
      report.skippedDifficult++;
      return;
    }
    const xmin = Math.max(1, Math.min(W, o.xmin));
    const xmax = Math.max(1, Math.min(W, o.xmax));
    const ymin = Math.max(1, Math.min(H, o.ymin));
    const ymax = Math.max(1, Math.min(H, o.ymax));
    if (!(xmax > xmin && ymax > ymin)) {
      report.skippedInvalid++;
      report.issues.push(new DataIssue(file, 0, `object ${i + 1} (${o.name}) has an empty box after clipping to ${W}x${H}: ${o.xmin},${o.ymin},${o.xmax},${o.ymax}`));
      return;
    }
    const b = vocBoxToYolo({ xmin, ymin, xmax, ymax }, W, H);
    boxes.push({ cls, x: b.x, y: b.y, w: b.w, h: b.h });
  });
  return boxes;
}

/** A VOC year folder (holding Annotations/, JPEGImages/, ImageSets/Main/) and an image set name. */
export interface VocSetSpec {
  root: string;
  set: string;
}

/** Parses `ROOT:SET` (the last colon splits). */
export function parseVocSetSpec(spec: string): VocSetSpec {
  const i = spec.lastIndexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new Error(`expected VOC set as ROOT:SET (e.g. VOCdevkit/VOC2007:trainval), got '${spec}'`);
  return { root: spec.slice(0, i), set: spec.slice(i + 1) };
}

/** Reads every image of some VOC image sets into dataset items (image sizes from the XML, else the image). */
export async function readVocSets(specs: readonly VocSetSpec[], opts: VocConvertOptions = {}): Promise<{ items: DatasetItem[]; report: VocReport }> {
  const names = opts.names ?? VOC_NAMES;
  const report = emptyVocReport();
  const items: DatasetItem[] = [];
  for (const { root, set } of specs) {
    const setFile = join(root, 'ImageSets', 'Main', `${set}.txt`);
    if (!existsSync(setFile)) throw new DataError(`VOC image set not found: ${setFile}`);
    const ids = readInputText(setFile, 'VOC image set file').split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]!).filter((l) => l !== '');
    for (const id of ids) {
      const xmlFile = join(root, 'Annotations', `${id}.xml`);
      const imageFile = join(root, 'JPEGImages', `${id}.jpg`);
      try {
        if (!existsSync(xmlFile)) throw new DataError(`${setFile}: annotation not found: ${xmlFile}`);
        if (!existsSync(imageFile)) throw new DataError(`${setFile}: image not found: ${imageFile}`);
        const ann = parseVocXml(readInputText(xmlFile, 'VOC annotation file'), xmlFile);
        if (!(ann.width > 0 && ann.height > 0)) {
          const meta = await sharp(imageFile).metadata();
          if (!(meta.width && meta.height)) throw new DataError(`${xmlFile}: no image size and ${imageFile} has none either`);
          ann.width = meta.width;
          ann.height = meta.height;
        }
        const boxes = vocAnnotationToBoxes(ann, xmlFile, names, report, opts.includeDifficult ?? false);
        if (opts.strict && report.issues.length > 0) throw new DataError(report.issues[0]!.toString());
        items.push({ image: imageFile, boxes, width: ann.width, height: ann.height });
        report.images++;
        report.boxes += boxes.length;
      } catch (e) {
        if (opts.strict || !(e instanceof DataError)) throw e;
        report.skippedImages++;
        report.issues.push(new DataIssue(xmlFile, 0, e.message));
      }
    }
  }
  return { items, report };
}

export interface ConvertVocOptions extends VocConvertOptions {
  train: readonly VocSetSpec[];
  valid?: readonly VocSetSpec[];
  outDir: string;
  /** Base name of the .data/.names files. Default 'voc'. */
  name?: string;
  imageMode?: ImageMode;
  absolutePaths?: boolean;
}

/**
 * VOC image sets → YOLO-txt data set in `outDir`. Output names are `<year folder>_<id>` so that
 * several VOC years can share one split.
 */
export async function convertVoc(opts: ConvertVocOptions): Promise<{ written: WrittenDataset; train: VocReport; valid?: VocReport }> {
  const names = opts.names ?? VOC_NAMES;
  const train = await readVocSets(opts.train, opts);
  const valid = opts.valid !== undefined && opts.valid.length > 0 ? await readVocSets(opts.valid, opts) : undefined;
  const unknown = new Map<string, number>();
  for (const r of [train.report, valid?.report]) for (const [n, c] of Object.entries(r?.unknownClasses ?? {})) unknown.set(n, (unknown.get(n) ?? 0) + c);
  const boxes = train.report.boxes + (valid?.report.boxes ?? 0);
  if (unknown.size > 0 && (opts.names === undefined || boxes === 0)) {
    throw new UnknownVocClassesError([...unknown].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])), opts.names === undefined);
  }
  const stem = (item: DatasetItem): string => {
    const parts = item.image.split('/');
    return `${parts[parts.length - 3] ?? 'voc'}_${parts[parts.length - 1]!.replace(/\.[^.]*$/, '')}`;
  };
  const splits: { train: DatasetItem[]; valid?: DatasetItem[] } = { train: train.items };
  if (valid !== undefined) splits.valid = valid.items;
  const written = await writeYoloDataset({
    outDir: opts.outDir,
    name: opts.name ?? 'voc',
    names,
    splits,
    imageMode: opts.imageMode ?? 'symlink',
    absolutePaths: opts.absolutePaths ?? false,
    stem,
  });
  const result: { written: WrittenDataset; train: VocReport; valid?: VocReport } = { written, train: train.report };
  if (valid !== undefined) result.valid = valid.report;
  return result;
}
