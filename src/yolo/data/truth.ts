// Ground truth in the layouts Darknet's loss layers read (SEMANTICS.md 8.2).
//
// * Region (YOLOv2, fill_truth_detection): `maxBoxes` slots of 5 floats `x, y, w, h, class` (centre and
//   size relative to the network input, class as a float). Unused slots stay 0; the layer stops at the
//   first slot with x == 0.
// * Detection grid (YOLOv1, fill_truth_region): side×side cells (row-major), each
//   `[is_obj, one-hot classes, x, y, w, h]` with x, y the centre's offset inside its cell (0..1) and
//   w, h relative to the image. The first box that lands in a cell owns it; later ones are ignored.

import type { LabelBox } from './labels.js';

export const REGION_TRUTH_STRIDE = 5;

/**
 * Writes up to `maxBoxes` boxes in the region layout into `out` at `offset` (the slots are zeroed
 * first). Returns how many were written. A box with x == 0 would end the list early in Darknet, so it
 * is nudged to the smallest positive float32.
 */
export function fillRegionTruth(boxes: readonly LabelBox[], maxBoxes: number, out: Float32Array, offset = 0): number {
  const end = offset + maxBoxes * REGION_TRUTH_STRIDE;
  if (end > out.length) throw new Error(`fillRegionTruth: ${maxBoxes} boxes at offset ${offset} exceed the buffer (${out.length})`);
  out.fill(0, offset, end);
  const n = Math.min(boxes.length, maxBoxes);
  for (let i = 0; i < n; i++) {
    const b = boxes[i]!;
    const o = offset + i * REGION_TRUTH_STRIDE;
    out[o] = b.x === 0 ? 1.401298464324817e-45 : b.x;
    out[o + 1] = b.y;
    out[o + 2] = b.w;
    out[o + 3] = b.h;
    out[o + 4] = b.cls;
  }
  return n;
}

/** Reads a region truth back into boxes (stops at the first x == 0, as the layer does). */
export function readRegionTruth(truth: Float32Array, maxBoxes: number, offset = 0): LabelBox[] {
  const out: LabelBox[] = [];
  for (let i = 0; i < maxBoxes; i++) {
    const o = offset + i * REGION_TRUTH_STRIDE;
    const x = truth[o]!;
    if (x === 0) break;
    out.push({ x, y: truth[o + 1]!, w: truth[o + 2]!, h: truth[o + 3]!, cls: truth[o + 4]! });
  }
  return out;
}

/** Floats per image of the YOLOv1 grid truth. */
export function detectionTruthSize(side: number, classes: number): number {
  return side * side * (5 + classes);
}

/** YOLOv1 grid truth (layout in the file comment) into `out` at `offset` (zeroed first). */
export function fillDetectionTruth(boxes: readonly LabelBox[], side: number, classes: number, out: Float32Array, offset = 0): void {
  const size = detectionTruthSize(side, classes);
  if (offset + size > out.length) throw new Error(`fillDetectionTruth: ${size} floats at offset ${offset} exceed the buffer (${out.length})`);
  out.fill(0, offset, offset + size);
  for (const b of boxes) {
    if (b.cls < 0 || b.cls >= classes) throw new Error(`fillDetectionTruth: class ${b.cls} outside 0..${classes - 1}`);
    const col = Math.min(side - 1, Math.trunc(b.x * side));
    const row = Math.min(side - 1, Math.trunc(b.y * side));
    const o = offset + (row * side + col) * (5 + classes);
    if (out[o] !== 0) continue;
    out[o] = 1;
    out[o + 1 + b.cls] = 1;
    out[o + 1 + classes] = b.x * side - col;
    out[o + 2 + classes] = b.y * side - row;
    out[o + 3 + classes] = b.w;
    out[o + 4 + classes] = b.h;
  }
}
