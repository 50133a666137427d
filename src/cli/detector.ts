// `tsgrad detector test <data-or-names> <cfg> <weights> <image...>`: Darknet's `detector test`.
//
// For each image: letterbox ([region] nets) or resize ([detection] nets, as yolo.c), one forward pass,
// get_network_boxes(thresh, hier 0.5, relative), do_nms_sort(nms), then Darknet's draw_detections:
// one printed line per (box, class) whose probability is above the threshold, in Darknet's post-NMS
// array order, and the boxes with their labels drawn onto the image (an SVG overlay composited with
// sharp), written to --out.

import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import sharp from 'sharp';

import { noGrad } from '../autograd/grad-mode.js';
import { scope } from '../tensor/memory.js';
import { toPixelCorners } from '../yolo/box.js';
import { readInputText } from '../io/input.js';
import { writeOutput } from '../io/output.js';
import { floatImageToU8, formatForFile, loadImage, type FloatImage } from '../yolo/data/image.js';
import { detectionsReport } from '../yolo/nms.js';
import { networkBoxes } from '../yolo/net/detections.js';
import { inputTensor, prepareImage } from '../yolo/net/input.js';
import { openNetwork } from '../yolo/net/network.js';
import { deviceArg, dispatchSubcommand, floatArg, intArg, MAX_PIXELS_USAGE, maxPixelsArg, parseCommandArgs, processIO, runCommand, stringArg, UsageError, type CommandIO, type Subcommand } from './darknet.js';

const USAGE = `usage: tsgrad detector test <data-or-names> <cfg> <weights> <image...>
                           [--thresh 0.5] [--nms 0.45] [--device cpu|cuda|cuda-emu] [--out predictions.png]
                           [--width W] [--height H] [--max-pixels N]
  <data-or-names>  a Darknet .data file (its names= entry) or a .names file (one class name per line)
  Prints "<class>: <prob>%  box left,top,right,bottom" (pixels of the original image) for every
  detection above --thresh after NMS, and draws them into --out (.png or .jpg). With several images
  the output name gets "-<image name>" before its extension. Weights that make the network's output
  NaN or infinite are an error naming the first layer that produced such values.
  ${MAX_PIXELS_USAGE}`;

/** One drawn box: its classes above the threshold (with names and probabilities) and pixel corners. */
export interface DrawnDetection {
  index: number;
  classes: number[];
  names: string[];
  probs: number[];
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Darknet's printed lines for a box: "<name>: <percent>%", plus the box in pixels. */
export function detectionLines(d: DrawnDetection): string[] {
  return d.classes.map((_, k) => `${d.names[k]}: ${(d.probs[k]! * 100).toFixed(0)}%  box ${d.left},${d.top},${d.right},${d.bottom}`);
}

/** detector subcommand → handler (each in its own file, loaded on demand). */
const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  test: async () => detectorTest,
  train: async () => (await import('./detector-train.js')).detectorTrain,
  valid: async () => (await import('./detector-eval.js')).detectorValid,
  map: async () => (await import('./detector-eval.js')).detectorMap,
  calc_anchors: async () => (await import('./detector-eval.js')).detectorCalcAnchors,
};

export async function detectorCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return dispatchSubcommand('detector', SUBCOMMANDS, argv, io, USAGE);
}

/** `detector test`: see the file comment. */
export async function detectorTest(rest: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(rest, io, USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      rest,
      { thresh: { type: 'string' }, nms: { type: 'string' }, device: { type: 'string' }, out: { type: 'string' }, width: { type: 'string' }, height: { type: 'string' }, 'max-pixels': { type: 'string' } },
      true,
    );
    if (positionals.length < 4) throw new UsageError(`expected <data-or-names> <cfg> <weights> <image...>, got ${positionals.length} arguments`);
    const [dataFile, cfgFile, weightsFile, ...images] = positionals as [string, string, string, ...string[]];
    const thresh = floatArg(values, 'thresh', 0.5, 0, 1);
    const nms = floatArg(values, 'nms', 0.45, 0, 1);
    const out = stringArg(values, 'out') ?? 'predictions.png';
    try {
      formatForFile(out);
    } catch (e) {
      throw new UsageError(`--out: ${(e as Error).message}`);
    }
    const width = intArg(values, 'width', 1, 1 << 16);
    const height = intArg(values, 'height', 1, 1 << 16);
    const device = await deviceArg(values);
    const maxPixels = maxPixelsArg(values);

    const names = readClassNames(dataFile);
    const net = openNetwork(cfgFile, weightsFile, {
      device,
      warn: (m) => io.err(`warning: ${m}\n`),
      ...(width === undefined ? {} : { width }),
      ...(height === undefined ? {} : { height }),
    }).eval();

    for (const image of images) {
      const im = await loadImage(image, maxPixels === undefined ? {} : { maxPixels });
      const input = prepareImage(net, im);
      const t0 = performance.now();
      const boxes = scope(() => noGrad(() => networkBoxes(net, net.forward(inputTensor(net, input)), { thresh, imageW: im.width, imageH: im.height })));
      const ms = performance.now() - t0;
      if (names.length < boxes.classes) throw new Error(`${dataFile}: ${names.length} class names, but the network predicts ${boxes.classes} classes`);
      const drawn = selectDetections(boxes.detections, boxes.classes, nms, thresh, names, im.width, im.height);
      const lines = [`${image}: Predicted in ${ms.toFixed(0)} ms.`];
      for (const d of drawn) lines.push(...detectionLines(d));
      const file = images.length === 1 ? out : outputName(out, image);
      await writeOutput(file, await drawDetections(im, drawn, boxes.classes, formatForFile(file)));
      lines.push(`wrote ${file}`);
      io.out(`${lines.join('\n')}\n`);
    }
  });
}

/**
 * NMS, then Darknet's draw_detections selection: for every box (post-NMS array order) the classes with
 * prob > thresh; the label joins their names; one printed line per class with the box in pixels.
 */
export function selectDetections(
  dets: Parameters<typeof detectionsReport>[0],
  classes: number,
  nms: number,
  thresh: number,
  names: readonly string[],
  imageW: number,
  imageH: number,
): DrawnDetection[] {
  const report = detectionsReport(dets, classes, nms, 'sort');
  const byIndex = new Map(report.post_nms.map((b) => [b.index, b]));
  const t = Math.fround(thresh);
  const drawn: DrawnDetection[] = [];
  for (const index of report.post_nms_array_order) {
    const b = byIndex.get(index)!;
    const hit: number[] = [];
    for (let c = 0; c < classes; c++) if (b.prob[c]! > t) hit.push(c);
    if (hit.length === 0) continue;
    const [x, y, w, h] = b.bbox;
    const px = toPixelCorners({ x, y, w, h }, imageW, imageH);
    drawn.push({
      index,
      classes: hit,
      names: hit.map((c) => names[c]!),
      probs: hit.map((c) => b.prob[c]!),
      left: px.x1,
      top: px.y1,
      right: px.x2,
      bottom: px.y2,
    });
  }
  return drawn;
}

/** Class names from a .names file, or from the names= entry of a .data file. */
export function readClassNames(file: string): string[] {
  const text = readText(file, 'class names');
  if (extname(file).toLowerCase() !== '.data') return splitNames(text);
  let namesPath: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*names\s*=\s*(.*?)\s*$/.exec(line);
    if (m) namesPath = m[1]!;
  }
  if (namesPath === null || namesPath === '') throw new Error(`${file}: no 'names=' entry`);
  // Darknet opens the path relative to its working directory; also try next to the .data file and one
  // folder up (where a cfg/ folder's data/ sibling lives).
  const dir = dirname(resolve(file));
  const candidates = isAbsolute(namesPath) ? [namesPath] : [resolve(namesPath), join(dir, namesPath), join(dir, '..', namesPath)];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`${file}: names file '${namesPath}' not found (looked at ${candidates.join(', ')})`);
  return splitNames(readText(found, 'class names'));
}

function readText(file: string, what: string): string {
  return readInputText(file, what);
}

function splitNames(text: string): string[] {
  const lines = text.split(/\r?\n/).map((s) => s.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function outputName(out: string, image: string): string {
  const ext = extname(out);
  const stem = out.slice(0, out.length - ext.length);
  return `${stem}-${basename(image, extname(image))}${ext}`;
}

/** Darknet's class colour: a point on the magenta-blue-cyan-green-yellow-red ramp, spread by class. */
export function classColor(cls: number, classes: number): [number, number, number] {
  const ramp = [
    [1, 0, 1],
    [0, 0, 1],
    [0, 1, 1],
    [0, 1, 0],
    [1, 1, 0],
    [1, 0, 0],
  ];
  const offset = (cls * 123457) % classes;
  const channel = (c: number): number => {
    const r = (offset / classes) * 5;
    const i = Math.floor(r);
    const j = Math.ceil(r);
    const t = r - i;
    return (1 - t) * ramp[i]![c]! + t * ramp[j]![c]!;
  };
  return [channel(2), channel(1), channel(0)].map((v) => Math.round(v * 255)) as [number, number, number];
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[ch]!);
}

/** The image with boxes and labels drawn (SVG overlay composited by sharp), encoded as PNG or JPEG. */
export async function drawDetections(im: FloatImage, drawn: readonly DrawnDetection[], classes: number, format: 'png' | 'jpeg'): Promise<Buffer> {
  const W = im.width;
  const H = im.height;
  const line = Math.max(1, Math.round(H * 0.006));
  const font = Math.max(10, Math.round(H * 0.03));
  const parts: string[] = [];
  for (const d of drawn) {
    const [r, g, b] = classColor(d.classes[0]!, classes);
    const color = `rgb(${r},${g},${b})`;
    const text = d.names.join(', ');
    const tw = Math.ceil(text.length * font * 0.6) + 4;
    const ty = Math.max(0, d.top - font - 4);
    parts.push(
      `<rect x="${d.left}" y="${d.top}" width="${Math.max(1, d.right - d.left)}" height="${Math.max(1, d.bottom - d.top)}" fill="none" stroke="${color}" stroke-width="${line}"/>`,
      `<rect x="${d.left}" y="${ty}" width="${tw}" height="${font + 4}" fill="${color}"/>`,
      `<text x="${d.left + 2}" y="${ty + font}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="black">${escapeXml(text)}</text>`,
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`;
  const rgb = floatImageToU8(im);
  const base = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: W, height: H, channels: 3 } }).composite([
    { input: Buffer.from(svg), top: 0, left: 0 },
  ]);
  return format === 'png' ? base.png().toBuffer() : base.jpeg({ quality: 92 }).toBuffer();
}
