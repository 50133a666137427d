// dgemm: float64 C = alpha * op(A) @ op(B) + beta * C, row-major, synchronous.
//
// The reference-precision GEMM (gradcheck, float64 tensors): the cache-blocked JS kernel on one
// thread. Every operation is a float64 multiply or add, so results match a naive triple loop up
// to the order of summation.

import { checkGemmArgs } from './check.js';
import { gemmJs, scaleC } from './js-kernel.js';

export function dgemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float64Array, aOff: number, lda: number, B: Float64Array, bOff: number, ldb: number,
  beta: number, C: Float64Array, cOff: number, ldc: number,
): void {
  if (!(A instanceof Float64Array) || !(B instanceof Float64Array) || !(C instanceof Float64Array)) {
    throw new TypeError('dgemm: A, B and C must be Float64Array');
  }
  checkGemmArgs('dgemm', transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    scaleC(M, N, beta, C, cOff, ldc);
    return;
  }
  gemmJs(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
}
