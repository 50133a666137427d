// The CUDA backend: devices 'cuda' (nvcc build of native/, a real GPU) and 'cuda-emu' (the same kernels
// compiled by g++ against the host emulation of CUDA; runs anywhere the addon was built, CI included).
//
// Importing this module registers both devices (available or not, with the reason) and, for each
// available one, its kernels. Unavailable devices stay listed so that `listDevices()` can say why.

import { registerDevice } from '../../tensor/device.js';
import { CudaDevice } from './device.js';
import { registerCudaKernels } from './kernels.js';

export { CudaDevice, CUDA_DTYPES } from './device.js';
export { loadAddon, nativeRoot, type AddonLoad, type AddonVariant, type DevicePtr, type NativeAddon, type NativeConstants, type NativeDeviceInfo, type NativeMemoryStats } from './addon.js';
export { registerCudaKernels, ptr } from './kernels.js';

let devices: { cuda: CudaDevice; cudaEmu: CudaDevice } | null = null;

/** Create and register 'cuda' and 'cuda-emu' (once); returns them. */
export function registerCudaDevices(): { cuda: CudaDevice; cudaEmu: CudaDevice } {
  if (devices) return devices;
  const cudaEmu = new CudaDevice('emu');
  const cuda = new CudaDevice('cuda');
  for (const d of [cudaEmu, cuda]) {
    registerDevice(d);
    if (d.addon) registerCudaKernels(d.name, d.addon);
  }
  devices = { cuda, cudaEmu };
  return devices;
}

registerCudaDevices();
