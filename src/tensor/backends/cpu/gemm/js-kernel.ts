// GEMM in plain JavaScript, cache-blocked with a 4 x 4 register tile, accumulating in float64.
//
// Used for: dgemm (float64; every product and sum is an ordinary float64 operation, so the result
// differs from a naive triple loop only by summation order), sgemm on problems too small to be
// worth copying into wasm memory, and sgemm when WebAssembly SIMD is unavailable.
//
// C = alpha * op(A) @ op(B) + beta * C is computed as: C = beta * C (beta = 0 writes zeros, so old
// NaN/Inf never leak), then for every KC slice of k, C += alpha * (A slice @ B slice). Blocks of A
// (MC x KC) and B (KC x NC) are packed into reused Float64Array buffers in 4-wide panels
// (zero-padded), so the micro-kernel reads both operands with unit stride and needs no bounds checks.

type Real = Float32Array | Float64Array;

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 512;

let packA = new Float64Array(MC * KC);
let packB = new Float64Array(KC * NC);
/** The register tile of a partial (edge) block, spilled for the bounds-checked store. */
const edgeTile = new Float64Array(MR * NR);

/** C[M x N] = beta * C over the rows/cols of the matrix (beta = 0 overwrites). */
export function scaleC(M: number, N: number, beta: number, C: Real, cOff: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < M; i++) {
    const row = cOff + i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    else for (let j = row; j < row + N; j++) C[j] = beta * C[j]!;
  }
}

/**
 * Reference-quality blocked GEMM; arguments as in sgemm/dgemm (already validated, M, N > 0).
 * Allocates only when its packing buffers must grow.
 */
export function gemmJs(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Real, aOff: number, lda: number, B: Real, bOff: number, ldb: number,
  beta: number, C: Real, cOff: number, ldc: number,
): void {
  scaleC(M, N, beta, C, cOff, ldc);
  if (K === 0 || alpha === 0) return;
  // Element (i, k) of op(A) is A[aOff + i*ars + k*acs]; (k, j) of op(B) is B[bOff + k*brs + j*bcs].
  const ars = transA ? 1 : lda;
  const acs = transA ? lda : 1;
  const brs = transB ? 1 : ldb;
  const bcs = transB ? ldb : 1;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      if (packB.length < kc * ncPad) packB = new Float64Array(kc * ncPad);
      const pb = packB;
      // B panel q (columns jc+q*NR ..): pb[q*kc*NR + k*NR + j]
      packPanels(B, bOff + pc * brs + jc * bcs, bcs, brs, nc, kc, NR, pb);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        const mcPad = Math.ceil(mc / MR) * MR;
        if (packA.length < kc * mcPad) packA = new Float64Array(kc * mcPad);
        const pa = packA;
        packPanels(A, aOff + ic * ars + pc * acs, ars, acs, mc, kc, MR, pa);
        macroKernel(pa, pb, mc, nc, kc, alpha, C, cOff + ic * ldc + jc, ldc);
      }
    }
  }
}

/**
 * Packs `lanes` lanes (rows of A or columns of B) x kc of X into W-wide panels: lane l, depth k of
 * the source is X[src + l*ls + k*ks], written to dst[(l/W)*kc*W + k*W + l%W]; missing lanes of the
 * last panel are zero. The loop runs along whichever of the two strides is 1.
 */
function packPanels(X: Real, src: number, ls: number, ks: number, lanes: number, kc: number, W: number, dst: Float64Array): void {
  const padded = Math.ceil(lanes / W) * W;
  if (ks === 1 || ls !== 1) {
    // along k for each lane
    for (let l = 0; l < padded; l++) {
      let d = Math.floor(l / W) * kc * W + (l % W);
      if (l < lanes) {
        let p = src + l * ls;
        for (let k = 0; k < kc; k++, p += ks, d += W) dst[d] = X[p]!;
      } else {
        for (let k = 0; k < kc; k++, d += W) dst[d] = 0;
      }
    }
  } else {
    // along lanes for each k
    for (let k = 0; k < kc; k++) {
      const p = src + k * ks;
      for (let l = 0, d = k * W; l < padded; l += W, d += kc * W) {
        for (let j = 0; j < W; j++) dst[d + j] = l + j < lanes ? X[p + l + j]! : 0;
      }
    }
  }
}

function macroKernel(
  pa: Float64Array, pb: Float64Array, mc: number, nc: number, kc: number, alpha: number,
  C: Real, cBase: number, ldc: number,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const bBase = jr * kc; // = (jr/NR) * kc * NR
    const nr = Math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = Math.min(MR, mc - ir);
      let ai = ir * kc;
      let bi = bBase;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < kc; k++, ai += MR, bi += NR) {
        const a0 = pa[ai]!, a1 = pa[ai + 1]!, a2 = pa[ai + 2]!, a3 = pa[ai + 3]!;
        const b0 = pb[bi]!, b1 = pb[bi + 1]!, b2 = pb[bi + 2]!, b3 = pb[bi + 3]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const c0 = cBase + ir * ldc + jr;
      if (mr === MR && nr === NR) {
        let p = c0;
        C[p] = C[p]! + alpha * c00; C[p + 1] = C[p + 1]! + alpha * c01; C[p + 2] = C[p + 2]! + alpha * c02; C[p + 3] = C[p + 3]! + alpha * c03;
        p += ldc;
        C[p] = C[p]! + alpha * c10; C[p + 1] = C[p + 1]! + alpha * c11; C[p + 2] = C[p + 2]! + alpha * c12; C[p + 3] = C[p + 3]! + alpha * c13;
        p += ldc;
        C[p] = C[p]! + alpha * c20; C[p + 1] = C[p + 1]! + alpha * c21; C[p + 2] = C[p + 2]! + alpha * c22; C[p + 3] = C[p + 3]! + alpha * c23;
        p += ldc;
        C[p] = C[p]! + alpha * c30; C[p + 1] = C[p + 1]! + alpha * c31; C[p + 2] = C[p + 2]! + alpha * c32; C[p + 3] = C[p + 3]! + alpha * c33;
      } else {
        const t = edgeTile;
        t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
        t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23; t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
        for (let r = 0; r < mr; r++) {
          for (let j = 0; j < nr; j++) C[c0 + r * ldc + j] = C[c0 + r * ldc + j]! + alpha * t[r * 4 + j]!;
        }
      }
    }
  }
}
