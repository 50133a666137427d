// The 'cuda' and 'cuda-emu' devices: memory and host transfers through the native addon. A storage's
// handle is its device pointer (a number). Only float32 and int32 live on these devices.

import type { Device, MemoryStats } from '../../tensor/device.js';
import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import { loadAddon, type AddonVariant, type DevicePtr, type NativeAddon } from './addon.js';
import { kernelDriverVersion, unavailableReason } from './diagnose.js';

export const CUDA_DTYPES: readonly DType[] = ['float32', 'int32'];

export class CudaDevice implements Device {
  readonly name: string;
  readonly available: boolean;
  readonly reason: string;
  readonly dtypes = CUDA_DTYPES;
  /** The loaded addon (null when the device is unavailable). */
  readonly addon: NativeAddon | null;

  constructor(readonly variant: AddonVariant) {
    this.name = variant === 'emu' ? 'cuda-emu' : 'cuda';
    const load = loadAddon(variant);
    let reason = load.reason;
    let addon = load.addon;
    if (addon) {
      try {
        const info = addon.info();
        if (!info.available) reason = variant === 'cuda' ? unavailableReason(info, addon.systemInfo?.() ?? null, kernelDriverVersion()) : info.reason || 'device unavailable';
      } catch (e) {
        reason = `${load.path}: info() failed: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (reason) addon = null;
    }
    this.addon = addon;
    this.available = addon !== null;
    this.reason = reason;
  }

  /** The addon, or an error naming why the device is unavailable. */
  native(): NativeAddon {
    if (!this.addon) throw new Error(`device '${this.name}' is not available: ${this.reason}`);
    return this.addon;
  }

  private checkDtype(op: string, dtype: DType): void {
    if (!CUDA_DTYPES.includes(dtype)) throw new Error(`${this.name} ${op}: dtype ${dtype} is not stored on this device (float32, int32 only)`);
  }

  alloc(dtype: DType, size: number): unknown {
    this.checkDtype('alloc', dtype);
    return this.native().malloc(size * 4);
  }

  free(handle: unknown): void {
    this.native().free(handle as DevicePtr);
  }

  write(handle: unknown, dtype: DType, offset: number, src: TypedArray): void {
    this.checkDtype('write', dtype);
    const ok = dtype === 'float32' ? src instanceof Float32Array : src instanceof Int32Array;
    if (!ok) throw new Error(`${this.name} write: a ${dtype} storage needs a ${dtype === 'float32' ? 'Float32Array' : 'Int32Array'}, got ${src.constructor.name}`);
    if (src.length > 0) this.native().memcpyHtoD(handle as DevicePtr, offset * 4, src);
  }

  read(handle: unknown, dtype: DType, offset: number, size: number): TypedArray {
    this.checkDtype('read', dtype);
    const out = allocArray(dtype, size);
    if (size > 0) this.native().memcpyDtoH(out, handle as DevicePtr, offset * 4);
    return out;
  }

  memoryStats(): MemoryStats {
    const s = this.native().memoryStats();
    return { allocated: s.allocatedBytes, reserved: s.reservedBytes, peak: s.peakAllocatedBytes };
  }

  synchronize(): void {
    this.native().synchronize();
  }

  /** Give cached device blocks back to the driver (the emulator: to the C heap). */
  emptyCache(): void {
    this.native().emptyCache();
  }
}
