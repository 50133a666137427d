export { backward, grad, type BackwardOptions, type GradOptions } from './engine.js';
export { gradcheck, GRADCHECK_DEFAULTS, type GradcheckFn, type GradcheckOptions, type GradcheckResult, type Mismatch, type StructuralFailure } from './gradcheck.js';
export { noGrad, isGradEnabled, withGradMode } from './grad-mode.js';
export { record, needsGrad, type RecordOptions } from './record.js';
export type { GradNode, BackwardFn } from './node.js';
export { gradgradcheck, checkGrads, vjpFunction, type GradgradcheckOptions, type CheckGradsOptions, type VjpFunction } from './gradgradcheck.js';
export { checkDevices, type CheckDevicesOptions, type CheckDevicesResult, type DeviceReport, type TensorComparison } from './check-devices.js';
