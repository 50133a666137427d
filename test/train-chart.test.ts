import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import {
  chartLayout,
  downsampleSeries,
  lossAxisMax,
  renderTrainingChart,
  writeTrainingChart,
  type LossPoint,
} from '../src/yolo/train/chart.js';

const isAvgBlue = (r: number, g: number, b: number): boolean => r < 70 && g < 70 && b > 190;
// the 1-px raw-loss line in rgb(150, 180, 255), possibly blended with the white background
const isLightBlue = (r: number, g: number, b: number): boolean => b > 240 && r >= 140 && r < 235 && r < g - 5;
const isRed = (r: number, g: number, b: number): boolean => r > 180 && g < 60 && b < 60;

type Pred = (r: number, g: number, b: number) => boolean;

/** Pixels matching `pred` inside the rectangle [x0, x1) × [y0, y1). */
function count(png: PNG, pred: Pred, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(png.height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(png.width, x1); x++) {
      const i = (y * png.width + x) * 4;
      if (pred(png.data[i]!, png.data[i + 1]!, png.data[i + 2]!)) n++;
    }
  }
  return n;
}

function decode(buf: Buffer): PNG {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  return PNG.sync.read(buf);
}

const flat = (n: number, loss: number, avg: number): LossPoint[] => Array.from({ length: n }, (_, i) => ({ iteration: i + 1, loss, avg }));

test('the chart is a PNG of the requested size (default 1000×700)', async () => {
  const a = decode(await renderTrainingChart({ losses: flat(10, 3, 3), maps: [], maxIterations: 100 }));
  assert.equal(a.width, 1000);
  assert.equal(a.height, 700);
  const b = decode(await renderTrainingChart({ losses: [], maps: [], maxIterations: 100 }, { width: 420, height: 300 }));
  assert.equal(b.width, 420);
  assert.equal(b.height, 300);
});

test('a flat average loss is drawn as a horizontal avg-loss line at its value on the loss axis', async () => {
  const w = 600;
  const h = 400;
  const r = chartLayout(w, h);
  const losses = flat(100, 1, 2);
  const yMax = lossAxisMax(losses);
  assert.equal(yMax, 2.5);
  const png = decode(await renderTrainingChart({ losses, maps: [], maxIterations: 100 }, { width: w, height: h }));
  const yAvg = Math.round(r.bottom - (2 / yMax) * (r.bottom - r.top));
  const yRaw = Math.round(r.bottom - (1 / yMax) * (r.bottom - r.top));
  const onLine = count(png, isAvgBlue, r.left + 10, yAvg - 2, r.right - 10, yAvg + 3);
  assert.ok(onLine >= (r.right - r.left - 20) * 0.9, `avg line pixels at y=${yAvg}: ${onLine}`);
  const allBlue = count(png, isAvgBlue, r.left + 1, r.top + 1, r.right, r.bottom);
  assert.equal(allBlue, count(png, isAvgBlue, r.left + 1, yAvg - 2, r.right, yAvg + 3), 'no avg-loss pixels away from the line');
  assert.ok(count(png, isLightBlue, r.left + 10, yRaw - 2, r.right - 10, yRaw + 3) > (r.right - r.left) * 0.5, 'raw loss line at its value');
  assert.equal(count(png, isRed, r.left + 1, r.top + 1, r.right, r.bottom), 0, 'no mAP drawn without mAP points');
});

test('mAP points are drawn in red at their percentage on the right axis', async () => {
  const w = 600;
  const h = 400;
  const r = chartLayout(w, h);
  const png = decode(await renderTrainingChart({ losses: flat(100, 3, 3), maps: [{ iteration: 50, map: 0.5 }, { iteration: 100, map: 0.25 }], maxIterations: 100 }, { width: w, height: h }));
  const ph = r.bottom - r.top;
  const x50 = Math.round(r.left + 0.5 * (r.right - r.left));
  const y50 = Math.round(r.bottom - 0.5 * ph);
  assert.ok(count(png, isRed, x50 - 3, y50 - 3, x50 + 4, y50 + 4) >= 20, 'a dot at (50, 50%)');
  const yMid = Math.round(r.bottom - 0.375 * ph);
  const xMid = Math.round(r.left + 0.75 * (r.right - r.left));
  assert.ok(count(png, isRed, xMid - 2, yMid - 3, xMid + 3, yMid + 4) >= 3, 'a line between the two points');
});

test('an empty chart draws no curves and a chart with one point draws a dot', async () => {
  const w = 500;
  const h = 360;
  const r = chartLayout(w, h);
  const empty = decode(await renderTrainingChart({ losses: [], maps: [], maxIterations: 0 }, { width: w, height: h }));
  assert.equal(count(empty, isAvgBlue, r.left + 1, r.top + 1, r.right, r.bottom), 0);
  assert.equal(count(empty, isRed, r.left + 1, r.top + 1, r.right, r.bottom), 0);
  const one = decode(await renderTrainingChart({ losses: [{ iteration: 10, loss: 4, avg: 4 }], maps: [], maxIterations: 20 }, { width: w, height: h }));
  assert.ok(count(one, isAvgBlue, r.left + 1, r.top + 1, r.right, r.bottom) >= 9, 'one point shows as a dot');
});

test('NaN and Infinity points are skipped and every value being non-finite still renders', async () => {
  const losses: LossPoint[] = [
    { iteration: 1, loss: Number.NaN, avg: Number.NaN },
    { iteration: 2, loss: 5, avg: 5 },
    { iteration: 3, loss: Number.POSITIVE_INFINITY, avg: Number.POSITIVE_INFINITY },
    { iteration: Number.NaN, loss: 1, avg: 1 },
    { iteration: 4, loss: 4, avg: 4.9 },
  ];
  assert.equal(lossAxisMax(losses), 6);
  const png = decode(await renderTrainingChart({ losses, maps: [{ iteration: 2, map: Number.NaN }], maxIterations: 4 }, { width: 400, height: 300 }));
  const r = chartLayout(400, 300);
  assert.ok(count(png, isAvgBlue, r.left + 1, r.top + 1, r.right, r.bottom) > 50);
  const allBad = flat(5, Number.NaN, Number.NEGATIVE_INFINITY);
  assert.equal(lossAxisMax(allBad), 1);
  decode(await renderTrainingChart({ losses: allBad, maps: [], maxIterations: Number.NaN }, { width: 400, height: 300 }));
});

test('huge first losses do not flatten the curve: the loss axis follows the settled average', () => {
  const losses: LossPoint[] = [];
  let avg = -1;
  for (let i = 1; i <= 2000; i++) {
    const loss = i <= 20 ? 5000 / i : 4 + Math.sin(i) * 0.5;
    avg = avg < 0 ? loss : 0.9 * avg + 0.1 * loss;
    losses.push({ iteration: i, loss, avg });
  }
  const top = lossAxisMax(losses);
  assert.ok(top >= 4.4 && top <= 20, `axis top ${top}`);
  // early on, when the large values are all there is, they are shown
  assert.ok(lossAxisMax(losses.slice(0, 5)) >= 1100);
});

test('downsampleSeries keeps the extremes and at most four points per bucket', () => {
  const pts = Array.from({ length: 10000 }, (_, i) => ({ x: i, y: Math.sin(i / 37) + (i === 4321 ? 50 : 0) - (i === 777 ? 40 : 0) }));
  const out = downsampleSeries(pts, 0, 10000, 100);
  assert.ok(out.length <= 400, `${out.length} points`);
  assert.ok(out.some((p) => p.x === 4321), 'the spike survives');
  assert.ok(out.some((p) => p.x === 777), 'the dip survives');
  assert.deepEqual(out[0], pts[0]);
  assert.deepEqual(out.at(-1), pts.at(-1));
  for (let i = 1; i < out.length; i++) assert.ok(out[i]!.x > out[i - 1]!.x, 'order kept');
  const few = pts.slice(0, 30);
  assert.deepEqual(downsampleSeries(few, 0, 30, 100), few);
});

test('thousands of points render quickly and iterations past maxIterations widen the axis', async () => {
  const losses = Array.from({ length: 20000 }, (_, i) => ({ iteration: i + 1, loss: 3 + Math.cos(i), avg: 3 }));
  const t0 = Date.now();
  const png = decode(await renderTrainingChart({ losses, maps: [], maxIterations: 10000 }, { width: 500, height: 300 }));
  assert.ok(Date.now() - t0 < 5000, 'rendered in under 5 s');
  const r = chartLayout(500, 300);
  // the last point (iteration 20000) is at the right edge since the axis grew to fit it
  assert.ok(count(png, isAvgBlue, r.right - 6, r.top + 1, r.right, r.bottom) > 0);
});

test('bad arguments are clear errors', async () => {
  await assert.rejects(renderTrainingChart({ losses: [], maps: [{ iteration: 10, map: 45.2 }], maxIterations: 100 }), /mAP 45\.2 at iteration 10 is outside 0\.\.1/);
  await assert.rejects(renderTrainingChart({ losses: [], maps: [], maxIterations: 100 }, { width: 50 }), /width 50 is not an integer in 240\.\.8000/);
  await assert.rejects(renderTrainingChart({ losses: null as unknown as LossPoint[], maps: [], maxIterations: 1 }), /needs arrays "losses" and "maps"/);
});

test('writeTrainingChart writes the PNG atomically, replacing the previous chart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-chart-'));
  try {
    const path = join(dir, 'sub', 'chart.png');
    await writeTrainingChart(path, { losses: flat(3, 2, 2), maps: [], maxIterations: 10 }, { width: 300, height: 200 });
    assert.equal(decode(readFileSync(path)).width, 300);
    await writeTrainingChart(path, { losses: flat(4, 2, 2), maps: [], maxIterations: 10 }, { width: 320, height: 200 });
    assert.equal(decode(readFileSync(path)).width, 320);
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['chart.png']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
