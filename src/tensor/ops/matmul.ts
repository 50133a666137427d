// Matrix products. One primitive, 'bmm' (batched [B,M,K] @ [B,K,N] over views whose last two dims are
// row-major or transposed, so a transpose costs no copy), and two composites built on it:
// matmul (PyTorch semantics: 1-D promotion and broadcast batch dims) and linear.

import { noGrad } from '../../autograd/grad-mode.js';
import { record } from '../../autograd/record.js';
import { getKernel, registerKernel } from '../registry.js';
import { broadcastShapes, shapeStr, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { dgemm, sgemm } from '../backends/cpu/gemm/index.js';
import { add } from './binary.js';
import { checkSame, checkFloat, composite } from './common.js';
import { contiguous } from './copy.js';
import { sumToShape } from './reduce.js';
import { expand, reshape, squeeze, transpose, unsqueeze } from './views.js';

/** out [B,M,N] contiguous = a [B,M,K] @ b [B,K,N]; a and b are views (batch stride may be 0). */
export type BmmKernel = (out: Tensor, a: Tensor, b: Tensor) => void;

/** How a 3-D view's matrices lie in memory: row-major with leading dim `ld`, or transposed. */
export interface MatrixLayout {
  trans: boolean;
  ld: number;
}

/** Layout of the last two dims of a [B, R, C] view, or null if neither row- nor column-major. */
export function matrixLayout(x: Tensor): MatrixLayout | null {
  const [, R, C] = x.shape as [number, number, number];
  const [, sr, sc] = x.strides as [number, number, number];
  if (sc === 1 && (sr >= C || R === 1)) return { trans: false, ld: Math.max(sr, C, 1) };
  if (sr === 1 && (sc >= R || C === 1)) return { trans: true, ld: Math.max(sc, R, 1) };
  return null;
}

registerKernel<BmmKernel>('bmm', 'cpu', (out, a, b) => {
  const [B, M, K] = a.shape as [number, number, number];
  const N = b.shape[2]!;
  const la = matrixLayout(a)!;
  const lb = matrixLayout(b)!;
  const o = out.storage.cpuArray;
  const A = a.storage.cpuArray;
  const Bm = b.storage.cpuArray;
  for (let i = 0; i < B; i++) {
    const aOff = a.offset + i * a.strides[0]!;
    const bOff = b.offset + i * b.strides[0]!;
    const cOff = out.offset + i * M * N;
    if (out.dtype === 'float64') {
      dgemm(la.trans, lb.trans, M, N, K, 1, A as Float64Array, aOff, la.ld, Bm as Float64Array, bOff, lb.ld, 0, o as Float64Array, cOff, N);
    } else {
      sgemm(la.trans, lb.trans, M, N, K, 1, A as Float32Array, aOff, la.ld, Bm as Float32Array, bOff, lb.ld, 0, o as Float32Array, cOff, N);
    }
  }
});

/** Batched matrix product of 3-D tensors [B,M,K] @ [B,K,N] (B may broadcast from 1). */
export function bmm(a: Tensor, b: Tensor): Tensor {
  checkSame('bmm', a, b);
  checkFloat('bmm', a);
  if (a.ndim !== 3 || b.ndim !== 3) throw new Error(`bmm: expected 3-D tensors, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [Ba, M, K] = a.shape as [number, number, number];
  const [Bb, K2, N] = b.shape as [number, number, number];
  if (K !== K2) throw new Error(`bmm: inner dimensions differ: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  if (Ba !== Bb && Ba !== 1 && Bb !== 1) throw new Error(`bmm: batch sizes ${Ba} and ${Bb} do not broadcast`);
  const B = Math.max(Ba, Bb);
  const out = Tensor.empty([B, M, N], a.dtype, a.device);
  if (out.size > 0) {
    noGrad(() => {
      // operands that are neither row- nor column-major are copied (the expanded view is dropped then)
      const usable = (x: Tensor, e: Tensor): Tensor => {
        if (matrixLayout(e)) return e;
        const c = contiguous(e);
        if (e !== x) e.dispose();
        return c;
      };
      const ea = usable(a, expand(a, [B, M, K]));
      const eb = usable(b, expand(b, [B, K, N]));
      if (K === 0) getKernel('fill', a.device.name)(out, 0);
      else getKernel<BmmKernel>('bmm', a.device.name)(out, ea, eb);
      if (ea !== a) ea.dispose();
      if (eb !== b) eb.dispose();
    });
  }
  return record('bmm', [a, b], out, (g, needs) => [
    needs[0] ? sumToShape(bmm(g, transpose(b, 1, 2)), a.shape) : null,
    needs[1] ? sumToShape(bmm(transpose(a, 1, 2), g), b.shape) : null,
  ]);
}

/**
 * torch.matmul: 1-D operands are promoted (a row vector on the left, a column on the right) and the
 * promoted dim removed from the result; dims before the last two broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkSame('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: both arguments need at least 1 dimension, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return composite([a, b], () => matmulBody(a, b));
}

function matmulBody(a: Tensor, b: Tensor): Tensor {
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const M = a2.shape[a2.ndim - 2]!;
  const K = a2.shape[a2.ndim - 1]!;
  const K2 = b2.shape[b2.ndim - 2]!;
  const N = b2.shape[b2.ndim - 1]!;
  if (K !== K2) throw new Error(`matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be multiplied (${K} vs ${K2})`);
  const batch = broadcastShapes('matmul', a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const Bn = sizeOf(batch);
  // Keep a batch of 1 unexpanded so bmm can broadcast it with stride 0 instead of copying.
  const fold = (x: Tensor, R: number, C: number): Tensor => {
    const xb = x.shape.slice(0, -2);
    if (sizeOf(xb) === 1) return reshape(x, [1, R, C]);
    return reshape(expand(x, [...batch, R, C]), [Bn, R, C]);
  };
  let y = bmm(fold(a2, M, K), fold(b2, K, N));
  y = reshape(y, [...batch, M, N]);
  if (a.ndim === 1) y = squeeze(y, -2);
  if (b.ndim === 1) y = squeeze(y, -1);
  return y;
}

/** y = x @ weight^T + bias, weight [out, in]; leading dims of x are batch dims. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) throw new Error(`linear: weight must be 2-D [out, in], got ${shapeStr(weight.shape)}`);
  if (x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new Error(`linear: input ${shapeStr(x.shape)} has ${x.shape[x.ndim - 1]} features, weight ${shapeStr(weight.shape)} expects ${weight.shape[1]}`);
  }
  return composite([x, weight, bias], () => {
    const y = matmul(x, transpose(weight, 0, 1));
    return bias ? add(y, bias) : y;
  });
}
