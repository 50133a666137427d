// Float images in Darknet's layout and the pixel operations of its data pipeline (SEMANTICS.md 9).
//
// An image is float32 CHW (`c*H*W + y*W + x`), 3 planes R, G, B, values u8/255 rounded once to
// float32 (Darknet's `(float)(u8/255.)`). Decoding and encoding go through sharp (libvips,
// libjpeg-turbo); its JPEG decode differs from Darknet's stb_image by a few 1/255 steps on some pixels.
// Inputs are bounded: the raster formats of IMAGE_INPUT_FORMATS only, at most DEFAULT_MAX_PIXELS
// pixels unless raised (checked from the header, before decoding), and a bounded file read.
//
// `resizeImage` reproduces Darknet's `resize_image` exactly in float32: a column pass then a row pass,
// each output sample `(1−d)*p[i] + d*p[i+1]` with `scale = (float)(in−1)/(out−1)`, the last column and
// the last row copying the last input column/row. Every float operation is rounded with Math.fround,
// so the result equals the C code compiled without fused multiply-add.

import { extname } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS, INPUT_LIMITS, InputFileError, readInputBytes } from '../../io/input.js';
import { writeOutput } from '../../io/output.js';
import { letterboxSize, type Letterbox } from '../box.js';

const f = Math.fround;

/** A float32 CHW image with `channels` planes (3 for every image this pipeline produces). */
export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** A new image filled with `fill` (Darknet's `make_image` + `fill_image`). */
export function makeImage(width: number, height: number, channels = 3, fill = 0): FloatImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && Number.isInteger(channels) && width > 0 && height > 0 && channels > 0)) {
    throw new Error(`makeImage: sizes must be positive integers, got ${width}x${height}x${channels}`);
  }
  const data = new Float32Array(width * height * channels);
  if (fill !== 0) data.fill(fill);
  return { width, height, channels, data };
}

export function cloneImage(im: FloatImage): FloatImage {
  return { width: im.width, height: im.height, channels: im.channels, data: im.data.slice() };
}

/** Value at (x, y, c); no bounds check beyond what the typed array gives. */
export function getPixel(im: FloatImage, x: number, y: number, c: number): number {
  return im.data[c * im.width * im.height + y * im.width + x]!;
}

// ---------------------------------------------------------------------------------------------
// Decoding and encoding

/** Interleaved 8-bit pixels (HWC) → float CHW with 3 planes. Grey is replicated, alpha ignored. */
export function u8ToFloatImage(pixels: Uint8Array, width: number, height: number, channels: number): FloatImage {
  if (pixels.length !== width * height * channels) {
    throw new Error(`u8ToFloatImage: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  }
  const out = makeImage(width, height, 3);
  const plane = width * height;
  const d = out.data;
  // Darknet's conversion is (float)(u8/255.): a double division rounded once to float32. A table of
  // the 256 values makes that exact and fast (storing into Float32Array rounds once).
  const table = new Float32Array(256);
  for (let i = 0; i < 256; i++) table[i] = i / 255;
  const colour = channels >= 3;
  for (let p = 0; p < plane; p++) {
    const base = p * channels;
    if (colour) {
      d[p] = table[pixels[base]!]!;
      d[plane + p] = table[pixels[base + 1]!]!;
      d[2 * plane + p] = table[pixels[base + 2]!]!;
    } else {
      const v = table[pixels[base]!]!;
      d[p] = v;
      d[plane + p] = v;
      d[2 * plane + p] = v;
    }
  }
  return out;
}

/** Float CHW (1 or 3 planes) → interleaved RGB bytes, clamped to [0, 1] and rounded to the nearest step. */
export function floatImageToU8(im: FloatImage): Uint8Array {
  if (im.channels !== 3 && im.channels !== 1) throw new Error(`floatImageToU8: need 1 or 3 channels, got ${im.channels}`);
  const plane = im.width * im.height;
  const out = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = im.data[(im.channels === 3 ? c : 0) * plane + p]!;
      // Round, not truncate: (u8/255)*255 can land a hair below the integer.
      out[p * 3 + c] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
    }
  }
  return out;
}

/**
 * The formats an image input may have: the raster formats Darknet reads (stb_image, or OpenCV in its
 * OpenCV build) that sharp decodes. Vector and document formats (SVG, PDF) are refused: a few bytes of
 * SVG can ask for gigabytes of pixels.
 */
export const IMAGE_INPUT_FORMATS: readonly string[] = ['jpeg', 'png', 'gif', 'webp', 'tiff'];

export { DEFAULT_MAX_PIXELS };

export interface DecodeOptions {
  /** Pixel limit (width × height); default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

/**
 * An image file that exists but cannot be used: unreadable, empty, not an image, a format tsgrad does
 * not read, damaged, or over the pixel limit. Training and evaluation skip such images (with a note);
 * `data check` reports them.
 */
export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

function maxPixelsOf(opts: DecodeOptions): number {
  const m = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isSafeInteger(m) && m > 0)) throw new Error(`image decoding: maxPixels must be a positive integer, got ${m}`);
  return m;
}

/** Width and height from the header (nothing decoded), checked against the format list and the pixel limit. */
export async function checkImageHeader(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): Promise<{ width: number; height: number; format: string }> {
  const maxPixels = maxPixelsOf(opts);
  if (bytes.length === 0) throw new ImageDecodeError(`cannot decode image ${name}: file is empty`);
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageDecodeError(`cannot decode image ${name}: ${errorText(e)}`);
  }
  const format = String(meta.format ?? 'unknown');
  if (!IMAGE_INPUT_FORMATS.includes(format)) {
    throw new ImageDecodeError(`cannot decode image ${name}: ${format} is not an image format tsgrad reads (${IMAGE_INPUT_FORMATS.join(', ')})`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(`cannot decode image ${name}: empty image ${width}x${height}`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      `image ${name} is ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels} (a decompression bomb, or a very large image: raise the limit with --max-pixels)`,
    );
  }
  return { width, height, format };
}

/** Decodes JPEG/PNG/GIF/WebP/TIFF bytes; `name` is used in messages (usually the file name). */
export async function decodeImageBuffer(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): Promise<FloatImage> {
  const maxPixels = maxPixelsOf(opts);
  await checkImageHeader(bytes, name, { maxPixels });
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    // No auto-rotation (stb_image ignores EXIF orientation too). failOn 'error' is stb_image's
    // tolerance: a JPEG with extraneous bytes before a marker (a libjpeg warning) loads, a truncated
    // or corrupt one is an error instead of a partly grey image.
    raw = await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageDecodeError(`cannot decode image ${name}: ${errorText(e)}`);
  }
  const { width, height, channels } = raw.info;
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(`cannot decode image ${name}: empty image ${width}x${height}`);
  const pixels = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  return u8ToFloatImage(pixels, width, height, channels);
}

/** The bytes of an image file (bounded: INPUT_LIMITS.image). Errors name the file. */
export function readImageBytes(file: string): Buffer {
  try {
    return readInputBytes(file, 'image', INPUT_LIMITS.image);
  } catch (e) {
    if (e instanceof InputFileError && e.code === 'ENOENT') throw new ImageDecodeError(`image file not found: ${file}`);
    throw new ImageDecodeError(e instanceof InputFileError ? `cannot read image ${file}: ${e.reason}` : errorText(e));
  }
}

/** Reads and decodes an image file into float CHW RGB (u8/255). Errors (ImageDecodeError) name the file. */
export async function loadImage(file: string, opts: DecodeOptions = {}): Promise<FloatImage> {
  return decodeImageBuffer(readImageBytes(file), file, opts);
}

/**
 * Checks that an image file decodes (header, format, pixel limit, then every pixel) without building
 * the float image. Returns its size; throws ImageDecodeError naming the file.
 */
export async function checkImageFile(file: string, opts: DecodeOptions = {}): Promise<{ width: number; height: number }> {
  const bytes = readImageBytes(file);
  const maxPixels = maxPixelsOf(opts);
  const { width, height } = await checkImageHeader(bytes, file, { maxPixels });
  try {
    await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels }).raw().toBuffer();
  } catch (e) {
    throw new ImageDecodeError(`cannot decode image ${file}: ${errorText(e)}`);
  }
  return { width, height };
}

export type ImageFormat = 'png' | 'jpeg';

/** The format implied by a file name (.png, .jpg, .jpeg), or an error naming the file. */
export function formatForFile(file: string): ImageFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  throw new Error(`cannot save image ${file}: unknown extension '${ext}' (use .png, .jpg or .jpeg)`);
}

/** Encodes a float CHW image (clamped to [0, 1]) as PNG or JPEG bytes. */
export async function encodeImage(im: FloatImage, format: ImageFormat, quality = 92): Promise<Buffer> {
  const rgb = floatImageToU8(im);
  const s = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: im.width, height: im.height, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
}

/** Saves a float CHW image as PNG or JPEG (chosen by the extension), atomically. */
export async function saveImage(im: FloatImage, file: string, quality = 92): Promise<void> {
  const bytes = await encodeImage(im, formatForFile(file), quality);
  await writeOutput(file, bytes);
}

// ---------------------------------------------------------------------------------------------
// Geometry

function checkTarget(what: string, w: number, h: number): void {
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) {
    throw new Error(`${what}: target size must be positive integers, got ${w}x${h}`);
  }
}

/**
 * Darknet's `resize_image` (bilinear, two passes, float32 arithmetic; see the file comment).
 * A target width of 1 copies the last input column (Darknet's `c == w−1` branch); a target height
 * of 1 is undefined behaviour in C (0·∞) and takes the first input row here.
 */
export function resizeImage(im: FloatImage, w: number, h: number): FloatImage {
  checkTarget('resizeImage', w, h);
  const iw = im.width;
  const ih = im.height;
  const ch = im.channels;
  const src = im.data;
  const part = new Float32Array(w * ih * ch);
  const out = makeImage(w, h, ch);
  const dst = out.data;
  const wScale = f((iw - 1) / (w - 1));
  const hScale = f((ih - 1) / (h - 1));
  // Column positions are the same on every row: precompute index and weight.
  const colIx = new Int32Array(w);
  const colDx = new Float32Array(w);
  const colOne = new Float32Array(w);
  for (let c = 0; c < w - 1; c++) {
    const sx = f(c * wScale);
    const ix = Math.trunc(sx);
    const dx = f(sx - ix);
    colIx[c] = ix;
    colDx[c] = dx;
    colOne[c] = f(1 - dx);
  }
  for (let k = 0; k < ch; k++) {
    for (let r = 0; r < ih; r++) {
      const row = k * iw * ih + r * iw;
      const prow = k * w * ih + r * w;
      for (let c = 0; c < w; c++) {
        if (c === w - 1 || iw === 1) {
          part[prow + c] = src[row + iw - 1]!;
        } else {
          const ix = colIx[c]!;
          part[prow + c] = f(f(colOne[c]! * src[row + ix]!) + f(colDx[c]! * src[row + ix + 1]!));
        }
      }
    }
  }
  for (let k = 0; k < ch; k++) {
    for (let r = 0; r < h; r++) {
      // h == 1 would give 0·∞ = NaN in C (undefined behaviour); take the first row.
      const sy = h === 1 ? 0 : f(r * hScale);
      const iy = Math.trunc(sy);
      const dy = f(sy - iy);
      const oneMinus = f(1 - dy);
      const orow = k * w * h + r * w;
      const p0 = k * w * ih + iy * w;
      const last = r === h - 1 || ih === 1;
      if (last) {
        // Darknet skips the second term on the last row (and when the input has one row).
        for (let c = 0; c < w; c++) dst[orow + c] = f(oneMinus * part[p0 + c]!);
      } else {
        const p1 = p0 + w;
        for (let c = 0; c < w; c++) dst[orow + c] = f(f(oneMinus * part[p0 + c]!) + f(dy * part[p1 + c]!));
      }
    }
  }
  return out;
}

/** Geometry of a letterboxed image: where it lies in the network input, and how boxes map. */
export interface LetterboxInfo extends Letterbox {
  /** Original image size. */
  imageW: number;
  imageH: number;
  /** Network input size. */
  netW: number;
  netH: number;
}

/** Darknet's letterbox rule (box.ts `letterboxSize`) with the sizes kept alongside. */
export function letterboxInfo(imageW: number, imageH: number, netW: number, netH: number): LetterboxInfo {
  return { ...letterboxSize(imageW, imageH, netW, netH), imageW, imageH, netW, netH };
}

/**
 * Darknet's `letterbox_image`: `resize_image` to (newW, newH), pasted at the integer offsets
 * ((W−newW)/2, (H−newH)/2) into a canvas filled with 0.5.
 */
export function letterboxImage(im: FloatImage, netW: number, netH: number): { image: FloatImage; info: LetterboxInfo } {
  checkTarget('letterboxImage', netW, netH);
  const info = letterboxInfo(im.width, im.height, netW, netH);
  const resized = resizeImage(im, info.newW, info.newH);
  const canvas = makeImage(netW, netH, im.channels, 0.5);
  embedImage(resized, canvas, info.dx, info.dy);
  return { image: canvas, info };
}

/** A box relative to the original image → relative to the letterboxed input (pixel-exact offsets). */
export function boxToLetterbox<B extends { x: number; y: number; w: number; h: number }>(b: B, info: LetterboxInfo): B {
  return {
    ...b,
    x: (b.x * info.newW + info.dx) / info.netW,
    y: (b.y * info.newH + info.dy) / info.netH,
    w: (b.w * info.newW) / info.netW,
    h: (b.h * info.newH) / info.netH,
  };
}

/** A box relative to the letterboxed input → relative to the original image (inverse of boxToLetterbox). */
export function boxFromLetterbox<B extends { x: number; y: number; w: number; h: number }>(b: B, info: LetterboxInfo): B {
  return {
    ...b,
    x: (b.x * info.netW - info.dx) / info.newW,
    y: (b.y * info.netH - info.dy) / info.newH,
    w: (b.w * info.netW) / info.newW,
    h: (b.h * info.netH) / info.newH,
  };
}

/** Copies `src` into `dst` with its top-left corner at (dx, dy); parts outside `dst` are dropped. */
export function embedImage(src: FloatImage, dst: FloatImage, dx: number, dy: number): void {
  if (src.channels !== dst.channels) throw new Error(`embedImage: ${src.channels} vs ${dst.channels} channels`);
  const x0 = Math.max(0, -dx);
  const x1 = Math.min(src.width, dst.width - dx);
  if (x1 <= x0) return;
  for (let k = 0; k < src.channels; k++) {
    for (let y = 0; y < src.height; y++) {
      const ty = y + dy;
      if (ty < 0 || ty >= dst.height) continue;
      const s = k * src.width * src.height + y * src.width;
      const t = k * dst.width * dst.height + ty * dst.width + dx;
      dst.data.set(src.data.subarray(s + x0, s + x1), t + x0);
    }
  }
}

/**
 * Darknet's `crop_image`: a w×h window whose top-left is (dx, dy); coordinates outside the image are
 * clamped to the nearest edge pixel (edge replication, not a fill colour).
 */
export function cropImage(im: FloatImage, dx: number, dy: number, w: number, h: number): FloatImage {
  checkTarget('cropImage', w, h);
  const out = makeImage(w, h, im.channels);
  const cols = new Int32Array(w);
  for (let i = 0; i < w; i++) cols[i] = Math.min(im.width - 1, Math.max(0, i + dx));
  for (let k = 0; k < im.channels; k++) {
    for (let j = 0; j < h; j++) {
      const r = Math.min(im.height - 1, Math.max(0, j + dy));
      const s = k * im.width * im.height + r * im.width;
      const t = k * w * h + j * w;
      for (let i = 0; i < w; i++) out.data[t + i] = im.data[s + cols[i]!]!;
    }
  }
  return out;
}

/**
 * Darknet's `place_image`: draws `im` scaled to w×h into `canvas` at (dx, dy). Canvas pixel (x, y) of
 * the placed area samples the source at ((x/w)·iw, (y/h)·ih) bilinearly, with zeros outside the source
 * (so an enlarged image darkens slightly on its right and bottom edge, as in Darknet). Canvas pixels
 * outside the canvas are skipped.
 */
export function placeImage(im: FloatImage, w: number, h: number, dx: number, dy: number, canvas: FloatImage): void {
  if (im.channels !== canvas.channels) throw new Error(`placeImage: ${im.channels} vs ${canvas.channels} channels`);
  if (w <= 0 || h <= 0) return;
  const iw = im.width;
  const ih = im.height;
  const cw = canvas.width;
  const chh = canvas.height;
  const xStart = Math.max(0, -dx);
  const xEnd = Math.min(w, cw - dx);
  const yStart = Math.max(0, -dy);
  const yEnd = Math.min(h, chh - dy);
  if (xEnd <= xStart || yEnd <= yStart) return;
  const n = xEnd - xStart;
  const ix0 = new Int32Array(n);
  const fx = new Float32Array(n);
  for (let x = xStart; x < xEnd; x++) {
    const rx = f(f(x / w) * iw);
    const ix = Math.floor(rx);
    ix0[x - xStart] = ix;
    fx[x - xStart] = f(rx - ix);
  }
  const src = im.data;
  for (let k = 0; k < im.channels; k++) {
    const plane = k * iw * ih;
    for (let y = yStart; y < yEnd; y++) {
      const ry = f(f(y / h) * ih);
      const iy = Math.floor(ry);
      const dyf = f(ry - iy);
      const r0ok = iy >= 0 && iy < ih;
      const r1ok = iy + 1 >= 0 && iy + 1 < ih;
      const r0 = plane + iy * iw;
      const r1 = r0 + iw;
      const t = k * cw * chh + (y + dy) * cw + dx;
      for (let x = xStart; x < xEnd; x++) {
        const ix = ix0[x - xStart]!;
        const dxf = fx[x - xStart]!;
        const c0ok = ix >= 0 && ix < iw;
        const c1ok = ix + 1 >= 0 && ix + 1 < iw;
        const p00 = r0ok && c0ok ? src[r0 + ix]! : 0;
        const p10 = r1ok && c0ok ? src[r1 + ix]! : 0;
        const p01 = r0ok && c1ok ? src[r0 + ix + 1]! : 0;
        const p11 = r1ok && c1ok ? src[r1 + ix + 1]! : 0;
        const a = 1 - dyf;
        const b = 1 - dxf;
        canvas.data[t + x] = a * b * p00 + dyf * b * p10 + a * dxf * p01 + dyf * dxf * p11;
      }
    }
  }
}

/** Mirrors the image left↔right in place (Darknet's `flip_image`). */
export function flipImage(im: FloatImage): void {
  const w = im.width;
  const d = im.data;
  for (let k = 0; k < im.channels; k++) {
    for (let y = 0; y < im.height; y++) {
      const row = k * w * im.height + y * w;
      for (let x = 0, xr = w - 1; x < xr; x++, xr--) {
        const t = d[row + x]!;
        d[row + x] = d[row + xr]!;
        d[row + xr] = t;
      }
    }
  }
}
