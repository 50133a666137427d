// The evaluation side of `tsgrad detector`:
//   valid         detections of a split written as VOC comp4 files and COCO JSON (Darknet's
//                 `detector valid`)
//   map           per-class AP, mAP, P/R/F1 and TP/FP/FN at a confidence threshold, average IoU
//                 (AlexeyAB's `detector map`), under a named AP definition
//   calc_anchors  k-means++ anchors (1 − IoU) of the train labels (AlexeyAB's `detector calc_anchors`)
// The library behind them is src/yolo/eval.ts (detection pipeline, file formats) and src/yolo/map.ts
// (matching and AP). Exit codes: 0 done, 1 the inputs are wrong (bad data, cfg, labels with --strict),
// 2 usage error.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { readCfgFile } from '../yolo/darknet/cfg.js';
import { convertAnchors, formatAnchors, kmeansAnchors, type Size } from '../yolo/anchors.js';
import { writeOutput } from '../io/output.js';
import { formatReport, labelPathFor, loadDetectionData, parseLabelLine, readDataConfig, readImageList, readNames, resolveDataPath, type DataConfig, type LoadReport } from '../yolo/data/labels.js';
import { readInputText } from '../io/input.js';
import {
  cocoImageId,
  cocoResults,
  comp4FileNames,
  comp4ImageId,
  comp4Texts,
  DEFAULT_EVAL_BATCH,
  detectedItems,
  detectImages,
  evaluateImageDetections,
  formatCocoResults,
  idCollisions,
  networkBoxSource,
  VALID_NMS,
  VALID_THRESH,
  type BoxSource,
  type DetectOptions,
  type ImageDetections,
} from '../yolo/eval.js';
import type { ApDefinition, Evaluation } from '../yolo/map.js';
import { openNetwork } from '../yolo/net/network.js';
import { Rng } from '../tensor/random.js';
import { deviceArg, floatArg, intArg, MAX_PIXELS_USAGE, maxPixelsArg, parseCommandArgs, processIO, runCommand, stringArg, UsageError, type ArgValues, type CommandIO } from './darknet.js';

const VALID_USAGE = `usage: tsgrad detector valid <data> <cfg> <weights> [--out DIR] [--thresh ${VALID_THRESH}] [--nms ${VALID_NMS}]
                            [--split valid|train] [--batch ${DEFAULT_EVAL_BATCH}] [--device cpu|cuda|cuda-emu] [--width W] [--height H]
                            [--strict] [--max-pixels N]
  Runs the network on every image of the split's list (letterbox for [region] nets, resize for
  [detection] nets), keeps candidates above --thresh, applies do_nms_sort at --nms (0: off) and writes
    DIR/comp4_det_test_<class name>.txt  VOC devkit: "<image id> <score> <xmin> <ymin> <xmax> <ymax>",
                                         1-based pixel corners clipped to the image
    DIR/coco_results.json                COCO: image_id (the number the file name ends with), category_id
                                         (class index), bbox [x, y, w, h] in pixels, score
  DIR defaults to the .data file's results= entry, else ./results. --batch images per forward.
  An image that does not decode is skipped with a note (and counted); --strict stops at it instead.
  ${MAX_PIXELS_USAGE}`;

const MAP_USAGE = `usage: tsgrad detector map <data> <cfg> <weights> [--thresh 0.25] [--iou 0.5] [--ap voc07|voc10|coco101|coco|all]
                          [--split valid|train] [--strict] [--json FILE] [--det-thresh ${VALID_THRESH}] [--nms ${VALID_NMS}]
                          [--batch ${DEFAULT_EVAL_BATCH}] [--device cpu|cuda|cuda-emu] [--width W] [--height H] [--max-pixels N]
  Detects on the split (candidates above --det-thresh, do_nms_sort at --nms) and prints per-class AP with
  TP/FP, the mAP at --iou, and precision/recall/F1, TP/FP/FN and average IoU of the detections with
  score >= --thresh.
  --ap  voc10    VOC2010+ all-point AP (area under the interpolated curve), VOC matching (default)
        voc07    VOC2007 11-point AP, VOC matching
        coco101  COCO 101-point AP at --iou, COCO matching
        coco     COCO AP@[.50:.05:.95] (101-point), with AP50 and AP75
        all      every definition above side by side
  Classes without ground truth are left out of the mAP (and said so). Bad label lines are reported as
  file:line and skipped, images that do not decode are skipped with a note (left out of the evaluation);
  --strict makes the first problem of either kind an error. --json writes every number.
  ${MAX_PIXELS_USAGE}`;

const ANCHORS_USAGE = `usage: tsgrad detector calc_anchors <data> --num N [--width 416] [--height 416] [--cfg CFG] [--seed 0]
                                   [--restarts 3] [--split train|valid] [--strict] [--out anchors.txt]
  k-means++ with distance 1 − IoU over the box sizes of the split's labels (relative size × net size).
  Prints the average IoU and the anchors in pixels and in grid cells (pixels / stride, what [region]
  anchors= wants), and an "anchors = ..." line to paste. --cfg takes width/height from [net] and num and
  the stride from its last [region] layer; explicit options win. --out writes that line (atomically).`;

/** How the commands obtain the decode step; tests inject a stand-in for the network. */
export interface EvalHooks {
  openSource?: (cfg: string, weights: string, opts: { device: string; width?: number; height?: number }) => BoxSource | Promise<BoxSource>;
}

function defaultOpenSource(cfg: string, weights: string, opts: { device: string; width?: number; height?: number }): BoxSource {
  const net = openNetwork(cfg, weights, {
    device: opts.device,
    ...(opts.width === undefined ? {} : { width: opts.width }),
    ...(opts.height === undefined ? {} : { height: opts.height }),
  }).eval();
  return networkBoxSource(net);
}

type Split = 'train' | 'valid';

function splitArg(values: ArgValues, def: Split): Split {
  const v = stringArg(values, 'split') ?? def;
  if (v !== 'train' && v !== 'valid') throw new UsageError(`--split must be train or valid, got '${v}'`);
  return v;
}

const SIZE_MAX = 1 << 16;

function sizeArgs(values: ArgValues): { width?: number; height?: number } {
  const width = intArg(values, 'width', 1, SIZE_MAX);
  const height = intArg(values, 'height', 1, SIZE_MAX);
  return { ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) };
}

function positionalCount(positionals: string[], names: string[]): void {
  if (positionals.length !== names.length) {
    throw new UsageError(`expected ${names.map((n) => `<${n}>`).join(' ')}, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  }
}

function classNames(config: DataConfig): string[] {
  return config.names !== undefined ? readNames(config.names) : Array.from({ length: config.classes }, (_, k) => `class${k}`);
}

async function openChecked(hooks: EvalHooks, cfg: string, weights: string, device: string, size: { width?: number; height?: number }, config: DataConfig): Promise<BoxSource> {
  const src = await (hooks.openSource ?? defaultOpenSource)(cfg, weights, { device, ...size });
  if (src.classes !== config.classes) {
    throw new Error(`${cfg}: the network predicts ${src.classes} classes, but ${config.file} has classes = ${config.classes}`);
  }
  return src;
}

function progress(io: CommandIO, what: string): (done: number, total: number) => void {
  let shown = 0;
  return (done, total) => {
    if (total < 100) return;
    const tenth = Math.floor((done * 10) / total);
    if (tenth > shown) {
      shown = tenth;
      io.err(`${what}: ${done}/${total} images\n`);
    }
  };
}

/** The undecodable-image options of detectImages for a command: skip with one note per image, or fail. */
function skipOptions(io: CommandIO, strict: boolean, maxPixels: number | undefined, skipped: Set<string>): Pick<DetectOptions, 'undecodable' | 'onSkip' | 'maxPixels'> {
  return {
    undecodable: strict ? 'fail' : 'skip',
    onSkip: (image, reason) => {
      if (skipped.has(image)) return;
      skipped.add(image);
      io.err(`note: skipping an image that does not decode (${skipped.size} so far; --strict stops instead): ${reason}\n`);
    },
    ...(maxPixels === undefined ? {} : { maxPixels }),
  };
}

function skippedLine(skipped: ReadonlySet<string>): string {
  return skipped.size === 0 ? '' : `${skipped.size} image${skipped.size === 1 ? '' : 's'} skipped because they do not decode (listed on stderr)\n`;
}

function countDetections(results: readonly ImageDetections[]): { boxes: number; scored: number } {
  let boxes = 0;
  let scored = 0;
  for (const r of results) {
    boxes += r.detections.length;
    for (const d of r.detections) for (const p of d.prob) if (p > 0) scored++;
  }
  return { boxes, scored };
}

// ---------------------------------------------------------------------------------------------
// detector valid

/** `detector valid`: see the file comment and VALID_USAGE. */
export async function detectorValid(argv: string[], io: CommandIO = processIO, hooks: EvalHooks = {}): Promise<number> {
  return runCommand(argv, io, VALID_USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        out: { type: 'string' },
        thresh: { type: 'string' },
        nms: { type: 'string' },
        split: { type: 'string' },
        batch: { type: 'string' },
        device: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        strict: { type: 'boolean' },
        'max-pixels': { type: 'string' },
      },
      true,
    );
    positionalCount(positionals, ['data', 'cfg', 'weights']);
    const [dataFile, cfgFile, weightsFile] = positionals as [string, string, string];
    const skipped = new Set<string>();
    const skip = skipOptions(io, values['strict'] === true, maxPixelsArg(values), skipped);
    const thresh = floatArg(values, 'thresh', VALID_THRESH, 0, 1);
    const nms = floatArg(values, 'nms', VALID_NMS, 0, 1);
    const split = splitArg(values, 'valid');
    const batch = intArg(values, 'batch', 1, 4096) ?? DEFAULT_EVAL_BATCH;
    const size = sizeArgs(values);
    const device = await deviceArg(values);

    const config = readDataConfig(dataFile);
    const list = config[split];
    if (list === undefined) throw new Error(`${dataFile}: no '${split}' key`);
    const listed = readImageList(list);
    if (listed.length === 0) throw new Error(`${list}: no images listed`);
    for (const { path, line } of listed) if (!existsSync(path)) throw new Error(`${list}:${line}: image not found: ${path}`);
    const names = classNames(config);
    const files = comp4FileNames(names);
    const outArg = stringArg(values, 'out');
    const results = config.values['results'];
    const outDir = outArg ?? (results !== undefined && results !== '' ? resolveDataPath(results, dataFile) : 'results');

    const src = await openChecked(hooks, cfgFile, weightsFile, device, size, config);
    const t0 = performance.now();
    const dets = await detectImages(
      src,
      listed.map((l) => ({ image: l.path })),
      { thresh, nms, batch, onProgress: progress(io, 'valid'), ...skip },
    );
    const seconds = (performance.now() - t0) / 1000;

    const texts = comp4Texts(dets, config.classes);
    for (let c = 0; c < config.classes; c++) await writeOutput(join(outDir, files[c]!), texts[c]!);
    const coco = cocoResults(dets, config.classes);
    await writeOutput(join(outDir, 'coco_results.json'), formatCocoResults(coco));

    const images = dets.map((d) => d.image);
    for (const [what, idOf] of [['comp4', comp4ImageId], ['COCO', cocoImageId]] as const) {
      const clash = idCollisions(images, idOf);
      if (clash.length > 0) {
        const [id, a, b] = clash[0]!;
        io.err(`warning: ${clash.length} image${clash.length === 1 ? '' : 's'} share a ${what} image id with an earlier one (e.g. ${JSON.stringify(id)}: ${a} and ${b}); their results cannot be told apart\n`);
      }
    }
    const n = countDetections(dets);
    io.out(
      `valid: ${dets.length} images (${split} split of ${dataFile}), ${n.boxes} boxes, ${n.scored} detections ` +
        `(thresh ${thresh}, nms ${nms}) in ${seconds.toFixed(2)} s (${(seconds / dets.length).toFixed(3)} s/image)\n` +
        `${skippedLine(skipped)}wrote ${join(outDir, 'coco_results.json')} and ${config.classes} files ${join(outDir, 'comp4_det_test_<class>.txt')}\n`,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// detector map

const AP_CHOICES = ['voc07', 'voc10', 'coco101', 'coco', 'all'] as const;

/** Name of each definition in the printed report. */
export const AP_TITLES: Readonly<Record<ApDefinition, string>> = {
  voc10: 'VOC2010+ all-point AP (area under the interpolated precision-recall curve at every recall)',
  voc07: 'VOC2007 11-point AP (mean interpolated precision at recall 0, 0.1, ..., 1)',
  coco101: 'COCO 101-point AP (mean interpolated precision at recall 0, 0.01, ..., 1)',
  coco: 'COCO AP@[.50:.05:.95] (101-point AP averaged over IoU 0.50, 0.55, ..., 0.95)',
};

const AP_SHORT: Readonly<Record<ApDefinition, string>> = { voc10: 'voc10', voc07: 'voc07', coco101: 'coco101', coco: 'AP@[.5:.95]' };

function pct(v: number, width = 7): string {
  return (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '-').padStart(width);
}

function matchingText(e: Evaluation, iou: number): string {
  const at = e.definition === 'coco' ? 'each of those IoU thresholds' : iou.toFixed(2);
  return e.matching === 'voc'
    ? `VOC devkit matching (a detection is a TP when its best IoU > ${at} is with a truth not yet taken)`
    : `COCO matching (a detection takes the free truth of highest IoU >= ${at})`;
}

/** The printed report of `detector map` (evaluations of the same detections, one per definition). */
export function formatMapReport(evals: readonly Evaluation[], names: readonly string[], iou: number, confThresh: number): string {
  const first = evals[0]!;
  const lines: string[] = [];
  for (const e of evals) lines.push(`AP definition: ${AP_TITLES[e.definition]}; ${matchingText(e, iou)}`);
  const hasCoco = evals.some((e) => e.definition === 'coco');
  const nameW = Math.max(4, ...names.map((n) => n.length));
  const head = [' id', 'name'.padEnd(nameW), '   GT', '   TP', '   FP', ...evals.map((e) => AP_SHORT[e.definition].padStart(12))];
  if (hasCoco) head.push('AP50'.padStart(8), 'AP75'.padStart(8));
  lines.push('', `per class (TP/FP at score >= ${confThresh}, ${first.matching.toUpperCase()} matching at IoU ${iou.toFixed(2)}):`, head.join('  '));
  first.classes.forEach((c, k) => {
    const row = [String(c.classId).padStart(3), (names[c.classId] ?? `class${c.classId}`).padEnd(nameW), String(c.numPositives).padStart(5), String(c.tp).padStart(5), String(c.fp).padStart(5)];
    for (const e of evals) row.push(pct(e.classes[k]!.ap, 12));
    if (hasCoco) {
      const ce = evals.find((e) => e.definition === 'coco')!.classes[k]!;
      row.push(pct(ce.apPerIou[0]!, 8), pct(ce.apPerIou[5]!, 8));
    }
    lines.push(row.join('  ') + (c.numPositives === 0 ? '  (no ground truth)' : ''));
  });
  lines.push('');
  for (const e of evals) {
    if (e.definition === 'coco') {
      lines.push(`AP@[.50:.95] (COCO) = ${e.map.toFixed(4)} (${pct(e.map, 0)}), AP50 = ${e.mapPerIou[0]!.toFixed(4)}, AP75 = ${e.mapPerIou[5]!.toFixed(4)}`);
    } else {
      lines.push(`mAP@${iou.toFixed(2)} (${e.definition}) = ${e.map.toFixed(4)} (${pct(e.map, 0)})`);
    }
  }
  const withGt = first.classes.filter((c) => c.numPositives > 0).length;
  if (withGt < first.classes.length) lines.push(`mAP is the mean over the ${withGt} of ${first.classes.length} classes that have ground truth; the others are left out`);
  lines.push(
    `for conf_thresh = ${confThresh}, precision = ${first.precision.toFixed(2)}, recall = ${first.recall.toFixed(2)}, F1-score = ${first.f1.toFixed(2)}`,
    `for conf_thresh = ${confThresh}, TP = ${first.tp}, FP = ${first.fp}, FN = ${first.fn}, average IoU = ${pct(first.avgIou, 0)}`,
  );
  return `${lines.join('\n')}\n`;
}

function evaluationJson(e: Evaluation, names: readonly string[]): unknown {
  return {
    definition: e.definition,
    matching: e.matching,
    iouThresholds: e.iouThresholds,
    confThreshold: e.confThreshold,
    map: e.map,
    mapPerIou: e.mapPerIou,
    precision: e.precision,
    recall: e.recall,
    f1: e.f1,
    tp: e.tp,
    fp: e.fp,
    fn: e.fn,
    avgIou: e.avgIou,
    classes: e.classes.map((c) => ({
      classId: c.classId,
      name: names[c.classId] ?? `class${c.classId}`,
      ap: c.ap,
      apPerIou: c.apPerIou,
      numPositives: c.numPositives,
      numDetections: c.numDetections,
      tp: c.tp,
      fp: c.fp,
      fn: c.fn,
      precision: c.precision,
      recall: c.recall,
      f1: c.f1,
      avgIou: c.avgIou,
    })),
  };
}

function warnLabels(io: CommandIO, report: LoadReport, split: string): void {
  if (report.issues.length === 0) return;
  io.err(
    `warning: ${report.issues.length} label problem${report.issues.length === 1 ? '' : 's'} in the ${split} set, skipped ` +
      `(${report.skippedLabels} label line${report.skippedLabels === 1 ? '' : 's'}, ${report.skippedImages} image${report.skippedImages === 1 ? '' : 's'}); --strict makes them errors:\n` +
      `${formatReport(report)}\n`,
  );
}

/** `detector map`: see the file comment and MAP_USAGE. */
export async function detectorMap(argv: string[], io: CommandIO = processIO, hooks: EvalHooks = {}): Promise<number> {
  return runCommand(argv, io, MAP_USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        thresh: { type: 'string' },
        iou: { type: 'string' },
        ap: { type: 'string' },
        split: { type: 'string' },
        strict: { type: 'boolean' },
        json: { type: 'string' },
        'det-thresh': { type: 'string' },
        nms: { type: 'string' },
        batch: { type: 'string' },
        device: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        'max-pixels': { type: 'string' },
      },
      true,
    );
    positionalCount(positionals, ['data', 'cfg', 'weights']);
    const [dataFile, cfgFile, weightsFile] = positionals as [string, string, string];
    const skipped = new Set<string>();
    const confThresh = floatArg(values, 'thresh', 0.25, 0, 1);
    const iou = floatArg(values, 'iou', 0.5, 0, 1);
    const ap = stringArg(values, 'ap') ?? 'voc10';
    if (!(AP_CHOICES as readonly string[]).includes(ap)) throw new UsageError(`--ap must be one of ${AP_CHOICES.join(', ')}, got '${ap}'`);
    const definitions: ApDefinition[] = ap === 'all' ? ['voc10', 'voc07', 'coco101', 'coco'] : [ap as ApDefinition];
    const split = splitArg(values, 'valid');
    const strict = values['strict'] === true;
    const jsonFile = stringArg(values, 'json');
    const detThresh = floatArg(values, 'det-thresh', VALID_THRESH, 0, 1);
    const nms = floatArg(values, 'nms', VALID_NMS, 0, 1);
    const batch = intArg(values, 'batch', 1, 4096) ?? DEFAULT_EVAL_BATCH;
    const size = sizeArgs(values);
    const device = await deviceArg(values);

    const { config, dataset, report } = loadDetectionData(dataFile, split, { strict });
    warnLabels(io, report, split);
    if (dataset.items.length === 0) throw new Error(`${config[split]}: no usable images in the ${split} list`);
    const names = dataset.names;
    const src = await openChecked(hooks, cfgFile, weightsFile, device, size, config);

    const t0 = performance.now();
    const dets = await detectImages(src, dataset.items, { thresh: detThresh, nms, batch, onProgress: progress(io, 'map'), ...skipOptions(io, strict, maxPixelsArg(values), skipped) });
    const items = detectedItems(dataset.items, dets);
    if (items.length === 0) throw new Error(`${config[split]}: none of the ${dataset.items.length} images of the ${split} list decodes`);
    const seconds = (performance.now() - t0) / 1000;
    const evals = definitions.map((definition) => evaluateImageDetections(dets, items, { classes: config.classes, definition, iouThresh: iou, reportThresh: confThresh }));

    const gt = items.reduce((s, it) => s + it.boxes.length, 0);
    const n = countDetections(dets);
    const head =
      `detector map: ${items.length} images (${split} split of ${dataFile}), ${gt} ground-truth boxes, ${config.classes} classes; ` +
      `${n.scored} detections (candidates > ${detThresh}, nms ${nms}) in ${seconds.toFixed(2)} s\n` +
      (report.issues.length > 0 ? `label problems: ${report.skippedLabels} label lines and ${report.skippedImages} images skipped (listed on stderr)\n` : '') +
      skippedLine(skipped);
    io.out(`${head}\n${formatMapReport(evals, names, iou, confThresh)}`);

    if (jsonFile !== undefined) {
      const doc = {
        data: dataFile,
        cfg: cfgFile,
        weights: weightsFile,
        split,
        images: items.length,
        skippedUndecodable: [...skipped],
        groundTruth: gt,
        detections: n.scored,
        detThresh,
        nms,
        confThresh,
        iouThresh: iou,
        seconds,
        labelProblems: { skippedImages: report.skippedImages, skippedLabels: report.skippedLabels, issues: report.issues.map((i) => i.toString()) },
        evaluations: evals.map((e) => evaluationJson(e, names)),
      };
      await writeOutput(jsonFile, `${JSON.stringify(doc, null, 1)}\n`);
      io.out(`wrote ${jsonFile}\n`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// detector calc_anchors

/** `label:line: box w x h pixels` for each box of an image's label file below a pixel at netW×netH. */
function subPixelBoxes(image: string, classes: number, netW: number, netH: number): string[] {
  const file = labelPathFor(image);
  const out: string[] = [];
  readInputText(file, 'label file')
    .split(/\r?\n/)
    .forEach((text, i) => {
      if (text.trim() === '') return;
      const b = parseLabelLine(text, classes);
      if (typeof b !== 'string' && (b.w * netW < 1 || b.h * netH < 1)) out.push(`${file}:${i + 1}: box ${(b.w * netW).toPrecision(3)}x${(b.h * netH).toPrecision(3)} pixels`);
    });
  return out;
}

/** `detector calc_anchors`: see the file comment and ANCHORS_USAGE. */
export async function detectorCalcAnchors(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(argv, io, ANCHORS_USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        num: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        cfg: { type: 'string' },
        seed: { type: 'string' },
        restarts: { type: 'string' },
        split: { type: 'string' },
        strict: { type: 'boolean' },
        out: { type: 'string' },
      },
      true,
    );
    positionalCount(positionals, ['data']);
    const [dataFile] = positionals as [string];
    let num = intArg(values, 'num', 1, 1000);
    const size = sizeArgs(values);
    const seed = intArg(values, 'seed', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const restarts = intArg(values, 'restarts', 1, 1000) ?? 3;
    const split = splitArg(values, 'train');
    const strict = values['strict'] === true;
    const outFile = stringArg(values, 'out');
    const cfgFile = stringArg(values, 'cfg');

    let netW = size.width;
    let netH = size.height;
    let stride = 32;
    if (cfgFile !== undefined) {
      const cfg = readCfgFile(cfgFile, { overrides: { ...(netW === undefined ? {} : { width: netW }), ...(netH === undefined ? {} : { height: netH }) } });
      netW ??= cfg.net.width;
      netH ??= cfg.net.height;
      const regions = cfg.layers.filter((l) => l.type === 'region');
      const region = regions[regions.length - 1];
      if (region !== undefined && region.type === 'region') {
        num ??= region.n;
        stride = netW / region.shape.w;
      } else if (num === undefined) {
        throw new UsageError(`--cfg ${cfgFile} has no [region] layer to take num from; give --num`);
      }
    }
    if (num === undefined) throw new UsageError('--num is required (or --cfg with a [region] layer)');
    netW ??= 416;
    netH ??= 416;

    const { config, dataset, report } = loadDetectionData(dataFile, split, { strict, checkImages: false });
    warnLabels(io, report, split);
    const sizes: Size[] = [];
    const tiny: string[] = [];
    for (const it of dataset.items) {
      if (it.boxes.some((b) => b.w * netW < 1 || b.h * netH < 1)) tiny.push(...subPixelBoxes(it.image, config.classes, netW!, netH!));
      for (const b of it.boxes) if (b.w * netW >= 1 && b.h * netH >= 1) sizes.push({ w: b.w * netW, h: b.h * netH });
    }
    if (tiny.length > 0) {
      io.err(
        `warning: ${tiny.length} box${tiny.length === 1 ? ' is' : 'es are'} smaller than a pixel at ${netW}x${netH} and left out of the anchors:\n` +
          `${tiny.slice(0, 20).join('\n')}${tiny.length > 20 ? `\n... and ${tiny.length - 20} more` : ''}\n`,
      );
    }
    if (sizes.length < num) {
      const note = tiny.length > 0 ? ` (${tiny.length} smaller than a pixel left out)` : '';
      throw new Error(`${config[split]}: ${sizes.length} boxes in the ${split} labels, fewer than the ${num} anchors asked for${note}`);
    }

    const rng = new Rng(seed);
    const res = kmeansAnchors(sizes, { k: num, random: () => rng.uniform(), restarts });
    const grid = convertAnchors(res.anchors, 'pixels', 'grid', { netW, netH, stride });
    // Enough decimals that no anchor prints as 0 (a [region] layer refuses anchors <= 0).
    const smallest = Math.min(...grid.map((a) => Math.min(a.w, a.h)));
    let digits = 4;
    while (digits < 12 && Number(smallest.toFixed(digits)) === 0) digits++;
    const line = `anchors = ${formatAnchors(grid, digits)}`;
    io.out(
      `calc_anchors: ${sizes.length} boxes from ${dataset.items.length} images (${split} split of ${dataFile}), num = ${num}, net ${netW}x${netH}, stride ${stride}\n` +
        `k-means++ (distance 1 - IoU), seed ${seed}, ${restarts} restart${restarts === 1 ? '' : 's'}; best run ${res.converged ? 'converged' : 'stopped'} after ${res.iterations} iterations\n` +
        `avg IoU = ${(res.avgIou * 100).toFixed(2)} %\n` +
        `anchors in pixels:     ${formatAnchors(res.anchors, 2)}\n` +
        `anchors in grid cells: ${formatAnchors(grid, digits)}\n` +
        `${line}\n`,
    );
    if (outFile !== undefined) {
      await writeOutput(
        outFile,
        `# ${num} anchors from ${sizes.length} boxes of ${dataFile} (${split}), net ${netW}x${netH}, stride ${stride}: avg IoU ${(res.avgIou * 100).toFixed(2)} %\n` +
          `# pixels: ${formatAnchors(res.anchors, 2)}\n${line}\n`,
      );
      io.out(`wrote ${outFile}\n`);
    }
  });
}
