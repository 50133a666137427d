// Detection from code: a Darknet cfg + .weights → boxes on an image, as `tsgrad detector test` prints
// them (Darknet's test_detector / draw_detections).
//
//   const det = Detector.open('cfg/darknet/yolov2-tiny-voc.cfg', 'yolov2-tiny-voc.weights', { names: 'data/voc.names' });
//   const boxes = await det.detect('data/dog.jpg', { thresh: 0.25 });
//
// One image: letterbox ([region] nets) or resize ([detection] nets), one forward pass without gradients,
// get_network_boxes(thresh, relative) with the letterbox undone, do_nms_sort(nms), then for each box
// (post-NMS array order) the classes whose probability is above the threshold.

import { existsSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';

import { noGrad } from '../autograd/grad-mode.js';
import { readInputText } from '../io/input.js';
import type { DeviceLike } from '../tensor/device.js';
import { scope } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { toPixelCorners } from './box.js';
import { decodeImageBuffer, loadImage, type FloatImage } from './data/image.js';
import type { Detection } from './decode.js';
import { networkBoxes } from './net/detections.js';
import { inputTensor, prepareImage } from './net/input.js';
import { openNetwork, type Network } from './net/network.js';
import { detectionsReport } from './nms.js';

/** A box kept by detection: its classes above the threshold (with names and probabilities) and pixel corners. */
export interface DrawnDetection {
  /** Index of the box among the network's candidates (Darknet's order). */
  index: number;
  /** Classes whose probability is above the threshold, ascending. */
  classes: number[];
  /** Their names (the class number as text where no name is known). */
  names: string[];
  /** Their probabilities (objectness × class probability), in (thresh, 1]. */
  probs: number[];
  /** Pixel corners in the original image, clipped to it (Darknet's draw_detections). */
  left: number;
  top: number;
  right: number;
  bottom: number;
  /** The box relative to the image: centre and size in [0, 1] (AlexeyAB's JSON relative_coordinates). */
  relative: { x: number; y: number; w: number; h: number };
}

/** Darknet's printed lines for a box: "<name>: <percent>%  box left,top,right,bottom". */
export function detectionLines(d: DrawnDetection): string[] {
  return d.classes.map((_, k) => `${d.names[k]}: ${(d.probs[k]! * 100).toFixed(0)}%  box ${d.left},${d.top},${d.right},${d.bottom}`);
}

/**
 * NMS, then Darknet's draw_detections selection: for every box (post-NMS array order) the classes with
 * prob > thresh (compared as a C float), and the box in pixels of an `imageW` × `imageH` image.
 */
export function selectDetections(
  dets: readonly Detection[],
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
      relative: { x, y, w, h },
      classes: hit,
      names: hit.map((c) => names[c] ?? String(c)),
      probs: hit.map((c) => b.prob[c]!),
      left: px.x1,
      top: px.y1,
      right: px.x2,
      bottom: px.y2,
    });
  }
  return drawn;
}

/**
 * Class names from a .names file (one per line), or from the names= entry of a Darknet .data file (else
 * its labels= entry, as Darknet's classifier reads it).
 */
export function readClassNames(file: string): string[] {
  const text = readText(file, 'class names');
  if (extname(file).toLowerCase() !== '.data') return splitNames(text);
  const entries: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(names|labels)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) entries[m[1]!] = m[2]!;
  }
  const namesPath = entries['names'] || entries['labels'] || null;
  if (namesPath === null) throw new Error(`${file}: no 'names=' (or 'labels=') entry`);
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

/** Thresholds of one detection call. */
export interface DetectThresholds {
  /** Probability threshold (strict `>`, as a C float). Default 0.5, Darknet's `detector test`. */
  readonly thresh?: number;
  /** NMS IoU threshold (do_nms_sort). Default 0.45. */
  readonly nms?: number;
}

/** Where a Detector's network comes from and runs. */
export interface DetectorOptions {
  /** Class names: a list, a .names file or a .data file (its names= entry). Default: the class numbers. */
  readonly names?: readonly string[] | string;
  /** Device to run on (default cpu). */
  readonly device?: DeviceLike;
  /** Replace the cfg's input width/height. */
  readonly width?: number;
  readonly height?: number;
}

/** An image for Detector.detect: a decoded image, an image file's path, or its encoded bytes (JPEG, PNG, ...). */
export type DetectorImage = FloatImage | string | Uint8Array;

/** A Darknet detector ([region] or [detection] output) ready to detect objects on images. */
export class Detector {
  /** The network, in inference mode. */
  readonly net: Network;
  /** One name per class. */
  readonly names: readonly string[];

  constructor(net: Network, names?: readonly string[]) {
    this.net = net.eval();
    const classes = detectorClasses(net);
    const list = names ?? Array.from({ length: classes }, (_, c) => String(c));
    if (list.length < classes) throw new Error(`${net.cfg.file}: ${list.length} class names, but the network predicts ${classes} classes`);
    this.names = list;
  }

  /** Parses `cfgFile` (batch 1), builds the network on the device and loads `weightsFile` (null: random weights). */
  static open(cfgFile: string, weightsFile: string | null, opts: DetectorOptions = {}): Detector {
    const net = openNetwork(cfgFile, weightsFile, {
      ...(opts.device === undefined ? {} : { device: opts.device }),
      ...(opts.width === undefined ? {} : { width: opts.width }),
      ...(opts.height === undefined ? {} : { height: opts.height }),
    });
    const names = typeof opts.names === 'string' ? readClassNames(opts.names) : opts.names;
    return new Detector(net, names);
  }

  /** Detections on one image (letterboxed or resized to the network as Darknet does), in pixels of that image. */
  async detect(image: DetectorImage, opts: DetectThresholds = {}): Promise<DrawnDetection[]> {
    const im = typeof image === 'string' ? await loadImage(image) : image instanceof Uint8Array ? await decodeImageBuffer(image, 'image bytes') : image;
    const input = prepareImage(this.net, im);
    return scope(() => noGrad(() => this.detectInput(inputTensor(this.net, input), im.width, im.height, opts)));
  }

  /**
   * Detections from an input tensor already prepared for the network ([1, c, h, w], letterboxed or
   * resized), for an original image of `imageW` × `imageH` pixels (the network size if omitted).
   */
  detectInput(input: Tensor, imageW?: number, imageH?: number, opts: DetectThresholds = {}): DrawnDetection[] {
    const thresh = opts.thresh ?? 0.5;
    const nms = opts.nms ?? 0.45;
    const [, h, w] = this.net.inputShape;
    const W = imageW ?? w;
    const H = imageH ?? h;
    return scope(() =>
      noGrad(() => {
        const boxes = networkBoxes(this.net, this.net.forward(input), { thresh, imageW: W, imageH: H });
        return selectDetections(boxes.detections, boxes.classes, nms, thresh, this.names, W, H);
      }),
    );
  }
}

function detectorClasses(net: Network): number {
  const out = net.layers.map((m) => m.layer).find((l) => l.type === 'region' || l.type === 'detection');
  if (out === undefined || (out.type !== 'region' && out.type !== 'detection')) throw new Error(`${net.cfg.file}: no [region] or [detection] layer: not a detector`);
  return out.classes;
}
