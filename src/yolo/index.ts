// `tsgrad/yolo`: Darknet and YOLO from code (re-exports only).
//
//   Darknet files    readCfgFile / parseCfg, readWeightsFile / writeWeightsFile, generateWeights
//   networks         openNetwork / buildNetwork → Network (forward, train/eval), loadWeights / saveWeightsFile
//   detection        Detector.open(cfg, weights).detect(image) → boxes; networkBoxes, nmsSort, detectionsReport
//   scoring          evaluateDetections (VOC07 / VOC2010 / COCO-101 / AP@[.5:.95]), evaluateDetector
//   data sets        loadDetectionData (Darknet .data / YOLO txt), readVocSets / convertVoc, readCocoJson /
//                    convertCoco, generateSynthDataset, BatchLoader, augmentSample
//   anchors          kmeansAnchors, averageIou, convertAnchors
//   training         DetectorTrainer / trainDetector, trainClassifier, the region and detection losses

import '../backends/cuda/index.js'; // registers the cuda and cuda-emu devices, as the root entry does

export * from './darknet/cfg.js';
export {
  DarknetWeightsError,
  defaultHeader,
  layerWeights,
  readWeights,
  readWeightsFile,
  readWeightsFileSync,
  readWeightsHeader,
  sliceWeights,
  weightsLayout,
  writeWeights,
  writeWeightsFile,
  type DarknetWeights,
  type LayerWeights,
  type ReadWeightsOptions,
  type WeightsHeader,
  type WeightsLayout,
  type WriteWeightsOptions,
} from './darknet/weights.js';
export { generateWeights, makeInput, makeWeightsBytes } from './darknet/generate.js';

export * from './net/network.js';
export { exportWeights, loadWeights, loadWeightsFile, saveWeightsFile } from './net/weights.js';
export { imageInput, inputMethod, inputTensor, prepareImage, readRawInput, type InputMethod, type PreparedInput } from './net/input.js';
export { detectionsJson, networkBoxes, type DetectionsJson, type NetworkBoxes, type NetworkBoxesOptions } from './net/detections.js';
export { LayerModule, type BatchStats } from './net/layers.js';

export * from './box.js';
export * from './decode.js';
export * from './nms.js';
export * from './detect.js';
export * from './map.js';
export * from './eval.js';
export * from './anchors.js';
export * from './data/index.js';

export { detectionLoss, detectionLossAttrs, type DetectionLossAttrs, type DetectionLossResult } from './loss/detection-loss.js';
export { regionLoss, regionLossAttrs, type RegionLossAttrs, type RegionLossResult } from './loss/region-loss.js';
export { lossLayers, networkLoss, type LayerLoss, type NetworkLoss, type NetworkLossOptions } from './loss/network-loss.js';
export type { LossStats } from './loss/stats.js';
export { DetectorTrainer, darknetOptimizer, netSchedule, trainDetector, type TrainDetectorOptions, type TrainDetectorResult } from './train/trainer.js';
export { classifierAccuracy, trainClassifier, type TrainClassifierOptions, type TrainClassifierResult } from './train/classifier-trainer.js';
export { preciseBatchNorm } from './train/precise-bn.js';
export { formatProgress, type ProgressInfo, type TrainHooks } from './train/progress.js';
export { renderTrainingChart, writeTrainingChart, type TrainingChartData, type TrainingChartOptions } from './train/chart.js';
export { exportOnnx, exportOnnxModel, writeOnnxFile, OnnxExportError, type OnnxExportOptions, type OnnxModel } from './onnx/index.js';
