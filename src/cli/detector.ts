// `tsgrad detector test <data-or-names> <cfg> <weights> <image...>`: Darknet's `detector test`, and the
// `tsgrad detector` entry point (the subcommands are defined in detector-commands.ts).
//
// For each image: letterbox ([region] nets) or resize ([detection] nets, as yolo.c), one forward pass,
// get_network_boxes(thresh, hier 0.5, relative), do_nms_sort(nms), then Darknet's draw_detections:
// one printed line per (box, class) whose probability is above the threshold, in Darknet's post-NMS
// array order, and the boxes with their labels drawn onto the image (an SVG overlay composited with
// sharp), written to --out. --json writes the detections in the JSON layout of AlexeyAB's -out.

import { basename, extname } from 'node:path';
import sharp from 'sharp';

import { noGrad } from '../autograd/grad-mode.js';
import { scope } from '../tensor/memory.js';
import { writeOutput } from '../io/output.js';
import { floatImageToU8, formatForFile, loadImage, type FloatImage } from '../yolo/data/image.js';
import { detectionLines, readClassNames, selectDetections, type DrawnDetection } from '../yolo/detect.js';
import { networkBoxes } from '../yolo/net/detections.js';
import { inputTensor, prepareImage } from '../yolo/net/input.js';
import { openNetwork } from '../yolo/net/network.js';
import { processIO, runCommand, runGroup, sizeOverrides, UsageError, type CommandIO, type ParsedArgs } from './args.js';
import { detectorGroup, testSpec } from './detector-commands.js';

export { detectionLines, readClassNames, selectDetections, type DrawnDetection };

/** `tsgrad detector <subcommand> ...`. */
export async function detectorCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runGroup(detectorGroup, argv, io);
}

/** `detector test` on an argument list (see testSpec). */
export async function detectorTest(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(testSpec, argv, io, (a) => testBody(a, io));
}

/** One image's entry of the --json file (the layout of AlexeyAB's `detector test -out`). */
interface JsonFrame {
  frame_id: number;
  filename: string;
  objects: { class_id: number; name: string; relative_coordinates: { center_x: number; center_y: number; width: number; height: number }; confidence: number }[];
}

export async function testBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const dataFile = a.positional('data-or-names')!;
  const cfgFile = a.positional('cfg')!;
  const weightsFile = a.positional('weights')!;
  const images = a.rest('image');
  const thresh = a.float('thresh', 0, 1);
  const nms = a.float('nms', 0, 1);
  const out = a.string('out');
  try {
    formatForFile(out);
  } catch (e) {
    throw new UsageError(`--out: ${(e as Error).message}`);
  }
  const jsonFile = a.optionalString('json');
  const size = sizeOverrides(a);
  const device = await a.device();
  const maxPixels = a.int('max-pixels', 1, Number.MAX_SAFE_INTEGER);

  const names = readClassNames(dataFile);
  const net = openNetwork(cfgFile, weightsFile, { device, warn: (m) => io.err(`warning: ${m}\n`), ...size }).eval();
  const frames: JsonFrame[] = [];

  for (const [k, image] of images.entries()) {
    const im = await loadImage(image, { maxPixels });
    const input = prepareImage(net, im);
    const t0 = performance.now();
    const { boxes, best } = scope(() =>
      noGrad(() => {
        const outs = net.forward(inputTensor(net, input));
        const boxes = networkBoxes(net, outs, { thresh, imageW: im.width, imageH: im.height });
        // The strongest class probability of any box, for the message when nothing passes the threshold.
        let best = { prob: 0, cls: -1 };
        for (const d of networkBoxes(net, outs, { thresh: 0, imageW: im.width, imageH: im.height }).detections) {
          d.prob.forEach((p, c) => {
            if (p > best.prob) best = { prob: p, cls: c };
          });
        }
        return { boxes, best };
      }),
    );
    const ms = performance.now() - t0;
    if (names.length < boxes.classes) throw new Error(`${dataFile}: ${names.length} class names, but the network predicts ${boxes.classes} classes`);
    const drawn = selectDetections(boxes.detections, boxes.classes, nms, thresh, names, im.width, im.height);
    const lines = [`${image}: Predicted in ${ms.toFixed(0)} ms.`];
    for (const d of drawn) lines.push(...detectionLines(d));
    frames.push({
      frame_id: k + 1,
      filename: image,
      objects: drawn.flatMap((d) =>
        d.classes.map((c, j) => ({
          class_id: c,
          name: d.names[j]!,
          relative_coordinates: { center_x: d.relative.x, center_y: d.relative.y, width: d.relative.w, height: d.relative.h },
          confidence: d.probs[j]!,
        })),
      ),
    });
    if (drawn.length === 0) {
      const strongest = best.cls < 0 ? 'every class probability is 0' : `the strongest is ${names[best.cls]} at ${(best.prob * 100).toFixed(1)}%`;
      const why =
        net.header.seen === 0
          ? `; the weights have seen no training image (header seen = 0): random or untrained weights detect nothing`
          : '; a lower --thresh shows weaker ones';
      lines.push(`no detection above --thresh ${thresh} (${strongest})${why}. No image written.`);
    } else {
      const file = images.length === 1 ? out : outputName(out, image);
      await writeOutput(file, await drawDetections(im, drawn, boxes.classes, formatForFile(file)));
      lines.push(`wrote ${file}`);
    }
    io.out(`${lines.join('\n')}\n`);
  }
  if (jsonFile !== undefined) {
    await writeOutput(jsonFile, `${JSON.stringify(frames, null, 1)}\n`);
    io.out(`wrote ${jsonFile}\n`);
  }
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
