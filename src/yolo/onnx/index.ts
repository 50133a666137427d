// Export of Darknet networks to ONNX (docs/EXPORT.md).
export {
  DEFAULT_OPSET,
  exportOnnx,
  exportOnnxModel,
  MAX_OPSET,
  MIN_OPSET,
  OnnxExportError,
  writeOnnxFile,
  type OnnxExportOptions,
  type OnnxModel,
} from './export.js';
export { ACTIVATION_EXPORTERS, exportActivation, type ActivationExportOptions } from './activations.js';
export { GraphBuilder, irVersionFor, type Attr, type ValueSpec } from './graph.js';
export { exportLayer, LAYER_EXPORTERS, type LayerExportContext, type LayerExporter, type LayerExportOptions } from './layers.js';
