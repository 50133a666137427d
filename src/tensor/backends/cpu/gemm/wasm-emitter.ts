// A small WebAssembly binary emitter: just what the GEMM kernels need (i32/f32/v128 locals, linear
// memory loads/stores, SIMD f32x4 arithmetic, structured control flow, an imported shared memory).
//
// Why an emitter and not a hand-written .wasm file: the micro-kernel is fully unrolled over its
// register tile (MR rows x NV f32x4 vectors) and over U steps of k; generating it from TypeScript
// keeps those sizes as parameters we can tune, and the bytes are produced at load time, so the
// project ships no binary blob and depends on no toolchain (wat2wasm, clang, ...).
//
// Encoding follows the WebAssembly core spec (binary format, chapter 5) and the SIMD proposal
// (merged into the spec as of 2.0): integers are LEB128, a function body is its locals followed by
// an expression ending in `end` (0x0b), SIMD opcodes are the prefix 0xfd followed by a LEB128 u32.

/** Value types (binary encoding). */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Block type of a block/loop/if that takes and yields no values. */
const BLOCK_EMPTY = 0x40;

export function uleb(n: number, out: number[] = []): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`uleb: ${n} is not a non-negative integer`);
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

export function sleb(n: number, out: number[] = []): number[] {
  if (!Number.isInteger(n)) throw new RangeError(`sleb: ${n} is not an integer`);
  for (;;) {
    const byte = n & 0x7f;
    n = Math.floor(n / 128);
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function f32Bytes(x: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...b];
}

/** Opcodes used by the kernels (single byte, core spec). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32GeS: 0x4e,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Add: 0x92,
  f32Mul: 0x94,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const SimdOp = {
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Store: 0x0b,
  v128Const: 0x0c,
  f32x4Splat: 0x13,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
} as const;

/**
 * Builds one function body. Locals are numbered after the parameters, as in the binary format.
 * Control helpers (`block`, `loop`, `if`) take a callback for their body; branch depths are the
 * caller's business, as in hand-written wasm (0 = innermost enclosing block/loop).
 */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(
    readonly name: string,
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
  ) {}

  /** Declares a new local of type `t` and returns its index. */
  local(t: ValType): number {
    this.localTypes.push(t);
    return this.params.length + this.localTypes.length - 1;
  }

  private emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  get(i: number): this {
    return this.emit(Op.localGet, ...uleb(i));
  }
  set(i: number): this {
    return this.emit(Op.localSet, ...uleb(i));
  }
  tee(i: number): this {
    return this.emit(Op.localTee, ...uleb(i));
  }
  i32(n: number): this {
    return this.emit(Op.i32Const, ...sleb(n | 0));
  }
  f32(x: number): this {
    return this.emit(Op.f32Const, ...f32Bytes(x));
  }
  op(opcode: number): this {
    return this.emit(opcode);
  }
  simd(opcode: number): this {
    return this.emit(0xfd, ...uleb(opcode));
  }
  /** A memory access: opcode then memarg (log2 alignment, byte offset). */
  mem(opcode: number, offset: number, alignLog2: number): this {
    return this.emit(opcode, ...uleb(alignLog2), ...uleb(offset));
  }
  simdMem(opcode: number, offset: number, alignLog2: number): this {
    return this.emit(0xfd, ...uleb(opcode), ...uleb(alignLog2), ...uleb(offset));
  }
  f32Load(offset = 0): this {
    return this.mem(Op.f32Load, offset, 2);
  }
  f32Store(offset = 0): this {
    return this.mem(Op.f32Store, offset, 2);
  }
  v128Load(offset = 0): this {
    return this.simdMem(SimdOp.v128Load, offset, 2);
  }
  v128Load32Splat(offset = 0): this {
    return this.simdMem(SimdOp.v128Load32Splat, offset, 2);
  }
  v128Store(offset = 0): this {
    return this.simdMem(SimdOp.v128Store, offset, 2);
  }
  v128Zero(): this {
    return this.emit(0xfd, ...uleb(SimdOp.v128Const), ...new Array<number>(16).fill(0));
  }
  call(funcIndex: number): this {
    return this.emit(Op.call, ...uleb(funcIndex));
  }
  block(body: () => void): this {
    this.emit(Op.block, BLOCK_EMPTY);
    body();
    return this.emit(Op.end);
  }
  loop(body: () => void): this {
    this.emit(Op.loop, BLOCK_EMPTY);
    body();
    return this.emit(Op.end);
  }
  /** `if` on the i32 on top of the stack, with an optional else arm. */
  if(then: () => void, otherwise?: () => void): this {
    this.emit(Op.if, BLOCK_EMPTY);
    then();
    if (otherwise) {
      this.emit(Op.else);
      otherwise();
    }
    return this.emit(Op.end);
  }
  br(depth: number): this {
    return this.emit(Op.br, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.emit(Op.brIf, ...uleb(depth));
  }

  /** local[i] += delta (i32). */
  addImm(i: number, delta: number): this {
    return this.get(i).i32(delta).op(Op.i32Add).set(i);
  }
  /** local[i] += local[j] (i32). */
  addLocal(i: number, j: number): this {
    return this.get(i).get(j).op(Op.i32Add).set(i);
  }

  /**
   * `for (idx = idx; idx < end; idx += step) body()` over i32 locals; `idx` must be set by the
   * caller. Inside `body`, depth 0 is the loop (continue via the increment is not available: the
   * body just falls through) and depth 1 the enclosing block (break).
   */
  forLt(idx: number, end: number, step: number, body: () => void): this {
    return this.block(() => {
      this.loop(() => {
        this.get(idx).get(end).op(Op.i32GeS).brIf(1);
        body();
        this.addImm(idx, step);
        this.br(0);
      });
    });
  }

  /** The function body in binary form: local declarations, code, `end`. */
  body(): number[] {
    const groups: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const out: number[] = uleb(groups.length);
    for (const [n, t] of groups) {
      uleb(n, out);
      out.push(t);
    }
    for (const b of this.code) out.push(b);
    out.push(Op.end);
    return out;
  }
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

export interface MemoryImport {
  module: string;
  field: string;
  initialPages: number;
  maximumPages: number;
  shared: boolean;
}

/**
 * Assembles a module: one imported memory, the given functions (all exported under their names,
 * in order, so function i has index i).
 */
export function assembleModule(memory: MemoryImport, funcs: readonly FunctionBuilder[]): Uint8Array {
  // Type section: one function type per function (duplicates are legal and keep indices simple).
  const types: number[] = uleb(funcs.length);
  for (const f of funcs) {
    types.push(0x60, ...uleb(f.params.length), ...f.params, ...uleb(f.results.length), ...f.results);
  }
  // Import section: the memory. Limits flag 0x03 = has maximum + shared, 0x01 = has maximum.
  const imports: number[] = [
    ...uleb(1),
    ...name(memory.module),
    ...name(memory.field),
    0x02,
    memory.shared ? 0x03 : 0x01,
    ...uleb(memory.initialPages),
    ...uleb(memory.maximumPages),
  ];
  const functions: number[] = uleb(funcs.length);
  funcs.forEach((_, i) => uleb(i, functions));
  const exports: number[] = uleb(funcs.length);
  funcs.forEach((f, i) => exports.push(...name(f.name), 0x00, ...uleb(i)));
  const code: number[] = uleb(funcs.length);
  for (const f of funcs) {
    const body = f.body();
    uleb(body.length, code);
    for (const b of body) code.push(b);
  }
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, // magic "\0asm"
    0x01, 0x00, 0x00, 0x00, // version 1
    ...section(1, types),
    ...section(2, imports),
    ...section(3, functions),
    ...section(7, exports),
    ...section(10, code),
  ];
  return Uint8Array.from(bytes);
}
