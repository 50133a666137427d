// Blocking parameters of the float32 GEMM (sizes in elements).
//
// The loops follow the GotoBLAS/BLIS scheme. C is cut into MC x NC tiles (the unit of work a thread
// claims); for each KC slice of k a tile runs over NR-wide panels of packed B (kept in L1 while a
// whole MC x KC block of packed A streams from L2 past it), and the register-tiled micro-kernel
// computes one MR x NR block of C per call.
//
// Register tile: x86-64 V8 (Node 20, V8 11.3) gives wasm 15 allocatable xmm registers (xmm15 is
// its scratch), and TurboFan schedules all loads of a k step ahead of the arithmetic, so a step
// holds MR*NV accumulators + NV vectors of B + MR broadcasts of A + 1 product temporary (no fused
// multiply-add: f32x4.relaxed_madd validates only with --experimental-wasm-relaxed-simd in Node 20).
// 4 x 8 (NV = 2) uses exactly 15. Measured on one Zen 5 core (macro-kernel, packed data in cache):
//   MR x NR, U (k unroll)   4x8,U1  2x16,U1  4x8,U2  4x8,U4  5x8,U1  6x8,U1  4x12,U1  8x4,U1
//   GFLOP/s                    49       49      34      34      27      28       29       21
// Unrolling k lets the scheduler hoist the next step's loads too, which spills; U = 1 wins.
// 49 GFLOP/s is ~4 f32x4 mul/add per cycle if the core runs at ~3 GHz (the guest reports 2.6 GHz).
//
// KC, MC, NC: with 1 MiB L2 / 32 MiB L3, KC in 128..512, MC in 64..256 and NC in 256..1024 all gave
// 45-47.5 GFLOP/s on a 1024^3 sgemm (within noise); 256 / 128 / 512 is kept.

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
