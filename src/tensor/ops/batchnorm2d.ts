// 2-D batch normalisation over NCHW (statistics per channel over N, H, W; n = N*H*W), in two variants.
//
// variant 'pytorch' (F.batch_norm):
//   training: mean = Σx/n, var = Σ(x-mean)²/n (biased), y = (x-mean)/sqrt(var+eps)·γ + β,
//             running_mean ← (1-m)·running_mean + m·mean, running_var ← (1-m)·running_var + m·var·n/(n-1)
//             (unbiased in the running estimate only); m = 0.1, eps = 1e-5 by default.
//   eval:     y = (x-running_mean)/sqrt(running_var+eps)·γ + β.
//   Sums and the normalisation are computed in double and rounded once on store.
//
// variant 'darknet' (SEMANTICS 6.2, 8.1; forward_batchnorm_layer, normalize_cpu):
//   training: var = Σ(x-mean)²/(n-1) (unbiased, also for the normalisation),
//             y = (x-mean)/(sqrt(var) + eps)·γ + β with eps = 1e-6f added to the standard deviation,
//             rolling ← 0.99·rolling + 0.01·batch (m = 0.01).
//   eval:     the same formula with the rolling statistics.
//   For float32 tensors the arithmetic reproduces Darknet's roundings bit for bit: the mean is a float
//   running sum in (n, h, w) order times (float)(1/n); the variance a running sum, each step rounded to float,
//   of the double square of the float difference, times (float)(1/(n-1)); x-mean is a float difference
//   divided in double by sqrt(var) + 1e-6f, then ·γ and +β each rounded to float; the rolling update is
//   (rolling·0.99f) then + (0.01f·batch), each rounded.
//
// Backward (training, through the batch mean and variance). With x̂ the normalised input, ĝ = gy·γ, s the
// denominator of the forward, the true derivative of either forward is
//   dx = (ĝ - mean(ĝ))/s - x̂ · Σ(ĝ x̂) · k,   k = 1/(n·s) (pytorch), 1/((n-1)·sqrt(var)) (darknet)
//   dγ = Σ gy x̂,  dβ = Σ gy.
// Darknet's own backward_batchnorm_layer is NOT that derivative: it is the textbook biased-variance
// formula with eps = 1e-5 inside the root, applied to the unbiased variance:
//   r = sqrt(var + 1e-5f),  dmean = -Σĝ / r,  dvar = -½ Σ ĝ(x-mean) · (var + 1e-5f)^(-3/2),
//   dx = ĝ/r + dvar·2(x-mean)/n + dmean/n.
// The darknet variant uses that rule by default (`darknetBackward: 'darknet'`, to train as Darknet does);
// `darknetBackward: 'exact'` gives the true derivative of the darknet forward (what gradcheck verifies).
// In eval mode both variants use the exact derivative of the affine map (dx = gy·γ/s); Darknet would
// apply its training formula to the rolling statistics there, which is never used in training.
//
// Kernels (same names on every device):
//   batchnorm2d          (y, batchMean, batchVar, x, weight, bias, runningMean, runningVar, attrs)
//   batchnorm2d_backward (dx, dweight, dbias, gy, x, weight, mean, var, attrs)   all written with '='

import { noGrad } from '../../autograd/grad-mode.js';
import { needsGrad, record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { allInArena, arenaIndex, chunkFor, f64Scratch, parallelFor, sharedViews } from '../backends/cpu/parallel.js';
import { A0, TASK } from '../backends/cpu/tasks.js';
import { checkFloat } from './common.js';
import { clone, contiguous } from './copy.js';

export type BatchNormVariant = 'pytorch' | 'darknet';
export type BatchNormBackwardRule = 'exact' | 'darknet';

export interface BatchNorm2dAttrs {
  readonly training: boolean;
  readonly momentum: number;
  readonly eps: number;
  readonly variant: BatchNormVariant;
}

export interface BatchNorm2dBackwardAttrs {
  readonly variant: BatchNormVariant;
  readonly eps: number;
  /** true: mean/var are the batch statistics (functions of x); false: constants (eval mode). */
  readonly batchStats: boolean;
  /** 'exact' derivative, or Darknet's own formulas (darknet variant, batchStats only). */
  readonly rule: BatchNormBackwardRule;
}

/**
 * y = batch norm of contiguous x [N,C,H,W]; weight/bias contiguous [C] or null (γ = 1, β = 0).
 * training: batchMean/batchVar [C] receive the batch statistics (var = the one normalised with: biased for
 * pytorch, unbiased for darknet); runningMean/runningVar [C] (contiguous; may be null) are updated in place.
 * eval: normalises with runningMean/runningVar; batchMean/batchVar are null.
 */
export type BatchNorm2dKernel = (
  y: Tensor,
  batchMean: Tensor | null,
  batchVar: Tensor | null,
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  attrs: BatchNorm2dAttrs,
) => void;

/**
 * dx [N,C,H,W], dweight [C], dbias [C] (each may be null = not wanted) from contiguous gy and x, weight
 * (or null), and the statistics mean/var [C] the forward normalised with.
 */
export type BatchNorm2dBackwardKernel = (
  dx: Tensor | null,
  dweight: Tensor | null,
  dbias: Tensor | null,
  gy: Tensor,
  x: Tensor,
  weight: Tensor | null,
  mean: Tensor,
  variance: Tensor,
  attrs: BatchNorm2dBackwardAttrs,
) => void;

/** Darknet's constants: 1e-6f added to the standard deviation (forward), 1e-5f inside the root (backward). */
export const DARKNET_BN_EPS = Math.fround(1e-6);
export const DARKNET_BN_BACKWARD_EPS = Math.fround(1e-5);

const identity = (v: number): number => v;

/** Element c of a contiguous [C] tensor, or `fallback` for null. */
function at(t: Tensor | null, c: number, fallback: number): number {
  return t ? t.storage.cpuArray[t.offset + c]! : fallback;
}

/**
 * Darknet's training statistics of float32 x [N, C, HW] (offset xo): mean = float running sum in order ×
 * (float)(1/n); variance = float running sum of (double)(x − mean)² × (float)(1/(n−1)). Computes four
 * channels per pass so that their dependency chains overlap; each channel's sum keeps Darknet's order.
 */
function darknetStatsF32(a: Float32Array, xo: number, N: number, C: number, HW: number): { mean: Float32Array; variance: Float32Array } {
  const f = Math.fround;
  const n = N * HW;
  const invN = f(1 / n);
  const invN1 = f(1 / (n - 1));
  const mean = new Float32Array(C);
  const variance = new Float32Array(C);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let b = 0; b < N; b++) {
      const p0 = xo + (b * C + c) * HW;
      const p1 = p0 + HW;
      const p2 = p1 + HW;
      const p3 = p2 + HW;
      for (let k = 0; k < HW; k++) {
        s0 = f(s0 + a[p0 + k]!);
        s1 = f(s1 + a[p1 + k]!);
        s2 = f(s2 + a[p2 + k]!);
        s3 = f(s3 + a[p3 + k]!);
      }
    }
    const m0 = f(s0 * invN);
    const m1 = f(s1 * invN);
    const m2 = f(s2 * invN);
    const m3 = f(s3 * invN);
    let q0 = 0;
    let q1 = 0;
    let q2 = 0;
    let q3 = 0;
    for (let b = 0; b < N; b++) {
      const p0 = xo + (b * C + c) * HW;
      const p1 = p0 + HW;
      const p2 = p1 + HW;
      const p3 = p2 + HW;
      for (let k = 0; k < HW; k++) {
        const d0 = f(a[p0 + k]! - m0);
        const d1 = f(a[p1 + k]! - m1);
        const d2 = f(a[p2 + k]! - m2);
        const d3 = f(a[p3 + k]! - m3);
        q0 = f(q0 + d0 * d0);
        q1 = f(q1 + d1 * d1);
        q2 = f(q2 + d2 * d2);
        q3 = f(q3 + d3 * d3);
      }
    }
    mean[c] = m0;
    mean[c + 1] = m1;
    mean[c + 2] = m2;
    mean[c + 3] = m3;
    variance[c] = f(q0 * invN1);
    variance[c + 1] = f(q1 * invN1);
    variance[c + 2] = f(q2 * invN1);
    variance[c + 3] = f(q3 * invN1);
  }
  for (; c < C; c++) {
    let s = 0;
    for (let b = 0; b < N; b++) {
      const p = xo + (b * C + c) * HW;
      for (let k = 0; k < HW; k++) s = f(s + a[p + k]!);
    }
    const mc = f(s * invN);
    let q = 0;
    for (let b = 0; b < N; b++) {
      const p = xo + (b * C + c) * HW;
      for (let k = 0; k < HW; k++) {
        const d = f(a[p + k]! - mc);
        q = f(q + d * d);
      }
    }
    mean[c] = mc;
    variance[c] = f(q * invN1);
  }
  return { mean, variance };
}

/**
 * The float32 forward on every core (backends/cpu/tasks.ts: the same arithmetic, channels split among
 * threads) when x, y and the statistics live in the shared arena. Phases: Darknet's batch statistics
 * (groups of four channels per item), then the running-statistic updates and per-channel constants on
 * this thread, then the normalisation (channels per item). Returns false when it did nothing.
 */
function batchnormParallel(
  y: Tensor, bm: Tensor | null, bv: Tensor | null, x: Tensor, weight: Tensor | null, bias: Tensor | null,
  rm: Tensor | null, rv: Tensor | null, attrs: BatchNorm2dAttrs,
): boolean {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const HW = H * W;
  const a = x.storage.cpuArray;
  const o = y.storage.cpuArray;
  const darknet = attrs.variant === 'darknet';
  const parStats = attrs.training && darknet;
  if (!allInArena(a, o) || (parStats && !allInArena(bm!.storage.cpuArray, bv!.storage.cpuArray))) return false;
  const st = f64Scratch(4 * C);
  const views = sharedViews();
  if (st < 0 || views === null) return false;
  const n = N * HW;
  const m = attrs.momentum;
  const means = new Float64Array(C);
  const vars = new Float64Array(C);
  if (attrs.training) {
    if (parStats) {
      const im = arenaIndex(bm!.storage.cpuArray, bm!.offset), iv = arenaIndex(bv!.storage.cpuArray, bv!.offset);
      const groups = Math.ceil(C / 4);
      parallelFor(TASK.bnDarknetStats, groups, chunkFor(groups), 2 * N * C * HW, (ia) => {
        ia[A0] = arenaIndex(a, x.offset);
        ia[A0 + 1] = im;
        ia[A0 + 2] = iv;
        ia[A0 + 3] = N;
        ia[A0 + 4] = C;
        ia[A0 + 5] = HW;
      });
      const ma = bm!.storage.cpuArray, va = bv!.storage.cpuArray;
      for (let c = 0; c < C; c++) {
        means[c] = ma[bm!.offset + c]!;
        vars[c] = va[bv!.offset + c]!;
      }
    } else {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let b = 0; b < N; b++) {
          const base = x.offset + (b * C + c) * HW;
          for (let k = 0; k < HW; k++) s += a[base + k]!;
        }
        const mean = s / n;
        let q = 0;
        for (let b = 0; b < N; b++) {
          const base = x.offset + (b * C + c) * HW;
          for (let k = 0; k < HW; k++) {
            const d = a[base + k]! - mean;
            q += d * d;
          }
        }
        means[c] = mean;
        vars[c] = q / (darknet ? n - 1 : n);
        bm!.storage.cpuArray[bm!.offset + c] = mean;
        bv!.storage.cpuArray[bv!.offset + c] = vars[c]!;
      }
    }
    if (rm && rv) {
      const rma = rm.storage.cpuArray;
      const rva = rv.storage.cpuArray;
      for (let c = 0; c < C; c++) {
        const im = rm.offset + c;
        const iv = rv.offset + c;
        if (darknet) {
          const r = Math.fround;
          const keep = r(1 - m);
          const take = r(m);
          rma[im] = r(r(rma[im]! * keep) + r(take * means[c]!));
          rva[iv] = r(r(rva[iv]! * keep) + r(take * vars[c]!));
        } else {
          rma[im] = (1 - m) * rma[im]! + m * means[c]!;
          rva[iv] = (1 - m) * rva[iv]! + (m * vars[c]! * n) / (n - 1);
        }
      }
    }
  } else {
    for (let c = 0; c < C; c++) {
      means[c] = at(rm, c, 0);
      vars[c] = at(rv, c, 1);
    }
  }
  const sc = views.f64;
  for (let c = 0; c < C; c++) {
    const g = at(weight, c, 1);
    const beta = at(bias, c, 0);
    sc[st + 4 * c] = means[c]!;
    sc[st + 4 * c + 1] = darknet ? Math.sqrt(vars[c]!) + attrs.eps : (1 / Math.sqrt(vars[c]! + attrs.eps)) * g;
    sc[st + 4 * c + 2] = g;
    sc[st + 4 * c + 3] = beta;
  }
  parallelFor(TASK.bnNormalize, C, chunkFor(C), 2 * N * C * HW, (ia) => {
    ia[A0] = arenaIndex(a, x.offset);
    ia[A0 + 1] = arenaIndex(o, y.offset);
    ia[A0 + 2] = N;
    ia[A0 + 3] = C;
    ia[A0 + 4] = HW;
    ia[A0 + 5] = st;
    ia[A0 + 6] = darknet ? 1 : 0;
    ia[A0 + 7] = weight ? 1 : 0;
    ia[A0 + 8] = bias ? 1 : 0;
  });
  return true;
}

/** The float32 backward on every core (channels split among threads) when the tensors live in the arena. */
function batchnormBackwardParallel(
  dx: Tensor | null, dw: Tensor | null, db: Tensor | null, gy: Tensor, x: Tensor, weight: Tensor | null,
  meanT: Tensor, varT: Tensor, attrs: BatchNorm2dBackwardAttrs,
): boolean {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const HW = H * W;
  const a = x.storage.cpuArray;
  const g = gy.storage.cpuArray;
  if (!allInArena(a, g) || (dx !== null && !allInArena(dx.storage.cpuArray))) return false;
  const st = f64Scratch(6 * C);
  const views = sharedViews();
  if (st < 0 || views === null) return false;
  const darknet = attrs.variant === 'darknet';
  const sc = views.f64;
  for (let c = 0; c < C; c++) {
    const variance = at(varT, c, 1);
    sc[st + 4 * c] = at(meanT, c, 0);
    sc[st + 4 * c + 1] = variance;
    sc[st + 4 * c + 2] = at(weight, c, 1);
    sc[st + 4 * c + 3] = darknet ? Math.sqrt(variance) + attrs.eps : Math.sqrt(variance + attrs.eps);
  }
  const out = st + 4 * C;
  const mode = !attrs.batchStats ? 0 : attrs.rule === 'darknet' && darknet ? 1 : 2;
  parallelFor(TASK.bnBackward, C, chunkFor(C), 3 * N * C * HW, (ia, fa) => {
    ia[A0] = arenaIndex(g, gy.offset);
    ia[A0 + 1] = arenaIndex(a, x.offset);
    ia[A0 + 2] = dx ? arenaIndex(dx.storage.cpuArray, dx.offset) : -1;
    ia[A0 + 3] = N;
    ia[A0 + 4] = C;
    ia[A0 + 5] = HW;
    ia[A0 + 6] = st;
    ia[A0 + 7] = out;
    ia[A0 + 8] = mode;
    ia[A0 + 9] = darknet ? 1 : 0;
    fa[0] = DARKNET_BN_BACKWARD_EPS;
  });
  for (let c = 0; c < C; c++) {
    if (db) db.storage.cpuArray[db.offset + c] = sc[out + 2 * c]!;
    if (dw) dw.storage.cpuArray[dw.offset + c] = sc[out + 2 * c + 1]! / sc[st + 4 * c + 3]!;
  }
  return true;
}

registerKernel<BatchNorm2dKernel>('batchnorm2d', 'cpu', (y, bm, bv, x, weight, bias, rm, rv, attrs) => {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const HW = H * W;
  const n = N * HW;
  const a = x.storage.cpuArray;
  const o = y.storage.cpuArray;
  const darknet = attrs.variant === 'darknet';
  // Darknet's float32 roundings are reproduced for float32 data; float64 data is computed without them.
  // (Written inline as `f32 ? Math.fround(v) : v`: a function-valued variable here is ~15x slower.)
  const f32 = x.dtype === 'float32';
  const m = attrs.momentum;
  // Darknet's float32 statistics are two serial float sums per channel (latency-bound); four channels'
  // sums run side by side (each still in Darknet's order, so the bits are the same).
  if (f32 && batchnormParallel(y, bm, bv, x, weight, bias, rm, rv, attrs)) return;
  const darknetF32Stats = attrs.training && darknet && f32 ? darknetStatsF32(a as Float32Array, x.offset, N, C, HW) : null;
  for (let c = 0; c < C; c++) {
    let mean: number;
    let variance: number;
    if (attrs.training) {
      if (darknetF32Stats !== null) {
        mean = darknetF32Stats.mean[c]!;
        variance = darknetF32Stats.variance[c]!;
      } else {
        let s = 0;
        for (let b = 0; b < N; b++) {
          const base = x.offset + (b * C + c) * HW;
          for (let k = 0; k < HW; k++) s += a[base + k]!;
        }
        mean = s / n;
        let q = 0;
        for (let b = 0; b < N; b++) {
          const base = x.offset + (b * C + c) * HW;
          for (let k = 0; k < HW; k++) {
            const d = a[base + k]! - mean;
            q += d * d;
          }
        }
        // Darknet's variance is the unbiased one (float32 data took the branch above).
        variance = q / (darknet ? n - 1 : n);
      }
      bm!.storage.cpuArray[bm!.offset + c] = mean;
      bv!.storage.cpuArray[bv!.offset + c] = variance;
      if (rm && rv) {
        const rma = rm.storage.cpuArray;
        const rva = rv.storage.cpuArray;
        const im = rm.offset + c;
        const iv = rv.offset + c;
        if (darknet) {
          // Darknet: scal (rolling *= 0.99f) then axpy (rolling += 0.01f * batch), float each step.
          const r = f32 ? Math.fround : identity;
          const keep = r(1 - m);
          const take = r(m);
          rma[im] = r(r(rma[im]! * keep) + r(take * mean));
          rva[iv] = r(r(rva[iv]! * keep) + r(take * variance));
        } else {
          rma[im] = (1 - m) * rma[im]! + m * mean;
          rva[iv] = (1 - m) * rva[iv]! + (m * variance * n) / (n - 1);
        }
      }
    } else {
      mean = at(rm, c, 0);
      variance = at(rv, c, 1);
    }
    const g = at(weight, c, 1);
    const beta = at(bias, c, 0);
    if (darknet) {
      const den = Math.sqrt(variance) + attrs.eps;
      for (let b = 0; b < N; b++) {
        const base = (b * C + c) * HW;
        for (let k = 0; k < HW; k++) {
          const i = x.offset + base + k;
          if (f32) {
            let v = Math.fround(Math.fround(a[i]! - mean) / den);
            if (weight) v = Math.fround(v * g);
            if (bias) v = Math.fround(v + beta);
            o[y.offset + base + k] = v;
          } else {
            o[y.offset + base + k] = ((a[i]! - mean) / den) * g + beta;
          }
        }
      }
    } else {
      const inv = 1 / Math.sqrt(variance + attrs.eps);
      const scale = inv * g;
      for (let b = 0; b < N; b++) {
        const base = (b * C + c) * HW;
        for (let k = 0; k < HW; k++) o[y.offset + base + k] = (a[x.offset + base + k]! - mean) * scale + beta;
      }
    }
  }
});

registerKernel<BatchNorm2dBackwardKernel>('batchnorm2d_backward', 'cpu', (dx, dw, db, gy, x, weight, meanT, varT, attrs) => {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const HW = H * W;
  const n = N * HW;
  const a = x.storage.cpuArray;
  const g = gy.storage.cpuArray;
  const darknet = attrs.variant === 'darknet';
  if (x.dtype === 'float32' && batchnormBackwardParallel(dx, dw, db, gy, x, weight, meanT, varT, attrs)) return;
  for (let c = 0; c < C; c++) {
    const mean = at(meanT, c, 0);
    const variance = at(varT, c, 1);
    const sigma = Math.sqrt(variance);
    // The forward's denominator: x̂ = (x - mean)/s.
    const s = darknet ? sigma + attrs.eps : Math.sqrt(variance + attrs.eps);
    let sumG = 0;
    let sumGD = 0; // Σ gy·(x - mean)
    for (let b = 0; b < N; b++) {
      const base = (b * C + c) * HW;
      for (let k = 0; k < HW; k++) {
        const gv = g[gy.offset + base + k]!;
        sumG += gv;
        sumGD += gv * (a[x.offset + base + k]! - mean);
      }
    }
    const sumGX = sumGD / s; // Σ gy·x̂
    if (db) db.storage.cpuArray[db.offset + c] = sumG;
    if (dw) dw.storage.cpuArray[dw.offset + c] = sumGX;
    if (!dx) continue;
    const gamma = at(weight, c, 1);
    const d = dx.storage.cpuArray;
    // dx_i = A·gy_i + B·(x_i - mean) + D for every rule.
    let A: number;
    let B: number;
    let D: number;
    if (!attrs.batchStats) {
      A = gamma / s;
      B = 0;
      D = 0;
    } else if (attrs.rule === 'darknet' && darknet) {
      const rr = Math.sqrt(variance + DARKNET_BN_BACKWARD_EPS);
      const dmean = (-gamma * sumG) / rr;
      const dvar = -0.5 * gamma * sumGD * Math.pow(variance + DARKNET_BN_BACKWARD_EPS, -1.5);
      A = gamma / rr;
      B = (2 * dvar) / n;
      D = dmean / n;
    } else {
      // (ĝ - mean(ĝ))/s - x̂·Σ(ĝx̂)·k with ĝ = γ·gy, x̂ = (x - mean)/s.
      const k = darknet ? (sigma > 0 ? 1 / ((n - 1) * sigma) : 0) : 1 / (n * s);
      A = gamma / s;
      B = -(gamma * sumGX * k) / s;
      D = -(gamma * sumG) / (n * s);
    }
    for (let b = 0; b < N; b++) {
      const base = (b * C + c) * HW;
      for (let k = 0; k < HW; k++) {
        d[dx.offset + base + k] = A * g[gy.offset + base + k]! + B * (a[x.offset + base + k]! - mean) + D;
      }
    }
  }
});

export interface BatchNorm2dOptions {
  /** Batch statistics (and running-stat update) when true, running statistics when false. */
  training: boolean;
  /** 'pytorch' (default) or 'darknet'. */
  variant?: BatchNormVariant;
  /** Running-stat update weight of the new batch: default 0.1 (pytorch), 0.01 (darknet). */
  momentum?: number;
  /** Default 1e-5 inside the root (pytorch); 1e-6f added to sqrt(var) (darknet). */
  eps?: number;
  /** darknet variant only: 'darknet' (Darknet's backward formulas, default) or 'exact' (true derivative). */
  darknetBackward?: BatchNormBackwardRule;
}

export interface BatchNorm2dResult {
  y: Tensor;
  /** Training: the batch mean [C] (no grad). Eval: null. */
  batchMean: Tensor | null;
  /** Training: the batch variance [C] the forward normalised with (biased for pytorch, unbiased for darknet). */
  batchVar: Tensor | null;
}

function checkParam(op: string, name: string, t: Tensor | null, x: Tensor, C: number, mustBeContiguous: boolean): void {
  if (!t) return;
  t.assertAlive(op);
  if (t.ndim !== 1 || t.shape[0] !== C) throw new Error(`${op}: ${name} must have shape [${C}] for input ${shapeStr(x.shape)}, got ${shapeStr(t.shape)}`);
  if (t.dtype !== x.dtype || t.device !== x.device) {
    throw new Error(`${op}: ${name} is ${t.dtype} on '${t.device.name}', input ${shapeStr(x.shape)} is ${x.dtype} on '${x.device.name}'`);
  }
  if (mustBeContiguous && !t.isContiguous()) throw new Error(`${op}: ${name} ${shapeStr(t.shape)} is updated in place and must be contiguous`);
}

/**
 * Batch normalisation of x [N,C,H,W] (see the file header for both variants). In training mode the running
 * statistics (when given) are updated in place, without gradient, and the batch statistics are returned.
 * Gradients flow to x, weight and bias.
 */
export function batchnorm2d(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNorm2dOptions,
): BatchNorm2dResult {
  const op = 'batchnorm2d';
  x.assertAlive(op);
  checkFloat(op, x);
  if (x.ndim !== 4) throw new Error(`${op}: expected an NCHW input of rank 4, got ${shapeStr(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const variant = opts.variant ?? 'pytorch';
  if (variant !== 'pytorch' && variant !== 'darknet') throw new Error(`${op}: unknown variant '${String(variant)}' (expected 'pytorch' or 'darknet')`);
  const darknet = variant === 'darknet';
  const momentum = opts.momentum ?? (darknet ? 0.01 : 0.1);
  const eps = opts.eps ?? (darknet ? DARKNET_BN_EPS : 1e-5);
  const rule = opts.darknetBackward ?? (darknet ? 'darknet' : 'exact');
  if (rule !== 'exact' && rule !== 'darknet') throw new Error(`${op}: darknetBackward must be 'exact' or 'darknet', got '${String(rule)}'`);
  if (rule === 'darknet' && !darknet) throw new Error(`${op}: darknetBackward 'darknet' needs variant 'darknet'`);
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`${op}: momentum must be in [0, 1], got ${momentum}`);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
  checkParam(op, 'weight', weight, x, C, false);
  checkParam(op, 'bias', bias, x, C, false);
  checkParam(op, 'runningMean', runningMean, x, C, true);
  checkParam(op, 'runningVar', runningVar, x, C, true);
  if ((runningMean === null) !== (runningVar === null)) throw new Error(`${op}: give both runningMean and runningVar or neither`);
  const training = opts.training;
  if (!training && (!runningMean || !runningVar)) throw new Error(`${op}: eval mode (training: false) needs runningMean and runningVar`);
  if (training && N * H * W < 2) throw new Error(`${op}: training needs more than one value per channel, got input ${shapeStr(x.shape)}`);

  const xc = noGrad(() => contiguous(x));
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  const bm = training ? Tensor.empty([C], x.dtype, x.device) : null;
  const bv = training ? Tensor.empty([C], x.dtype, x.device) : null;
  const attrs: BatchNorm2dAttrs = { training, momentum, eps, variant };
  const wc = weight ? noGrad(() => contiguous(weight)) : null;
  const bc = bias ? noGrad(() => contiguous(bias)) : null;
  if (C > 0) getKernel<BatchNorm2dKernel>('batchnorm2d', x.device.name)(y, bm, bv, xc, wc, bc, runningMean, runningVar, attrs);
  if (wc && wc !== weight) wc.dispose();
  if (bc && bc !== bias) bc.dispose();

  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  if (needsGrad(inputs)) {
    // Eval-mode statistics are snapshotted: the running buffers may change before backward runs.
    const mean = bm ?? noGrad(() => clone(runningMean!));
    const variance = bv ?? noGrad(() => clone(runningVar!));
    const battrs: BatchNorm2dBackwardAttrs = { variant, eps, batchStats: training, rule };
    record(op, inputs, y, (g, needs) => {
      const r = batchnorm2dBackward(g, xc, weight, mean, variance, battrs, {
        x: needs[0]!,
        weight: weight !== null && needs[1]!,
        bias: bias !== null && needs[weight ? 2 : 1]!,
      });
      const out: (Tensor | null)[] = [r.dx];
      if (weight) out.push(r.dweight);
      if (bias) out.push(r.dbias);
      return out;
    });
  } else if (xc !== x) {
    xc.dispose();
  }
  // The caller gets its own views of the statistics, so disposing them does not free what backward needs.
  return {
    y,
    batchMean: bm ? new Tensor(bm.storage, bm.shape) : null,
    batchVar: bv ? new Tensor(bv.storage, bv.shape) : null,
  };
}

/**
 * The backward of batchnorm2d as one kernel call: dx, dweight, dbias (null where not wanted) for upstream
 * gradient gy, input x, weight (or null) and the statistics the forward normalised with.
 */
export function batchnorm2dBackward(
  gy: Tensor,
  x: Tensor,
  weight: Tensor | null,
  mean: Tensor,
  variance: Tensor,
  attrs: BatchNorm2dBackwardAttrs,
  want: { x: boolean; weight: boolean; bias: boolean },
): { dx: Tensor | null; dweight: Tensor | null; dbias: Tensor | null } {
  const op = 'batchnorm2d_backward';
  for (const t of [gy, x, mean, variance]) t.assertAlive(op);
  if (gy.shape.length !== 4 || gy.shape.some((d, i) => d !== x.shape[i])) throw new Error(`${op}: gradient ${shapeStr(gy.shape)} does not match input ${shapeStr(x.shape)}`);
  const C = x.shape[1]!;
  const gc = contiguous(gy);
  const xc = contiguous(x);
  const mc = contiguous(mean);
  const vc = contiguous(variance);
  const wc = weight ? contiguous(weight) : null;
  const dx = want.x ? Tensor.empty(x.shape, x.dtype, x.device) : null;
  const dweight = want.weight ? Tensor.empty([C], x.dtype, x.device) : null;
  const dbias = want.bias ? Tensor.empty([C], x.dtype, x.device) : null;
  if (dx || dweight || dbias) {
    getKernel<BatchNorm2dBackwardKernel>('batchnorm2d_backward', x.device.name)(dx, dweight, dbias, gc, xc, wc, mc, vc, attrs);
  }
  for (const [c, orig] of [[gc, gy], [xc, x], [mc, mean], [vc, variance], [wc, weight]] as const) if (c && c !== orig) c.dispose();
  return { dx, dweight, dbias };
}
