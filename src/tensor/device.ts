// Devices own memory. A tensor's data lives on exactly one device; ops run on the device of their
// inputs through kernels registered for (op, device name) in registry.ts.
//
// A device implements only memory management and host transfers; everything else is a kernel.

import { allocArray, bytesPerElement, type DType, type TypedArray } from './dtype.js';
import { arenaAddress, arenaAlloc, arenaFree, arenaStats, arenaView } from './backends/cpu/arena.js';

export interface MemoryStats {
  /** Bytes currently handed out to live storages. */
  allocated: number;
  /** Bytes held from the system (allocated + cached free blocks). */
  reserved: number;
  /** High-water mark of `allocated`. */
  peak: number;
}

export interface Device {
  /** 'cpu', 'cuda', 'cuda-emu'. */
  readonly name: string;
  /** True when the device can run kernels in this process. */
  readonly available: boolean;
  /** Why it is unavailable (empty when available). */
  readonly reason: string;
  /** Allocate `size` elements of `dtype`; returns an opaque handle (a TypedArray on the CPU). */
  alloc(dtype: DType, size: number): unknown;
  free(handle: unknown, dtype: DType, size: number): void;
  /** Host → device: copy `src` into the storage at element offset `offset`. */
  write(handle: unknown, dtype: DType, offset: number, src: TypedArray): void;
  /** Device → host: a new host array holding `size` elements from element offset `offset`. */
  read(handle: unknown, dtype: DType, offset: number, size: number): TypedArray;
  memoryStats(): MemoryStats;
  /** Wait for queued work (no-op on the CPU). */
  synchronize(): void;
  /** dtypes this device stores. */
  readonly dtypes: readonly DType[];
}

class CpuDevice implements Device {
  readonly name = 'cpu';
  readonly available = true;
  readonly reason = '';
  readonly dtypes: readonly DType[] = ['float32', 'float64', 'int32'];
  private allocated = 0;
  private peak = 0;

  /**
   * Storages live in the shared arena (backends/cpu/arena.ts: the GEMM and the worker threads use them
   * in place; freed blocks are reused), or in an ordinary typed array when the arena is full or off.
   * Either way the elements start at zero.
   */
  alloc(dtype: DType, size: number): unknown {
    const at = arenaAlloc(size * bytesPerElement(dtype));
    const a = at >= 0 ? arenaView(dtype, at, size) : allocArray(dtype, size);
    this.allocated += a.byteLength;
    if (this.allocated > this.peak) this.peak = this.allocated;
    return a;
  }
  free(handle: unknown): void {
    const a = handle as TypedArray;
    this.allocated -= a.byteLength;
    const at = arenaAddress(a);
    if (at >= 0) arenaFree(at);
  }
  write(handle: unknown, _dtype: DType, offset: number, src: TypedArray): void {
    (handle as TypedArray).set(src, offset);
  }
  read(handle: unknown, _dtype: DType, offset: number, size: number): TypedArray {
    return (handle as TypedArray).slice(offset, offset + size);
  }
  memoryStats(): MemoryStats {
    const a = arenaStats();
    return { allocated: this.allocated, reserved: this.allocated - a.used + a.reserved, peak: this.peak };
  }
  synchronize(): void {}
}

export const cpu: Device = new CpuDevice();

const devices = new Map<string, Device>([['cpu', cpu]]);

export function registerDevice(d: Device): void {
  devices.set(d.name, d);
}

/** All registered devices, available or not. */
export function listDevices(): Device[] {
  return [...devices.values()];
}

/** Devices that can run kernels here (always includes 'cpu'). */
export function availableDevices(): Device[] {
  return listDevices().filter((d) => d.available);
}

export type DeviceLike = Device | string;

export function getDevice(d: DeviceLike): Device {
  if (typeof d !== 'string') return d;
  const dev = devices.get(d);
  if (!dev) throw new Error(`unknown device '${d}' (known: ${[...devices.keys()].join(', ')})`);
  if (!dev.available) throw new Error(`device '${d}' is not available: ${dev.reason}`);
  return dev;
}
