// Space-to-depth rearrangements [B,C,H,W] → [B,C·s²,H/s,W/s], three orders, one permutation kernel.
//
// With y the output, c < C, (i, j) an output cell and (dy, dx) < s the offset inside the s×s block:
//   'pixel_unshuffle' (F.pixel_unshuffle):   y[b, c·s² + dy·s + dx, i, j] = x[b, c, s·i+dy, s·j+dx]
//   'ardi' (torch-refs reorg_ardi, the usual PyTorch "reorg" of YOLOv2 ports, channel-block major):
//                                            y[b, (dy·s + dx)·C + c, i, j] = x[b, c, s·i+dy, s·j+dx]
//   'darknet' (Darknet's [reorg] layer, SEMANTICS 6.5: forward_reorg_layer calls reorg_cpu with forward=0):
//     not a rearrangement of the true C×H×W tensor. The flat input of one batch item is re-read as
//     X' [C/s², H·s, W·s], and the flat output is
//       out[((dy·s + dx)·(C/s²) + c2)·H·W + j·W + i] = X'[c2, s·j + dy, s·i + dx]   (c2 < C/s², j < H, i < W),
//     i.e. numpy X.reshape(C/s², H, s, W, s).transpose(2, 4, 0, 1, 3); later layers read that buffer as
//     [C·s², H/s, W/s]. Darknet's backward_reorg_layer applies the inverse permutation.
//
// Every mode is a bijection of the flat index inside one batch item, so the backward of each is the inverse
// permutation (same kernel, `inverse` = true), and that one's backward is the forward again.
//
// Kernel (same name on every device):
//   reorg (out, x, mode, stride, inverse)   out written with '='. inverse = false: x is the space side
//   [B,C,H,W], out [B,C·s²,H/s,W/s]; inverse = true: x is [B,C·s²,H/s,W/s], out the space side [B,C,H,W].

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkFloat } from './common.js';
import { contiguous } from './copy.js';

export type ReorgMode = 'darknet' | 'pixel_unshuffle' | 'ardi';

export type ReorgKernel = (out: Tensor, x: Tensor, mode: ReorgMode, stride: number, inverse: boolean) => void;

/**
 * Flat output index (inside one batch item) of input element (c, h, w) of a C×H×W item, stride s.
 * The definition of the three orders; the CPU kernel and the tests use it.
 */
export function reorgTargetIndex(mode: ReorgMode, C: number, H: number, W: number, s: number, c: number, h: number, w: number): number {
  const oh = H / s;
  const ow = W / s;
  if (mode === 'darknet') {
    // Position in X' [C/s², H·s, W·s] of flat input index p.
    const p = (c * H + h) * W + w;
    const plane = s * s * H * W;
    const c2 = Math.floor(p / plane);
    const rem = p - c2 * plane;
    const row = Math.floor(rem / (W * s));
    const col = rem - row * W * s;
    const j = Math.floor(row / s);
    const dy = row - j * s;
    const i = Math.floor(col / s);
    const dx = col - i * s;
    return ((dy * s + dx) * (C / (s * s)) + c2) * H * W + j * W + i;
  }
  const i = Math.floor(h / s);
  const dy = h - i * s;
  const j = Math.floor(w / s);
  const dx = w - j * s;
  const oc = mode === 'pixel_unshuffle' ? c * s * s + dy * s + dx : (dy * s + dx) * C + c;
  return (oc * oh + i) * ow + j;
}

registerKernel<ReorgKernel>('reorg', 'cpu', (out, x, mode, s, inverse) => {
  const space = inverse ? out : x;
  const [B, C, H, W] = space.shape as [number, number, number, number];
  const item = C * H * W;
  const src = x.storage.cpuArray;
  const dst = out.storage.cpuArray;
  const map = new Int32Array(item);
  let p = 0;
  for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) map[p++] = reorgTargetIndex(mode, C, H, W, s, c, h, w);
  for (let b = 0; b < B; b++) {
    const xb = x.offset + b * item;
    const ob = out.offset + b * item;
    if (inverse) for (let k = 0; k < item; k++) dst[ob + k] = src[xb + map[k]!]!;
    else for (let k = 0; k < item; k++) dst[ob + map[k]!] = src[xb + k]!;
  }
});

function run(x: Tensor, mode: ReorgMode, s: number, inverse: boolean): Tensor {
  const name = inverse ? `reorg_inverse(${mode})` : `reorg(${mode})`;
  x.assertAlive(name);
  checkFloat(name, x);
  if (!Number.isInteger(s) || s < 1) throw new Error(`${name}: stride must be a positive integer, got ${s}`);
  if (x.ndim !== 4) throw new Error(`${name}: expected an NCHW input of rank 4, got ${shapeStr(x.shape)}`);
  const [B, C, H, W] = x.shape as [number, number, number, number];
  let outShape: number[];
  if (!inverse) {
    if (H % s !== 0 || W % s !== 0) throw new Error(`${name}: height and width of ${shapeStr(x.shape)} must be multiples of the stride ${s}`);
    if (mode === 'darknet' && C % (s * s) !== 0) throw new Error(`${name}: Darknet's reorg needs channels divisible by stride² = ${s * s}, got ${shapeStr(x.shape)}`);
    outShape = [B, C * s * s, H / s, W / s];
  } else {
    if (C % (s * s) !== 0) throw new Error(`${name}: channels of ${shapeStr(x.shape)} must be a multiple of stride² = ${s * s}`);
    const c0 = C / (s * s);
    if (mode === 'darknet' && c0 % (s * s) !== 0) throw new Error(`${name}: Darknet's reorg needs ${c0} input channels divisible by stride² = ${s * s}`);
    outShape = [B, c0, H * s, W * s];
  }
  const xc = noGrad(() => contiguous(x));
  const out = Tensor.empty(outShape, x.dtype, x.device);
  if (out.size > 0) getKernel<ReorgKernel>('reorg', x.device.name)(out, xc, mode, s, inverse);
  if (xc !== x) xc.dispose();
  return record(name, [x], out, (g) => [run(g, mode, s, !inverse)]);
}

/** Space-to-depth in the given order (see the file header), differentiable. */
export function reorg(x: Tensor, stride: number, mode: ReorgMode): Tensor {
  return run(x, mode, stride, false);
}

/** The inverse rearrangement (depth-to-space): reorgInverse(reorg(x, s, m), s, m) = x. */
export function reorgInverse(y: Tensor, stride: number, mode: ReorgMode): Tensor {
  return run(y, mode, stride, true);
}

/** Darknet's [reorg] layer (stride default 2): [B,C,H,W] → [B,4C,H/2,W/2] in Darknet's order. */
export function reorgDarknet(x: Tensor, stride = 2): Tensor {
  return run(x, 'darknet', stride, false);
}

/** F.pixel_unshuffle(x, factor). */
export function pixelUnshuffle(x: Tensor, factor: number): Tensor {
  return run(x, 'pixel_unshuffle', factor, false);
}

/** F.pixel_shuffle(x, factor): the inverse of pixelUnshuffle. */
export function pixelShuffle(x: Tensor, factor: number): Tensor {
  return run(x, 'pixel_unshuffle', factor, true);
}

/** reorg_ardi of torch-refs: y[b, (s·dy + dx)·C + c, i, j] = x[b, c, s·i+dy, s·j+dx]. */
export function reorgArdi(x: Tensor, stride = 2): Tensor {
  return run(x, 'ardi', stride, false);
}
