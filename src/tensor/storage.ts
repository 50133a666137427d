// A storage is one allocation on one device, shared by every view of it and reference-counted:
// each live Tensor over it holds one reference; the memory goes back to the device with the last one.

import type { Device } from './device.js';
import { bytesPerElement, type DType, type TypedArray } from './dtype.js';
import { countStorage } from './memory.js';

export class Storage {
  private refs = 0;
  private freed = false;

  constructor(
    readonly device: Device,
    readonly dtype: DType,
    readonly size: number,
    readonly handle: unknown,
  ) {
    countStorage(device.name, this.bytes, +1);
  }

  static allocate(device: Device, dtype: DType, size: number): Storage {
    if (!device.dtypes.includes(dtype)) {
      throw new Error(`device '${device.name}' does not store ${dtype} (it stores ${device.dtypes.join(', ')})`);
    }
    return new Storage(device, dtype, size, device.alloc(dtype, size));
  }

  get bytes(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  get isFreed(): boolean {
    return this.freed;
  }

  retain(): void {
    if (this.freed) throw new Error('storage used after it was freed');
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0 || this.freed) return;
    this.freed = true;
    this.device.free(this.handle, this.dtype, this.size);
    countStorage(this.device.name, this.bytes, -1);
  }

  /** The host array of a CPU storage (kernels of the CPU backend use this). */
  get cpuArray(): TypedArray {
    if (this.device.name !== 'cpu') throw new Error(`storage is on '${this.device.name}', not on the cpu`);
    return this.handle as TypedArray;
  }
}
