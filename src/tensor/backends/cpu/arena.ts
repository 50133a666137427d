// The CPU storage arena: CPU tensors live in the GEMM's shared WebAssembly memory (gemm/wasm-state.ts),
// so that
//   - sgemm reads A and B and writes C where they are (no staging copies into wasm memory),
//   - the GEMM worker threads can run other kernels on tensor data (parallel.ts): they share that memory,
//   - a training step allocates nothing new after its first: freed blocks are cached and reused.
//
// A caching allocator over one address range [base, top) of the memory (the memory only grows): blocks
// are multiples of ALIGN bytes; a freed block is merged with free neighbours and kept in a free list of
// its exact size (a step that repeats the shapes of the last one finds every block in O(1)); a request
// with no free block of its size takes the end of the range (growing the memory) or, past the range's
// limit, the first free block big enough (split). When nothing fits, alloc returns null and the caller
// uses an ordinary typed array (every kernel accepts both; only the fast paths need arena arrays).
//
// Arrays handed out are zero-filled, as `new Float32Array(n)` is: bytes never handed out before are zero
// already; reused ones are cleared on allocation unless the caller asks for an uninitialised block.

import type { DType, TypedArray } from '../../dtype.js';
import { ensureBytes, wasmState, type WasmState } from './gemm/wasm-state.js';

/** Block granularity and alignment (a cache line). */
export const ALIGN = 64;

interface ArenaTuning {
  /** End of the range blocks may occupy (bytes of wasm memory); addresses stay below 2^31. */
  limitBytes: number;
  /** false: every storage is an ordinary typed array (the arena is not used). */
  enabled: boolean;
}

const tuning: ArenaTuning = { limitBytes: 2 ** 31 - 2 ** 16, enabled: true };

/** Reads (and with `change`, sets) the arena's knobs; returns the previous values. */
export function arenaTuning(change: Partial<ArenaTuning> = {}): ArenaTuning {
  const previous = { ...tuning };
  Object.assign(tuning, change);
  return previous;
}

export interface ArenaStats {
  /** Bytes in blocks handed out now. */
  used: number;
  /** Bytes of the range (used + cached free blocks). */
  reserved: number;
  /** Largest `reserved` so far: the memory the arena has taken from the wasm memory. */
  highWater: number;
  /** Blocks handed out now. */
  blocks: number;
  /** Allocations served by a cached block / by the end of the range (possibly given back earlier) / refused (typed-array fallback). */
  reused: number;
  fresh: number;
  refused: number;
}

class Arena {
  /** First and one-past-last byte of the range in use. */
  private readonly base: number;
  private top: number;
  /** Bytes below this were never handed out (still zero). */
  private pristine: number;
  private readonly freeBySize = new Map<number, number[]>();
  private readonly freeByStart = new Map<number, number>();
  private readonly freeByEnd = new Map<number, number>();
  /** Size of every block handed out, by address. */
  private readonly live = new Map<number, number>();
  /** Every buffer object the memory has had (one per growth); arrays over any of them are arena arrays. */
  readonly buffers = new WeakSet<ArrayBufferLike>();
  readonly stats: ArenaStats = { used: 0, reserved: 0, highWater: 0, blocks: 0, reused: 0, fresh: 0, refused: 0 };

  constructor(readonly w: WasmState, base: number) {
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    this.top = this.base;
    this.pristine = this.base;
    this.buffers.add(w.memory.buffer);
  }

  /** Address of a block of at least `bytes` bytes, or -1. */
  alloc(bytes: number, zero: boolean): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let at = this.takeExact(size);
    if (at >= 0) {
      this.stats.reused++;
    } else if (this.top + size <= tuning.limitBytes) {
      at = this.top;
      this.top += size;
      this.stats.fresh++;
      try {
        ensureBytes(this.w, this.top);
      } catch {
        this.top -= size;
        this.stats.fresh--;
        return this.refuse();
      }
      this.buffers.add(this.w.memory.buffer);
      this.stats.reserved = this.top - this.base;
      if (this.stats.reserved > this.stats.highWater) this.stats.highWater = this.stats.reserved;
    } else {
      at = this.takeFirstFit(size);
      if (at < 0) return this.refuse();
      this.stats.reused++;
    }
    this.live.set(at, size);
    this.stats.used += size;
    this.stats.blocks++;
    if (zero && at < this.pristine) new Uint8Array(this.w.memory.buffer, at, Math.min(size, this.pristine - at)).fill(0);
    if (at + size > this.pristine) this.pristine = at + size;
    return at;
  }

  free(at: number): void {
    const size = this.live.get(at);
    if (size === undefined) throw new Error(`cpu arena: free of address ${at}, which is not a live block`);
    this.live.delete(at);
    this.stats.used -= size;
    this.stats.blocks--;
    let start = at;
    let end = at + size;
    const before = this.freeByEnd.get(start);
    if (before !== undefined) {
      this.unlist(before, start - before);
      start = before;
    }
    const afterSize = this.freeByStart.get(end);
    if (afterSize !== undefined) {
      this.unlist(end, afterSize);
      end += afterSize;
    }
    if (end === this.top) {
      this.top = start;
      this.stats.reserved = this.top - this.base;
      return;
    }
    this.list(start, end - start);
  }

  private refuse(): number {
    this.stats.refused++;
    return -1;
  }

  private list(at: number, size: number): void {
    this.freeByStart.set(at, size);
    this.freeByEnd.set(at + size, at);
    let l = this.freeBySize.get(size);
    if (!l) this.freeBySize.set(size, (l = []));
    l.push(at);
  }

  private unlist(at: number, size: number): void {
    this.freeByStart.delete(at);
    this.freeByEnd.delete(at + size);
    const l = this.freeBySize.get(size)!;
    const i = l.lastIndexOf(at);
    l[i] = l[l.length - 1]!;
    l.pop();
    if (l.length === 0) this.freeBySize.delete(size);
  }

  private takeExact(size: number): number {
    const l = this.freeBySize.get(size);
    if (!l) return -1;
    const at = l[l.length - 1]!;
    this.unlist(at, size);
    return at;
  }

  private takeFirstFit(size: number): number {
    for (const [at, s] of this.freeByStart) {
      if (s < size) continue;
      this.unlist(at, s);
      if (s > size) this.list(at + size, s - size);
      return at;
    }
    return -1;
  }
}

let arena: Arena | null | undefined;

/** The arena, created with the wasm state on first use; null without WebAssembly SIMD. */
function theArena(): Arena | null {
  if (arena !== undefined) return arena;
  const w = wasmState();
  // The first bytes of the memory stay the GEMM's (its workspace is an arena block; see sgemm.ts).
  return (arena = w === null ? null : new Arena(w, ALIGN));
}

/** A block for a storage of `bytes` bytes (zero-filled unless `zero` is false): its address, or -1. */
export function arenaAlloc(bytes: number, zero = true): number {
  return tuning.enabled ? arenaAllocRaw(bytes, zero) : -1;
}

/** A block even with storages off the arena (the GEMM's own workspace): its address, or -1. */
export function arenaAllocRaw(bytes: number, zero: boolean): number {
  const a = theArena();
  return a === null ? -1 : a.alloc(bytes, zero);
}

/** Returns a block of arenaAlloc to the arena. */
export function arenaFree(at: number): void {
  theArena()!.free(at);
}

/** A typed array of `size` elements over the block at `at`. */
export function arenaView(dtype: DType, at: number, size: number): TypedArray {
  const a = theArena()!;
  const buf = a.w.memory.buffer;
  a.buffers.add(buf);
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf, at, size);
    case 'float64':
      return new Float64Array(buf, at, size);
    case 'int32':
      return new Int32Array(buf, at, size);
  }
}

/** Byte address of a[0] in the shared memory when `a` lives there, else -1. */
export function arenaAddress(a: TypedArray): number {
  const ar = arena;
  if (ar === null || ar === undefined || !ar.buffers.has(a.buffer)) return -1;
  return a.byteOffset;
}

/** Counters of the arena (zeros before its first use). */
export function arenaStats(): ArenaStats {
  const a = arena ?? null;
  return a === null ? { used: 0, reserved: 0, highWater: 0, blocks: 0, reused: 0, fresh: 0, refused: 0 } : { ...a.stats };
}
