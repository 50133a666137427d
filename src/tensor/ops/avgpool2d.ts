// 2-D average pooling over NCHW with PyTorch semantics (F.avg_pool2d), and global average pooling
// (F.adaptive_avg_pool2d(x, 1), Darknet's [avgpool]) as the special case kernel = H×W.
//
// Window of output (i, j): rows hs = i*sh - padTop .. hs + kh - 1 (same for columns). The divisor follows
// PyTorch exactly: with countIncludePad it is the window clipped to the *padded* input,
// (min(hs + kh, H + padBottom) - hs) * (same for w), so padding counts but a ceil-mode overhang beyond the
// padding does not; without it, the number of real input cells in the window. The sum is accumulated in
// double and rounded once on store.
//
// Kernels (same names on every device):
//   avgpool2d          (out, x, window, countIncludePad)    out written with '='
//   avgpool2d_backward (gx, gout, window, countIncludePad)  gx written with '=' (each cell gets the sum of
//                                                          gout/divisor over the windows that cover it)

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { contiguous } from './copy.js';
import { check4d, intPair, pytorchPoolOutputSize, type IntPair, type Pool2dWindow } from './maxpool2d.js';

/** out [N,C,OH,OW] = window averages of contiguous x [N,C,H,W] (window.dh/dw must be 1). */
export type AvgPool2dKernel = (out: Tensor, x: Tensor, window: Pool2dWindow, countIncludePad: boolean) => void;

/** gx [N,C,H,W] (contiguous) = the adjoint of avgpool2d applied to contiguous gout [N,C,OH,OW]. */
export type AvgPool2dBackwardKernel = (gx: Tensor, gout: Tensor, window: Pool2dWindow, countIncludePad: boolean) => void;

/** Window rows [h0, h1) clipped to the input and the PyTorch divisor for output (i, j). */
function bounds(i: number, j: number, H: number, W: number, win: Pool2dWindow, countIncludePad: boolean): [number, number, number, number, number] {
  let h0 = i * win.sh - win.padTop;
  let w0 = j * win.sw - win.padLeft;
  let h1 = Math.min(h0 + win.kh, H + win.padBottom);
  let w1 = Math.min(w0 + win.kw, W + win.padRight);
  const padded = (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, H);
  w1 = Math.min(w1, W);
  return [h0, h1, w0, w1, countIncludePad ? padded : (h1 - h0) * (w1 - w0)];
}

registerKernel<AvgPool2dKernel>('avgpool2d', 'cpu', (out, x, win, countIncludePad) => {
  const H = x.shape[2]!;
  const W = x.shape[3]!;
  const OH = out.shape[2]!;
  const OW = out.shape[3]!;
  const planes = x.shape[0]! * x.shape[1]!;
  const a = x.storage.cpuArray;
  const o = out.storage.cpuArray;
  for (let i = 0; i < OH; i++) {
    for (let j = 0; j < OW; j++) {
      const [h0, h1, w0, w1, div] = bounds(i, j, H, W, win, countIncludePad);
      for (let p = 0; p < planes; p++) {
        const xb = x.offset + p * H * W;
        let s = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += a[xb + h * W + w]!;
        o[out.offset + p * OH * OW + i * OW + j] = s / div;
      }
    }
  }
});

registerKernel<AvgPool2dBackwardKernel>('avgpool2d_backward', 'cpu', (gx, gout, win, countIncludePad) => {
  const H = gx.shape[2]!;
  const W = gx.shape[3]!;
  const OH = gout.shape[2]!;
  const OW = gout.shape[3]!;
  const planes = gx.shape[0]! * gx.shape[1]!;
  const d = gx.storage.cpuArray;
  const g = gout.storage.cpuArray;
  if (d instanceof Float32Array) {
    // Accumulate in double, round once (as the forward does).
    const acc = new Float64Array(gx.size);
    scatter(acc, 0);
    d.set(acc, gx.offset);
  } else {
    d.fill(0, gx.offset, gx.offset + gx.size);
    scatter(d, gx.offset);
  }
  function scatter(dst: Float64Array | Float32Array | Int32Array, base: number): void {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const [h0, h1, w0, w1, div] = bounds(i, j, H, W, win, countIncludePad);
        for (let p = 0; p < planes; p++) {
          const v = g[gout.offset + p * OH * OW + i * OW + j]! / div;
          const xb = base + p * H * W;
          for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) dst[xb + h * W + w] += v;
        }
      }
    }
  }
});

export interface AvgPool2dOptions {
  kernel: IntPair;
  /** Default: the kernel size. */
  stride?: IntPair;
  /** Symmetric zero padding, at most half the kernel. Default 0. */
  padding?: IntPair;
  /** PyTorch's ceil_mode. Default false. */
  ceilMode?: boolean;
  /** Count padding cells in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

function plan(op: string, H: number, W: number, opts: AvgPool2dOptions): { window: Pool2dWindow; outH: number; outW: number } {
  const [kh, kw] = intPair(op, 'kernel', opts.kernel, 1);
  const [sh, sw] = intPair(op, 'stride', opts.stride ?? opts.kernel, 1);
  const [ph, pw] = intPair(op, 'padding', opts.padding ?? 0, 0);
  if (ph > Math.floor(kh / 2) || pw > Math.floor(kw / 2)) throw new Error(`${op}: padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw}`);
  const ceil = opts.ceilMode ?? false;
  const outH = pytorchPoolOutputSize(H, kh, sh, ph, 1, ceil);
  const outW = pytorchPoolOutputSize(W, kw, sw, pw, 1, ceil);
  if (outH < 1 || outW < 1) throw new Error(`${op}: output size ${outH}x${outW} is too small for input ${H}x${W} with kernel ${kh}x${kw}, stride ${sh}x${sw}`);
  return { window: { kh, kw, sh, sw, dh: 1, dw: 1, padTop: ph, padLeft: pw, padBottom: ph, padRight: pw }, outH, outW };
}

function run(op: string, x: Tensor, window: Pool2dWindow, outH: number, outW: number, countIncludePad: boolean): Tensor {
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  const xc = noGrad(() => contiguous(x));
  const out = Tensor.empty([N, C, outH, outW], x.dtype, x.device);
  if (out.size > 0) getKernel<AvgPool2dKernel>('avgpool2d', x.device.name)(out, xc, window, countIncludePad);
  if (xc !== x) xc.dispose();
  const inShape = x.shape;
  return record(op, [x], out, (g) => [avgpool2dBackward(g, inShape, window, countIncludePad)]);
}

/** torch.nn.functional.avg_pool2d(x, kernel, stride, padding, ceilMode, countIncludePad). */
export function avgpool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const [, , H, W] = check4d('avgpool2d', x);
  const { window, outH, outW } = plan('avgpool2d', H, W, opts);
  return run('avgpool2d', x, window, outH, outW, opts.countIncludePad ?? true);
}

/** Mean over H×W: [N,C,H,W] → [N,C,1,1] (F.adaptive_avg_pool2d(x, 1), Darknet's [avgpool]). */
export function globalAvgPool2d(x: Tensor): Tensor {
  const [, , H, W] = check4d('globalAvgPool2d', x);
  if (H === 0 || W === 0) throw new Error(`globalAvgPool2d: empty spatial size in ${shapeStr(x.shape)}`);
  const window: Pool2dWindow = { kh: H, kw: W, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0 };
  return run('global_avgpool2d', x, window, 1, 1, true);
}

/** The adjoint of average pooling: gout [N,C,OH,OW] spread back over an input of shape `inShape`. */
export function avgpool2dBackward(gout: Tensor, inShape: readonly number[], window: Pool2dWindow, countIncludePad: boolean): Tensor {
  gout.assertAlive('avgpool2d_backward');
  if (gout.ndim !== 4 || inShape.length !== 4) throw new Error(`avgpool2d_backward: gout ${shapeStr(gout.shape)} and input ${shapeStr(inShape)} must be NCHW`);
  const gc = contiguous(gout);
  const gx = Tensor.empty(inShape, gout.dtype, gout.device);
  if (gx.size > 0) getKernel<AvgPool2dBackwardKernel>('avgpool2d_backward', gout.device.name)(gx, gc, window, countIncludePad);
  if (gc !== gout) gc.dispose();
  // Linear in gout; its adjoint is the pooling itself (double backward of avgpool2d).
  const [outH, outW] = [gout.shape[2]!, gout.shape[3]!];
  return record('avgpool2d_backward', [gout], gx, (u) => [run('avgpool2d', u, window, outH, outW, countIncludePad)]);
}
