// Detections and ground truth in the official scorers' file formats, read for scoring
// (`tsgrad detector map --gt ... --results ...`):
//   COCO  ground truth: an instances JSON (images; annotations with bbox [x, y, w, h], iscrowd, area;
//         categories). Results: a JSON array of {image_id, category_id, bbox, score}, the file COCOeval's
//         loadRes reads. Classes are the categories sorted by id (COCOeval's catIds), the images their
//         ids sorted (its imgIds). A truth's area is its `area` when given, else w·h; a result's is w·h.
//   VOC   ground truth: a devkit image set ROOT:SET, ROOT/ImageSets/Main/SET.txt listing the image ids and
//         ROOT/Annotations/<id>.xml holding the objects (with `difficult`). Results: one
//         comp4_det_test_<class>.txt per class in a folder (what `detector valid` writes), lines
//         `<image id> <score> <xmin> <ymin> <xmax> <ymax>`, the files voc_eval.py reads.
// Boxes are kept exactly as written, neither clipped nor converted, so the box rules of box-rules.ts
// compare them as the scorers do. Bad input is an error naming the file and the entry or line.

import { existsSync, statSync } from 'node:fs';
import { InputFileError, readInputText } from '../io/input.js';
import { join } from 'node:path';

import type { Corners } from './box.js';
import { COCO_BOXES, VOC_BOXES, type BoxRule, type CocoBbox } from './box-rules.js';
import { readCocoJson } from './data/coco.js';
import { DataError } from './data/labels.js';
import { parseVocXml, VOC_NAMES, type VocSetSpec } from './data/voc.js';
import { comp4FileNames } from './eval.js';
import { evaluateDetections, type EvaluateOptions, type Evaluation, type GroundTruth, type ScoredDetection } from './map.js';

/** Ground truth and detections of one evaluation, with the box rule of their format. */
export interface ScoringSet<B> {
  format: 'coco' | 'voc';
  /** Class names in class-id order. */
  names: string[];
  /** The images in evaluation order. */
  images: (string | number)[];
  truths: GroundTruth<B>[];
  detections: ScoredDetection<B>[];
  boxes: BoxRule<B>;
}

function fail(file: string, msg: string): never {
  throw new DataError(`${file}: ${msg}`);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    // COCO annotation files run to hundreds of MB (instances_train2017.json: 450 MB).
    text = readInputText(file, what, 1024 * 2 ** 20);
  } catch (e) {
    if (e instanceof InputFileError && e.code === 'ENOENT') fail(file, `${what} not found`);
    throw e;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    fail(file, `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A COCO instances file and a COCO results file. */
export function readCocoScoring(gtFile: string, resultsFile: string): ScoringSet<CocoBbox> {
  const gt = readCocoJson(gtFile);
  const cats = [...gt.categories].sort((a, b) => a.id - b.id);
  const classOf = new Map(cats.map((c, k) => [c.id, k] as const));
  if (classOf.size !== cats.length) fail(gtFile, 'two categories share an id');
  const imageIds = new Set<number>();
  for (const im of gt.images) {
    if (imageIds.has(im.id)) fail(gtFile, `duplicate image id ${im.id}`);
    imageIds.add(im.id);
  }
  const truths: GroundTruth<CocoBbox>[] = gt.annotations.map((a, i) => {
    const classId = classOf.get(a.category_id);
    if (classId === undefined) fail(gtFile, `annotations[${i}] has category_id ${a.category_id}, not among the categories`);
    if (!imageIds.has(a.image_id)) fail(gtFile, `annotations[${i}] refers to unknown image_id ${a.image_id}`);
    if (a.area !== undefined && !isNum(a.area)) fail(gtFile, `annotations[${i}] has a non-numeric area`);
    const t: GroundTruth<CocoBbox> = { image: a.image_id, classId, box: [a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3]] };
    if (a.iscrowd !== undefined && a.iscrowd !== 0) t.crowd = true;
    if (a.area !== undefined) t.area = a.area;
    return t;
  });
  const doc = readJson(resultsFile, 'COCO results file');
  if (!Array.isArray(doc)) fail(resultsFile, 'COCO results must be a JSON array of {image_id, category_id, bbox, score}');
  const detections = (doc as unknown[]).map((entry, i): ScoredDetection<CocoBbox> => {
    const r = (entry ?? {}) as Record<string, unknown>;
    const bb = r.bbox;
    if (!isNum(r.image_id) || !isNum(r.category_id) || !isNum(r.score) || !Array.isArray(bb) || bb.length !== 4 || !bb.every(isNum)) {
      fail(resultsFile, `[${i}] needs numeric image_id, category_id, score and bbox [x,y,w,h]`);
    }
    if (!imageIds.has(r.image_id)) fail(resultsFile, `[${i}] has image_id ${r.image_id}, not an image of ${gtFile}`);
    const classId = classOf.get(r.category_id);
    if (classId === undefined) fail(resultsFile, `[${i}] has category_id ${r.category_id}, not a category of ${gtFile}`);
    return { image: r.image_id, classId, score: r.score, box: [bb[0], bb[1], bb[2], bb[3]] as CocoBbox };
  });
  return { format: 'coco', names: cats.map((c) => c.name), images: [...imageIds].sort((a, b) => a - b), truths, detections, boxes: COCO_BOXES };
}

/** A VOC devkit image set and a folder of comp4 result files, one per class of `names` (default VOC's 20). */
export function readVocScoring(set: VocSetSpec, resultsDir: string, names: readonly string[] = VOC_NAMES): ScoringSet<Corners> {
  const setFile = join(set.root, 'ImageSets', 'Main', `${set.set}.txt`);
  if (!existsSync(setFile)) fail(setFile, 'VOC image set not found');
  const images: string[] = [];
  const lineOf = new Map<string, number>();
  readInputText(setFile, 'VOC image set file')
    .split(/\r?\n/)
    .forEach((raw, k) => {
      const id = raw.trim();
      if (id === '') return;
      if (lineOf.has(id)) fail(`${setFile}:${k + 1}`, `image id ${id} listed twice (first on line ${lineOf.get(id)})`);
      lineOf.set(id, k + 1);
      images.push(id);
    });
  const classOf = new Map(names.map((n, k) => [n, k] as const));
  if (classOf.size !== names.length) throw new Error(`class names: a name is listed twice (${names.join(', ')})`);
  const truths: GroundTruth<Corners>[] = [];
  for (const id of images) {
    const xml = join(set.root, 'Annotations', `${id}.xml`);
    if (!existsSync(xml)) fail(`${setFile}:${lineOf.get(id)}`, `annotation not found: ${xml}`);
    for (const o of parseVocXml(readInputText(xml, 'VOC annotation file'), xml).objects) {
      const classId = classOf.get(o.name);
      if (classId === undefined) continue;
      const t: GroundTruth<Corners> = { image: id, classId, box: { x1: o.xmin, y1: o.ymin, x2: o.xmax, y2: o.ymax } };
      if (o.difficult) t.difficult = true;
      truths.push(t);
    }
  }
  if (!existsSync(resultsDir) || !statSync(resultsDir).isDirectory()) fail(resultsDir, 'comp4 results folder not found');
  const detections: ScoredDetection<Corners>[] = [];
  comp4FileNames(names).forEach((name, classId) => {
    const file = join(resultsDir, name);
    if (!existsSync(file)) fail(file, `comp4 results of class ${JSON.stringify(names[classId])} not found`);
    readInputText(file, 'comp4 results file', 1024 * 2 ** 20)
      .split(/\r?\n/)
      .forEach((raw, k) => {
        const line = raw.trim();
        if (line === '') return;
        const where = `${file}:${k + 1}`;
        const f = line.split(/\s+/);
        if (f.length !== 6) fail(where, `expected '<image id> <score> <xmin> <ymin> <xmax> <ymax>', got ${f.length} fields`);
        const [id, ...nums] = f as [string, ...string[]];
        const v = nums.map(Number);
        if (!v.every(Number.isFinite)) fail(where, `score and corners must be numbers: ${line}`);
        if (!lineOf.has(id)) fail(where, `image id ${id} is not in ${setFile}`);
        detections.push({ image: id, classId, score: v[0]!, box: { x1: v[1]!, y1: v[2]!, x2: v[3]!, y2: v[4]! } });
      });
  });
  return { format: 'voc', names: [...names], images, truths, detections, boxes: VOC_BOXES };
}

/** Evaluates a scoring set under `opts` (its classes, images and box rule filled in). */
export function evaluateScoringSet<B>(set: ScoringSet<B>, opts: Omit<EvaluateOptions<B>, 'boxes' | 'images' | 'classes'> = {}): Evaluation {
  return evaluateDetections(set.detections, set.truths, { ...opts, boxes: set.boxes, images: set.images, classes: set.names.length });
}
