// The few WebAssembly JS-API types this package uses. The project's tsconfig has no DOM lib and
// @types/node 20 does not declare the WebAssembly namespace, so we type the global ourselves
// (locally, without a global declaration that could clash with another one).

/** A compiled module (opaque; structured-cloneable to worker threads). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `pages` 64 KiB pages; returns the old size in pages. */
  grow(pages: number): number;
}

export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

/** The runtime's WebAssembly object, or undefined where there is none. */
export const wasmApi: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
