// Darknet's training-time augmentation for detection (data.c load_data_detection / load_data_region,
// image.c place_image / crop_image / random_distort_image / flip_image), seeded.
//
// Two random geometric modes:
// * 'detection' (YOLOv2, detector.c): a random aspect ratio
//     ar = (W0 + U(−j·W0, j·W0)) / (H0 + U(−j·H0, j·H0))
//   the image is scaled so that its longer side (by ar) fills the network input (nw = W, nh = W/ar, or
//   nh = H, nw = H·ar), placed at a random offset (dx ~ U(0, W−nw), dy ~ U(0, H−nh)) on a canvas of
//   0.5, then colour-distorted and maybe mirrored.
// * 'region' (YOLOv1, yolo.c): each side of the image moves by a random whole number of pixels in
//   (−j·W0, j·W0) (positive crops, negative pads by repeating the edge), and the crop is stretched to
//   the network size, mirrored maybe, and colour-distorted.
// Two deterministic modes for evaluation: 'letterbox' (YOLOv2) and 'resize' (YOLOv1).
//
// Boxes follow Darknet's correct_boxes: with the image's geometric change written as
//   new = old·s − d   (relative coordinates, per axis)
// each box's edges are moved, mirrored (left' = 1 − right) when the image is, clipped to [0, 1]; boxes
// narrower or lower than `minBoxSize` afterwards are dropped. Darknet truncates the placed size and
// offset to whole pixels when drawing but not when moving the boxes; here both use the whole-pixel
// values, so labels match the pixels exactly.

import type { Rng } from '../../tensor/random.js';
import { distortImage, isIdentityDistortion, randomDistortion, type Distortion } from './color.js';
import { cropImage, flipImage, letterboxImage, makeImage, placeImage, resizeImage, type FloatImage } from './image.js';
import type { LabelBox } from './labels.js';

export type AugmentMode = 'detection' | 'region' | 'letterbox' | 'resize';

export interface AugmentOptions {
  /** Network input size. */
  width: number;
  height: number;
  mode: AugmentMode;
  /** Geometric jitter (Darknet `jitter`). Default 0.2. */
  jitter?: number;
  /** Colour distortion (Darknet `hue`, `saturation`, `exposure`). Defaults 0.1, 1.5, 1.5. */
  hue?: number;
  saturation?: number;
  exposure?: number;
  /** Random horizontal mirroring. Default true. */
  flip?: boolean;
  /** Boxes smaller than this (relative) after the transform are dropped. Default .001 ('detection'), .005 otherwise (as Darknet). */
  minBoxSize?: number;
  /** Shuffle the boxes (Darknet's randomize_boxes; matters when more than max boxes). Default true in the random modes. */
  shuffleBoxes?: boolean;
}

/** The geometric change of one sample: new = old·s − d per axis (relative units), then mirroring. */
export interface BoxTransform {
  sx: number;
  sy: number;
  dx: number;
  dy: number;
  flip: boolean;
}

export const IDENTITY_TRANSFORM: BoxTransform = { sx: 1, sy: 1, dx: 0, dy: 0, flip: false };

export interface AugmentResult {
  image: FloatImage;
  boxes: LabelBox[];
  transform: BoxTransform;
  /** The colour distortion applied (null in the deterministic modes). */
  distortion: Distortion | null;
}

/** Darknet's correct_boxes plus the small-box filter: returns the boxes kept, in order. */
export function correctBoxes(boxes: readonly LabelBox[], t: BoxTransform, minBoxSize: number): LabelBox[] {
  const clip = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
  const out: LabelBox[] = [];
  for (const b of boxes) {
    let left = (b.x - b.w / 2) * t.sx - t.dx;
    let right = (b.x + b.w / 2) * t.sx - t.dx;
    const top = clip((b.y - b.h / 2) * t.sy - t.dy);
    const bottom = clip((b.y + b.h / 2) * t.sy - t.dy);
    if (t.flip) {
      const l = left;
      left = 1 - right;
      right = 1 - l;
    }
    left = clip(left);
    right = clip(right);
    const w = right - left;
    const h = bottom - top;
    if (w < minBoxSize || h < minBoxSize) continue;
    out.push({ cls: b.cls, x: (left + right) / 2, y: (top + bottom) / 2, w, h });
  }
  return out;
}

function checkOptions(o: AugmentOptions): void {
  if (!(Number.isInteger(o.width) && Number.isInteger(o.height) && o.width > 0 && o.height > 0)) {
    throw new Error(`augment: network size must be positive integers, got ${o.width}x${o.height}`);
  }
  const j = o.jitter ?? 0.2;
  if (!(j >= 0 && j < 0.5)) throw new Error(`augment: jitter must be in [0, 0.5), got ${j}`);
}

/** Darknet's 'detection' placement: random aspect, scaled into the net size, random offset (see file comment). */
export function randomPlacement(imageW: number, imageH: number, netW: number, netH: number, jitter: number, rng: Rng): { nw: number; nh: number; dx: number; dy: number } {
  const dw = jitter * imageW;
  const dh = jitter * imageH;
  const ar = (imageW + rng.range(-dw, dw)) / (imageH + rng.range(-dh, dh));
  let nw: number;
  let nh: number;
  if (ar < 1) {
    nh = netH;
    nw = nh * ar;
  } else {
    nw = netW;
    nh = nw / ar;
  }
  const dx = rng.range(0, netW - nw);
  const dy = rng.range(0, netH - nh);
  return { nw: Math.max(1, Math.trunc(nw)), nh: Math.max(1, Math.trunc(nh)), dx: Math.trunc(dx), dy: Math.trunc(dy) };
}

/** Darknet's 'region' crop: whole-pixel moves of the four sides within ±jitter·size. */
export function randomCrop(imageW: number, imageH: number, jitter: number, rng: Rng): { left: number; top: number; width: number; height: number } {
  const dw = Math.trunc(imageW * jitter);
  const dh = Math.trunc(imageH * jitter);
  const pleft = Math.trunc(rng.range(-dw, dw));
  const pright = Math.trunc(rng.range(-dw, dw));
  const ptop = Math.trunc(rng.range(-dh, dh));
  const pbot = Math.trunc(rng.range(-dh, dh));
  return { left: pleft, top: ptop, width: Math.max(1, imageW - pleft - pright), height: Math.max(1, imageH - ptop - pbot) };
}

/**
 * One training (or evaluation) sample: image and boxes in the network's input frame. `rng` is used
 * only in the random modes; the draws are, in order: geometry (4), colour (5), mirror (1), box order.
 */
export function augmentSample(im: FloatImage, boxes: readonly LabelBox[], opts: AugmentOptions, rng: Rng): AugmentResult {
  checkOptions(opts);
  if (im.channels !== 3) throw new Error(`augment: need a 3-channel image, got ${im.channels}`);
  const W = opts.width;
  const H = opts.height;
  const jitter = opts.jitter ?? 0.2;
  let image: FloatImage;
  let transform: BoxTransform;
  let distortion: Distortion | null = null;
  switch (opts.mode) {
    case 'letterbox': {
      const lb = letterboxImage(im, W, H);
      image = lb.image;
      transform = { sx: lb.info.newW / W, sy: lb.info.newH / H, dx: -lb.info.dx / W, dy: -lb.info.dy / H, flip: false };
      break;
    }
    case 'resize': {
      image = resizeImage(im, W, H);
      transform = IDENTITY_TRANSFORM;
      break;
    }
    case 'detection': {
      const p = randomPlacement(im.width, im.height, W, H, jitter, rng);
      image = makeImage(W, H, 3, 0.5);
      placeImage(im, p.nw, p.nh, p.dx, p.dy, image);
      distortion = randomDistortion(rng, opts.hue ?? 0.1, opts.saturation ?? 1.5, opts.exposure ?? 1.5);
      const flip = (opts.flip ?? true) && rng.int(2) === 1;
      if (!isIdentityDistortion(distortion)) distortImage(image, distortion);
      if (flip) flipImage(image);
      transform = { sx: p.nw / W, sy: p.nh / H, dx: -p.dx / W, dy: -p.dy / H, flip };
      break;
    }
    case 'region': {
      const c = randomCrop(im.width, im.height, jitter, rng);
      distortion = randomDistortion(rng, opts.hue ?? 0.1, opts.saturation ?? 1.5, opts.exposure ?? 1.5);
      const flip = (opts.flip ?? true) && rng.int(2) === 1;
      image = resizeImage(cropImage(im, c.left, c.top, c.width, c.height), W, H);
      if (flip) flipImage(image);
      if (!isIdentityDistortion(distortion)) distortImage(image, distortion);
      transform = { sx: im.width / c.width, sy: im.height / c.height, dx: c.left / c.width, dy: c.top / c.height, flip };
      break;
    }
    default:
      throw new Error(`augment: unknown mode '${String(opts.mode)}' (detection, region, letterbox, resize)`);
  }
  const random = opts.mode === 'detection' || opts.mode === 'region';
  const ordered = random && (opts.shuffleBoxes ?? true) ? rng.shuffle([...boxes]) : boxes;
  const minSize = opts.minBoxSize ?? (opts.mode === 'detection' ? 0.001 : 0.005);
  return { image, boxes: correctBoxes(ordered, transform, minSize), transform, distortion };
}
