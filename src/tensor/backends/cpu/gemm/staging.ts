// Staging: the calling thread copies the stored operands (plain, non-shared Float32Arrays that
// workers cannot see) into the shared wasm memory, one block of rows at a time, while workers
// already pack the blocks that have arrived.
//
// An operand is a stored rows x cols row-major matrix. Each pack item covers one KC slice of k and
// one group of LW lanes (rows of op(A) / columns of op(B)). When k runs along the stored rows
// (A transposed, B not: "kRows") an item reads a KC x LW rectangle of the stored matrix, else an
// LW x KC one. Chunks are blocks of whole stored rows as tall as one item (KC or LW rows), so an
// item lies inside exactly one chunk; items are numbered chunk by chunk, so the chunk an item
// needs never decreases as items are claimed.
//
// Measured here: splitting chunks along columns too (finer pipelining) made single-thread staging
// ~10% slower (many short strided copies) and gained nothing on 2 threads, where staging and
// packing compete for the same memory bandwidth; whole-row chunks cost nothing over one big copy.

/**
 * Leading dimension of the staged copy of a stored rows x cols matrix (leading dimension ld): its
 * whole span with the same ld (one memcpy) when that copies at most twice the elements, else
 * dense rows (ld = cols) copied one by one.
 */
export function stagedLd(rows: number, cols: number, ld: number): number {
  const span = (rows - 1) * ld + cols;
  return span <= 2 * rows * cols ? ld : cols;
}

/** Floats the staged copy occupies. */
export function stagedFloats(rows: number, cols: number, ld: number): number {
  return (rows - 1) * ld + cols;
}

export interface OperandPlan {
  /** k runs along the stored rows. */
  readonly kRows: boolean;
  readonly rows: number;
  readonly cols: number;
  /** Number of KC slices and of LW lane groups: items = nKb * groups. */
  readonly nKb: number;
  readonly groups: number;
  /** Rows per staging chunk (KC when kRows, else LW). */
  readonly RH: number;
}

/** Plan for an operand with `lanes` lanes (M or N) and depth K, packed in groups of LW lanes. */
export function operandPlan(kRows: boolean, lanes: number, K: number, KC: number, LW: number): OperandPlan {
  return {
    kRows,
    rows: kRows ? K : lanes,
    cols: kRows ? lanes : K,
    nKb: Math.ceil(K / KC),
    groups: Math.ceil(lanes / LW),
    RH: kRows ? KC : LW,
  };
}

export function itemCount(plan: OperandPlan): number {
  return plan.nKb * plan.groups;
}

/** Item u of an operand: its k slice p, lane group g, and the index of the chunk it reads. */
export function itemOf(plan: OperandPlan, u: number, out: { p: number; g: number; chunk: number }): void {
  if (plan.kRows) {
    const p = Math.floor(u / plan.groups);
    out.p = p;
    out.g = u - p * plan.groups;
    out.chunk = p;
  } else {
    const g = Math.floor(u / plan.nKb);
    out.g = g;
    out.p = u - g * plan.nKb;
    out.chunk = g;
  }
}

/**
 * Copies the operand stored at X[off], leading dimension ld, to dst[at] with leading dimension
 * dld, chunk by chunk; after chunk c is in place stores c + 1 into ctl[slot] and wakes waiters.
 */
export function stageOperand(
  dst: Float32Array, at: number, X: Float32Array, off: number, ld: number, dld: number,
  plan: OperandPlan, ctl: Int32Array, slot: number,
): void {
  const { rows, cols, RH } = plan;
  for (let r0 = 0, chunk = 1; r0 < rows; r0 += RH, chunk++) {
    const r1 = Math.min(rows, r0 + RH);
    if (dld === ld) {
      dst.set(X.subarray(off + r0 * ld, off + (r1 - 1) * ld + cols), at + r0 * dld);
    } else {
      for (let r = r0; r < r1; r++) dst.set(X.subarray(off + r * ld, off + r * ld + cols), at + r * dld);
    }
    Atomics.store(ctl, slot, chunk);
    Atomics.notify(ctl, slot);
  }
}

/** Copies a dense rows x cols block in or out (C), one set() when both sides are contiguous. */
export function copyRows(
  dst: Float32Array, dOff: number, dld: number, src: Float32Array, sOff: number, sld: number, rows: number, cols: number,
): void {
  if (dld === cols && sld === cols) {
    dst.set(src.subarray(sOff, sOff + rows * cols), dOff);
  } else {
    for (let r = 0; r < rows; r++) dst.set(src.subarray(sOff + r * sld, sOff + r * sld + cols), dOff + r * dld);
  }
}
