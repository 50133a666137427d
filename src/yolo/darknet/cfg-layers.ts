// One entry per layer section: its keys with Darknet's defaults (parser.c parse_<type>) and its shape
// rule (make_<type>_layer). The table maps every accepted section name (Darknet's aliases included)
// to a builder; a builder reads its options, checks them against the input it receives and returns
// the type-specific fields plus Darknet's geometry for the layer.

import type { SectionOptions } from './cfg-options.js';
import {
  ACTIVATIONS,
  type Activation,
  type CostType,
  type DarknetLayer,
  type LayerShape,
  type LayerType,
  type TensorSpec,
} from './cfg-types.js';

/** What the previous layer hands on (Darknet's size_params): its out dims and output count. */
export interface LayerInput {
  readonly w: number;
  readonly h: number;
  readonly c: number;
  readonly inputs: number;
}

export interface BuildContext {
  readonly index: number;
  readonly input: LayerInput;
  /** Layers already built (indices 0..index-1). */
  readonly layers: readonly DarknetLayer[];
}

type Common = 'type' | 'index' | 'source' | 'out' | 'tensors' | 'paramCount' | 'common';
type BuildResult<T extends LayerType> = Omit<Extract<DarknetLayer, { type: T }>, Common>;

interface SectionSpec<T extends LayerType> {
  readonly type: T;
  readonly build: (o: SectionOptions, ctx: BuildContext) => BuildResult<T>;
  /** Parameter tensors in .weights order (Darknet's save_weights), from the built layer. */
  readonly tensors: (l: Extract<DarknetLayer, { type: T }>) => TensorSpec[];
}

const noTensors = (): TensorSpec[] => [];

function requireImage(o: SectionOptions, ctx: BuildContext): void {
  const { w, h, c } = ctx.input;
  if (!(w > 0 && h > 0 && c > 0)) {
    o.fail(null, `needs an image input (c×h×w), but the layer before it gives a flat ${ctx.input.inputs}-vector (${c}×${h}×${w})`);
  }
}

function shape(w: number, h: number, c: number, outW: number, outH: number, outC: number, inputs: number, outputs: number): LayerShape {
  return { w, h, c, outW, outH, outC, inputs, outputs };
}

function activation(o: SectionOptions, def: Activation): Activation {
  return o.str('activation', def, ACTIVATIONS);
}

const convolutional: SectionSpec<'convolutional'> = {
  type: 'convolutional',
  build(o, ctx) {
    const filters = o.int('filters', 1, { min: 1 });
    const size = o.int('size', 1, { min: 1 });
    const stride = o.int('stride', 1, { min: 1 });
    const pad = o.flag('pad', false);
    const explicitPadding = o.int('padding', 0, { min: 0 });
    const groups = o.int('groups', 1, { min: 1 });
    const act = activation(o, 'logistic');
    const batchNormalize = o.flag('batch_normalize', false);
    o.unsupported('binary', '0', 'binary weights');
    o.unsupported('xnor', '0', 'XNOR nets');
    o.unsupported('flipped', '0', 'transposed conv weights');
    o.unsupported('dot', '0', 'weight orthogonality penalty');
    requireImage(o, ctx);
    const { w, h, c } = ctx.input;
    const padding = pad ? Math.trunc(size / 2) : explicitPadding;
    if (c % groups !== 0) o.fail('groups', `groups=${groups} does not divide the ${c} input channels`);
    if (filters % groups !== 0) o.fail('groups', `groups=${groups} does not divide filters=${filters}`);
    if (w + 2 * padding < size || h + 2 * padding < size) {
      o.fail('size', `size=${size} is larger than the padded input ${h + 2 * padding}×${w + 2 * padding} (input ${c}×${h}×${w}, padding ${padding})`);
    }
    // convolutional_out_width/height
    const outW = Math.trunc((w + 2 * padding - size) / stride) + 1;
    const outH = Math.trunc((h + 2 * padding - size) / stride) + 1;
    return {
      filters, size, stride, pad, padding, groups, activation: act, batchNormalize,
      nweights: (c / groups) * filters * size * size,
      shape: shape(w, h, c, outW, outH, filters, w * h * c, outW * outH * filters),
    };
  },
  tensors: (l) => [
    { name: 'biases', count: l.filters },
    ...(l.batchNormalize
      ? ([
          { name: 'scales', count: l.filters },
          { name: 'rollingMean', count: l.filters },
          { name: 'rollingVariance', count: l.filters },
        ] as const)
      : []),
    { name: 'weights', count: l.nweights },
  ],
};

const maxpool: SectionSpec<'maxpool'> = {
  type: 'maxpool',
  build(o, ctx) {
    const stride = o.int('stride', 1, { min: 1 });
    const size = o.int('size', stride, { min: 1 });
    const padding = o.int('padding', size - 1, { min: 0 });
    requireImage(o, ctx);
    const { w, h, c } = ctx.input;
    if (w + padding < size || h + padding < size) {
      o.fail('size', `size=${size} is larger than the padded input ${h + padding}×${w + padding} (input ${c}×${h}×${w}, padding ${padding})`);
    }
    // Darknet accepts any size (its default padding grows with it), but a window larger than the input
    // only repeats the input's maximum at size² cost per output: size=100000 runs for minutes. A window
    // up to twice the input's longer side passes (size=2 on the 1×1 maps of small inputs is common).
    if (size > 2 * Math.max(w, h)) o.fail('size', `size=${size} is more than twice the input ${c}×${h}×${w}; such a window only repeats the input's maximum`);
    const outW = Math.trunc((w + padding - size) / stride) + 1;
    const outH = Math.trunc((h + padding - size) / stride) + 1;
    return { size, stride, padding, shape: shape(w, h, c, outW, outH, c, w * h * c, outW * outH * c) };
  },
  tensors: noTensors,
};

const avgpool: SectionSpec<'avgpool'> = {
  type: 'avgpool',
  build(o, ctx) {
    requireImage(o, ctx);
    const { w, h, c } = ctx.input;
    return { shape: shape(w, h, c, 1, 1, c, w * h * c, c) };
  },
  tensors: noTensors,
};

const softmax: SectionSpec<'softmax'> = {
  type: 'softmax',
  build(o, ctx) {
    const groups = o.int('groups', 1, { min: 1 });
    const temperature = o.float('temperature', 1, { min: 0, minExclusive: true });
    const spatial = o.float('spatial', 0);
    const noloss = o.flag('noloss', false);
    o.unsupported('tree', null, 'hierarchical softmax (needs a tree file)');
    const { w, h, c, inputs } = ctx.input;
    if (inputs % groups !== 0) o.fail('groups', `groups=${groups} does not divide the ${inputs} inputs`);
    // make_softmax_layer leaves out_w/out_h/out_c at 0; parse_softmax copies w/h/c.
    return { groups, temperature, spatial, noloss, shape: shape(w, h, c, 0, 0, 0, inputs, inputs) };
  },
  tensors: noTensors,
};

const route: SectionSpec<'route'> = {
  type: 'route',
  build(o, ctx) {
    if (!o.has('layers')) o.fail(null, 'needs layers= (the layers to concatenate)');
    const raw = o.intList('layers') ?? [];
    const layers = raw.map((r) => {
      const abs = r < 0 ? ctx.index + r : r;
      if (abs < 0 || abs >= ctx.index) {
        o.fail('layers', `layers entry ${r} refers to layer ${abs}, but only layers 0..${ctx.index - 1} come before layer ${ctx.index}`);
      }
      return abs;
    });
    const srcs = layers.map((i) => ctx.layers[i] as DarknetLayer);
    const first = srcs[0] as DarknetLayer;
    let outW = first.shape.outW, outH = first.shape.outH, outC = first.shape.outC;
    // parse_route: channels add up while every source has the first one's w and h; any mismatch
    // leaves a flat output (out dims 0), which only flat-input layers can take.
    for (const s of srcs.slice(1)) {
      if (s.shape.outW === first.shape.outW && s.shape.outH === first.shape.outH) outC += s.shape.outC;
      else outW = outH = outC = 0;
    }
    const outputs = srcs.reduce((a, s) => a + s.shape.outputs, 0);
    return { layers, shape: shape(0, 0, 0, outW, outH, outC, outputs, outputs) };
  },
  tensors: noTensors,
};

const reorg: SectionSpec<'reorg'> = {
  type: 'reorg',
  build(o, ctx) {
    const stride = o.int('stride', 1, { min: 1 });
    const reverse = o.flag('reverse', false);
    o.unsupported('flatten', '0', 'reorg flatten mode');
    o.unsupported('extra', '0', 'reorg extra outputs');
    requireImage(o, ctx);
    const { w, h, c } = ctx.input;
    const s2 = stride * stride;
    // Darknet's reorg_cpu permutes the whole buffer as C/stride² groups; other sizes overrun it.
    if (c % s2 !== 0) o.fail('stride', `stride=${stride} needs input channels divisible by ${s2}, got ${c}`);
    if (!reverse && (w % stride !== 0 || h % stride !== 0)) {
      o.fail('stride', `stride=${stride} needs an input height and width divisible by ${stride}, got ${h}×${w}`);
    }
    const outW = reverse ? w * stride : w / stride;
    const outH = reverse ? h * stride : h / stride;
    const outC = reverse ? c / s2 : c * s2;
    return { stride, reverse, shape: shape(w, h, c, outW, outH, outC, w * h * c, outW * outH * outC) };
  },
  tensors: noTensors,
};

const region: SectionSpec<'region'> = {
  type: 'region',
  build(o, ctx) {
    const coords = o.int('coords', 4, { min: 1 });
    const classes = o.int('classes', 20, { min: 1 });
    const n = o.int('num', 1, { min: 1 });
    const r = {
      n, classes, coords,
      log: o.int('log', 0),
      sqrt: o.flag('sqrt', false),
      softmax: o.flag('softmax', false),
      background: o.flag('background', false),
      maxBoxes: o.int('max', 30, { min: 1 }),
      jitter: o.float('jitter', 0.2, { min: 0 }),
      rescore: o.flag('rescore', false),
      thresh: o.float('thresh', 0.5),
      classfix: o.int('classfix', 0),
      absolute: o.flag('absolute', false),
      random: o.flag('random', false),
      coordScale: o.float('coord_scale', 1),
      objectScale: o.float('object_scale', 1),
      noobjectScale: o.float('noobject_scale', 1),
      maskScale: o.float('mask_scale', 1),
      classScale: o.float('class_scale', 1),
      biasMatch: o.flag('bias_match', false),
    };
    o.unsupported('tree', null, 'hierarchical softmax (needs a tree file)');
    o.unsupported('map', null, 'class map file');
    const anchors = o.floatList('anchors', { min: 0, minExclusive: true }) ?? new Array<number>(2 * n).fill(0.5);
    if (anchors.length !== 2 * n) {
      o.fail('anchors', `num=${n} needs ${2 * n} anchor values (w,h per anchor), got ${anchors.length}`);
    }
    const { w, h } = ctx.input;
    const c = n * (classes + coords + 1);
    const prev = ctx.layers[ctx.index - 1];
    const where = prev === undefined ? 'the network input' : `layer ${prev.index} ([${prev.source.section}] at line ${prev.source.line})`;
    const filtersNote = prev?.type === 'convolutional' ? ` (filters=${prev.filters})` : '';
    if (ctx.input.c !== c || w * h * c !== ctx.input.inputs) {
      o.fail(null, `needs num*(classes+coords+1) = ${n}*(${classes}+${coords}+1) = ${c} input channels, but ${where} outputs ${ctx.input.c}×${h}×${w}${filtersNote}`);
    }
    return { ...r, anchors, truths: 30 * (coords + 1), shape: shape(w, h, c, w, h, c, ctx.input.inputs, ctx.input.inputs) };
  },
  tensors: noTensors,
};

const local: SectionSpec<'local'> = {
  type: 'local',
  build(o, ctx) {
    const filters = o.int('filters', 1, { min: 1 });
    const size = o.int('size', 1, { min: 1 });
    const stride = o.int('stride', 1, { min: 1 });
    const pad = o.flag('pad', false);
    const act = activation(o, 'logistic');
    requireImage(o, ctx);
    const { w, h, c } = ctx.input;
    // local_out_width/height: `pad` reduces the input by 1 instead of by size.
    const cut = pad ? 1 : size;
    if (w < cut || h < cut) o.fail('size', `size=${size} is larger than the input ${c}×${h}×${w}`);
    const outW = Math.trunc((w - cut) / stride) + 1;
    const outH = Math.trunc((h - cut) / stride) + 1;
    return { filters, size, stride, pad, activation: act, shape: shape(w, h, c, outW, outH, filters, w * h * c, outW * outH * filters) };
  },
  tensors: (l) => [
    { name: 'biases', count: l.shape.outputs },
    { name: 'weights', count: l.shape.outW * l.shape.outH * l.filters * l.shape.c * l.size * l.size },
  ],
};

const dropout: SectionSpec<'dropout'> = {
  type: 'dropout',
  build(o, ctx) {
    const probability = o.float('probability', 0.5, { min: 0, max: 1, maxExclusive: true });
    const { w, h, c, inputs } = ctx.input;
    // make_dropout_layer leaves w/h/c at 0; parse_dropout copies the input dims to out dims.
    return { probability, scale: Math.fround(1 / (1 - probability)), shape: shape(0, 0, 0, w, h, c, inputs, inputs) };
  },
  tensors: noTensors,
};

const connected: SectionSpec<'connected'> = {
  type: 'connected',
  build(o, ctx) {
    const output = o.int('output', 1, { min: 1 });
    const act = activation(o, 'logistic');
    const batchNormalize = o.flag('batch_normalize', false);
    const inputs = ctx.input.inputs;
    return { output, activation: act, batchNormalize, shape: shape(1, 1, inputs, 1, 1, output, inputs, output) };
  },
  tensors: (l) => [
    { name: 'biases', count: l.output },
    { name: 'weights', count: l.output * l.shape.inputs },
    ...(l.batchNormalize
      ? ([
          { name: 'scales', count: l.output },
          { name: 'rollingMean', count: l.output },
          { name: 'rollingVariance', count: l.output },
        ] as const)
      : []),
  ],
};

const detection: SectionSpec<'detection'> = {
  type: 'detection',
  build(o, ctx) {
    const coords = o.int('coords', 1, { min: 1 });
    const classes = o.int('classes', 1, { min: 1 });
    const rescore = o.flag('rescore', false);
    const n = o.int('num', 1, { min: 1 });
    const side = o.int('side', 7, { min: 1 });
    const d = {
      coords, classes, rescore, n, side,
      softmax: o.flag('softmax', false),
      sqrt: o.flag('sqrt', false),
      maxBoxes: o.int('max', 90, { min: 1 }),
      coordScale: o.float('coord_scale', 1),
      forced: o.int('forced', 0, { min: 0 }),
      objectScale: o.float('object_scale', 1),
      noobjectScale: o.float('noobject_scale', 1),
      classScale: o.float('class_scale', 1),
      jitter: o.float('jitter', 0.2, { min: 0 }),
      random: o.flag('random', false),
      reorg: o.flag('reorg', false),
    };
    // make_detection_layer: per cell `classes` scores, then per box 1 confidence + coords.
    const need = side * side * ((1 + coords) * n + classes);
    const inputs = ctx.input.inputs;
    if (inputs !== need) {
      const prev = ctx.layers[ctx.index - 1];
      const where = prev === undefined ? 'the network input' : `layer ${prev.index} ([${prev.source.section}] at line ${prev.source.line})`;
      o.fail(null, `needs side*side*((1+coords)*num+classes) = ${side}*${side}*((1+${coords})*${n}+${classes}) = ${need} inputs, but ${where} outputs ${inputs}`);
    }
    return { ...d, truths: side * side * (1 + coords + classes), shape: shape(side, side, 0, 0, 0, 0, inputs, inputs) };
  },
  tensors: noTensors,
};

const COST_TYPES: readonly CostType[] = ['sse', 'seg', 'masked', 'smooth', 'L1', 'wgan'];

const cost: SectionSpec<'cost'> = {
  type: 'cost',
  build(o, ctx) {
    const costType = o.str('type', 'sse', COST_TYPES);
    const inputs = ctx.input.inputs;
    return {
      costType,
      scale: o.float('scale', 1),
      ratio: o.float('ratio', 0),
      noobjectScale: o.float('noobj', 1),
      thresh: o.float('thresh', 0),
      shape: shape(0, 0, 0, 0, 0, 0, inputs, inputs),
    };
  },
  tensors: noTensors,
};

const crop: SectionSpec<'crop'> = {
  type: 'crop',
  build(o, ctx) {
    const cropHeight = o.int('crop_height', 1, { min: 1 });
    const cropWidth = o.int('crop_width', 1, { min: 1 });
    const c0 = {
      flip: o.flag('flip', false),
      angle: o.float('angle', 0),
      saturation: o.float('saturation', 1, { min: 0 }),
      exposure: o.float('exposure', 1, { min: 0 }),
      noadjust: o.flag('noadjust', false),
      shift: o.float('shift', 0),
    };
    requireImage(o, ctx);
    const { w, h, c } = ctx.input;
    if (cropWidth > w || cropHeight > h) {
      o.fail(cropWidth > w ? 'crop_width' : 'crop_height', `crop ${cropHeight}×${cropWidth} is larger than the input ${h}×${w}`);
    }
    return { cropHeight, cropWidth, ...c0, shape: shape(w, h, c, cropWidth, cropHeight, c, w * h * c, cropWidth * cropHeight * c) };
  },
  tensors: noTensors,
};

type AnySpec = { [T in LayerType]: SectionSpec<T> }[LayerType];

/** Section name (as written between brackets) → spec. Darknet's short aliases are accepted. */
export const SECTION_TABLE: ReadonlyMap<string, AnySpec> = new Map<string, AnySpec>([
  ['convolutional', convolutional],
  ['conv', convolutional],
  ['maxpool', maxpool],
  ['max', maxpool],
  ['avgpool', avgpool],
  ['avg', avgpool],
  ['softmax', softmax],
  ['soft', softmax],
  ['route', route],
  ['reorg', reorg],
  ['region', region],
  ['local', local],
  ['dropout', dropout],
  ['connected', connected],
  ['conn', connected],
  ['detection', detection],
  ['cost', cost],
  ['crop', crop],
]);

/** Sections Darknet knows that tsgrad does not implement (a clearer error than "unknown"). */
export const DARKNET_ONLY_SECTIONS: ReadonlySet<string> = new Set([
  'shortcut', 'yolo', 'iseg', 'deconv', 'deconvolutional', 'activation', 'logistic', 'l2norm', 'crnn', 'gru', 'lstm',
  'rnn', 'lrn', 'normalization', 'batchnorm', 'upsample',
]);
