// The float32 GEMM's WebAssembly state, created on the first sgemm that needs it: the compiled
// kernels (wasm-kernels.ts), one shared memory that only grows, the instance on the calling
// thread, and the worker pool (whose workers instantiate the same module on the same memory).

import { type Blocking, DEFAULT_BLOCKING } from './blocking.js';
import { GemmPool } from './pool.js';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';
import { buildGemmWasm, type GemmWasmExports, simdProbeBytes, WASM_MAX_PAGES, WASM_PAGE_BYTES } from './wasm-kernels.js';

export interface WasmState {
  blocking: Blocking;
  module: WasmModule;
  memory: WasmMemory;
  kernels: GemmWasmExports;
  pool: GemmPool;
  /** View of the whole memory; replaced after every grow. */
  f32: Float32Array;
}

/** Initial memory: 16 MiB (a 1024^3 problem needs ~21 MiB and grows it once). */
const INITIAL_PAGES = 256;

let state: WasmState | null | undefined; // undefined = not tried yet, null = no wasm SIMD here

function simdAvailable(): boolean {
  try {
    return wasmApi !== undefined && wasmApi.validate(simdProbeBytes());
  } catch {
    return false;
  }
}

/** The state, created on first use; null when the runtime lacks WebAssembly SIMD. */
export function wasmState(): WasmState | null {
  if (state !== undefined) return state;
  const api = wasmApi;
  if (api === undefined || !simdAvailable()) return (state = null);
  const blocking = DEFAULT_BLOCKING;
  const module = new api.Module(buildGemmWasm(blocking, INITIAL_PAGES));
  const memory = new api.Memory({ initial: INITIAL_PAGES, maximum: WASM_MAX_PAGES, shared: true });
  const kernels = new api.Instance(module, { env: { mem: memory } }).exports as unknown as GemmWasmExports;
  const pool = new GemmPool(module, memory, kernels, blocking);
  return (state = { blocking, module, memory, kernels, pool, f32: new Float32Array(memory.buffer) });
}

/** The state if it has been created, without creating it. */
export function loadedWasmState(): WasmState | null {
  return state ?? null;
}

/** Grows the memory to at least `bytes` and refreshes the view. */
export function ensureBytes(w: WasmState, bytes: number): void {
  const have = w.memory.buffer.byteLength;
  if (bytes > have) {
    const pages = Math.ceil((bytes - have) / WASM_PAGE_BYTES);
    try {
      w.memory.grow(pages);
    } catch (e) {
      throw new RangeError(
        `sgemm: cannot grow the wasm memory from ${have / 2 ** 20} MiB to ${(have + pages * WASM_PAGE_BYTES) / 2 ** 20} MiB ` +
          `(${(e as Error).message})`,
      );
    }
  }
  if (w.f32.length * 4 !== w.memory.buffer.byteLength) w.f32 = new Float32Array(w.memory.buffer);
}
