// Loading the native addon (native/addon.cc): two builds of one source,
//   build/Release/tsgrad_emu.node   kernels compiled by g++ against a host emulation of CUDA ('cuda-emu')
//   build/Release/tsgrad_cuda.node  the same kernels compiled by nvcc ('cuda')
// A missing or unloadable addon is not an error here: loadAddon() returns the reason instead, and the
// device built on it reports itself unavailable with that reason.
//
// The addon's API mirrors native/kernels/kernels.h one entry per launcher. Conventions:
//   * device pointers are plain numbers (addresses below 2^53; 0 = null); element offsets are added by the
//     caller as `ptr + 4 * offset` (every element type on the device is 4 bytes);
//   * shapes and strides are arrays of integers (elements);
//   * op / dtype / variant codes come from `addon.constants`, never hard-coded;
//   * every entry throws an Error whose message starts with its name (and names the CUDA error when
//     there is one); launches are asynchronous, memcpyDtoH and synchronize wait.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AddonVariant = 'emu' | 'cuda';

/** A device address (0 = null). */
export type DevicePtr = number;

export interface NativeDeviceInfo {
  backend: AddonVariant;
  available: boolean;
  /** Why the device is unusable ('' when available), e.g. the cudaGetDeviceCount error. */
  reason: string;
  /** The CUDA error code behind `reason` (35 = cudaErrorInsufficientDriver), 0 if none. */
  errorCode: number;
  deviceCount: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  multiProcessorCount: number;
  driverVersion: number;
  runtimeVersion: number;
}

/** What `systemInfo()` reports beside info() (native/addon.cc). */
export interface NativeSystemInfo {
  /** Whether libcuda.so.1 (the NVIDIA user-space driver the CUDA runtime loads) can be loaded, and why not. */
  libcudaLoaded: boolean;
  libcudaError: string;
  /** Every device the runtime sees (empty when it sees none). */
  devices: { index: number; name: string; computeCapability: string; totalMemory: number; multiProcessorCount: number }[];
  /** The architectures the kernels were compiled for (CMake's CUDA_ARCHITECTURES, comma-separated; '' in the emulated build). */
  cudaArchitectures: string;
  /** CUDART_VERSION the addon was compiled against (0 in the emulated build). */
  runtimeVersionBuilt: number;
}

export interface NativeMemoryStats {
  allocatedBytes: number;
  requestedBytes: number;
  reservedBytes: number;
  peakAllocatedBytes: number;
  peakReservedBytes: number;
  liveBlocks: number;
  cachedBlocks: number;
  deviceMallocs: number;
  deviceFrees: number;
  cacheHits: number;
}

export interface NativeConstants {
  dtype: { float32: number; int32: number };
  unary: Record<string, number>;
  binary: Record<string, number>;
  reduce: { sum: number; max: number; min: number };
  biasMode: { none: number; row: number; col: number };
  bnVariant: { pytorch: number; darknet: number };
  bnRule: { exact: number; darknet: number };
  reorgMode: { darknet: number; pixelUnshuffle: number; ardi: number };
  sgdVariant: { pytorch: number; darknet: number };
}

type P = DevicePtr;
type Ints = readonly number[];

/** The addon's exports (see native/addon.cc and native/kernels/kernels.h for the math of each). */
export interface NativeAddon {
  readonly variant: AddonVariant;
  readonly constants: NativeConstants;
  info(): NativeDeviceInfo;
  systemInfo(): NativeSystemInfo;
  malloc(bytes: number): P;
  free(ptr: P): void;
  memcpyHtoD(dst: P, dstByteOffset: number, src: ArrayBufferView): void;
  memcpyDtoH(dst: ArrayBufferView, src: P, srcByteOffset: number): void;
  memcpyDtoD(dst: P, dstByteOffset: number, src: P, srcByteOffset: number, bytes: number): void;
  memoryStats(): NativeMemoryStats;
  resetPeakStats(): void;
  emptyCache(): void;
  synchronize(): void;

  fill(y: P, dtype: number, n: number, value: number): void;
  fillUniform(y: P, n: number, seed: number, start: number, lo: number, hi: number): void;
  fillNormal(y: P, n: number, seed: number, start: number, mean: number, std: number): void;
  unary(y: P, x: P, shape: Ints, yStrides: Ints, xStrides: Ints, op: number, p0: number, p1: number): void;
  binary(out: P, a: P, b: P, shape: Ints, outStrides: Ints, aStrides: Ints, bStrides: Ints, op: number, dtype: number): void;
  where(out: P, cond: P, a: P, b: P, shape: Ints, outStrides: Ints, condStrides: Ints, aStrides: Ints, bStrides: Ints, dtype: number): void;
  copy(dst: P, dstDtype: number, src: P, srcDtype: number, shape: Ints, dstStrides: Ints, srcStrides: Ints): void;
  oneHot(out: P, dtype: number, index: P, N: number, classes: number): void;
  reduce(out: P, index: P, x: P, outer: number, n: number, inner: number, op: number, scale: number): void;
  softmax(y: P, x: P, outer: number, n: number, inner: number, log: boolean): void;
  softmaxBackward(dx: P, dy: P, y: P, outer: number, n: number, inner: number, log: boolean): void;
  gemm(
    C: P, A: P, B: P, bias: P, M: number, N: number, K: number, transA: boolean, transB: boolean,
    lda: number, ldb: number, ldc: number, alpha: number, beta: number, biasMode: number,
    batch: number, strideA: number, strideB: number, strideC: number,
  ): void;
  /** Geometry (16 numbers): B, C, H, W, O, kh, kw, sh, sw, dh, dw, padTop, padBottom, padLeft, padRight, groups. */
  im2col(col: P, x: P, ...geomAndXBatchStride: number[]): void;
  col2im(x: P, col: P, ...geomAndXBatchStride: number[]): void;
  conv2d(y: P, x: P, w: P, bias: P, ...geom: number[]): void;
  conv2dBackwardInput(dx: P, dy: P, w: P, ...geom: number[]): void;
  conv2dBackwardWeight(dw: P, x: P, dy: P, ...geom: number[]): void;
  conv2dBackwardBias(db: P, dy: P, B: number, O: number, HW: number): void;
  /** Geometry as conv2d's (dh = dw = groups = 1). */
  local2d(y: P, x: P, w: P, bias: P, ...geom: number[]): void;
  local2dBackwardInput(dx: P, dy: P, w: P, ...geom: number[]): void;
  local2dBackwardWeight(dw: P, x: P, dy: P, ...geom: number[]): void;
  dropout(y: P, mask: P, x: P, n: number, p: number, seed: number): void;
  batchnorm2d(
    y: P, batchMean: P, batchVar: P, x: P, weight: P, bias: P, runningMean: P, runningVar: P,
    B: number, C: number, HW: number, training: boolean, momentum: number, eps: number, variant: number,
  ): void;
  batchnorm2dBackward(
    dx: P, dweight: P, dbias: P, gy: P, x: P, weight: P, mean: P, variance: P,
    B: number, C: number, HW: number, eps: number, variant: number, batchStats: boolean, rule: number,
  ): void;
  /** Pool geometry: B, C, H, W, OH, OW, kh, kw, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight, then emptyValue. */
  maxpool2d(y: P, index: P, x: P, ...geomAndEmptyValue: number[]): void;
  maxpool2dBackward(dx: P, dy: P, index: P, planes: number, HW: number, OHW: number): void;
  /** Pool geometry without dilation: B, C, H, W, OH, OW, kh, kw, sh, sw, padTop, padLeft, padBottom, padRight. */
  avgpool2d(y: P, x: P, ...geomAndCountIncludePad: (number | boolean)[]): void;
  avgpool2dBackward(dx: P, dy: P, ...geomAndCountIncludePad: (number | boolean)[]): void;
  reorg(y: P, x: P, B: number, C: number, H: number, W: number, stride: number, mode: number): void;
  reorgBackward(dx: P, dy: P, B: number, C: number, H: number, W: number, stride: number, mode: number): void;
  sgd(w: P, g: P, velocity: P, n: number, lr: number, momentum: number, decay: number, batch: number, variant: number, firstStep: boolean): void;
  adam(w: P, g: P, m: P, v: P, n: number, lr: number, beta1: number, beta2: number, eps: number, decay: number, step: number): void;
  /**
   * Darknet's region (YOLOv2) loss: delta [batch, outputs], cost [1], stats [8] from output and truth
   * (native/kernels/region_loss.cu); stats[7] = # truths whose class is outside [0, classes).
   */
  regionLoss(
    delta: P, cost: P, stats: P, output: P, truth: P, batch: number, w: number, h: number, n: number, classes: number,
    coords: number, maxBoxes: number, anchors: readonly number[] | Float32Array, biasMatch: boolean, rescore: boolean,
    background: boolean, seen: number, objectScale: number, noobjectScale: number, classScale: number, coordScale: number,
    thresh: number,
  ): void;
  /** Darknet's detection (YOLOv1) loss: delta, cost [1], stats [8] (native/kernels/detection_loss.cu). */
  detectionLoss(
    delta: P, cost: P, stats: P, output: P, truth: P, batch: number, side: number, n: number, classes: number,
    coords: number, rescore: boolean, sqrt: boolean, forced: boolean, random: boolean, seen: number, seed: number,
    objectScale: number, noobjectScale: number, classScale: number, coordScale: number,
  ): void;
  /** Emulated build only: checks of the emulator itself (see native/emu/selftest.cc). */
  emuSelfTest?(name: string): number[];
}

export interface AddonLoad {
  variant: AddonVariant;
  /** The loaded addon, or null. */
  addon: NativeAddon | null;
  /** Why it is null ('' when loaded). */
  reason: string;
  /** Where it was looked for. */
  path: string;
}

/** The directory holding build/ (the package root): $TSGRAD_NATIVE_DIR, else found upwards from this file. */
export function nativeRoot(): string {
  const env = process.env.TSGRAD_NATIVE_DIR;
  if (env) return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'CMakeLists.txt')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const loads = new Map<AddonVariant, AddonLoad>();

/** Why scripts/install.js did not build `variant`, from the build/native-status.json it writes (null: no record). */
function buildRecord(variant: AddonVariant): string | null {
  try {
    const status = JSON.parse(readFileSync(join(nativeRoot(), 'build', 'native-status.json'), 'utf8')) as { notBuilt?: Record<string, string> };
    const why = status.notBuilt?.[variant === 'emu' ? 'cuda-emu' : 'cuda'];
    return typeof why === 'string' ? why : null;
  } catch {
    return null;
  }
}

/** Load (once) build/Release/tsgrad_<variant>.node; never throws. */
export function loadAddon(variant: AddonVariant): AddonLoad {
  const hit = loads.get(variant);
  if (hit) return hit;
  const path = join(nativeRoot(), 'build', 'Release', `tsgrad_${variant}.node`);
  let result: AddonLoad;
  if (!existsSync(path)) {
    const why = buildRecord(variant) ?? (variant === 'cuda' ? 'needs nvcc' : 'needs a C++ compiler and cmake');
    result = { variant, addon: null, path, reason: `native addon not built: ${why}; build it with \`npx tsgrad build-native\`` };
  } else {
    try {
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      result = { variant, addon, path, reason: '' };
    } catch (e) {
      result = { variant, addon: null, path, reason: `cannot load ${path}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  loads.set(variant, result);
  return result;
}
