// `tsgrad data <subcommand>`: the definitions of the data-set commands. The bodies are in data.ts.

import { lazyCommand, MAX_PIXELS_OPTION, type CommandGroup, type CommandSpec } from './args.js';

const LAYOUT =
  'Images are symlinked into DIR/images/<split>/ unless --copy; list files hold paths relative to DIR unless --absolute. ' +
  'DIR gets the .data, .names, train.txt/valid.txt files and the YOLO-txt labels.';

export const synthSpec: CommandSpec = {
  path: 'data synth',
  summary: 'generate a synthetic data set of shapes and digits',
  description: 'A synthetic data set: detection (shapes and digit glyphs, 1 to --max-objects per image, with YOLO-txt labels) or classification (one object per image, its class in the file name).',
  options: {
    out: { type: 'string', value: 'DIR', required: true, help: 'where the data set goes' },
    train: { type: 'string', value: 'N', required: true, help: 'training images' },
    valid: { type: 'string', value: 'M', required: true, help: 'held-out images' },
    classes: { type: 'string', value: 'K', default: 6, help: 'number of classes' },
    size: { type: 'string', value: 'S', defaultText: '224 for detection, 128 for classification', help: 'image side in pixels (at least 32)' },
    seed: { type: 'string', value: 'S', default: 1, help: 'seed of every image' },
    kind: { type: 'string', value: 'detection|classification', default: 'detection', help: 'what the data set is for' },
    'max-objects': { type: 'string', value: 'N', default: 4, help: 'most objects per detection image' },
    quality: { type: 'string', value: 'Q', default: 90, help: 'JPEG quality (1..100)' },
  },
};

export const convertVocSpec: CommandSpec = {
  path: 'data convert-voc',
  summary: "convert Pascal VOC annotations to Darknet's YOLO-txt layout",
  description:
    'Reads VOC year folders (Annotations/, JPEGImages/, ImageSets/Main/SET.txt) and writes a Darknet data set. Objects whose class ' +
    'is not in the class list are skipped; with the default (the 20 VOC classes) any such object is an error that names the classes ' +
    'found, so a data set of other classes needs --names. ' +
    LAYOUT,
  options: {
    out: { type: 'string', value: 'DIR', required: true, help: 'where the data set goes' },
    train: { type: 'string', value: 'ROOT:SET', multiple: true, required: true, help: 'a VOC year folder and image set, e.g. VOCdevkit/VOC2007:trainval' },
    valid: { type: 'string', value: 'ROOT:SET', multiple: true, defaultText: 'no valid split', help: 'held-out image sets, e.g. VOCdevkit/VOC2007:test' },
    names: { type: 'string', value: 'FILE', defaultText: 'the 20 VOC classes', help: 'class names, one per line, in class-id order' },
    'include-difficult': { type: 'boolean', help: 'keep objects marked difficult' },
    copy: { type: 'boolean', help: 'copy the images instead of symlinking them' },
    absolute: { type: 'boolean', help: 'absolute paths in the list files' },
    strict: { type: 'boolean', help: 'stop at the first bad annotation (default: report and skip it)' },
  },
};

export const convertCocoSpec: CommandSpec = {
  path: 'data convert-coco',
  summary: "convert COCO JSON annotations to Darknet's YOLO-txt layout",
  description: `Reads COCO instances JSON files and writes a Darknet data set (classes in category-id order unless --names). ${LAYOUT}`,
  options: {
    out: { type: 'string', value: 'DIR', required: true, help: 'where the data set goes' },
    'train-json': { type: 'string', value: 'FILE', required: true, help: 'instances JSON of the training images' },
    'train-images': { type: 'string', value: 'DIR', required: true, help: 'folder of the training images' },
    'valid-json': { type: 'string', value: 'FILE', defaultText: 'no valid split', help: 'instances JSON of the held-out images (with --valid-images)' },
    'valid-images': { type: 'string', value: 'DIR', defaultText: 'no valid split', help: 'folder of the held-out images' },
    names: { type: 'string', value: 'FILE', defaultText: 'every category, sorted by id', help: 'the categories to keep, in class-id order, one per line' },
    'include-crowd': { type: 'boolean', help: 'keep iscrowd annotations' },
    copy: { type: 'boolean', help: 'copy the images instead of symlinking them' },
    absolute: { type: 'boolean', help: 'absolute paths in the list files' },
  },
};

export const checkSpec: CommandSpec = {
  path: 'data check',
  summary: 'validate the labels of a split and decode every image; print every problem as file:line',
  description:
    'Validates the labels of a split of a Darknet .data file, decodes every image (in parallel, with the limits training uses) and ' +
    'prints every problem as file:line: message (exit code 1 when there is any).',
  positionals: [{ name: 'data', help: 'Darknet .data file' }],
  options: {
    split: { type: 'string', value: 'train|valid', default: 'train', help: 'which list of the .data file' },
    strict: { type: 'boolean', help: 'stop at the first problem' },
    'max-pixels': MAX_PIXELS_OPTION,
  },
};

export const dataGroup: CommandGroup = {
  path: 'data',
  summary: 'data sets: synth, convert-voc, convert-coco, check',
  description: "Make, convert and check data sets in Darknet's layout (.data file, list files, YOLO-txt labels).",
  subcommands: [
    { name: 'synth', command: lazyCommand(synthSpec, async () => (await import('./data.js')).synthBody) },
    { name: 'convert-voc', command: lazyCommand(convertVocSpec, async () => (await import('./data.js')).convertVocBody) },
    { name: 'convert-coco', command: lazyCommand(convertCocoSpec, async () => (await import('./data.js')).convertCocoBody) },
    { name: 'check', command: lazyCommand(checkSpec, async () => (await import('./data.js')).checkBody) },
  ],
};
