// Darknet's colour augmentation (image.c: rgb_to_hsv, hsv_to_rgb, distort_image, random_distort_image).
//
// In HSV space with every channel in [0, 1] (hue as a fraction of the circle):
//   S ← S·sat,  V ← V·val,  H ← H + hue wrapped once into [0, 1],
// then back to RGB and every value clamped to [0, 1]. S and V are not clamped before the conversion
// back, so sat > 1 can push S past 1 (a negative RGB channel, then clamped to 0), exactly as Darknet.
// Random parameters: hue ~ U(−hue, hue); sat and val each ~ "rand_scale": s ~ U(1, S), then 1/s with
// probability ½.

import type { Rng } from '../../tensor/random.js';
import type { FloatImage } from './image.js';

/** The three factors of one colour distortion. */
export interface Distortion {
  hue: number;
  saturation: number;
  exposure: number;
}

/** Darknet's `rand_scale`: U(1, s), inverted with probability ½. */
export function randomScale(rng: Rng, s: number): number {
  const lo = Math.min(1, s);
  const hi = Math.max(1, s);
  const scale = rng.range(lo, hi);
  return rng.int(2) === 1 ? scale : 1 / scale;
}

/** Draws the parameters of Darknet's `random_distort_image` (always 5 draws from `rng`). */
export function randomDistortion(rng: Rng, hue: number, saturation: number, exposure: number): Distortion {
  const dhue = rng.range(-hue, hue);
  const dsat = randomScale(rng, saturation);
  const dexp = randomScale(rng, exposure);
  return { hue: dhue, saturation: dsat, exposure: dexp };
}

/** Whether a distortion leaves every pixel unchanged (so the HSV round trip can be skipped). */
export function isIdentityDistortion(d: Distortion): boolean {
  return d.hue === 0 && d.saturation === 1 && d.exposure === 1;
}

/** Darknet's `distort_image` on a 3-channel float image, in place. */
export function distortImage(im: FloatImage, d: Distortion): void {
  if (im.channels !== 3) throw new Error(`distortImage: need a 3-channel image, got ${im.channels}`);
  const n = im.width * im.height;
  const px = im.data;
  for (let i = 0; i < n; i++) {
    const r = px[i]!;
    const g = px[n + i]!;
    const b = px[2 * n + i]!;
    // RGB → HSV
    const max = r > g ? (r > b ? r : b) : g > b ? g : b;
    const min = r < g ? (r < b ? r : b) : g < b ? g : b;
    const delta = max - min;
    let h = 0;
    let s = 0;
    const v0 = max;
    if (max !== 0 && delta !== 0) {
      // (Darknet computes h = 0/0 = NaN for grey pixels; S = 0 then makes it irrelevant.)
      s = delta / max;
      if (r === max) h = (g - b) / delta;
      else if (g === max) h = 2 + (b - r) / delta;
      else h = 4 + (r - g) / delta;
      if (h < 0) h += 6;
      h /= 6;
    }
    // distort
    s *= d.saturation;
    const v = v0 * d.exposure;
    h += d.hue;
    if (h > 1) h -= 1;
    if (h < 0) h += 1;
    // HSV → RGB
    let ro: number;
    let go: number;
    let bo: number;
    if (s === 0) {
      ro = go = bo = v;
    } else {
      const h6 = 6 * h;
      const index = Math.floor(h6);
      const fr = h6 - index;
      const p = v * (1 - s);
      const q = v * (1 - s * fr);
      const t = v * (1 - s * (1 - fr));
      switch (index) {
        case 0:
          ro = v; go = t; bo = p;
          break;
        case 1:
          ro = q; go = v; bo = p;
          break;
        case 2:
          ro = p; go = v; bo = t;
          break;
        case 3:
          ro = p; go = q; bo = v;
          break;
        case 4:
          ro = t; go = p; bo = v;
          break;
        default:
          ro = v; go = p; bo = q;
      }
    }
    px[i] = ro < 0 ? 0 : ro > 1 ? 1 : ro;
    px[n + i] = go < 0 ? 0 : go > 1 ? 1 : go;
    px[2 * n + i] = bo < 0 ? 0 : bo > 1 ? 1 : bo;
  }
}
