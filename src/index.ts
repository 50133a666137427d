// Public API (re-exports only).
export { Tensor, type TensorOrScalar } from './tensor/tensor.js';
export * from './tensor/ops/index.js';
export { type DType, type TypedArray } from './tensor/dtype.js';
export { cpu, getDevice, listDevices, availableDevices, registerDevice, type Device, type MemoryStats } from './tensor/device.js';
export { scope, keep, memoryInfo } from './tensor/memory.js';
export { registerKernel, getKernel, hasKernel, kernelsOn } from './tensor/registry.js';
export { Rng } from './tensor/random.js';
export * from './autograd/index.js';
export * from './nn/index.js';
import './backends/cuda/index.js';
export { buildNetwork, openNetwork, Network, type BuildNetworkOptions, type OpenNetworkOptions } from './yolo/net/network.js';
export { exportOnnx, exportOnnxModel, writeOnnxFile, OnnxExportError, type OnnxExportOptions, type OnnxModel } from './yolo/onnx/index.js';
