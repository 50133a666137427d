// numpy's float64 arithmetic where the official detection scorers' numbers depend on it, so that the
// scores computed here agree with pycocotools and the VOC devkit's voc_eval.py bit for bit:
//   linspace(start, stop, num)  step = (stop − start)/(num − 1); value i = i·step + start (two roundings);
//                               the last value is `stop` itself. (COCO's IoU and recall thresholds.)
//   arange(start, stop, step)   value i = start + i·step, i = 0 .. ceil((stop − start)/step) − 1, the
//                               fill rule numpy applies to float ranges. (voc_eval's 11 recall points.)
//   sum / mean                  np.sum and np.mean of a contiguous float64 vector: the reduction runs over
//                               chunks of 8192 values (numpy's buffer size), adding each chunk's pairwise
//                               sum to the running total; the pairwise sum adds blocks of up to 128 values
//                               with 8 partial sums and splits longer runs in halves that are multiples
//                               of 8. The mean divides that sum by the count.

/** numpy.linspace(start, stop, num) with endpoint=True, in float64 as numpy computes it. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (!(Number.isInteger(num) && num >= 0)) throw new Error(`linspace: num must be a non-negative integer, got ${num}`);
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}

/** numpy.arange(start, stop, step) for a positive float step: start + i·step while below the count numpy takes. */
export function arange(start: number, stop: number, step: number): number[] {
  if (!(step > 0) || !Number.isFinite(start) || !Number.isFinite(stop)) throw new Error(`arange: needs finite bounds and a positive step, got ${start}, ${stop}, ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  // numpy's second value is start + step and its fill step is (start + step) − start
  const delta = start + step - start;
  return Array.from({ length: n }, (_, i) => (i === 0 ? start : i === 1 ? start + step : start + i * delta));
}

/** numpy's pairwise sum of values[from, from + n). */
function pairwise(values: ArrayLike<number>, from: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[from + i]!;
    return res;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = values[from + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j]! += values[from + i + j]!;
    let res = (r[0]! + r[1]! + (r[2]! + r[3]!)) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += values[from + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwise(values, from, n2) + pairwise(values, from + n2, n - n2);
}

const BUFFER = 8192;

/** np.sum of a float64 vector. */
export function npSum(values: ArrayLike<number>): number {
  let total = 0;
  for (let from = 0; from < values.length; from += BUFFER) total += pairwise(values, from, Math.min(BUFFER, values.length - from));
  return total;
}

/** np.mean of a float64 vector; NaN for an empty one. */
export function npMean(values: ArrayLike<number>): number {
  return values.length === 0 ? NaN : npSum(values) / values.length;
}
