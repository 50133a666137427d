// tsgrad/testing: property testing of one's own ops. The fast-check arbitraries tsgrad's own tests use
// (shapes, broadcast-compatible shape tuples, host tensors of a dtype with values away from kinks, dim
// subsets, convolution geometries) and checkOp, the one-line op test (forward against a reference,
// gradcheck, optional gradgradcheck, leak check). fast-check itself is a dependency of tsgrad.

export {
  awayFromArb,
  broadcastShapesArb,
  convGeometryArb,
  dimsArb,
  distinctHostTensorArb,
  hostTensor,
  hostTensorArb,
  runs,
  shapeArb,
  tensorArb,
  toTensor,
  valueArb,
  type ConvGeometry,
  type ConvGeometryOptions,
  type HostTensor,
  type TensorArbOptions,
  type ValueKind,
} from './arbitraries.js';
export { assertClose, checkOp, type CheckOpOptions, type CloseOptions, type OpInput } from './check-op.js';
