import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LossAverage, ThroughputMeter, formatCount, formatDuration, formatProgress } from '../src/yolo/train/progress.js';

test('LossAverage: the first loss starts it, then avg = 0.9·avg + 0.1·loss', () => {
  const a = new LossAverage();
  assert.equal(a.started, false);
  assert.ok(Number.isNaN(a.value));
  assert.equal(a.update(10), 10);
  assert.equal(a.update(0), 0.9 * 10 + 0.1 * 0);
  assert.equal(a.update(5), 0.9 * (0.9 * 10) + 0.1 * 5);
  assert.equal(a.count, 3);
});

test('LossAverage: a NaN loss poisons one step, then the average restarts from the next loss', () => {
  const a = new LossAverage();
  a.update(4);
  assert.ok(Number.isNaN(a.update(Number.NaN)));
  assert.equal(a.update(2.5), 2.5);
  assert.equal(a.update(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
  assert.equal(a.update(1), 1);
});

test('LossAverage survives a JSON round trip and continues exactly as the original', () => {
  const a = new LossAverage();
  for (const l of [9.1, 7.3, 6.2]) a.update(l);
  const b = LossAverage.fromJSON(JSON.parse(JSON.stringify(a)));
  assert.equal(b.value, a.value);
  assert.equal(b.count, 3);
  assert.equal(b.update(5.5), a.update(5.5));
  // not started, and a NaN average, both resume as "restart on the next loss"
  const nan = new LossAverage();
  nan.update(Number.NaN);
  const c = LossAverage.fromJSON(JSON.parse(JSON.stringify(nan)));
  assert.equal(c.update(3), nan.update(3));
  assert.equal(LossAverage.fromJSON({ avg: null, count: 0 }).started, false);
  assert.throws(() => LossAverage.fromJSON({ avg: 'x', count: 1 }), /LossAverage\.fromJSON: "avg" is neither a number nor null/);
  assert.throws(() => LossAverage.fromJSON({ avg: 1, count: -1 }), /"count" is not a non-negative integer/);
  assert.throws(() => LossAverage.fromJSON(null), /expected an object/);
});

test('ThroughputMeter leaves the warm-up iteration out and smooths the rest with an EMA', () => {
  const m = new ThroughputMeter();
  assert.ok(Number.isNaN(m.secondsPerIteration));
  assert.ok(Number.isNaN(m.imagesPerSecond));
  m.update(5, 64); // warm-up: shown raw, not averaged
  assert.equal(m.secondsPerIteration, 5);
  assert.equal(m.imagesPerSecond, 64 / 5);
  m.update(0.5, 64);
  assert.equal(m.secondsPerIteration, 0.5);
  assert.equal(m.imagesPerSecond, 128);
  m.update(1, 64);
  assert.equal(m.secondsPerIteration, 0.9 * 0.5 + 0.1 * 1);
  assert.equal(m.imagesPerSecond, 64 / 0.55);
  assert.equal(m.lastSeconds, 1);
  assert.equal(m.iterations, 3);
  assert.equal(m.etaSeconds(100), 55.00000000000001);
  const noWarm = new ThroughputMeter({ warmupIterations: 0, smoothing: 0.5 });
  noWarm.update(2, 10);
  noWarm.update(4, 10);
  assert.equal(noWarm.secondsPerIteration, 3);
  assert.throws(() => m.update(-1, 1), /seconds -1 is not a finite non-negative number/);
  assert.throws(() => new ThroughputMeter({ smoothing: 1 }), /smoothing 1 is not in \[0, 1\)/);
});

test('formatDuration gives s, m ss, h mm ss and d hh mm forms', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(0.4), '0s');
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(59.6), '1m 00s');
  assert.equal(formatDuration(1598.56), '26m 39s');
  assert.equal(formatDuration(3600), '1h 00m 00s');
  assert.equal(formatDuration(11109), '3h 05m 09s');
  assert.equal(formatDuration(2 * 86400 + 4 * 3600 + 10 * 60 + 29), '2d 04h 10m');
  assert.equal(formatDuration(Number.NaN), '--');
  assert.equal(formatDuration(Number.POSITIVE_INFINITY), '--');
  assert.equal(formatDuration(-3), '--');
});

test('formatCount groups thousands independently of the locale', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(1000), '1,000');
  assert.equal(formatCount(2448000), '2,448,000');
  assert.equal(formatCount(-1234567), '-1,234,567');
});

test('formatProgress writes the fixed one-line format', () => {
  const base = { iteration: 120, maxIterations: 4000, loss: 3.41234, avgLoss: 3.87149, lr: 0.001, imagesPerSecond: 155.34, secondsPerIteration: 0.412, seen: 2448000 };
  assert.equal(formatProgress(base), ' 120/4000: loss 3.412, avg 3.871, lr 0.001000, 0.412 s/it, 155.3 img/s, 2,448,000 images, ETA 26m 39s');
  assert.equal(
    formatProgress({ ...base, iteration: 4000, extra: 'mAP 45.21%' }),
    '4000/4000: loss 3.412, avg 3.871, lr 0.001000, 0.412 s/it, 155.3 img/s, 2,448,000 images, ETA 0s, mAP 45.21%',
  );
  // burn-in learning rates are tiny: exponent form instead of 0.000000
  assert.equal(
    formatProgress({ ...base, iteration: 1, lr: 1e-15, loss: Number.NaN, avgLoss: Number.POSITIVE_INFINITY, secondsPerIteration: Number.NaN, imagesPerSecond: Number.NaN, seen: 64 }),
    '   1/4000: loss nan, avg inf, lr 1.00e-15, nan s/it, nan img/s, 64 images, ETA --',
  );
  assert.equal(
    formatProgress({ ...base, iteration: 7, maxIterations: 500200, lr: 0, secondsPerIteration: 2.5, seen: 448 }),
    '     7/500200: loss 3.412, avg 3.871, lr 0.000000, 2.500 s/it, 155.3 img/s, 448 images, ETA 14d 11h 21m',
  );
});
