// Shared fixtures of the yolo-data-*.test.ts files (not a test file itself).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeImage, type FloatImage } from '../src/yolo/data/image.js';
import type { LabelBox } from '../src/yolo/data/labels.js';

export { DARKNET_DATA } from './helpers/refs.js';

/** A fresh temporary folder under os.tmpdir(); `cleanup()` removes it. */
export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tsgrad-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A solid-colour rectangle in pixel corners [x0, x1) × [y0, y1). */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  rgb: [number, number, number];
  cls: number;
}

/** A black image with the given rectangles painted on it, and their exact labels. */
export function rectImage(width: number, height: number, rects: readonly Rect[]): { image: FloatImage; boxes: LabelBox[] } {
  const im = makeImage(width, height, 3, 0);
  const plane = width * height;
  for (const r of rects) {
    for (let y = r.y0; y < r.y1; y++) {
      for (let x = r.x0; x < r.x1; x++) {
        for (let c = 0; c < 3; c++) im.data[c * plane + y * width + x] = r.rgb[c]!;
      }
    }
  }
  const boxes = rects.map((r) => ({
    cls: r.cls,
    x: (r.x0 + r.x1) / 2 / width,
    y: (r.y0 + r.y1) / 2 / height,
    w: (r.x1 - r.x0) / width,
    h: (r.y1 - r.y0) / height,
  }));
  return { image: im, boxes };
}

/**
 * Pixel bounds [x0, x1) × [y0, y1) of the pixels whose dominant channel is `channel` (value > 0.5,
 * the other two < 0.3), or null if there are none.
 */
export function colourBounds(im: FloatImage, channel: number): { x0: number; y0: number; x1: number; y1: number; count: number } | null {
  const plane = im.width * im.height;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let count = 0;
  for (let y = 0; y < im.height; y++) {
    for (let x = 0; x < im.width; x++) {
      const p = y * im.width + x;
      let ok = true;
      for (let c = 0; c < 3; c++) {
        const v = im.data[c * plane + p]!;
        if (c === channel ? !(v > 0.5) : !(v < 0.3)) ok = false;
      }
      if (!ok) continue;
      count++;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x + 1);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y + 1);
    }
  }
  return count === 0 ? null : { x0, y0, x1, y1, count };
}
