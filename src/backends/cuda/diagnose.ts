// Why the 'cuda' device cannot be used, said as the user can act on it. The CUDA runtime reports a
// missing driver as cudaErrorInsufficientDriver ("CUDA driver version is insufficient for CUDA runtime
// version") even when there is no NVIDIA driver at all; the driver's presence is told by its user-space
// library (libcuda.so.1, loaded by the runtime) and its kernel module (/proc/driver/nvidia).

import { existsSync, readFileSync } from 'node:fs';

import type { NativeDeviceInfo, NativeSystemInfo } from './addon.js';

/** cudaError_t codes the explanation depends on. */
const INSUFFICIENT_DRIVER = 35;
const NO_DEVICE = 100;

/** "NVIDIA UNIX x86_64 Kernel Module  550.54.15 ..." → "550.54.15"; null without the kernel module. */
export function kernelDriverVersion(procDir = '/proc/driver/nvidia'): string | null {
  if (!existsSync(procDir)) return null;
  try {
    const text = readFileSync(`${procDir}/version`, 'utf8');
    return /Kernel Module\s+([0-9][\w.-]*)/.exec(text)?.[1] ?? 'version unknown';
  } catch {
    return 'version unknown';
  }
}

/** A CUDA version number (12020) as "12.2". */
export function cudaVersionText(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none';
}

/** The CUDA error named in info.reason, e.g. "cudaErrorInsufficientDriver (35)". */
function errorName(info: NativeDeviceInfo): string {
  return /(cuda\w+ \(\d+\))/.exec(info.reason)?.[1] ?? `CUDA error ${info.errorCode}`;
}

/**
 * The reason the device is unavailable ('' when it is available): no NVIDIA driver, a kernel module
 * without its library, a driver older than the runtime, no GPU; else the runtime's own reason.
 */
export function unavailableReason(info: NativeDeviceInfo, sys: Pick<NativeSystemInfo, 'libcudaLoaded' | 'libcudaError'> | null, kernelModule: string | null): string {
  if (info.available) return '';
  const code = info.errorCode;
  if (sys !== null && !sys.libcudaLoaded && code !== 0) {
    if (kernelModule === null) return `no NVIDIA driver found (libcuda.so.1 cannot be loaded and /proc/driver/nvidia does not exist; the CUDA runtime says ${errorName(info)})`;
    return `the NVIDIA kernel driver ${kernelModule} is loaded but its library libcuda.so.1 cannot be loaded (${sys.libcudaError}; the CUDA runtime says ${errorName(info)})`;
  }
  if (code === INSUFFICIENT_DRIVER) {
    return `the NVIDIA driver supports CUDA ${cudaVersionText(info.driverVersion)}, older than the CUDA runtime ${cudaVersionText(info.runtimeVersion)} this addon was built with: update the driver (${errorName(info)})`;
  }
  if (code === NO_DEVICE) return `the NVIDIA driver is installed but sees no GPU (${errorName(info)})`;
  return info.reason || 'device unavailable';
}
