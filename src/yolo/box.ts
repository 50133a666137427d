// All box math of the YOLO code in one place: Darknet's float32 overlap / intersection / union / IoU,
// RMSE, conversions between centre, corner and pixel forms, the letterbox size rule and
// correct_region_boxes (SEMANTICS.md 7 and 9).
//
// Darknet keeps boxes as C `float`. Where the reference files are bit-exact, every float operation
// is reproduced here with Math.fround after each step; the double-precision variants (suffix F64)
// are for evaluation code, where no Darknet bits need matching.

const f = Math.fround;

/** A box in centre form: (x, y) is the centre, (w, h) the size. Units are the caller's. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A box in corner form: (x1, y1) the left/top edge, (x2, y2) the right/bottom edge. */
export interface Corners {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export function box(x: number, y: number, w: number, h: number): Box {
  return { x, y, w, h };
}

/** Rounds every field to float32 (the values Darknet would hold in its `box` struct). */
export function toFloat32Box(b: Box): Box {
  return { x: f(b.x), y: f(b.y), w: f(b.w), h: f(b.h) };
}

// ---------------------------------------------------------------------------------------------
// Darknet float32 arithmetic (box.c). `w/2` in C is float / int: exact halving, rounded to float.

/**
 * Length of the overlap of the 1-D segments centred at x1 (width w1) and x2 (width w2), in float32.
 * Negative when the segments are apart (Darknet's `overlap`).
 */
export function overlap(x1: number, w1: number, x2: number, w2: number): number {
  const l1 = f(x1 - f(w1 / 2));
  const l2 = f(x2 - f(w2 / 2));
  const left = l1 > l2 ? l1 : l2;
  const r1 = f(x1 + f(w1 / 2));
  const r2 = f(x2 + f(w2 / 2));
  const right = r1 < r2 ? r1 : r2;
  return f(right - left);
}

/** Intersection area in float32; 0 if the boxes are apart along either axis (`box_intersection`). */
export function boxIntersection(a: Box, b: Box): number {
  const w = overlap(a.x, a.w, b.x, b.w);
  const h = overlap(a.y, a.h, b.y, b.h);
  if (w < 0 || h < 0) return 0;
  return f(w * h);
}

/** Union area in float32: `a.w*a.h + b.w*b.h - inter`, each step rounded (`box_union`). */
export function boxUnion(a: Box, b: Box): number {
  const i = boxIntersection(a, b);
  return f(f(f(a.w * a.h) + f(b.w * b.h)) - i);
}

/**
 * Darknet's float32 IoU (`box_iou`): intersection / union, no guard against a zero union and no
 * clamping: because x ± w/2 is rounded, a box against itself can give one ulp above 1.
 */
export function boxIou(a: Box, b: Box): number {
  return f(boxIntersection(a, b) / boxUnion(a, b));
}

/**
 * Darknet's `box_rmse` (YOLOv1 loss fallback): float differences, squares and sum in double, sqrt in
 * double, result rounded to float.
 */
export function boxRmse(a: Box, b: Box): number {
  const dx = f(a.x - b.x);
  const dy = f(a.y - b.y);
  const dw = f(a.w - b.w);
  const dh = f(a.h - b.h);
  return f(Math.sqrt(dx * dx + dy * dy + dw * dw + dh * dh));
}

// ---------------------------------------------------------------------------------------------
// Double-precision geometry (evaluation, anchors).

/** IoU in double precision; 0 when the union is not positive (degenerate boxes). */
export function boxIouF64(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.w / 2, b.x + b.w / 2) - Math.max(a.x - a.w / 2, b.x - b.w / 2);
  const ih = Math.min(a.y + a.h / 2, b.y + b.h / 2) - Math.max(a.y - a.h / 2, b.y - b.h / 2);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/** IoU of two corner boxes in double precision; 0 when the union is not positive. */
export function cornersIou(a: Corners, b: Corners): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * IoU of two sizes aligned at a common corner (or centre): min(w)·min(h) / (wa·ha + wb·hb − inter).
 * This is the anchor-matching IoU (bias_match, k-means anchors). 0 when the union is not positive.
 */
export function whIou(wa: number, ha: number, wb: number, hb: number): number {
  const inter = Math.min(wa, wb) * Math.min(ha, hb);
  const union = wa * ha + wb * hb - inter;
  return union > 0 ? inter / union : 0;
}

// ---------------------------------------------------------------------------------------------
// Conversions.

export function toCorners(b: Box): Corners {
  return { x1: b.x - b.w / 2, y1: b.y - b.h / 2, x2: b.x + b.w / 2, y2: b.y + b.h / 2 };
}

export function fromCorners(c: Corners): Box {
  return { x: (c.x1 + c.x2) / 2, y: (c.y1 + c.y2) / 2, w: c.x2 - c.x1, h: c.y2 - c.y1 };
}

/** Scales a box relative to the image (0..1) to pixels of a `imageW × imageH` image. */
export function relativeToPixels(b: Box, imageW: number, imageH: number): Box {
  return { x: b.x * imageW, y: b.y * imageH, w: b.w * imageW, h: b.h * imageH };
}

/** Scales a pixel box of a `imageW × imageH` image to relative (0..1) units. */
export function pixelsToRelative(b: Box, imageW: number, imageH: number): Box {
  if (!(imageW > 0 && imageH > 0)) throw new Error(`pixelsToRelative: image size must be positive, got ${imageW}x${imageH}`);
  return { x: b.x / imageW, y: b.y / imageH, w: b.w / imageW, h: b.h / imageH };
}

/**
 * Integer pixel corners of a relative box, as Darknet's `draw_detections` computes them: edges in
 * double, truncated toward zero, then clipped to [0, imageW−1] × [0, imageH−1].
 */
export function toPixelCorners(b: Box, imageW: number, imageH: number): Corners {
  let x1 = Math.trunc((b.x - b.w / 2) * imageW);
  let x2 = Math.trunc((b.x + b.w / 2) * imageW);
  let y1 = Math.trunc((b.y - b.h / 2) * imageH);
  let y2 = Math.trunc((b.y + b.h / 2) * imageH);
  if (x1 < 0) x1 = 0;
  if (x2 > imageW - 1) x2 = imageW - 1;
  if (y1 < 0) y1 = 0;
  if (y2 > imageH - 1) y2 = imageH - 1;
  return { x1, y1, x2, y2 };
}

/**
 * 1-based VOC corners of an absolute (pixel) box, as Darknet's `validate_detector` writes its
 * comp4 result files: `x ∓ w/2. + 1` in double, stored to float, clipped to [1, imageW] × [1, imageH].
 */
export function toVocCorners(b: Box, imageW: number, imageH: number): Corners {
  let x1 = f(b.x - b.w / 2 + 1);
  let x2 = f(b.x + b.w / 2 + 1);
  let y1 = f(b.y - b.h / 2 + 1);
  let y2 = f(b.y + b.h / 2 + 1);
  if (x1 < 1) x1 = 1;
  if (y1 < 1) y1 = 1;
  if (x2 > imageW) x2 = imageW;
  if (y2 > imageH) y2 = imageH;
  return { x1, y1, x2, y2 };
}

// ---------------------------------------------------------------------------------------------
// Letterbox (SEMANTICS.md 9) and its undoing (correct_region_boxes, SEMANTICS.md 7).

/** Where an image lands inside the network input after `letterbox_image`. */
export interface Letterbox {
  /** Size of the resized image inside the canvas. */
  newW: number;
  newH: number;
  /** Top-left corner of the pasted image in the canvas (integer division of the margins). */
  dx: number;
  dy: number;
}

function checkSize(what: string, w: number, h: number): void {
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) {
    throw new Error(`${what}: sizes must be positive integers, got ${w}x${h}`);
  }
}

/**
 * Darknet's letterbox rule: if `(float)netW/imageW < (float)netH/imageH` the width fills the net
 * (`newH = imageH*netW/imageW`, integer division), else the height does. The other side is at least 1
 * pixel: for extreme aspect ratios (2000×4 into 416×416) Darknet's integer division gives 0, an empty
 * image and a division by zero when boxes are mapped back.
 */
export function letterboxSize(imageW: number, imageH: number, netW: number, netH: number): Letterbox {
  checkSize('letterboxSize(image)', imageW, imageH);
  checkSize('letterboxSize(net)', netW, netH);
  let newW: number;
  let newH: number;
  if (f(netW / imageW) < f(netH / imageH)) {
    newW = netW;
    newH = Math.max(1, Math.trunc((imageH * netW) / imageW));
  } else {
    newH = netH;
    newW = Math.max(1, Math.trunc((imageW * netH) / imageH));
  }
  return { newW, newH, dx: Math.trunc((netW - newW) / 2), dy: Math.trunc((netH - newH) / 2) };
}

/**
 * Darknet's `correct_region_boxes` for one box: maps a box relative to the network input back to
 * the original image (undoes the letterbox), in Darknet's mixed float/double arithmetic:
 *   x = (float)(((double)x − (netW−newW)/2./netW) / (double)((float)newW/netW))   (same for y)
 *   w = w * ((float)netW/newW)                                                    (float)
 * With `relative = false` the result is then scaled to pixels (float multiplies by imageW / imageH).
 * With image size = network size the relative result equals the input.
 */
export function correctRegionBox(b: Box, imageW: number, imageH: number, netW: number, netH: number, relative: boolean): Box {
  const lb = letterboxSize(imageW, imageH, netW, netH);
  return correctWithLetterbox(b, lb, imageW, imageH, netW, netH, relative);
}

/** `correct_region_boxes` over many boxes (one letterbox computation); returns new boxes. */
export function correctRegionBoxes(boxes: readonly Box[], imageW: number, imageH: number, netW: number, netH: number, relative: boolean): Box[] {
  const lb = letterboxSize(imageW, imageH, netW, netH);
  return boxes.map((b) => correctWithLetterbox(b, lb, imageW, imageH, netW, netH, relative));
}

function correctWithLetterbox(b: Box, lb: Letterbox, imageW: number, imageH: number, netW: number, netH: number, relative: boolean): Box {
  const offX = (netW - lb.newW) / 2 / netW;
  const offY = (netH - lb.newH) / 2 / netH;
  let x = f((b.x - offX) / f(lb.newW / netW));
  let y = f((b.y - offY) / f(lb.newH / netH));
  let w = f(b.w * f(netW / lb.newW));
  let h = f(b.h * f(netH / lb.newH));
  if (!relative) {
    x = f(x * imageW);
    w = f(w * imageW);
    y = f(y * imageH);
    h = f(h * imageH);
  }
  return { x, y, w, h };
}

/**
 * The inverse mapping (double precision): a box relative to the original image → relative to the
 * letterboxed network input. Used to place ground truth on a letterboxed input.
 */
export function letterboxRelativeBox(b: Box, imageW: number, imageH: number, netW: number, netH: number): Box {
  const lb = letterboxSize(imageW, imageH, netW, netH);
  const sx = lb.newW / netW;
  const sy = lb.newH / netH;
  return {
    x: b.x * sx + (netW - lb.newW) / 2 / netW,
    y: b.y * sy + (netH - lb.newH) / 2 / netH,
    w: b.w * sx,
    h: b.h * sy,
  };
}
