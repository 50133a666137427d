// CPU GEMM: the one matrix-multiply kernel under matmul, conv2d (im2col) and conv backward.
//
//   sgemm / dgemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc)
//     C = alpha * op(A) @ op(B) + beta * C, row-major (cblas CblasRowMajor), op(X) = X or X^T.
//     beta = 0 overwrites C (old NaN included). Synchronous.
//   gemmThreads(n?)   threads sgemm may use (default: available cores, clamped to 2..8).
//   gemmWarmup()      start the worker threads ahead of the first big sgemm.
//   gemmStats()       which paths ran (for tests and benchmarks).
//   gemmTuning()      internal knobs (thresholds, tile sizes, force the JS kernel).

export { sgemm, gemmThreads, gemmWarmup, gemmStats, gemmTuning, type GemmStats } from './sgemm.js';
export { dgemm } from './dgemm.js';
