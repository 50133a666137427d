// Blocking parameters of the float32 GEMM (sizes in elements).
//
// The loops follow the GotoBLAS/BLIS scheme. C is cut into MC x NC tiles (the unit of work a thread
// claims); for each KC slice of k a tile runs over NR-wide panels of packed B (kept in L1 while a
// whole MC x KC block of packed A streams from L2 past it), and the register-tiled micro-kernel
// computes one MR x NR block of C per call.
//
// x86-64 V8 gives wasm 15 allocatable xmm registers (xmm15 is its scratch). The micro-kernel holds
// MR * NV accumulators, NV vectors of B, one broadcast of A and one product temporary (there is no
// fused multiply-add in Node 20's baseline wasm SIMD): MR = 4, NV = 2 uses 12 registers. 6 x 8
// (16 registers) spills; 5 x 8 fits but measured no faster here.

export interface KernelShape {
  /** Rows of the register tile (broadcast values of A per k step). */
  readonly MR: number;
  /** f32x4 vectors per row of the register tile; NR = 4 * NV columns. */
  readonly NV: number;
  /** Unrolling of the k loop in the micro-kernel. */
  readonly U: number;
}

export interface Blocking extends KernelShape {
  readonly NR: number;
  /** Depth of one packed slice of k. */
  readonly KC: number;
  /** Rows of a C tile (multiple of MR). */
  readonly MC: number;
  /** Columns of a C tile (multiple of NR). */
  readonly NC: number;
}

export function makeBlocking(shape: KernelShape, KC: number, MC: number, NC: number): Blocking {
  const NR = 4 * shape.NV;
  if (MC % shape.MR !== 0) throw new RangeError(`blocking: MC=${MC} is not a multiple of MR=${shape.MR}`);
  if (NC % NR !== 0) throw new RangeError(`blocking: NC=${NC} is not a multiple of NR=${NR}`);
  return { ...shape, NR, KC, MC, NC };
}

export const DEFAULT_BLOCKING: Blocking = makeBlocking({ MR: 4, NV: 2, U: 1 }, 256, 128, 512);
