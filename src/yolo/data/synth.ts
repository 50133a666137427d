// Synthetic data sets for training and testing the YOLO stack without downloading anything.
//
// Detection: each image has 1..maxObjects objects (shapes.ts: shapes and digit glyphs), each
// 18–42 % of the image side, in a random colour (unrelated to the class, so the shape is what must
// be learned), slightly stretched and rotated, sometimes outlined, on a textured background
// (gradient, smooth value noise, thin distractor strokes) with pixel noise over everything. Objects may
// overlap; a placement is rejected if it would leave an earlier object less than 60 % visible. Boxes
// are the tight pixel bounds of each object's drawn mask (alpha ≥ ½), so labels are exact.
//
// Classification (Darknet classifier style): one object per image, 45–80 % of the side; the class name
// is part of the file name (`000123_star.jpg`), and a labels file lists the class names.
//
// Everything is a pure function of the seed: image i of a split is drawn from its own derived seed.
// Files are written atomically; the .data file is written last (and removed first when regenerating).

import { createCanvas, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../tensor/random.js';
import { ensureDir, writeOutput } from '../../io/output.js';
import type { LabelBox } from './labels.js';
import { deriveSeed } from './seed.js';
import { drawShape, maxRotation, overlappingNames, SHAPE_NAMES } from './shapes.js';
import { checkOutputDir, datasetPaths, writeDataFile, writeLabelFile, writeListFile, writeNamesFile } from './write.js';

export type SynthKind = 'detection' | 'classification';

export interface SynthOptions {
  outDir: string;
  /** Images in the train and valid splits. */
  train: number;
  valid: number;
  /** Number of classes, the first K of SHAPE_NAMES. Default 6. */
  classes?: number;
  /** Image side in pixels. Default 224 (detection), 128 (classification). */
  size?: number;
  seed?: number;
  kind?: SynthKind;
  /** Objects per detection image. Defaults 1 and 4. */
  minObjects?: number;
  maxObjects?: number;
  /** JPEG quality. Default 90. */
  quality?: number;
  /** Base name of the .data/.names files. Default 'synth'. */
  name?: string;
  /** Called after each image with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface SynthResult {
  dataFile: string;
  namesFile: string;
  lists: { train: string; valid: string };
  counts: { train: number; valid: number; boxes: number };
  names: string[];
}

/** A rendered image: interleaved RGB bytes (HWC) and its boxes (detection) or class (classification). */
export interface SynthImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  boxes: LabelBox[];
}

/** Seed streams of the two splits (distinct, so the valid images don't change with the train count). */
const STREAM_TRAIN = 101;
const STREAM_VALID = 102;

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const h6 = (((h % 1) + 1) % 1) * 6;
  const i = Math.floor(h6);
  const f = h6 - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (i) {
    case 0: return [v, t, p];
    case 1: return [q, v, p];
    case 2: return [p, v, t];
    case 3: return [p, q, v];
    case 4: return [t, p, v];
    default: return [v, p, q];
  }
}

function cssColour([r, g, b]: [number, number, number], alpha = 1): string {
  const c = (x: number): number => Math.round(Math.max(0, Math.min(1, x)) * 255);
  return `rgba(${c(r)}, ${c(g)}, ${c(b)}, ${alpha})`;
}

/** Drawing surfaces reused across images of one size. */
class Surfaces {
  readonly main: Canvas;
  readonly ctx: SKRSContext2D;
  readonly layer: Canvas;
  readonly lctx: SKRSContext2D;
  constructor(readonly size: number) {
    this.main = createCanvas(size, size);
    this.ctx = this.main.getContext('2d');
    this.layer = createCanvas(size, size);
    this.lctx = this.layer.getContext('2d');
  }
}

const surfaces = new Map<number, Surfaces>();
function surfacesFor(size: number): Surfaces {
  let s = surfaces.get(size);
  if (s === undefined) {
    s = new Surfaces(size);
    surfaces.set(size, s);
  }
  return s;
}

/** Paints the textured background: a two-colour gradient times smooth value noise. Returns whether it is dark. */
function paintBackground(s: Surfaces, rng: Rng): boolean {
  const S = s.size;
  const dark = rng.uniform() < 0.5;
  const pick = (): [number, number, number] => hsvToRgb(rng.uniform(), rng.range(0, 0.35), dark ? rng.range(0.08, 0.35) : rng.range(0.62, 0.92));
  const a = pick();
  const b = pick();
  const theta = rng.range(0, 2 * Math.PI);
  const cx = Math.cos(theta);
  const cy = Math.sin(theta);
  // Value noise: a coarse grid of random offsets, interpolated with smoothstep.
  const G = 3 + rng.int(6);
  const grid = new Float32Array((G + 1) * (G + 1) * 3);
  const amp = rng.range(0.04, 0.14);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.range(-amp, amp);
  const img = s.ctx.createImageData(S, S);
  const d = img.data;
  for (let y = 0; y < S; y++) {
    const gy = (y / S) * G;
    const iy = Math.floor(gy);
    let fy = gy - iy;
    fy = fy * fy * (3 - 2 * fy);
    for (let x = 0; x < S; x++) {
      const gx = (x / S) * G;
      const ix = Math.floor(gx);
      let fx = gx - ix;
      fx = fx * fx * (3 - 2 * fx);
      let t = ((x - S / 2) * cx + (y - S / 2) * cy) / S + 0.5;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const o = (y * S + x) * 4;
      for (let c = 0; c < 3; c++) {
        const g00 = grid[(iy * (G + 1) + ix) * 3 + c]!;
        const g01 = grid[(iy * (G + 1) + ix + 1) * 3 + c]!;
        const g10 = grid[((iy + 1) * (G + 1) + ix) * 3 + c]!;
        const g11 = grid[((iy + 1) * (G + 1) + ix + 1) * 3 + c]!;
        const n = (1 - fy) * ((1 - fx) * g00 + fx * g01) + fy * ((1 - fx) * g10 + fx * g11);
        d[o + c] = Math.round(((1 - t) * a[c]! + t * b[c]! + n) * 255);
      }
      d[o + 3] = 255;
    }
  }
  s.ctx.putImageData(img, 0, 0);
  // Thin distractor strokes: clutter that is never an object.
  const strokes = rng.int(6);
  for (let k = 0; k < strokes; k++) {
    s.ctx.strokeStyle = cssColour(hsvToRgb(rng.uniform(), rng.range(0, 0.6), rng.range(0.2, 0.9)), rng.range(0.3, 0.7));
    s.ctx.lineWidth = Math.max(1, (S / 224) * rng.range(1, 2.5));
    s.ctx.beginPath();
    s.ctx.moveTo(rng.range(0, S), rng.range(0, S));
    s.ctx.quadraticCurveTo(rng.range(0, S), rng.range(0, S), rng.range(0, S), rng.range(0, S));
    s.ctx.stroke();
  }
  return dark;
}

/** An object colour that stands out from the background (bright on dark, mid-dark on light). */
function objectColour(rng: Rng, darkBackground: boolean): [number, number, number] {
  if (rng.uniform() < 0.1) return darkBackground ? hsvToRgb(0, 0, rng.range(0.85, 1)) : hsvToRgb(0, 0, rng.range(0.02, 0.15));
  return hsvToRgb(rng.uniform(), rng.range(0.55, 1), darkBackground ? rng.range(0.7, 1) : rng.range(0.25, 0.6));
}

interface Drawn {
  cls: number;
  mask: Uint8Array;
  area: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Draws one object on the (cleared) layer and returns its mask and tight bounds, or null if empty. */
function drawObjectLayer(s: Surfaces, rng: Rng, name: string, cls: number, cx: number, cy: number, radius: number, dark: boolean): Drawn | null {
  const S = s.size;
  const l = s.lctx;
  l.setTransform(1, 0, 0, 1, 0, 0);
  l.clearRect(0, 0, S, S);
  const aspect = Math.exp(rng.range(-0.18, 0.18));
  const rot = rng.range(-maxRotation(name), maxRotation(name));
  const outline = rng.uniform() < 0.3;
  const fill = objectColour(rng, dark);
  l.fillStyle = cssColour(fill);
  // The outline is part of the object (inside its box), so it must stand out from the background too:
  // lighter than the fill on a dark background, darker on a light one.
  const edge = (v: number): number => (dark ? v + (1 - v) * 0.6 : v * 0.4);
  l.strokeStyle = cssColour([edge(fill[0]), edge(fill[1]), edge(fill[2])]);
  l.translate(cx, cy);
  l.rotate(rot);
  l.scale(radius * Math.sqrt(aspect), radius / Math.sqrt(aspect));
  l.lineWidth = 0.08;
  drawShape(l, name, outline);
  l.setTransform(1, 0, 0, 1, 0, 0);
  const px = l.getImageData(0, 0, S, S).data;
  const mask = new Uint8Array(S * S);
  let x0 = S;
  let y0 = S;
  let x1 = -1;
  let y1 = -1;
  let area = 0;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      if (px[(y * S + x) * 4 + 3]! >= 128) {
        mask[y * S + x] = 1;
        area++;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return area === 0 ? null : { cls, mask, area, x0, y0, x1, y1 };
}

function addPixelNoise(rgba: Uint8ClampedArray, rng: Rng, enabled = true): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  if (!enabled) {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = rgba[i * 4 + c]!;
    return out;
  }
  const sigma = rng.range(0.005, 0.04) * 255;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      // Sum of three uniforms: a cheap bell-shaped noise with standard deviation 0.5·sigma·2 = sigma.
      const z = (rng.uniform() + rng.uniform() + rng.uniform() - 1.5) * 2 * sigma;
      const v = Math.round(rgba[i * 4 + c]! + z);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

export interface RenderDetectionOptions {
  size: number;
  names: readonly string[];
  minObjects?: number;
  maxObjects?: number;
  /** Add the final per-pixel noise. Default true (tests turn it off to look at clean edges). */
  pixelNoise?: boolean;
}

/** Renders one detection image (see the file comment). */
export function renderDetectionImage(rng: Rng, opts: RenderDetectionOptions): SynthImage {
  const S = opts.size;
  const s = surfacesFor(S);
  const dark = paintBackground(s, rng);
  const lo = opts.minObjects ?? 1;
  const hi = opts.maxObjects ?? 4;
  const want = lo + rng.int(hi - lo + 1);
  const owner = new Int16Array(S * S).fill(-1);
  const placed: Drawn[] = [];
  for (let k = 0; k < want; k++) {
    for (let attempt = 0; attempt < 25; attempt++) {
      const cls = rng.int(opts.names.length);
      const radius = (rng.range(0.18, 0.42) * S) / 2;
      const margin = radius * 1.15;
      const cx = rng.range(margin, S - margin);
      const cy = rng.range(margin, S - margin);
      const obj = drawObjectLayer(s, rng, opts.names[cls]!, cls, cx, cy, radius, dark);
      if (obj === null) continue;
      // Visible area of each earlier object if this one is drawn on top.
      const covered = new Int32Array(placed.length);
      for (let p = 0; p < S * S; p++) if (obj.mask[p] && owner[p]! >= 0) covered[owner[p]!]!++;
      let ok = true;
      const visible = new Int32Array(placed.length);
      for (let p = 0; p < S * S; p++) if (owner[p]! >= 0) visible[owner[p]!]!++;
      for (let j = 0; j < placed.length; j++) if ((visible[j]! - covered[j]!) / placed[j]!.area < 0.6) ok = false;
      if (!ok) continue;
      for (let p = 0; p < S * S; p++) if (obj.mask[p]) owner[p] = placed.length;
      placed.push(obj);
      s.ctx.drawImage(s.layer, 0, 0);
      break;
    }
  }
  const rgb = addPixelNoise(s.ctx.getImageData(0, 0, S, S).data, rng, opts.pixelNoise ?? true);
  const boxes: LabelBox[] = placed.map((o) => ({
    cls: o.cls,
    x: (o.x0 + o.x1 + 1) / 2 / S,
    y: (o.y0 + o.y1 + 1) / 2 / S,
    w: (o.x1 + 1 - o.x0) / S,
    h: (o.y1 + 1 - o.y0) / S,
  }));
  return { width: S, height: S, rgb, boxes };
}

/** Renders one classification image of class `cls` (one object, 45–80 % of the side). */
export function renderClassificationImage(rng: Rng, size: number, names: readonly string[], cls: number): SynthImage {
  const S = size;
  const s = surfacesFor(S);
  const dark = paintBackground(s, rng);
  const radius = (rng.range(0.45, 0.8) * S) / 2;
  const margin = Math.min(radius * 1.05, S / 2);
  const cx = rng.range(margin, S - margin);
  const cy = rng.range(margin, S - margin);
  const obj = drawObjectLayer(s, rng, names[cls]!, cls, cx, cy, radius, dark);
  s.ctx.drawImage(s.layer, 0, 0);
  const rgb = addPixelNoise(s.ctx.getImageData(0, 0, S, S).data, rng);
  const boxes: LabelBox[] =
    obj === null ? [] : [{ cls, x: (obj.x0 + obj.x1 + 1) / 2 / S, y: (obj.y0 + obj.y1 + 1) / 2 / S, w: (obj.x1 + 1 - obj.x0) / S, h: (obj.y1 + 1 - obj.y0) / S }];
  return { width: S, height: S, rgb, boxes };
}

async function encodeJpeg(im: SynthImage, quality: number): Promise<Buffer> {
  return sharp(Buffer.from(im.rgb.buffer, im.rgb.byteOffset, im.rgb.byteLength), { raw: { width: im.width, height: im.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

function checkCount(what: string, n: number): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`synth: ${what} must be an integer >= 0, got ${n}`);
}

/** The class names a synthetic data set with K classes uses. */
export function synthNames(classes: number): string[] {
  if (!(Number.isInteger(classes) && classes >= 1 && classes <= SHAPE_NAMES.length)) {
    throw new Error(`synth: classes must be an integer in 1..${SHAPE_NAMES.length}, got ${classes}`);
  }
  const names = SHAPE_NAMES.slice(0, classes);
  if (overlappingNames(names).length > 0) throw new Error(`synth: class names overlap: ${JSON.stringify(overlappingNames(names))}`);
  return names;
}

/** Writes a synthetic data set (layout in write.ts for detection; see the file comment for classification). */
export async function generateSynthDataset(opts: SynthOptions): Promise<SynthResult> {
  const kind = opts.kind ?? 'detection';
  if (kind !== 'detection' && kind !== 'classification') throw new Error(`synth: kind must be detection or classification, got '${String(kind)}'`);
  checkCount('train', opts.train);
  checkCount('valid', opts.valid);
  const names = synthNames(opts.classes ?? 6);
  const size = opts.size ?? (kind === 'detection' ? 224 : 128);
  if (!(Number.isInteger(size) && size >= 32 && size <= 4096)) throw new Error(`synth: size must be an integer in 32..4096, got ${size}`);
  const minObjects = opts.minObjects ?? 1;
  const maxObjects = opts.maxObjects ?? 4;
  if (!(Number.isInteger(minObjects) && Number.isInteger(maxObjects) && minObjects >= 1 && maxObjects >= minObjects)) {
    throw new Error(`synth: need 1 <= minObjects <= maxObjects, got ${minObjects}, ${maxObjects}`);
  }
  const seed = opts.seed ?? 1;
  const quality = opts.quality ?? 90;
  const name = opts.name ?? 'synth';
  const out = resolve(opts.outDir);
  checkOutputDir(out);
  ensureDir(out);
  const dataFile = join(out, `${name}.data`);
  await rm(dataFile, { force: true });

  const total = opts.train + opts.valid;
  let done = 0;
  let boxes = 0;
  const lists: { train: string; valid: string } = { train: '', valid: '' };
  for (const split of ['train', 'valid'] as const) {
    const n = split === 'train' ? opts.train : opts.valid;
    const stream = split === 'train' ? STREAM_TRAIN : STREAM_VALID;
    const paths: string[] = [];
    for (let i = 0; i < n; i++) {
      const rng = new Rng(deriveSeed(seed, stream, i));
      const id = String(i).padStart(6, '0');
      if (kind === 'detection') {
        const im = renderDetectionImage(rng, { size, names, minObjects, maxObjects });
        const { image, label } = datasetPaths(out, split, id, '.jpg');
        await writeOutput(image, await encodeJpeg(im, quality));
        await writeLabelFile(label, im.boxes);
        boxes += im.boxes.length;
        paths.push(image);
      } else {
        // Balanced classes: image i of a split has class i mod K.
        const cls = i % names.length;
        const im = renderClassificationImage(rng, size, names, cls);
        const image = join(out, split, `${id}_${names[cls]}.jpg`);
        await writeOutput(image, await encodeJpeg(im, quality));
        paths.push(image);
      }
      opts.onProgress?.(++done, total);
    }
    lists[split] = join(out, kind === 'detection' ? `${split}.txt` : `${split}.list`);
    await writeListFile(lists[split], paths);
  }
  const namesFile = join(out, kind === 'detection' ? `${name}.names` : 'labels.txt');
  await writeNamesFile(namesFile, names);
  if (kind === 'detection') {
    await writeDataFile(dataFile, { classes: names.length, train: lists.train, valid: lists.valid, names: namesFile, backup: join(out, 'backup') });
  } else {
    await writeDataFile(dataFile, { classes: names.length, train: lists.train, valid: lists.valid, labels: namesFile, names: namesFile, backup: join(out, 'backup'), extra: { top: 1 } });
  }
  return { dataFile, namesFile, lists, counts: { train: opts.train, valid: opts.valid, boxes }, names };
}
