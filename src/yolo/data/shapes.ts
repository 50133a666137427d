// The object classes of the synthetic data sets: filled shapes and digit glyphs, drawn with
// @napi-rs/canvas. Each is drawn centred at the origin with "radius" 1 (the caller sets the
// transform: position, size, aspect, rotation). The catalogue order is fixed: `--classes K` takes the
// first K. Names are chosen so that none contains another (Darknet's classifier finds the class of an
// image by searching the names in its path).

import type { SKRSContext2D } from '@napi-rs/canvas';

export const SHAPE_NAMES: readonly string[] = [
  'circle', 'square', 'triangle', 'cross', 'star', 'ring', 'diamond', 'hexagon', 'crescent', 'arrow', 'heart',
  'digit0', 'digit1', 'digit2', 'digit3', 'digit4', 'digit5', 'digit6', 'digit7', 'digit8', 'digit9',
];

/** Largest rotation (radians) a class may get without looking like another (a square turned 45° is a diamond). */
export function maxRotation(name: string): number {
  if (name === 'square' || name === 'diamond') return 0.15;
  if (name.startsWith('digit')) return 0.2;
  return 0.3;
}

function polygon(ctx: SKRSContext2D, pts: readonly (readonly [number, number])[]): void {
  ctx.beginPath();
  ctx.moveTo(pts[0]![0], pts[0]![1]);
  for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i]![0], pts[i]![1]);
  ctx.closePath();
}

function regular(n: number, radius: number, start: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => {
    const a = start + (2 * Math.PI * i) / n;
    return [radius * Math.cos(a), radius * Math.sin(a)] as [number, number];
  });
}

/**
 * Fills (and optionally outlines) shape `name` in the current transform with the current fill/stroke
 * styles. Digit glyphs are drawn as text (DejaVu Sans Bold), 2 units high.
 */
export function drawShape(ctx: SKRSContext2D, name: string, outline: boolean): void {
  const fillAndStroke = (rule: 'nonzero' | 'evenodd' = 'nonzero'): void => {
    ctx.fill(rule);
    if (outline) ctx.stroke();
  };
  switch (name) {
    case 'circle':
      ctx.beginPath();
      ctx.arc(0, 0, 1, 0, 2 * Math.PI);
      fillAndStroke();
      return;
    case 'square':
      polygon(ctx, [[-0.85, -0.85], [0.85, -0.85], [0.85, 0.85], [-0.85, 0.85]]);
      fillAndStroke();
      return;
    case 'triangle':
      polygon(ctx, regular(3, 1.05, -Math.PI / 2).map(([x, y]) => [x, y + 0.2] as [number, number]));
      fillAndStroke();
      return;
    case 'cross': {
      const a = 0.3;
      polygon(ctx, [[-a, -1], [a, -1], [a, -a], [1, -a], [1, a], [a, a], [a, 1], [-a, 1], [-a, a], [-1, a], [-1, -a], [-a, -a]]);
      fillAndStroke();
      return;
    }
    case 'star': {
      const pts: [number, number][] = [];
      for (let i = 0; i < 10; i++) {
        const r = i % 2 === 0 ? 1 : 0.42;
        const a = -Math.PI / 2 + (Math.PI * i) / 5;
        pts.push([r * Math.cos(a), r * Math.sin(a) + 0.08]);
      }
      polygon(ctx, pts);
      fillAndStroke();
      return;
    }
    case 'ring':
      ctx.beginPath();
      ctx.arc(0, 0, 1, 0, 2 * Math.PI);
      ctx.moveTo(0.55, 0);
      ctx.arc(0, 0, 0.55, 0, 2 * Math.PI, true);
      fillAndStroke('evenodd');
      return;
    case 'diamond':
      polygon(ctx, [[0, -1], [0.62, 0], [0, 1], [-0.62, 0]]);
      fillAndStroke();
      return;
    case 'hexagon':
      polygon(ctx, regular(6, 1, 0));
      fillAndStroke();
      return;
    case 'crescent':
      // A disc with an offset disc cut out: drawn on the object's own layer, so destination-out is safe.
      ctx.beginPath();
      ctx.arc(0, 0, 1, 0, 2 * Math.PI);
      fillAndStroke();
      ctx.save();
      ctx.globalCompositeOperation = 'destination-out';
      ctx.beginPath();
      ctx.arc(0.5, -0.15, 0.85, 0, 2 * Math.PI);
      ctx.fill();
      ctx.restore();
      return;
    case 'arrow':
      polygon(ctx, [[-1, -0.24], [0.15, -0.24], [0.15, -0.62], [1, 0], [0.15, 0.62], [0.15, 0.24], [-1, 0.24]]);
      fillAndStroke();
      return;
    case 'heart':
      ctx.beginPath();
      ctx.moveTo(0, 0.95);
      ctx.bezierCurveTo(-1.35, 0.05, -1.05, -1.05, 0, -0.45);
      ctx.bezierCurveTo(1.05, -1.05, 1.35, 0.05, 0, 0.95);
      ctx.closePath();
      fillAndStroke();
      return;
    default: {
      const m = /^digit([0-9])$/.exec(name);
      if (m === null) throw new Error(`drawShape: unknown shape '${name}'`);
      // Text is laid out in font units: draw at 100 px and scale down to 2 units of height.
      ctx.save();
      ctx.scale(2 / 100, 2 / 100);
      ctx.font = 'bold 100px DejaVu Sans';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(m[1]!, 0, 4);
      if (outline) {
        ctx.lineWidth *= 50;
        ctx.strokeText(m[1]!, 0, 4);
      }
      ctx.restore();
    }
  }
}

/** Class names that contain another class name (must be empty for Darknet classifier labels). */
export function overlappingNames(names: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const a of names) for (const b of names) if (a !== b && a.includes(b)) out.push([a, b]);
  return out;
}
