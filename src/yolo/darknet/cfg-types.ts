// Types of a parsed Darknet network: the [net] options and one typed object per layer section.
//
// Field values are what Darknet's parser (parser.c, 2018) ends up with, including its defaults for
// absent keys. Floats are float32 values (Math.fround), as Darknet stores them. `shape` mirrors
// Darknet's own layer fields (l.w, l.h, l.c, l.out_w, l.out_h, l.out_c, l.inputs, l.outputs),
// including the zeros Darknet leaves in some of them (route w/h/c, softmax/detection/cost out dims),
// so it can be checked against Darknet's layers.json field by field. `out` is the usable output shape.

import type { KeyLines } from './cfg-options.js';

export type LayerType =
  | 'convolutional'
  | 'maxpool'
  | 'avgpool'
  | 'softmax'
  | 'route'
  | 'reorg'
  | 'region'
  | 'local'
  | 'dropout'
  | 'connected'
  | 'detection'
  | 'cost'
  | 'crop';

/** Darknet's activation names (activations.c get_activation). */
export type Activation =
  | 'logistic'
  | 'loggy'
  | 'relu'
  | 'elu'
  | 'selu'
  | 'relie'
  | 'plse'
  | 'hardtan'
  | 'lhtan'
  | 'linear'
  | 'ramp'
  | 'leaky'
  | 'tanh'
  | 'stair';

export const ACTIVATIONS: readonly Activation[] = [
  'logistic', 'loggy', 'relu', 'elu', 'selu', 'relie', 'plse', 'hardtan', 'lhtan', 'linear', 'ramp', 'leaky', 'tanh', 'stair',
];

export type LearningRatePolicy = 'constant' | 'step' | 'steps' | 'exp' | 'poly' | 'sigmoid' | 'random';

export type CostType = 'sse' | 'seg' | 'masked' | 'smooth' | 'L1' | 'wgan';

/** Where a section came from. */
export interface SectionSource {
  readonly file: string;
  /** 1-based line of the `[section]` header. */
  readonly line: number;
  /** The section name as written (`conv`, `convolutional`, `net`, ...). */
  readonly section: string;
  /** Line of every key the section sets (0 for a [net] key set by an override). */
  readonly keys: KeyLines;
}

/** The [net] / [network] section. */
export interface NetOptions {
  readonly source: SectionSource;
  /** Keys replaced by the caller's overrides. */
  readonly overridden: readonly string[];
  /** `batch` as written. */
  readonly batch: number;
  readonly subdivisions: number;
  readonly timeSteps: number;
  /** Darknet's net->batch: batch / subdivisions * time_steps (integer division), the images per forward. */
  readonly miniBatch: number;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** Input floats per image: `inputs` if set, else width*height*channels. */
  readonly inputs: number;
  readonly learningRate: number;
  readonly momentum: number;
  readonly decay: number;
  readonly policy: LearningRatePolicy;
  readonly burnIn: number;
  readonly power: number;
  /** `step` and `scale` (policy step / sigmoid). */
  readonly step: number;
  readonly scale: number;
  /** `steps` / `scales` (policy steps); empty when absent. */
  readonly steps: readonly number[];
  readonly scales: readonly number[];
  readonly gamma: number;
  readonly maxBatches: number;
  readonly adam: boolean;
  readonly B1: number;
  readonly B2: number;
  readonly eps: number;
  readonly notruth: boolean;
  readonly random: boolean;
  readonly center: boolean;
  readonly clip: number;
  readonly maxCrop: number;
  readonly minCrop: number;
  readonly maxRatio: number;
  readonly minRatio: number;
  readonly angle: number;
  readonly aspect: number;
  readonly saturation: number;
  readonly exposure: number;
  readonly hue: number;
}

/** Darknet's layer geometry fields, verbatim (0 where Darknet leaves them 0). */
export interface LayerShape {
  readonly w: number;
  readonly h: number;
  readonly c: number;
  readonly outW: number;
  readonly outH: number;
  readonly outC: number;
  readonly inputs: number;
  readonly outputs: number;
}

export type TensorName = 'biases' | 'scales' | 'rollingMean' | 'rollingVariance' | 'weights';

/** One parameter tensor of a layer, in .weights file order. */
export interface TensorSpec {
  readonly name: TensorName;
  /** Number of float32 values. */
  readonly count: number;
}

/** Keys Darknet reads for every layer type (parse_network_cfg), the ones tsgrad keeps. */
export interface CommonLayerOptions {
  /** `learning_rate` in a layer section: a multiplier of the net's rate (default 1). */
  readonly learningRateScale: number;
  readonly onlyforward: boolean;
  readonly stopbackward: boolean;
  /** Skipped by save_weights. */
  readonly dontsave: boolean;
  /** Skipped by load_weights (its bytes are not in the file). */
  readonly dontload: boolean;
  /** load_weights reads no BN scales / rolling stats for this layer. */
  readonly dontloadscales: boolean;
}

interface LayerBase<T extends LayerType> {
  readonly type: T;
  /** Darknet's layer index (0-based, every section after [net]). */
  readonly index: number;
  readonly source: SectionSource;
  readonly shape: LayerShape;
  /** Output as [c, h, w]: [outC, outH, outW], or [outputs, 1, 1] where Darknet's out dims are 0 (flat). */
  readonly out: readonly [number, number, number];
  /** Parameter tensors in .weights order (empty for layers without parameters). */
  readonly tensors: readonly TensorSpec[];
  /** Total float32 parameters in the .weights file for this layer. */
  readonly paramCount: number;
  readonly common: CommonLayerOptions;
}

export interface ConvolutionalLayer extends LayerBase<'convolutional'> {
  readonly filters: number;
  readonly size: number;
  readonly stride: number;
  /** The `pad` switch as written. */
  readonly pad: boolean;
  /** Padding in pixels actually used: size/2 (integer) when `pad=1`, else `padding` (default 0). */
  readonly padding: number;
  readonly groups: number;
  readonly activation: Activation;
  readonly batchNormalize: boolean;
  /** filters * c/groups * size * size. */
  readonly nweights: number;
}

export interface MaxpoolLayer extends LayerBase<'maxpool'> {
  readonly size: number;
  readonly stride: number;
  /** Total padding (default size-1); the window starts at -padding/2. */
  readonly padding: number;
}

export interface AvgpoolLayer extends LayerBase<'avgpool'> {}

export interface SoftmaxLayer extends LayerBase<'softmax'> {
  readonly groups: number;
  readonly temperature: number;
  readonly spatial: number;
  readonly noloss: boolean;
}

export interface RouteLayer extends LayerBase<'route'> {
  /** Absolute indices of the concatenated layers, in cfg order. */
  readonly layers: readonly number[];
}

export interface ReorgLayer extends LayerBase<'reorg'> {
  readonly stride: number;
  readonly reverse: boolean;
}

export interface RegionLayer extends LayerBase<'region'> {
  /** `num`: anchors per cell. */
  readonly n: number;
  readonly classes: number;
  readonly coords: number;
  readonly softmax: boolean;
  readonly rescore: boolean;
  readonly biasMatch: boolean;
  readonly background: boolean;
  readonly absolute: boolean;
  readonly random: boolean;
  readonly log: number;
  readonly sqrt: boolean;
  readonly classfix: number;
  /** `max` (default 30). */
  readonly maxBoxes: number;
  /** 30*(coords+1): Darknet's truth floats per image for a region layer. */
  readonly truths: number;
  readonly thresh: number;
  readonly jitter: number;
  readonly objectScale: number;
  readonly noobjectScale: number;
  readonly classScale: number;
  readonly coordScale: number;
  readonly maskScale: number;
  /** 2*n anchor values (w0,h0,w1,h1,...) in grid cells, float32; 0.5 each when absent. */
  readonly anchors: readonly number[];
}

export interface LocalLayer extends LayerBase<'local'> {
  readonly filters: number;
  readonly size: number;
  readonly stride: number;
  /** The `pad` switch: when set the padding is 1 pixel, literally (not size/2). */
  readonly pad: boolean;
  readonly activation: Activation;
}

export interface DropoutLayer extends LayerBase<'dropout'> {
  readonly probability: number;
  /** 1/(1-probability), as float32. */
  readonly scale: number;
}

export interface ConnectedLayer extends LayerBase<'connected'> {
  /** `output`: number of outputs. */
  readonly output: number;
  readonly activation: Activation;
  readonly batchNormalize: boolean;
}

export interface DetectionLayer extends LayerBase<'detection'> {
  /** `num`: boxes per cell. */
  readonly n: number;
  readonly side: number;
  readonly classes: number;
  readonly coords: number;
  readonly rescore: boolean;
  readonly softmax: boolean;
  readonly sqrt: boolean;
  readonly forced: number;
  readonly random: boolean;
  readonly reorg: boolean;
  /** `max` (default 90). */
  readonly maxBoxes: number;
  /** side*side*(1+coords+classes). */
  readonly truths: number;
  readonly jitter: number;
  readonly objectScale: number;
  readonly noobjectScale: number;
  readonly classScale: number;
  readonly coordScale: number;
}

export interface CostLayer extends LayerBase<'cost'> {
  readonly costType: CostType;
  readonly scale: number;
  readonly ratio: number;
  /** `noobj`. */
  readonly noobjectScale: number;
  readonly thresh: number;
}

export interface CropLayer extends LayerBase<'crop'> {
  readonly cropHeight: number;
  readonly cropWidth: number;
  readonly flip: boolean;
  readonly angle: number;
  readonly saturation: number;
  readonly exposure: number;
  readonly shift: number;
  readonly noadjust: boolean;
}

export type DarknetLayer =
  | ConvolutionalLayer
  | MaxpoolLayer
  | AvgpoolLayer
  | SoftmaxLayer
  | RouteLayer
  | ReorgLayer
  | RegionLayer
  | LocalLayer
  | DropoutLayer
  | ConnectedLayer
  | DetectionLayer
  | CostLayer
  | CropLayer;

/** The layer object of a given type. */
export type LayerOf<T extends LayerType> = Extract<DarknetLayer, { type: T }>;

/** A whole parsed .cfg. */
export interface DarknetNetwork {
  readonly file: string;
  readonly net: NetOptions;
  readonly layers: readonly DarknetLayer[];
  /** Input as [c, h, w] ([inputs, 1, 1] for a net given only `inputs`). */
  readonly input: readonly [number, number, number];
  readonly inputs: number;
  /** Outputs of the output layer (the last layer that is not [cost]). */
  readonly outputs: number;
  /** Truth floats per image: the last layer's `truths` when it has them, else `outputs`. */
  readonly truths: number;
  /** Sum of every layer's paramCount. */
  readonly paramCount: number;
}
