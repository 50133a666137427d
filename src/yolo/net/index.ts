// Darknet networks as nn Modules: layer modules, the network, weights I/O, inputs and boxes.
export { ACTIVATION_TABLE, activate, checkActivation, darknetLeaky, darknetStair } from './activations.js';
export {
  AvgpoolModule,
  buildLayer,
  ConnectedModule,
  ConvolutionalModule,
  CostModule,
  CropModule,
  describeLayer,
  DetectionModule,
  DropoutModule,
  LAYER_FACTORIES,
  LayerModule,
  LocalModule,
  MaxpoolModule,
  RegionModule,
  ReorgModule,
  RouteModule,
  SECRET_NUM,
  SoftmaxModule,
  type BatchStats,
  type ForwardContext,
  type InitContext,
  type LayerFactory,
} from './layers.js';
export {
  buildNetwork,
  layersOfType,
  Network,
  openNetwork,
  type BuildNetworkOptions,
  type NetworkForwardOptions,
  type OpenNetworkOptions,
} from './network.js';
export { exportWeights, loadWeights, loadWeightsFile, saveWeightsFile } from './weights.js';
export { imageInput, inputMethod, inputTensor, prepareImage, readRawInput, type InputMethod, type PreparedInput } from './input.js';
export {
  detectionsJson,
  DUMP_NMS,
  DUMP_THRESH,
  formatDetectionsJson,
  networkBoxes,
  type DetectionsJson,
  type GetNetworkBoxesArgs,
  type NetworkBoxes,
  type NetworkBoxesOptions,
} from './detections.js';
