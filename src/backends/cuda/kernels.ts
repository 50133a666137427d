// Device kernels of 'cuda' and 'cuda-emu', registered under the same op names and signatures as the CPU
// kernels in src/tensor/ops/*.ts (and src/nn/optim). Each one only turns Tensor views into device pointers
// (storage pointer + 4 * offset), shapes and strides, and calls one native launcher; the math lives in
// native/kernels/<op>.cu, whose header comment mirrors the CPU kernel's.

import type { DType } from '../../tensor/dtype.js';
import { registerKernel } from '../../tensor/registry.js';
import { shapeStr } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { FillKernel } from '../../tensor/ops/creation.js';
import type { CopyKernel } from '../../tensor/ops/copy.js';
import type { UnaryKernel, UnaryOp } from '../../tensor/ops/unary.js';
import type { BinaryKernel, BinaryOp } from '../../tensor/ops/binary.js';
import type { WhereKernel } from '../../tensor/ops/where.js';
import type { ReduceKernel } from '../../tensor/ops/reduce.js';
import type { OneHotKernel } from '../../tensor/ops/one-hot.js';
import { matrixLayout, type BmmKernel } from '../../tensor/ops/matmul.js';
import type { SoftmaxKernel } from '../../tensor/ops/softmax.js';
import type { MaxPool2dBackwardKernel, MaxPool2dKernel, Pool2dWindow } from '../../tensor/ops/maxpool2d.js';
import type { AvgPool2dBackwardKernel, AvgPool2dKernel } from '../../tensor/ops/avgpool2d.js';
import type { BatchNorm2dBackwardKernel, BatchNorm2dKernel } from '../../tensor/ops/batchnorm2d.js';
import type {
  Conv2dBackwardBiasKernel,
  Conv2dBackwardInputKernel,
  Conv2dBackwardWeightKernel,
  Conv2dKernel,
  Conv2dParams,
} from '../../tensor/ops/conv2d.js';
import type { Local2dBackwardInputKernel, Local2dBackwardWeightKernel, Local2dKernel, Local2dParams } from '../../tensor/ops/local2d.js';
import type { ReorgKernel, ReorgMode } from '../../tensor/ops/reorg.js';
import type { DropoutKernel } from '../../tensor/ops/dropout.js';
import type { SgdKernel } from '../../nn/optim/sgd.js';
import type { AdamKernel } from '../../nn/optim/adam.js';
import type { RegionLossAttrs, RegionLossKernel } from '../../yolo/loss/region-loss.js';
import type { DetectionLossKernel } from '../../yolo/loss/detection-loss.js';
import type { DevicePtr, NativeAddon } from './addon.js';

/** Device address of a tensor's first element. */
export function ptr(t: Tensor): DevicePtr {
  return (t.storage.handle as number) + 4 * t.offset;
}

/** Device address of an optional tensor (0 = null). */
function optPtr(t: Tensor | null | undefined): DevicePtr {
  return t ? ptr(t) : 0;
}

function dtypeCode(n: NativeAddon, op: string, d: DType): number {
  if (d === 'float32') return n.constants.dtype.float32;
  if (d === 'int32') return n.constants.dtype.int32;
  throw new Error(`${op}: dtype ${d} is not supported on the device`);
}

function requireFloat32(op: string, ...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) if (t && t.dtype !== 'float32') throw new Error(`${op}: the device kernel needs float32, got ${t.dtype} ${shapeStr(t.shape)}`);
}

function code(table: Record<string, number>, name: string, op: string): number {
  const key = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const v = table[key];
  if (v === undefined) throw new Error(`${op}: no device kernel for '${name}'`);
  return v;
}

const REORG_MODE: Record<ReorgMode, 'darknet' | 'pixelUnshuffle' | 'ardi'> = {
  darknet: 'darknet',
  pixel_unshuffle: 'pixelUnshuffle',
  ardi: 'ardi',
};

/** Pool geometry arguments: B, C, H, W, OH, OW, kh, kw, sh, sw[, dh, dw], padTop, padLeft, padBottom, padRight. */
function poolArgs(x: Tensor, out: Tensor, w: Pool2dWindow, dilation: boolean): number[] {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  const head = [B, C, H, W, out.shape[2]!, out.shape[3]!, w.kh, w.kw, w.sh, w.sw];
  if (dilation) head.push(w.dh, w.dw);
  head.push(w.padTop, w.padLeft, w.padBottom, w.padRight);
  return head;
}

/** Conv geometry: B, C, H, W, O, kh, kw, sh, sw, dh, dw, padTop, padBottom, padLeft, padRight, groups. */
function convArgs(x: readonly number[], w: readonly number[], p: Conv2dParams): number[] {
  return [x[0]!, x[1]!, x[2]!, x[3]!, w[0]!, w[2]!, w[3]!, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], ...p.padding, p.groups];
}

/** local2d geometry (conv2d's layout): x [N,C,H,W], weight [OH,OW,O,C,kh,kw]. */
function localArgs(x: readonly number[], w: readonly number[], p: Local2dParams): number[] {
  return [x[0]!, x[1]!, x[2]!, x[3]!, w[2]!, w[4]!, w[5]!, p.stride[0], p.stride[1], 1, 1, ...p.padding, 1];
}

/**
 * The CPU region kernel's error for the first truth (in image order, then slot order, up to the first x = 0)
 * whose class is outside 0..classes−1; read back from the device only once the kernel has counted one.
 */
function regionClassError(n: NativeAddon, truth: Tensor, a: RegionLossAttrs, batch: number): Error {
  const t = new Float32Array(truth.size);
  n.memcpyDtoH(t, ptr(truth), 0);
  const per = a.coords + 1;
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < a.maxBoxes; k++) {
      const o = (b * a.maxBoxes + k) * per;
      if (t[o] === 0) break;
      const cls = Math.trunc(t[o + a.coords]!);
      if (!(cls >= 0 && cls < a.classes)) return new Error(`region loss: image ${b}, truth slot ${k}: class ${t[o + a.coords]} is outside 0..${a.classes - 1}`);
    }
  }
  return new Error('region loss: the device counted a truth whose class is out of range, but none was found on reading the truth back');
}

/** Register every device kernel of `device` (the CudaDevice's name) on the given addon. */
export function registerCudaKernels(device: string, n: NativeAddon): void {
  const C = n.constants;

  registerKernel<FillKernel>('fill', device, (out, value) => {
    n.fill(ptr(out), dtypeCode(n, 'fill', out.dtype), out.size, value);
  });

  registerKernel<CopyKernel>('copy', device, (out, x) => {
    n.copy(ptr(out), dtypeCode(n, 'copy', out.dtype), ptr(x), dtypeCode(n, 'copy', x.dtype), out.shape, out.strides, x.strides);
  });

  registerKernel<UnaryKernel>('unary', device, (out, x, op: UnaryOp, params) => {
    requireFloat32('unary', out, x);
    n.unary(ptr(out), ptr(x), out.shape, out.strides, x.strides, code(C.unary, op, 'unary'), params[0] ?? 0, params[1] ?? 0);
  });

  registerKernel<BinaryKernel>('binary', device, (out, a, b, op: BinaryOp) => {
    n.binary(ptr(out), ptr(a), ptr(b), out.shape, out.strides, a.strides, b.strides, code(C.binary, op, 'binary'), dtypeCode(n, 'binary', out.dtype));
  });

  registerKernel<WhereKernel>('where', device, (out, c, a, b) => {
    n.where(ptr(out), ptr(c), ptr(a), ptr(b), out.shape, out.strides, c.strides, a.strides, b.strides, dtypeCode(n, 'where', out.dtype));
  });

  registerKernel<ReduceKernel>('reduce', device, (out, x, R, op, indices) => {
    requireFloat32('reduce', out, x);
    n.reduce(ptr(out), optPtr(indices), ptr(x), out.size, R, 1, C.reduce[op], 1);
  });

  registerKernel<OneHotKernel>('one_hot', device, (out, indices, classes) => {
    n.oneHot(ptr(out), dtypeCode(n, 'one_hot', out.dtype), ptr(indices), indices.size, classes);
  });

  registerKernel<BmmKernel>('bmm', device, (out, a, b) => {
    requireFloat32('bmm', out, a, b);
    const [B, M, K] = a.shape as [number, number, number];
    const N = b.shape[2]!;
    const la = matrixLayout(a);
    const lb = matrixLayout(b);
    if (!la || !lb) throw new Error(`bmm: operands ${shapeStr(a.shape)} / ${shapeStr(b.shape)} are not row- or column-major matrices`);
    n.gemm(ptr(out), ptr(a), ptr(b), 0, M, N, K, la.trans, lb.trans, la.ld, lb.ld, N, 1, 0, C.biasMode.none, B, a.strides[0]!, b.strides[0]!, M * N);
  });

  registerKernel<SoftmaxKernel>('softmax', device, (out, x, len, inner, log) => {
    requireFloat32('softmax', out, x);
    const outer = len * inner === 0 ? 0 : x.size / (len * inner);
    n.softmax(ptr(out), ptr(x), outer, len, inner, log);
  });

  registerKernel<MaxPool2dKernel>('maxpool2d', device, (out, indices, x, win, emptyValue) => {
    requireFloat32('maxpool2d', out, x);
    n.maxpool2d(ptr(out), ptr(indices), ptr(x), ...poolArgs(x, out, win, true), emptyValue);
  });

  registerKernel<MaxPool2dBackwardKernel>('maxpool2d_backward', device, (gx, gout, indices) => {
    requireFloat32('maxpool2d_backward', gx, gout);
    const planes = gx.shape[0]! * gx.shape[1]!;
    n.maxpool2dBackward(ptr(gx), ptr(gout), ptr(indices), planes, gx.shape[2]! * gx.shape[3]!, gout.shape[2]! * gout.shape[3]!);
  });

  registerKernel<AvgPool2dKernel>('avgpool2d', device, (out, x, win, countIncludePad) => {
    requireFloat32('avgpool2d', out, x);
    n.avgpool2d(ptr(out), ptr(x), ...poolArgs(x, out, win, false), countIncludePad);
  });

  registerKernel<AvgPool2dBackwardKernel>('avgpool2d_backward', device, (gx, gout, win, countIncludePad) => {
    requireFloat32('avgpool2d_backward', gx, gout);
    n.avgpool2dBackward(ptr(gx), ptr(gout), ...poolArgs(gx, gout, win, false), countIncludePad);
  });

  registerKernel<BatchNorm2dKernel>('batchnorm2d', device, (y, bm, bv, x, weight, bias, rm, rv, attrs) => {
    requireFloat32('batchnorm2d', y, bm, bv, x, weight, bias, rm, rv);
    const [B, Ch, H, W] = x.shape as [number, number, number, number];
    n.batchnorm2d(
      ptr(y), optPtr(bm), optPtr(bv), ptr(x), optPtr(weight), optPtr(bias), optPtr(rm), optPtr(rv),
      B, Ch, H * W, attrs.training, attrs.momentum, attrs.eps, C.bnVariant[attrs.variant],
    );
  });

  registerKernel<BatchNorm2dBackwardKernel>('batchnorm2d_backward', device, (dx, dw, db, gy, x, weight, mean, variance, attrs) => {
    requireFloat32('batchnorm2d_backward', dx, dw, db, gy, x, weight, mean, variance);
    const [B, Ch, H, W] = x.shape as [number, number, number, number];
    n.batchnorm2dBackward(
      optPtr(dx), optPtr(dw), optPtr(db), ptr(gy), ptr(x), optPtr(weight), ptr(mean), ptr(variance),
      B, Ch, H * W, attrs.eps, C.bnVariant[attrs.variant], attrs.batchStats, C.bnRule[attrs.rule],
    );
  });

  registerKernel<Conv2dKernel>('conv2d', device, (out, x, weight, bias, p) => {
    requireFloat32('conv2d', out, x, weight, bias);
    n.conv2d(ptr(out), ptr(x), ptr(weight), optPtr(bias), ...convArgs(x.shape, weight.shape, p));
  });

  registerKernel<Conv2dBackwardInputKernel>('conv2d_backward_input', device, (dx, gout, weight, p) => {
    requireFloat32('conv2d_backward_input', dx, gout, weight);
    n.conv2dBackwardInput(ptr(dx), ptr(gout), ptr(weight), ...convArgs(dx.shape, weight.shape, p));
  });

  registerKernel<Conv2dBackwardWeightKernel>('conv2d_backward_weight', device, (dw, x, gout, p) => {
    requireFloat32('conv2d_backward_weight', dw, x, gout);
    n.conv2dBackwardWeight(ptr(dw), ptr(x), ptr(gout), ...convArgs(x.shape, dw.shape, p));
  });

  registerKernel<Conv2dBackwardBiasKernel>('conv2d_backward_bias', device, (db, gout) => {
    requireFloat32('conv2d_backward_bias', db, gout);
    const [B, O] = gout.shape as [number, number];
    n.conv2dBackwardBias(ptr(db), ptr(gout), B, O, (gout.shape[2] ?? 1) * (gout.shape[3] ?? 1));
  });

  registerKernel<Local2dKernel>('local2d', device, (out, x, weight, bias, p) => {
    requireFloat32('local2d', out, x, weight, bias);
    n.local2d(ptr(out), ptr(x), ptr(weight), optPtr(bias), ...localArgs(x.shape, weight.shape, p));
  });

  registerKernel<Local2dBackwardInputKernel>('local2d_backward_input', device, (dx, gout, weight, p) => {
    requireFloat32('local2d_backward_input', dx, gout, weight);
    n.local2dBackwardInput(ptr(dx), ptr(gout), ptr(weight), ...localArgs(dx.shape, weight.shape, p));
  });

  registerKernel<Local2dBackwardWeightKernel>('local2d_backward_weight', device, (dw, x, gout, p) => {
    requireFloat32('local2d_backward_weight', dw, x, gout);
    n.local2dBackwardWeight(ptr(dw), ptr(x), ptr(gout), ...localArgs(x.shape, dw.shape, p));
  });

  registerKernel<ReorgKernel>('reorg', device, (out, x, mode, s, inverse) => {
    requireFloat32('reorg', out, x);
    const space = inverse ? out : x;
    const [B, Ch, H, W] = space.shape as [number, number, number, number];
    const m = C.reorgMode[REORG_MODE[mode]];
    if (inverse) n.reorgBackward(ptr(out), ptr(x), B, Ch, H, W, s, m);
    else n.reorg(ptr(out), ptr(x), B, Ch, H, W, s, m);
  });

  registerKernel<DropoutKernel>('dropout', device, (out, mask, x, p, seed) => {
    requireFloat32('dropout', out, mask, x);
    n.dropout(ptr(out), ptr(mask), ptr(x), x.size, p, seed);
  });

  registerKernel<SgdKernel>('sgd', device, (param, grad, velocity, h) => {
    requireFloat32('sgd', param, grad, velocity);
    n.sgd(ptr(param), ptr(grad), ptr(velocity), param.size, h.lr, h.momentum, h.decay, h.batch, C.sgdVariant[h.variant], h.firstStep);
  });

  registerKernel<AdamKernel>('adam', device, (param, grad, m, v, h) => {
    requireFloat32('adam', param, grad, m, v);
    n.adam(ptr(param), ptr(grad), ptr(m), ptr(v), param.size, h.lr, h.beta1, h.beta2, h.eps, h.decay, h.step);
  });

  // Contiguous float32 tensors (regionLoss/detectionLoss pass contiguous copies). Everything stays on the device
  // except the 8 stats floats read back by region_loss: slot 7 counts truths with a class out of range, which
  // the CPU kernel rejects with an error, and so does this one (that read waits for the stream).
  registerKernel<RegionLossKernel>('region_loss', device, (delta, cost, stats, output, truth, a) => {
    requireFloat32('region_loss', delta, cost, stats, output, truth);
    const outputs = a.n * (a.coords + 1 + a.classes) * a.w * a.h;
    const batch = outputs > 0 ? output.size / outputs : 0;
    n.regionLoss(
      ptr(delta), ptr(cost), ptr(stats), ptr(output), ptr(truth), batch, a.w, a.h, a.n, a.classes, a.coords, a.maxBoxes,
      a.anchors, a.biasMatch, a.rescore, a.background, a.seen, a.objectScale, a.noobjectScale, a.classScale, a.coordScale, a.thresh,
    );
    const s = new Float32Array(stats.size);
    n.memcpyDtoH(s, ptr(stats), 0);
    if (s[7]! > 0) throw regionClassError(n, truth, a, batch);
  });

  registerKernel<DetectionLossKernel>('detection_loss', device, (delta, cost, stats, output, truth, a) => {
    requireFloat32('detection_loss', delta, cost, stats, output, truth);
    const outputs = a.side * a.side * (a.classes + a.n * (1 + a.coords));
    const batch = outputs > 0 ? output.size / outputs : 0;
    n.detectionLoss(
      ptr(delta), ptr(cost), ptr(stats), ptr(output), ptr(truth), batch, a.side, a.n, a.classes, a.coords, a.rescore, a.sqrt,
      Boolean(a.forced), a.random, a.seen, a.seed, a.objectScale, a.noobjectScale, a.classScale, a.coordScale,
    );
  });
}
