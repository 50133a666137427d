// The evaluation side of `tsgrad detector`:
//   valid         detections of a split written as VOC comp4 files and COCO JSON (Darknet's
//                 `detector valid`)
//   map           per-class AP, mAP, P/R/F1 and TP/FP/FN at a confidence threshold, average IoU
//                 (AlexeyAB's `detector map`), under a named AP definition; with --gt/--results it
//                 scores result files against COCO JSON or VOC annotations as COCOeval / voc_eval.py do
//   calc-anchors  k-means++ anchors (1 − IoU) of the train labels (AlexeyAB's `detector calc_anchors`)
// Their arguments and options are defined in detector-commands.ts. The library behind them is src/yolo/eval.ts (detection pipeline, file formats) and src/yolo/map.ts
// (matching and AP). Exit codes: 0 done, 1 the inputs are wrong (bad data, cfg, labels with --strict),
// 2 usage error.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { readCfgFile } from '../yolo/darknet/cfg.js';
import { convertAnchors, formatAnchors, kmeansAnchors, type Size } from '../yolo/anchors.js';
import { writeOutput } from '../io/output.js';
import { readInputText } from '../io/input.js';
import { formatReport, labelPathFor, loadDetectionData, parseLabelLine, readDataConfig, readImageList, readNames, resolveDataPath, type DataConfig, type LoadReport } from '../yolo/data/labels.js';
import {
  cocoImageId,
  cocoResults,
  comp4FileNames,
  comp4ImageId,
  comp4Texts,
  detectedItems,
  detectImages,
  evaluateImageDetections,
  formatCocoResults,
  idCollisions,
  networkBoxSource,
  type BoxSource,
  type DetectOptions,
  type ImageDetections,
} from '../yolo/eval.js';
import { COCO_SUMMARY_KEYS, type ApDefinition, type Evaluation } from '../yolo/map.js';
import { evaluateScoringSet, readCocoScoring, readVocScoring, type ScoringSet } from '../yolo/scoring-files.js';
import { parseVocSetSpec } from '../yolo/data/voc.js';
import { openNetwork } from '../yolo/net/network.js';
import { Rng } from '../tensor/random.js';
import { processIO, runCommand, sizeOverrides, UsageError, type CommandIO, type ParsedArgs } from './args.js';
import { anchorsSpec, AP_CHOICES, mapSpec, validSpec } from './detector-commands.js';
import { loopProgress } from './status-line.js';

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

function splitArg(a: ParsedArgs): Split {
  const v = a.string('split');
  if (v !== 'train' && v !== 'valid') throw new UsageError(`--split must be train or valid, got '${v}'`);
  return v;
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

/** The undecodable-image options of detectImages for a command: skip with one note per image, or fail. */
function skipOptions(io: CommandIO, strict: boolean, maxPixels: number, skipped: Set<string>): Pick<DetectOptions, 'undecodable' | 'onSkip' | 'maxPixels'> {
  return {
    undecodable: strict ? 'fail' : 'skip',
    onSkip: (image, reason) => {
      if (skipped.has(image)) return;
      skipped.add(image);
      io.err(`note: skipping an image that does not decode (${skipped.size} so far; --strict stops instead): ${reason}\n`);
    },
    maxPixels,
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

/** `detector valid` on an argument list (see validSpec). */
export async function detectorValid(argv: string[], io: CommandIO = processIO, hooks: EvalHooks = {}): Promise<number> {
  return runCommand(validSpec, argv, io, (a) => validBody(a, io, hooks));
}

export async function validBody(a: ParsedArgs, io: CommandIO, hooks: EvalHooks = {}): Promise<void> {
  const dataFile = a.positional('data')!;
  const cfgFile = a.positional('cfg')!;
  const weightsFile = a.positional('weights')!;
  const thresh = a.float('thresh', 0, 1);
  const nms = a.float('nms', 0, 1);
  const split = splitArg(a);
  const batch = a.int('batch', 1, 4096);
  const size = sizeOverrides(a);
  const device = await a.device();
  const skipped = new Set<string>();
  const skip = skipOptions(io, a.flag('strict'), a.int('max-pixels', 1, Number.MAX_SAFE_INTEGER), skipped);

  const config = readDataConfig(dataFile);
  const list = config[split];
  if (list === undefined) throw new Error(`${dataFile}: no '${split}' key`);
  const listed = readImageList(list);
  if (listed.length === 0) throw new Error(`${list}: no images listed`);
  for (const { path, line } of listed) if (!existsSync(path)) throw new Error(`${list}:${line}: image not found: ${path}`);
  const names = classNames(config);
  const files = comp4FileNames(names);
  const outArg = a.optionalString('out');
  const results = config.values['results'];
  const outDir = outArg ?? (results !== undefined && results !== '' ? resolveDataPath(results, dataFile) : 'results');

  const src = await openChecked(hooks, cfgFile, weightsFile, device, size, config);
  const t0 = performance.now();
  const progress = loopProgress(io, 'valid');
  const dets = await detectImages(
    src,
    listed.map((l) => ({ image: l.path })),
    { thresh, nms, batch, onProgress: progress.update, ...skip },
  ).finally(progress.end);
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
}

// ---------------------------------------------------------------------------------------------
// detector map

const ALL_DEFINITIONS: readonly ApDefinition[] = ['voc10', 'voc07', 'voc07-darknet', 'coco101', 'coco'];

/** --ap: one definition, a comma-separated list of them, or all. */
function apArg(a: ParsedArgs): ApDefinition[] {
  const names = a.string('ap').split(',');
  for (const n of names) {
    if (!(AP_CHOICES as readonly string[]).includes(n)) throw new UsageError(`--ap must be one of ${AP_CHOICES.join(', ')} (or a comma-separated list), got '${n}'`);
  }
  const defs = names.includes('all') ? ALL_DEFINITIONS.slice() : (names as ApDefinition[]);
  return defs.filter((d, k) => defs.indexOf(d) === k);
}

/** Name of each definition in the printed report. */
export const AP_TITLES: Readonly<Record<ApDefinition, string>> = {
  voc10: 'VOC2010+ all-point AP (area under the interpolated precision-recall curve at every recall)',
  voc07: "VOC2007 11-point AP (mean interpolated precision at the devkit's recall points np.arange(0, 1.1, 0.1))",
  'voc07-darknet': "VOC2007 11-point AP at Darknet's recall points k/10",
  coco101: 'COCO 101-point AP (mean interpolated precision at recall 0, 0.01, ..., 1)',
  coco: 'COCO AP@[.50:.05:.95] (101-point AP averaged over IoU 0.50, 0.55, ..., 0.95)',
};

const AP_SHORT: Readonly<Record<ApDefinition, string>> = { voc10: 'voc10', voc07: 'voc07', 'voc07-darknet': 'voc07-darknet', coco101: 'coco101', coco: 'AP@[.5:.95]' };

function pct(v: number, width = 7): string {
  return (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '-').padStart(width);
}

function matchingText(e: Evaluation, iou: number): string {
  const at = e.definition === 'coco' ? 'each of those IoU thresholds' : iou.toFixed(2);
  return e.matching === 'voc'
    ? `VOC devkit matching (a detection is a TP when its best IoU > ${at} is with a truth not yet taken)`
    : `COCO matching (a detection takes the free truth of highest IoU >= ${at})`;
}

/** COCOeval's summary as printed lines (the 12 numbers in its order; '-' where it has -1). */
function cocoSummaryLines(s: NonNullable<Evaluation['coco']>): string[] {
  const [m1, m10, m] = s.maxDets;
  const rows: [string, string, string, number][] = [
    ['AP', '0.50:0.95', 'all', m],
    ['AP', '0.50', 'all', m],
    ['AP', '0.75', 'all', m],
    ['AP', '0.50:0.95', 'small', m],
    ['AP', '0.50:0.95', 'medium', m],
    ['AP', '0.50:0.95', 'large', m],
    ['AR', '0.50:0.95', 'all', m1],
    ['AR', '0.50:0.95', 'all', m10],
    ['AR', '0.50:0.95', 'all', m],
    ['AR', '0.50:0.95', 'small', m],
    ['AR', '0.50:0.95', 'medium', m],
    ['AR', '0.50:0.95', 'large', m],
  ];
  const out = ['COCOeval summary (areas in pixels: small <= 32^2, medium 32^2..96^2, large >= 96^2):'];
  rows.forEach(([what, iou, area, dets], k) => {
    const v = s[COCO_SUMMARY_KEYS[k]!];
    out.push(`  ${what} IoU=${iou.padEnd(9)} area=${area.padEnd(6)} maxDets=${String(dets).padEnd(4)} ${Number.isFinite(v) ? v.toFixed(4) : '-'}`);
  });
  return out;
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
      if (e.coco !== undefined) lines.push(...cocoSummaryLines(e.coco));
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
    maxDetections: Number.isFinite(e.maxDetections) ? e.maxDetections : null,
    ...(e.coco !== undefined ? { coco: e.coco } : {}),
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

/** `detector map` on an argument list (see mapSpec). */
export async function detectorMap(argv: string[], io: CommandIO = processIO, hooks: EvalHooks = {}): Promise<number> {
  return runCommand(mapSpec, argv, io, (a) => mapBody(a, io, hooks));
}

export async function mapBody(a: ParsedArgs, io: CommandIO, hooks: EvalHooks = {}): Promise<void> {
  const confThresh = a.float('thresh', 0, 1);
  const iou = a.float('iou', 0, 1);
  const definitions = apArg(a);
  const maxDets = a.optionalInt('max-dets', 1, 1e9);
  const jsonFile = a.optionalString('json');
  if (a.given('gt') || a.given('results')) {
    await scoreFiles(a, io, { definitions, confThresh, iou, ...(maxDets === undefined ? {} : { maxDets }), ...(jsonFile === undefined ? {} : { jsonFile }) });
    return;
  }
  if (a.given('names')) throw new UsageError('--names applies to scoring VOC files (--gt ROOT:SET --results DIR)');
  if (a.positionals.length !== 3) throw new UsageError(`expected <data> <cfg> <weights>, got ${a.positionals.length} argument${a.positionals.length === 1 ? '' : 's'}`);
  const [dataFile, cfgFile, weightsFile] = a.positionals as [string, string, string];
  const split = splitArg(a);
  const strict = a.flag('strict');
  const detThresh = a.float('det-thresh', 0, 1);
  const nms = a.float('nms', 0, 1);
  const batch = a.int('batch', 1, 4096);
  const size = sizeOverrides(a);
  const device = await a.device();

  const skipped = new Set<string>();
  const skip = skipOptions(io, strict, a.int('max-pixels', 1, Number.MAX_SAFE_INTEGER), skipped);

  const { config, dataset, report } = loadDetectionData(dataFile, split, { strict });
  warnLabels(io, report, split);
  if (dataset.items.length === 0) throw new Error(`${config[split]}: no usable images in the ${split} list`);
  const names = dataset.names;
  const src = await openChecked(hooks, cfgFile, weightsFile, device, size, config);

  const t0 = performance.now();
  const progress = loopProgress(io, 'map');
  const dets = await detectImages(src, dataset.items, { thresh: detThresh, nms, batch, onProgress: progress.update, ...skip }).finally(progress.end);
  // Images that do not decode are left out of the ground truth too.
  const items = detectedItems(dataset.items, dets);
  if (items.length === 0) throw new Error(`${config[split]}: none of the ${dataset.items.length} images of the ${split} list decodes`);
  const seconds = (performance.now() - t0) / 1000;
  const evals = definitions.map((definition) =>
    evaluateImageDetections(dets, items, { classes: config.classes, definition, iouThresh: iou, reportThresh: confThresh, ...(maxDets === undefined ? {} : { maxDetections: maxDets }) }),
  );

  const gt = items.reduce((s, it) => s + it.boxes.length, 0);
  const n = countDetections(dets);
  const head =
    `detector map: ${items.length} images (${split} split of ${dataFile}), ${gt} ground-truth boxes, ${config.classes} classes; ` +
    `${n.scored} detections (candidates > ${detThresh}, nms ${nms}) in ${seconds.toFixed(2)} s\n` +
    (report.issues.length > 0 ? `label problems: ${report.skippedLabels} label lines and ${report.skippedImages} images skipped (listed on stderr)\n` : '') +
    skippedLine(skipped) +
    keptLine(evals);
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
}

/** The per-image limit of the evaluations that have one. */
function keptLine(evals: readonly Evaluation[]): string {
  const limits = evals.filter((e) => Number.isFinite(e.maxDetections)).map((e) => `${e.maxDetections} (${e.definition})`);
  return limits.length > 0 ? `detections kept per image and class: ${limits.join(', ')}\n` : '';
}

/** What `detector map --gt --results` needs from the shared options. */
interface ScoreOptions {
  definitions: ApDefinition[];
  confThresh: number;
  iou: number;
  maxDets?: number;
  jsonFile?: string;
}

const DETECTING_OPTIONS = ['split', 'strict', 'det-thresh', 'nms', 'batch', 'device', 'width', 'height'];

/** `detector map --gt ... --results ...`: scores result files (COCO JSON or VOC comp4) without a network. */
async function scoreFiles(a: ParsedArgs, io: CommandIO, o: ScoreOptions): Promise<void> {
  const gtArg = a.optionalString('gt');
  const resultsArg = a.optionalString('results');
  if (gtArg === undefined || resultsArg === undefined) throw new UsageError('scoring result files needs both --gt and --results');
  if (a.positionals.length > 0) throw new UsageError(`--gt/--results take no <data> <cfg> <weights>, got ${a.positionals.join(' ')}`);
  for (const name of DETECTING_OPTIONS) if (a.given(name)) throw new UsageError(`--${name} applies to detecting with a network, not to scoring --results`);
  const coco = gtArg.toLowerCase().endsWith('.json');
  const namesFile = a.optionalString('names');
  if (coco && namesFile !== undefined) throw new UsageError('--names applies to VOC ground truth; COCO JSON names its categories');
  const set: ScoringSet<unknown> = coco
    ? (readCocoScoring(gtArg, resultsArg) as ScoringSet<unknown>)
    : (readVocScoring(parseVocSetSpec(gtArg), resultsArg, namesFile === undefined ? undefined : readNames(namesFile)) as ScoringSet<unknown>);
  const evals = o.definitions.map((definition) =>
    evaluateScoringSet(set, { definition, iouThreshold: o.iou, confThreshold: o.confThresh, ...(o.maxDets === undefined ? {} : { maxDetections: o.maxDets }) }),
  );
  const special = coco ? set.truths.filter((t) => t.crowd === true).length : set.truths.filter((t) => t.difficult === true).length;
  const head =
    `detector map: ${set.detections.length} detections of ${resultsArg} scored against ${gtArg} (${coco ? 'COCO JSON' : 'VOC image set'}): ` +
    `${set.images.length} images, ${set.truths.length} ground-truth boxes (${special} ${coco ? 'crowd' : 'difficult'}), ${set.names.length} classes; boxes compared as ${set.boxes.name}\n`;
  io.out(`${head}${keptLine(evals)}\n${formatMapReport(evals, set.names, o.iou, o.confThresh)}`);
  if (o.jsonFile !== undefined) {
    const doc = {
      gt: gtArg,
      results: resultsArg,
      format: set.format,
      images: set.images.length,
      groundTruth: set.truths.length,
      detections: set.detections.length,
      confThresh: o.confThresh,
      iouThresh: o.iou,
      evaluations: evals.map((e) => evaluationJson(e, set.names)),
    };
    await writeOutput(o.jsonFile, `${JSON.stringify(doc, null, 1)}\n`);
    io.out(`wrote ${o.jsonFile}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// detector calc-anchors

/** `detector calc-anchors` on an argument list (see anchorsSpec). */
export async function detectorCalcAnchors(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(anchorsSpec, argv, io, (a) => anchorsBody(a, io));
}

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

export async function anchorsBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const dataFile = a.positional('data')!;
  let num = a.optionalInt('num', 1, 1000);
  const size = sizeOverrides(a);
  const seed = a.int('seed', 0, Number.MAX_SAFE_INTEGER);
  const restarts = a.int('restarts', 1, 1000);
  const split = splitArg(a);
  const strict = a.flag('strict');
  const outFile = a.optionalString('out');
  const cfgFile = a.optionalString('cfg');

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
    if (it.boxes.some((b) => b.w * netW! < 1 || b.h * netH! < 1)) tiny.push(...subPixelBoxes(it.image, config.classes, netW, netH));
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
  const smallest = Math.min(...grid.map((g) => Math.min(g.w, g.h)));
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
}
