// `tsgrad darknet <subcommand>`: the definitions of the Darknet file tools. The bodies are in darknet.ts
// (dump) and darknet-make.ts, loaded when a subcommand runs.

import { DEVICE_OPTION, HEIGHT_OPTION, lazyCommand, WIDTH_OPTION, type CommandGroup, type CommandSpec } from './args.js';

/** Candidate threshold and NMS of the dump's detections.json (the values of the reference cases). */
const DUMP_THRESH = 0.005;
const DUMP_NMS = 0.45;

export const dumpSpec: CommandSpec = {
  path: 'darknet dump',
  summary: "run a cfg + weights on one input and write every layer's output and detections.json",
  description:
    'Runs the network once (inference, batch 1) and writes into --out, for every layer i, its whole output as Lnn_<type>.f32 ' +
    "(float32 little-endian, Darknet's layout), and detections.json (candidates before and after do_nms_sort) when the net has a " +
    '[region] or [detection] layer.',
  options: {
    cfg: { type: 'string', value: 'FILE', required: true, help: 'network cfg' },
    weights: { type: 'string', value: 'FILE', defaultText: 'none: give --seed', help: 'a Darknet .weights file (or --seed)' },
    seed: { type: 'string', value: 'S', defaultText: 'none: give --weights', help: "use the deterministic generator's weights for seed S (0..4294967295)" },
    input: { type: 'string', value: 'FILE.f32', defaultText: 'none: give --image', help: "raw float32 CHW input of exactly the network's size (e.g. from make-input)" },
    image: { type: 'string', value: 'FILE', defaultText: 'none: give --input', help: 'an image, letterboxed ([region] nets) or resized ([detection] nets) as Darknet does; region boxes are then relative to the original image' },
    out: { type: 'string', value: 'DIR', required: true, help: 'where the files go' },
    width: WIDTH_OPTION,
    height: HEIGHT_OPTION,
    device: DEVICE_OPTION,
    thresh: { type: 'string', value: 'T', default: DUMP_THRESH, help: 'candidate threshold of detections.json' },
    nms: { type: 'string', value: 'T', default: DUMP_NMS, help: 'IoU threshold of do_nms_sort in detections.json' },
    truth: {
      type: 'string',
      value: 'FILE.f32',
      defaultText: 'no loss',
      help:
        "truth of the loss layer (Darknet's net.truth: 30 boxes x (x, y, w, h, class) for [region], side^2*(1+classes+4) for [detection]); " +
        "also writes the last loss layer's delta.f32 and cost.json (cost, seen, mode, sum_sq_delta_f64, net_cost)",
    },
    seen: { type: 'string', value: 'S', default: 0, help: "images seen before this batch (the region loss's 12,800 rule)" },
    train: {
      type: 'boolean',
      help:
        'run the whole forward in training mode (BN with batch statistics and a rolling update, dropout active) and write, for each BN ' +
        "layer, Lnn_bn_mean/variance and Lnn_bn_rolling_mean_after/_variance_after; without it the loss sees the inference outputs (Darknet's train_isolated)",
    },
  },
  notes: 'Give exactly one of --weights and --seed, and exactly one of --input and --image.',
};

export const makeWeightsSpec: CommandSpec = {
  path: 'darknet make-weights',
  summary: 'write deterministic pseudo-random .weights for a cfg',
  description:
    'Writes a Darknet .weights file (version 0.2.0, seen 0) with the deterministic pseudo-random values of the reference generator for ' +
    'every layer of the cfg. --width/--height change the file only for cfgs with [connected] or [local] layers.',
  options: {
    cfg: { type: 'string', value: 'FILE', required: true, help: 'network cfg' },
    seed: { type: 'string', value: 'S', required: true, help: 'generator seed, an integer in 0..4294967295' },
    out: { type: 'string', value: 'FILE', required: true, help: 'the .weights file to write (atomically)' },
    width: WIDTH_OPTION,
    height: HEIGHT_OPTION,
  },
};

export const makeInputSpec: CommandSpec = {
  path: 'darknet make-input',
  summary: 'write the synthetic float32 network input',
  description: 'Writes the synthetic network input of the reference generator: channels x height x width float32 little-endian values in CHW order, k/255 for 8-bit k.',
  options: {
    width: { type: 'string', value: 'W', required: true, help: 'input width' },
    height: { type: 'string', value: 'H', required: true, help: 'input height' },
    out: { type: 'string', value: 'FILE', required: true, help: 'the .f32 file to write (atomically)' },
    seed: { type: 'string', value: 'S', default: 7, help: 'generator seed' },
    channels: { type: 'string', value: 'C', default: 3, help: 'channels (1..64)' },
  },
};

export const darknetGroup: CommandGroup = {
  path: 'darknet',
  summary: 'Darknet files: dump, make-weights, make-input',
  description: "Tools for Darknet's files: layer dumps in the format of the reference cases and the deterministic weight and input generators.",
  subcommands: [
    { name: 'dump', command: lazyCommand(dumpSpec, async () => (await import('./darknet.js')).dumpBody) },
    { name: 'make-weights', command: lazyCommand(makeWeightsSpec, async () => (await import('./darknet-make.js')).makeWeightsBody) },
    { name: 'make-input', command: lazyCommand(makeInputSpec, async () => (await import('./darknet-make.js')).makeInputBody) },
  ],
};
