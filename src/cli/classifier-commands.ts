// `tsgrad classifier <subcommand>`: the definitions of Darknet's classifier commands. The bodies are in
// classifier.ts (predict) and classifier-train.ts, loaded when a subcommand runs.

import { DEVICE_OPTION, HEIGHT_OPTION, lazyCommand, WIDTH_OPTION, type CommandGroup, type CommandSpec } from './args.js';
import { DEVICE_FLAGS, lacking, NO_WINDOW_FLAGS, same, SIZE_FLAGS } from './darknet-flags.js';
import { trainSpec as detectorTrainSpec } from './detector-commands.js';

export const predictSpec: CommandSpec = {
  path: 'classifier predict',
  summary: 'the top-k classes of an image',
  description:
    "Darknet's classifier predict: letterboxes the image to the network size, runs it once and prints the --top largest outputs " +
    'of the last layer that is not [cost] as "<percent>%: <class>". Without <data> (the form <cfg> <weights> <image>) the class ' +
    'names come from --names, else the class index is printed.',
  positionals: [
    { name: 'data', optional: true, help: 'a Darknet classifier .data file (its labels= or names= entry) or a .names file' },
    { name: 'cfg', help: 'classifier cfg' },
    { name: 'weights', help: 'Darknet .weights file' },
    { name: 'image', help: 'the image' },
  ],
  options: {
    top: { type: 'string', value: 'K', default: 5, help: 'how many classes to print' },
    names: { type: 'string', value: 'FILE', defaultText: "<data>'s names; class indices without <data>", help: 'class names: a .names file (one per line) or a .data file' },
    device: DEVICE_OPTION,
    width: WIDTH_OPTION,
    height: HEIGHT_OPTION,
  },
  darknet: { t: same('top', 'K'), ...SIZE_FLAGS, ...DEVICE_FLAGS },
};

/** The options classifier train shares with detector train: the same definitions. */
const shared = (...names: string[]): CommandSpec['options'] => Object.fromEntries(names.map((n) => [n, detectorTrainSpec.options[n]!]));

export const classifierTrainSpec: CommandSpec = {
  path: 'classifier train',
  summary: 'train a classifier (e.g. a Darknet-19-style backbone) from a cfg',
  description:
    "Darknet's classifier train. The .data file is Darknet's classifier format: train= and valid= lists, labels= (class names; an " +
    "image's class is the name in its file name), backup=. Writes <backup>/<cfg>_last.weights and <cfg>_last.state every " +
    '--save-every iterations, <cfg>_final.weights at max_batches and the chart, and prints the top-1 accuracy on the valid= list ' +
    'at the end (and every --eval-every iterations). Progress and Ctrl-C as in detector train. Start a detector from the result ' +
    'with: tsgrad detector train <data> <detector.cfg> <cfg>_final.weights --partial N',
  positionals: [
    { name: 'data', help: 'Darknet classifier .data file (train=, valid=, labels=, backup=)' },
    { name: 'cfg', help: 'classifier cfg (ends in [softmax], optionally [cost])' },
    { name: 'weights', optional: true, help: "starting weights; their header's seen continues the schedule unless --clear" },
  ],
  options: {
    ...shared('device', 'backup', 'clear', 'resume', 'seed', 'no-augment', 'workers', 'save-every'),
    'eval-every': { type: 'string', value: 'N', default: 0, help: 'top-1 accuracy on the valid= list every N iterations (0: only at the end)' },
    ...shared('max-batches', 'batch', 'subdivisions', 'learning-rate', 'width', 'height', 'set', 'precise-bn', 'stop-after', 'strict', 'chart', 'log-every', 'quiet'),
  },
  darknet: {
    clear: same('clear'),
    show_imgs: lacking('show_imgs', '--chart FILE (the loss and top-1 chart)'),
    ...NO_WINDOW_FLAGS,
    ...SIZE_FLAGS,
    ...DEVICE_FLAGS,
  },
  notes: 'Images whose file name holds no class name, or several, are reported and skipped; --strict stops at the first.',
};

export const classifierGroup: CommandGroup = {
  path: 'classifier',
  summary: "Darknet's classifier: predict, train",
  description: "Darknet's `classifier` commands.",
  subcommands: [
    { name: 'predict', command: lazyCommand(predictSpec, async () => (await import('./classifier.js')).predictBody) },
    { name: 'train', command: lazyCommand(classifierTrainSpec, async () => (await import('./classifier-train.js')).classifierTrainBody) },
  ],
};
