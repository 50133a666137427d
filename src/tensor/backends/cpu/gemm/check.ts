// Argument checks shared by sgemm and dgemm: one clear error naming the call, the shapes and what
// is wrong, before any memory is touched.

type Real = Float32Array | Float64Array;

function isDim(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Checks one operand stored row-major as `rows` x `cols` with leading dimension `ld` from `off`:
 * ld >= max(1, cols) and the last element read lies inside the array.
 */
function checkMatrix(fn: string, what: string, X: Real, off: number, rows: number, cols: number, ld: number): void {
  if (!isDim(off)) throw new RangeError(`${fn}: ${what} offset ${off} is not a non-negative integer`);
  if (!Number.isSafeInteger(ld) || ld < Math.max(1, cols)) {
    throw new RangeError(`${fn}: leading dimension ld${what.toLowerCase()}=${ld} < max(1, ${cols}) for the stored ${rows}x${cols} ${what}`);
  }
  if (rows === 0 || cols === 0) return;
  const last = off + (rows - 1) * ld + cols;
  if (last > X.length) {
    throw new RangeError(
      `${fn}: ${what} stored as ${rows}x${cols} (ld=${ld}, offset=${off}) needs ${last} elements, array has ${X.length}`,
    );
  }
}

export function checkGemmArgs(
  fn: string, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Real, aOff: number, lda: number, B: Real, bOff: number, ldb: number,
  beta: number, C: Real, cOff: number, ldc: number,
): void {
  if (!isDim(M) || !isDim(N) || !isDim(K)) {
    throw new RangeError(`${fn}: M=${M}, N=${N}, K=${K} must be non-negative integers`);
  }
  if (typeof alpha !== 'number' || typeof beta !== 'number') {
    throw new TypeError(`${fn}: alpha and beta must be numbers (got ${typeof alpha}, ${typeof beta})`);
  }
  // op(A) is M x K: stored K x M when transposed. op(B) is K x N: stored N x K when transposed.
  checkMatrix(fn, 'A', A, aOff, transA ? K : M, transA ? M : K, lda);
  checkMatrix(fn, 'B', B, bOff, transB ? N : K, transB ? K : N, ldb);
  checkMatrix(fn, 'C', C, cOff, M, N, ldc);
}
