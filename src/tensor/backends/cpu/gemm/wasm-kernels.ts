// The float32 GEMM kernels in WebAssembly SIMD, generated with the emitter in wasm-emitter.ts.
//
// Exported functions (all addresses are byte offsets into the shared linear memory; ld* are row
// strides in bytes):
//
//   micro(a, b, c, ldc, kc, alpha, beta, mode)
//       One MR x NR block of C from a packed A panel (kc x MR, k-major: a[k*MR + r]) and a packed B
//       panel (kc x NR: b[k*NR + j]):  acc = sum_k a[k,:]^T b[k,:]  (MR*NV f32x4 accumulators), then
//         mode 0: C = alpha*acc        (beta = 0: old C is never read, so NaN in it is overwritten)
//         mode 1: C = alpha*acc + beta*C
//         mode 2: C = C + alpha*acc    (later k slices, or beta = 1)
//   macro(a, b, c, ldc, mc, nc, kc, alpha, beta, mode, scratch)
//       One KC slice of an mc x nc tile: for each NR panel of B, for each MR panel of A, micro().
//       Partial blocks at the right/bottom edge go through `scratch` (MR*NR floats, one per thread)
//       and are merged into C by `edge`, so C outside the tile is never touched.
//   edge(s, c, ldc, mr, nr, beta, mode)
//       Merges an mr x nr corner of an MR x NR scratch block (already times alpha) into C.
//   packA(src, ld, trans, rows, kc, dst, panels)
//       Packs `panels` MR-row panels of op(A) (rows i, columns k..k+kc) into the k-major layout above,
//       zero-filling rows past `rows`. op(A)(i,k) = trans ? src[k*ld + i] : src[i*ld + k].
//   packB(src, ld, trans, cols, kc, dst, panels)
//       Same for NR-column panels of op(B): op(B)(k,j) = trans ? src[j*ld + k] : src[k*ld + j].
//
// A k step of micro() is NV loads of B, MR broadcast loads of A (v128.load32_splat) and MR*NV
// f32x4 multiply + add pairs. The generator can unroll the k loop U times (offsets folded into the
// load immediates), but U = 1 is fastest under V8 11.3 (see blocking.ts).

import { type Blocking } from './blocking.js';
import { assembleModule, F32, FunctionBuilder, I32, Op, SimdOp, V128 } from './wasm-emitter.js';

/** Indices of the generated functions (= their order in the module). */
const FN_MICRO = 0;
const FN_EDGE = 1;

export const WASM_PAGE_BYTES = 65536;
/** Upper bound of the shared memory: 4 GiB, the whole wasm32 address space. */
export const WASM_MAX_PAGES = 65536;

export interface GemmWasmExports {
  micro(a: number, b: number, c: number, ldc: number, kc: number, alpha: number, beta: number, mode: number): void;
  macro(
    a: number, b: number, c: number, ldc: number, mc: number, nc: number, kc: number,
    alpha: number, beta: number, mode: number, scratch: number,
  ): void;
  edge(s: number, c: number, ldc: number, mr: number, nr: number, beta: number, mode: number): void;
  packA(src: number, ld: number, trans: number, rows: number, kc: number, dst: number, panels: number): void;
  packB(src: number, ld: number, trans: number, cols: number, kc: number, dst: number, panels: number): void;
}

function emitMicro(bl: Blocking): FunctionBuilder {
  const { MR, NV, U, NR } = bl;
  const f = new FunctionBuilder('micro', [I32, I32, I32, I32, I32, F32, F32, I32]);
  const [a, b, c, ldc, kc, alpha, beta, mode] = [0, 1, 2, 3, 4, 5, 6, 7];
  const acc: number[][] = [];
  for (let r = 0; r < MR; r++) {
    acc.push([]);
    for (let j = 0; j < NV; j++) acc[r]!.push(f.local(V128));
  }
  const bv: number[] = [];
  for (let j = 0; j < NV; j++) bv.push(f.local(V128));
  const av = f.local(V128);
  const alphaV = f.local(V128);
  const betaV = f.local(V128);
  const row = f.local(I32);

  for (let r = 0; r < MR; r++) for (let j = 0; j < NV; j++) f.v128Zero().set(acc[r]![j]!);

  const step = (u: number): void => {
    for (let j = 0; j < NV; j++) f.get(b).v128Load((u * NR + 4 * j) * 4).set(bv[j]!);
    for (let r = 0; r < MR; r++) {
      f.get(a).v128Load32Splat((u * MR + r) * 4).set(av);
      for (let j = 0; j < NV; j++) {
        f.get(acc[r]![j]!).get(av).get(bv[j]!).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(acc[r]![j]!);
      }
    }
  };
  // Unrolled loop: while (kc >= U) { U steps; a += U*MR*4; b += U*NR*4; kc -= U }
  if (U > 1) {
    f.block(() => {
      f.loop(() => {
        f.get(kc).i32(U).op(Op.i32LtS).brIf(1);
        for (let u = 0; u < U; u++) step(u);
        f.addImm(a, U * MR * 4).addImm(b, U * NR * 4).addImm(kc, -U);
        f.br(0);
      });
    });
  }
  // Remainder: while (kc > 0) { 1 step }
  f.block(() => {
    f.loop(() => {
      f.get(kc).i32(1).op(Op.i32LtS).brIf(1);
      step(0);
      f.addImm(a, MR * 4).addImm(b, NR * 4).addImm(kc, -1);
      f.br(0);
    });
  });

  f.get(alpha).simd(SimdOp.f32x4Splat).set(alphaV);
  f.get(beta).simd(SimdOp.f32x4Splat).set(betaV);
  const storeRows = (value: (r: number, j: number) => void): void => {
    f.get(c).set(row);
    for (let r = 0; r < MR; r++) {
      for (let j = 0; j < NV; j++) {
        f.get(row);
        value(r, j);
        f.v128Store(16 * j);
      }
      if (r + 1 < MR) f.addLocal(row, ldc);
    }
  };
  f.get(mode).op(Op.i32Eqz).if(
    () => storeRows((r, j) => f.get(acc[r]![j]!).get(alphaV).simd(SimdOp.f32x4Mul)),
    () => {
      f.get(mode).i32(1).op(Op.i32Eq).if(
        () =>
          storeRows((r, j) => {
            f.get(acc[r]![j]!).get(alphaV).simd(SimdOp.f32x4Mul);
            f.get(row).v128Load(16 * j).get(betaV).simd(SimdOp.f32x4Mul);
            f.simd(SimdOp.f32x4Add);
          }),
        () =>
          storeRows((r, j) => {
            f.get(row).v128Load(16 * j);
            f.get(acc[r]![j]!).get(alphaV).simd(SimdOp.f32x4Mul);
            f.simd(SimdOp.f32x4Add);
          }),
      );
    },
  );
  return f;
}

/** `edge`: the three modes are three separate loops (our `if` helper yields no values). */
function emitEdge(bl: Blocking): FunctionBuilder {
  const f = new FunctionBuilder('edge', [I32, I32, I32, I32, I32, F32, I32]);
  const [s, c, ldc, mr, nr, beta, mode] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local(I32);
  const j = f.local(I32);
  const sp = f.local(I32);
  const cp = f.local(I32);
  const nrBytes = f.local(I32);
  f.get(nr).i32(2).op(Op.i32Shl).set(nrBytes);
  const loops = (value: () => void): void => {
    f.i32(0).set(r);
    f.forLt(r, mr, 1, () => {
      f.get(s).get(r).i32(bl.NR * 4).op(Op.i32Mul).op(Op.i32Add).set(sp);
      f.get(c).get(r).get(ldc).op(Op.i32Mul).op(Op.i32Add).set(cp);
      f.i32(0).set(j);
      f.forLt(j, nrBytes, 4, () => {
        f.get(cp).get(j).op(Op.i32Add);
        value();
        f.f32Store();
      });
    });
  };
  const sj = (): void => {
    f.get(sp).get(j).op(Op.i32Add).f32Load();
  };
  const cj = (): void => {
    f.get(cp).get(j).op(Op.i32Add).f32Load();
  };
  f.get(mode).op(Op.i32Eqz).if(
    () => loops(sj),
    () =>
      f.get(mode).i32(1).op(Op.i32Eq).if(
        () =>
          loops(() => {
            sj();
            cj();
            f.get(beta).op(Op.f32Mul).op(Op.f32Add);
          }),
        () =>
          loops(() => {
            cj();
            sj();
            f.op(Op.f32Add);
          }),
      ),
  );
  return f;
}

function emitMacro(bl: Blocking): FunctionBuilder {
  const { MR, NR } = bl;
  const f = new FunctionBuilder('macro', [I32, I32, I32, I32, I32, I32, I32, F32, F32, I32, I32]);
  const [a, b, c, ldc, mc, nc, kc, alpha, beta, mode, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const jr = f.local(I32);
  const ir = f.local(I32);
  const bp = f.local(I32);
  const ap = f.local(I32);
  const cp = f.local(I32);
  const mr = f.local(I32);
  const nr = f.local(I32);
  const aStep = f.local(I32); // bytes from one packed A panel to the next: kc*MR*4
  const bStep = f.local(I32);
  const cStep = f.local(I32); // bytes from one MR block row of C to the next: MR*ldc
  f.get(kc).i32(MR * 4).op(Op.i32Mul).set(aStep);
  f.get(kc).i32(NR * 4).op(Op.i32Mul).set(bStep);
  f.get(ldc).i32(MR).op(Op.i32Mul).set(cStep);
  f.get(b).set(bp);
  f.i32(0).set(jr);
  f.forLt(jr, nc, NR, () => {
    f.get(nc).get(jr).op(Op.i32Sub).set(nr);
    f.get(a).set(ap);
    f.get(c).get(jr).i32(2).op(Op.i32Shl).op(Op.i32Add).set(cp);
    f.i32(0).set(ir);
    f.forLt(ir, mc, MR, () => {
      f.get(mc).get(ir).op(Op.i32Sub).set(mr);
      f.get(mr).i32(MR).op(Op.i32GeS).get(nr).i32(NR).op(Op.i32GeS).op(Op.i32And).if(
        () => {
          f.get(ap).get(bp).get(cp).get(ldc).get(kc).get(alpha).get(beta).get(mode).call(FN_MICRO);
        },
        () => {
          f.get(ap).get(bp).get(scratch).i32(NR * 4).get(kc).get(alpha).f32(0).i32(0).call(FN_MICRO);
          // edge(scratch, cp, ldc, min(mr, MR), min(nr, NR), beta, mode)
          f.get(scratch).get(cp).get(ldc);
          f.get(mr).i32(MR).get(mr).i32(MR).op(Op.i32LtS).op(Op.select);
          f.get(nr).i32(NR).get(nr).i32(NR).op(Op.i32LtS).op(Op.select);
          f.get(beta).get(mode).call(FN_EDGE);
        },
      );
      f.addLocal(ap, aStep).addLocal(cp, cStep);
    });
    f.addLocal(bp, bStep);
  });
  return f;
}

/** Stores 0.0f at dst .. dst + count*4 (count floats). */
function emitZeroFill(f: FunctionBuilder, dst: number, countBytes: number, i: number): void {
  f.i32(0).set(i);
  f.forLt(i, countBytes, 4, () => {
    f.get(dst).get(i).op(Op.i32Add).f32(0).f32Store();
  });
}

/**
 * packA / packB share one shape: `panels` panels of W lanes (MR rows of A or NR columns of B), each
 * kc deep, written k-major (dst[k*W + lane]). Lane l at depth k lives at
 *   contiguous case  (A transposed, B not):  src + k*ld + l*4
 *   strided case     (A not transposed, B transposed): src + l*ld + k*4
 * `transContig` is the value of the `trans` argument that gives the contiguous case.
 */
function emitPack(name: string, W: number, transContig: number): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32, I32, I32, I32]);
  const [src, ld, trans, lanes, kc, dst, panels] = [0, 1, 2, 3, 4, 5, 6];
  const p = f.local(I32);
  const k = f.local(I32);
  const l = f.local(I32);
  const s = f.local(I32);
  const d = f.local(I32);
  const valid = f.local(I32);
  const tmp = f.local(I32);
  const panelBytes = f.local(I32);
  const srcPanelStep = f.local(I32);
  const contig = f.local(I32);
  const lanePtr: number[] = [];
  for (let q = 0; q < W; q++) lanePtr.push(f.local(I32));

  f.get(kc).i32(W * 4).op(Op.i32Mul).set(panelBytes);
  f.get(trans).i32(transContig).op(Op.i32Eq).set(contig);
  // next panel: contiguous case moves W lanes along the row (W*4 bytes), strided case W rows.
  f.get(contig).if(
    () => f.i32(W * 4).set(srcPanelStep),
    () => f.get(ld).i32(W).op(Op.i32Mul).set(srcPanelStep),
  );
  f.i32(0).set(p);
  f.forLt(p, panels, 1, () => {
    f.get(lanes).get(p).i32(W).op(Op.i32Mul).op(Op.i32Sub).set(valid);
    f.get(valid).i32(W).op(Op.i32GeS).if(
      () => {
        f.get(contig).if(
          () => {
            // dst[k*W .. k*W+W) = src[k*ld .. k*ld + W)
            f.get(src).set(s);
            f.get(dst).set(d);
            f.i32(0).set(k);
            f.forLt(k, kc, 1, () => {
              let q = 0;
              for (; q + 4 <= W; q += 4) f.get(d).get(s).v128Load(q * 4).v128Store(q * 4);
              for (; q < W; q++) f.get(d).get(s).f32Load(q * 4).f32Store(q * 4);
              f.addLocal(s, ld).addImm(d, W * 4);
            });
          },
          () => {
            // lane q reads along its own row: pointer lanePtr[q] = src + q*ld, advanced by 4 per k
            for (let q = 0; q < W; q++) f.get(src).get(ld).i32(q).op(Op.i32Mul).op(Op.i32Add).set(lanePtr[q]!);
            f.get(dst).set(d);
            f.i32(0).set(k);
            f.forLt(k, kc, 1, () => {
              for (let q = 0; q < W; q++) {
                f.get(d).get(lanePtr[q]!).f32Load(0).f32Store(q * 4);
                f.addImm(lanePtr[q]!, 4);
              }
              f.addImm(d, W * 4);
            });
          },
        );
      },
      () => {
        // Partial panel: zero it, then copy the `valid` lanes one element at a time.
        emitZeroFill(f, dst, panelBytes, tmp);
        f.i32(0).set(l);
        f.forLt(l, valid, 1, () => {
          f.i32(0).set(k);
          f.forLt(k, kc, 1, () => {
            f.get(dst).get(k).i32(W * 4).op(Op.i32Mul).op(Op.i32Add).get(l).i32(4).op(Op.i32Mul).op(Op.i32Add);
            f.get(src);
            f.get(contig).if(
              () => f.get(k).get(ld).op(Op.i32Mul).get(l).i32(4).op(Op.i32Mul).op(Op.i32Add).set(tmp),
              () => f.get(l).get(ld).op(Op.i32Mul).get(k).i32(4).op(Op.i32Mul).op(Op.i32Add).set(tmp),
            );
            f.get(tmp).op(Op.i32Add).f32Load().f32Store();
          });
        });
      },
    );
    f.addLocal(src, srcPanelStep).addLocal(dst, panelBytes);
  });
  return f;
}

/** Builds the module bytes for a blocking configuration. */
export function buildGemmWasm(bl: Blocking, initialPages: number): Uint8Array {
  const funcs = [
    emitMicro(bl), // FN_MICRO
    emitEdge(bl), // FN_EDGE
    emitMacro(bl),
    emitPack('packA', bl.MR, 1),
    emitPack('packB', bl.NR, 0),
  ];
  return assembleModule(
    { module: 'env', field: 'mem', initialPages, maximumPages: WASM_MAX_PAGES, shared: true },
    funcs,
  );
}

/** A tiny module using one SIMD instruction: WebAssembly.validate() tells whether SIMD is there. */
export function simdProbeBytes(): Uint8Array {
  const f = new FunctionBuilder('probe', [F32], [V128]);
  f.get(0).simd(SimdOp.f32x4Splat).get(0).simd(SimdOp.f32x4Splat).simd(SimdOp.f32x4Add);
  return assembleModule({ module: 'env', field: 'mem', initialPages: 1, maximumPages: 1, shared: true }, [f]);
}
