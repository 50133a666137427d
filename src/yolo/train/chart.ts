// The training chart written periodically during training: the loss (raw, light; running average,
// strong) against the iteration on a left axis, and mAP points joined by a line on a right axis of
// 0..100 %, with a title giving the current iteration, average loss and last mAP. Drawn with
// @napi-rs/canvas (Skia) and encoded as PNG.
//
// Readability rules:
// - NaN/±Infinity points are skipped (a line joins their neighbours).
// - The loss axis runs from 0 to a robust top, not the maximum: the first iterations of a detector
//   can have losses hundreds of times the settled value. Top = max(min(q95, 4·median), last avg)
//   of the average loss, ×1.1 and rounded up to a nice number. q95 drops rare spikes, 4·median
//   cuts a long start-up tail once training has settled, and the latest average always stays
//   visible. Higher values are clipped at the top edge of the plot.
// - Series with more points than twice the plot width are reduced per pixel column to the first,
//   lowest, highest and last point of the column, which keeps the visible envelope (spikes
//   included) while drawing a few thousand segments at most.

import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { writeOutput } from '../../io/output.js';
import { formatCount } from './progress.js';

export interface LossPoint {
  iteration: number;
  /** Loss of this iteration. */
  loss: number;
  /** Running average loss (LossAverage) after this iteration. */
  avg: number;
}

export interface MapPoint {
  iteration: number;
  /** mAP as a fraction in 0..1 (as src/yolo/map.ts computes it); drawn as a percentage. */
  map: number;
}

export interface TrainingChartData {
  losses: readonly LossPoint[];
  maps: readonly MapPoint[];
  maxIterations: number;
  /** Put in front of the generated title (e.g. the model name). */
  title?: string;
}

export interface TrainingChartOptions {
  /** Image width in pixels (default 1000, 240..8000). */
  width?: number;
  /** Image height in pixels (default 700, 180..8000). */
  height?: number;
}

/** Colours of the chart, as [r, g, b] (exported so tests and tools can find the curves). */
export const CHART_COLORS = {
  avgLoss: [0, 0, 255] as const,
  loss: [150, 180, 255] as const,
  map: [220, 0, 0] as const,
  grid: [225, 225, 225] as const,
  axis: [0, 0, 0] as const,
  text: [30, 30, 30] as const,
};

const css = (c: readonly [number, number, number]): string => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
const FONT = '"DejaVu Sans", sans-serif';

export interface PlotRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The plot area (inside the axes) of a chart of this size. */
export function chartLayout(width: number, height: number): PlotRect {
  return { left: 80, top: 70, right: width - 80, bottom: height - 55 };
}

/** A 1-2-2.5-5 × 10^k step that cuts `range` into about `target` parts. */
function niceStep(range: number, target: number): number {
  const raw = range / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const f = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  return f * mag;
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Top of the loss axis for these points (see the file comment): a nice number above
 * max(min(q95, 4·median), last) of the finite average losses (raw losses when no average is
 * finite); 1 when there is nothing positive to show.
 */
export function lossAxisMax(losses: readonly LossPoint[]): number {
  let values = losses.map((p) => p.avg).filter((v) => Number.isFinite(v));
  if (values.length === 0) values = losses.map((p) => p.loss).filter((v) => Number.isFinite(v));
  if (values.length === 0) return 1;
  const last = values[values.length - 1]!;
  const sorted = [...values].sort((a, b) => a - b);
  const top = Math.max(Math.min(quantile(sorted, 0.95), 4 * quantile(sorted, 0.5)), last) * 1.1;
  if (!(top > 0)) return 1;
  const step = niceStep(top, 8);
  return Math.ceil(top / step - 1e-9) * step;
}

export interface XY {
  x: number;
  y: number;
}

/**
 * Reduce a series sorted by x to at most 4 points per bucket of equal x width over [x0, x1]: the
 * first, lowest, highest and last point of each bucket, in their original order.
 */
export function downsampleSeries(points: readonly XY[], x0: number, x1: number, buckets: number): XY[] {
  if (points.length <= 4 * buckets) return [...points];
  const out: XY[] = [];
  const width = (x1 - x0) / buckets || 1;
  let i = 0;
  while (i < points.length) {
    const b = Math.min(buckets - 1, Math.max(0, Math.floor((points[i]!.x - x0) / width)));
    let j = i;
    let lo = i;
    let hi = i;
    while (j < points.length && Math.min(buckets - 1, Math.max(0, Math.floor((points[j]!.x - x0) / width))) === b) {
      if (points[j]!.y < points[lo]!.y) lo = j;
      if (points[j]!.y > points[hi]!.y) hi = j;
      j++;
    }
    for (const k of [...new Set([i, lo, hi, j - 1])].sort((a, c) => a - c)) out.push(points[k]!);
    i = j;
  }
  return out;
}

function tickLabel(v: number): string {
  return String(Number(v.toFixed(10)));
}

function checkData(data: TrainingChartData): void {
  if (!data || !Array.isArray(data.losses) || !Array.isArray(data.maps)) {
    throw new Error('renderTrainingChart: data needs arrays "losses" and "maps"');
  }
  for (const p of data.maps) {
    if (Number.isFinite(p.map) && (p.map > 1 || p.map < 0)) {
      throw new Error(`renderTrainingChart: mAP ${p.map} at iteration ${p.iteration} is outside 0..1 (pass mAP as a fraction, not a percentage)`);
    }
  }
}

function checkSize(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min || v > 8000) throw new Error(`renderTrainingChart: ${name} ${v} is not an integer in ${min}..8000`);
  return v;
}

/** Draw `points` (already in pixels) as a polyline, or a dot when there is only one. */
function drawSeries(ctx: SKRSContext2D, pts: readonly XY[], color: string, lineWidth: number, dot: number): void {
  if (pts.length === 0) return;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = lineWidth;
  if (pts.length === 1) {
    ctx.beginPath();
    ctx.arc(pts[0]!.x, pts[0]!.y, dot, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(pts[0]!.x, pts[0]!.y);
  for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i]!.x, pts[i]!.y);
  ctx.stroke();
}

/** The chart as PNG bytes. */
export async function renderTrainingChart(data: TrainingChartData, opts: TrainingChartOptions = {}): Promise<Buffer> {
  checkData(data);
  const width = checkSize('width', opts.width ?? 1000, 240);
  const height = checkSize('height', opts.height ?? 700, 180);
  const r = chartLayout(width, height);
  const pw = r.right - r.left;
  const ph = r.bottom - r.top;

  const losses = data.losses.filter((p) => Number.isFinite(p.iteration));
  const maps = data.maps.filter((p) => Number.isFinite(p.iteration) && Number.isFinite(p.map));
  let xMax = Number.isFinite(data.maxIterations) && data.maxIterations > 0 ? data.maxIterations : 0;
  for (const p of losses) xMax = Math.max(xMax, p.iteration);
  for (const p of maps) xMax = Math.max(xMax, p.iteration);
  if (!(xMax > 0)) xMax = 1;
  const yMax = lossAxisMax(losses);
  const px = (it: number): number => r.left + (Math.max(0, it) / xMax) * pw;
  const pyLoss = (v: number): number => r.bottom - (v / yMax) * ph;
  const pyMap = (m: number): number => r.bottom - m * ph;

  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'rgb(255, 255, 255)';
  ctx.fillRect(0, 0, width, height);

  // Grid and tick labels.
  const yStep = niceStep(yMax, 8);
  const xStep = Math.max(1, niceStep(xMax, Math.max(2, Math.floor(pw / 90))));
  ctx.lineWidth = 1;
  ctx.strokeStyle = css(CHART_COLORS.grid);
  ctx.fillStyle = css(CHART_COLORS.text);
  ctx.font = `12px ${FONT}`;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = 0; v <= yMax + yStep * 1e-6; v += yStep) {
    const y = Math.round(pyLoss(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(r.left, y);
    ctx.lineTo(r.right, y);
    ctx.stroke();
    ctx.fillText(tickLabel(v), r.left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let v = 0; v <= xMax + xStep * 1e-6; v += xStep) {
    const x = Math.round(px(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, r.top);
    ctx.lineTo(x, r.bottom);
    ctx.stroke();
    ctx.fillText(formatCount(v), x, r.bottom + 6);
  }
  if (maps.length > 0) {
    ctx.fillStyle = css(CHART_COLORS.map);
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    for (let pct = 0; pct <= 100; pct += 10) ctx.fillText(`${pct}%`, r.right + 6, Math.round(pyMap(pct / 100)) + 0.5);
  }

  // Axes and axis titles.
  ctx.strokeStyle = css(CHART_COLORS.axis);
  ctx.strokeRect(r.left + 0.5, r.top + 0.5, pw, ph);
  ctx.fillStyle = css(CHART_COLORS.text);
  ctx.font = `13px ${FONT}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText('iteration', (r.left + r.right) / 2, height - 6);
  const vertical = (text: string, x: number, color: string): void => {
    ctx.save();
    ctx.translate(x, (r.top + r.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillStyle = color;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, 0, 0);
    ctx.restore();
  };
  vertical('loss', 18, css(CHART_COLORS.text));
  if (maps.length > 0) vertical('mAP', width - 14, css(CHART_COLORS.map));

  // Title and legend (above the plot, so the plot area holds only data).
  const lastAvg = [...losses].reverse().find((p) => Number.isFinite(p.avg));
  const lastIter = losses.length > 0 || maps.length > 0 ? Math.max(losses.at(-1)?.iteration ?? 0, maps.at(-1)?.iteration ?? 0) : 0;
  const lastMap = maps.at(-1);
  const titleParts = [`iteration ${formatCount(lastIter)}/${formatCount(data.maxIterations)}`];
  if (lastAvg) titleParts.push(`avg loss ${lastAvg.avg.toFixed(4)}`);
  if (lastMap) titleParts.push(`last mAP ${(lastMap.map * 100).toFixed(2)}%`);
  const title = (data.title ? `${data.title}: ` : '') + titleParts.join(', ');
  ctx.font = `bold 15px ${FONT}`;
  ctx.fillStyle = css(CHART_COLORS.text);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillText(title, width / 2, 10, width - 20);
  const legend: [string, readonly [number, number, number], number][] = [
    ['loss', CHART_COLORS.loss, 1],
    ['avg loss', CHART_COLORS.avgLoss, 2],
  ];
  if (maps.length > 0) legend.push(['mAP', CHART_COLORS.map, 2]);
  ctx.font = `12px ${FONT}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  let lx = r.left;
  const ly = 48;
  for (const [label, color, w] of legend) {
    ctx.strokeStyle = css(color);
    ctx.lineWidth = w;
    ctx.beginPath();
    ctx.moveTo(lx, ly);
    ctx.lineTo(lx + 24, ly);
    ctx.stroke();
    ctx.fillStyle = css(CHART_COLORS.text);
    ctx.fillText(label, lx + 30, ly);
    lx += 40 + ctx.measureText(label).width + 16;
  }

  // Data, clipped to the plot area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(r.left + 1, r.top + 1, pw - 1, ph - 1);
  ctx.clip();
  if (losses.length === 0 && maps.length === 0) {
    ctx.fillStyle = 'rgb(150, 150, 150)';
    ctx.font = `16px ${FONT}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('no data yet', (r.left + r.right) / 2, (r.top + r.bottom) / 2);
  }
  const series = (pick: (p: LossPoint) => number): XY[] => {
    const pts = losses.filter((p) => Number.isFinite(pick(p))).map((p) => ({ x: p.iteration, y: pick(p) }));
    return downsampleSeries(pts, 0, xMax, pw).map((p) => ({ x: px(p.x), y: pyLoss(p.y) }));
  };
  drawSeries(ctx, series((p) => p.loss), css(CHART_COLORS.loss), 1, 2);
  drawSeries(ctx, series((p) => p.avg), css(CHART_COLORS.avgLoss), 2, 3);
  const mapPts = maps.map((p) => ({ x: px(p.iteration), y: pyMap(p.map) }));
  drawSeries(ctx, mapPts, css(CHART_COLORS.map), 2, 4);
  if (mapPts.length > 1) {
    ctx.fillStyle = css(CHART_COLORS.map);
    for (const p of mapPts) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  // Label the mAP points with their value (all of them while they fit, else the last one).
  ctx.font = `11px ${FONT}`;
  ctx.fillStyle = css(CHART_COLORS.map);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  const labelled = maps.length <= pw / 50 ? maps : maps.slice(-1);
  ctx.strokeStyle = 'rgb(255, 255, 255)';
  ctx.lineWidth = 3;
  ctx.lineJoin = 'round';
  for (const p of labelled) {
    // A white halo keeps the label readable over the loss curves.
    const text = `${(p.map * 100).toFixed(1)}%`;
    const y = Math.max(r.top + 14, pyMap(p.map) - 6);
    ctx.strokeText(text, px(p.iteration), y);
    ctx.fillText(text, px(p.iteration), y);
  }
  ctx.restore();

  return canvas.encode('png');
}

/** Render the chart and write it to `path` atomically (temporary file, fsync, rename). */
export async function writeTrainingChart(path: string, data: TrainingChartData, opts: TrainingChartOptions = {}): Promise<void> {
  const png = await renderTrainingChart(data, opts);
  await writeOutput(path, png);
}
