// `tsgrad detector <subcommand>`: the definitions (arguments, options, defaults, help, Darknet's flags)
// of Darknet's detector commands. The bodies are in detector.ts (test), detector-train.ts and
// detector-eval.ts, loaded when a subcommand runs.

import { DEVICE_OPTION, HEIGHT_OPTION, lazyCommand, MAX_PIXELS_OPTION, WIDTH_OPTION, type CommandGroup, type CommandSpec, type PositionalSpec } from './args.js';
import { accepted, DEVICE_FLAGS, lacking, mapped, NO_WINDOW_FLAGS, same, SIZE_FLAGS } from './darknet-flags.js';

const DATA: PositionalSpec = { name: 'data', help: 'Darknet .data file (classes=, train=, valid=, names=, backup=)' };
const CFG: PositionalSpec = { name: 'cfg', help: 'network cfg ([region] or [detection] output layer)' };
const WEIGHTS: PositionalSpec = { name: 'weights', help: 'Darknet .weights file' };

/** Darknet's validate_detector values: candidates above 0.005, NMS at 0.45, here 4 images per forward. */
const EVAL_THRESH = 0.005;
const EVAL_NMS = 0.45;
const EVAL_BATCH = 4;

export const testSpec: CommandSpec = {
  path: 'detector test',
  summary: 'detect objects in images: print every detection and draw the boxes',
  description:
    "Darknet's detector test. Letterboxes ([region] nets) or resizes ([detection] nets) each image as Darknet does, runs the " +
    'network once, applies NMS and prints "<class>: <prob>%  box left,top,right,bottom" (pixels of the original image) for ' +
    'every detection above --thresh, then draws them into --out. When nothing is above the threshold it says so and writes no image.',
  positionals: [
    { name: 'data-or-names', help: 'a Darknet .data file (its names= entry) or a .names file (one class name per line)' },
    CFG,
    WEIGHTS,
    { name: 'image', variadic: true, help: 'one or more images (.jpg, .png, ...)' },
  ],
  options: {
    thresh: { type: 'string', value: 'T', default: 0.5, help: 'report the classes whose probability is above T' },
    nms: { type: 'string', value: 'T', default: 0.45, help: 'IoU threshold of do_nms_sort (0: no NMS)' },
    out: { type: 'string', value: 'FILE', default: 'predictions.png', help: 'the image with the boxes drawn (.png or .jpg); with several images "-<image name>" goes before the extension' },
    json: { type: 'string', value: 'FILE', defaultText: 'not written', help: "also write the detections of every image as JSON (Darknet's -out format: frame_id, filename, objects with class_id, name, relative_coordinates, confidence)" },
    'max-pixels': MAX_PIXELS_OPTION,
    device: DEVICE_OPTION,
    width: WIDTH_OPTION,
    height: HEIGHT_OPTION,
  },
  darknet: {
    thresh: same('thresh', 'T'),
    ext_output: accepted('the box of every detection is always printed'),
    out: same('json', 'FILE'),
    save_labels: lacking('save_labels', '--json FILE (every detection with relative coordinates)'),
    ...NO_WINDOW_FLAGS,
    ...SIZE_FLAGS,
    ...DEVICE_FLAGS,
  },
};

export const trainSpec: CommandSpec = {
  path: 'detector train',
  summary: 'train a detector from a cfg (and starting weights), with checkpoints and exact resume',
  description:
    "Darknet's detector train: batch/subdivisions, the [net] learning-rate policy, SGD with Darknet's momentum/decay (or Adam), " +
    'jitter, HSV and multi-scale augmentation. Writes <backup>/<cfg>_last.weights and <cfg>_last.state every --save-every ' +
    'iterations, <cfg>_<iteration>.weights every 10x, <cfg>_final.weights at max_batches, <cfg>_best.weights (with --map-every) and ' +
    'the chart. On a terminal one status line shows the progress and the ETA; in a log (stdout not a terminal) every iteration ' +
    'prints one line. Ctrl-C stops after the current iteration, writes the checkpoint and prints the command that resumes (exit code 130).',
  positionals: [DATA, CFG, { name: 'weights', optional: true, help: "starting weights; their header's seen continues the schedule unless --clear" }],
  options: {
    device: DEVICE_OPTION,
    backup: { type: 'string', value: 'DIR', defaultText: "the .data file's backup=, else ./backup", help: 'where weights, state and chart go' },
    clear: { type: 'boolean', help: 'start the schedule (iteration, burn_in, steps) at 0 whatever the weights have seen' },
    resume: { type: 'string', value: 'STATE', defaultText: 'start from [weights] or random weights', help: 'exact resume from a <cfg>_last.state written by this command (same cfg layers)' },
    partial: { type: 'string', value: 'N', defaultText: 'every layer', help: "load only layers 0..N-1 of the weights (e.g. a classifier's backbone); the schedule starts at 0" },
    seed: { type: 'string', value: 'S', default: 0, help: 'seed of the initialisation, data order, augmentation and multi-scale sizes' },
    'no-augment': { type: 'boolean', help: 'no jitter/HSV/flip/multi-scale: letterbox or resize only' },
    'no-multiscale': { type: 'boolean', help: 'keep the cfg size (no random=1 multi-scale)' },
    workers: { type: 'string', value: 'N', defaultText: 'CPU cores - 1, at most 4; 0 loads in the main thread', help: 'data loader worker threads' },
    'save-every': { type: 'string', value: 'N', default: 100, help: 'checkpoint every N iterations' },
    'map-every': { type: 'string', value: 'N|auto', default: 0, help: "evaluate mAP@0.5 on the valid= list every N iterations and at the end, keeping <cfg>_best.weights (0: never; auto: every max(100, 4 epochs) iterations, as Darknet's -map)" },
    'max-batches': { type: 'string', value: 'N', defaultText: "the cfg's max_batches", help: 'iterations to train to' },
    batch: { type: 'string', value: 'N', defaultText: "the cfg's batch", help: 'images per iteration' },
    subdivisions: { type: 'string', value: 'N', defaultText: "the cfg's subdivisions", help: 'forward/backward passes per iteration (batch/N images each)' },
    'learning-rate': { type: 'string', value: 'LR', defaultText: "the cfg's learning_rate", help: 'base learning rate' },
    width: { ...WIDTH_OPTION, help: 'network input width, at least 32 (replaces the [net] width)' },
    height: { ...HEIGHT_OPTION, help: 'network input height, at least 32 (replaces the [net] height)' },
    set: { type: 'string', value: 'KEY=VALUE', multiple: true, defaultText: 'none', help: 'override any [net] key (e.g. --set burn_in=0 --set policy=constant)' },
    'precise-bn': { type: 'string', value: 'N', default: 0, help: "before each evaluation and the final weights, set the BN rolling statistics to the average of N training batches' statistics (0: Darknet's rolling average only)" },
    'stop-after': { type: 'string', value: 'N', defaultText: 'train to max_batches', help: 'stop, with a checkpoint, after N iterations of this run' },
    strict: { type: 'boolean', help: 'stop at the first bad label or undecodable image instead of reporting and skipping it' },
    'max-pixels': MAX_PIXELS_OPTION,
    chart: { type: 'string', value: 'FILE|none', defaultText: '<backup>/chart.png', help: 'the loss (and mAP) chart' },
    'log-every': { type: 'string', value: 'N', defaultText: '1 in a log; on a terminal only the status line', help: 'print the iteration line every N iterations' },
    quiet: { type: 'boolean', help: 'no per-iteration output (neither the status line nor iteration lines)' },
  },
  darknet: {
    map: { expand: () => ['--map-every', 'auto'], help: '= --map-every auto (mAP every max(100, 4 epochs) iterations)' },
    clear: same('clear'),
    show_imgs: lacking('show_imgs', '--chart FILE (the loss chart; augmented images are not shown)'),
    mjpeg_port: lacking('mjpeg_port', '--chart FILE (the loss and mAP chart, rewritten at every checkpoint)', 'PORT'),
    ...NO_WINDOW_FLAGS,
    ...SIZE_FLAGS,
    ...DEVICE_FLAGS,
  },
  notes:
    'Bad labels are reported with file:line and skipped (counted), and so are images that do not decode (a one-line note each; ' +
    'their slots take the next images); --strict stops at the first of either. The backup folder is checked before the first iteration.',
};

export const validSpec: CommandSpec = {
  path: 'detector valid',
  summary: 'write the detections of a split as VOC comp4 files and COCO JSON',
  description:
    "Darknet's detector valid. Runs the network on every image of the split's list (letterbox for [region] nets, resize for " +
    '[detection] nets), keeps candidates above --thresh, applies do_nms_sort at --nms and writes DIR/comp4_det_test_<class name>.txt ' +
    '(VOC devkit: "<image id> <score> <xmin> <ymin> <xmax> <ymax>", 1-based pixel corners clipped to the image) and DIR/coco_results.json ' +
    '(image_id: the number the file name ends with, category_id: the class index, bbox [x, y, w, h] in pixels, score).',
  positionals: [DATA, CFG, WEIGHTS],
  options: {
    out: { type: 'string', value: 'DIR', defaultText: "the .data file's results=, else ./results", help: 'where the result files go' },
    thresh: { type: 'string', value: 'T', default: EVAL_THRESH, help: 'keep candidates with a class probability above T' },
    nms: { type: 'string', value: 'T', default: EVAL_NMS, help: 'IoU threshold of do_nms_sort (0: no NMS)' },
    split: { type: 'string', value: 'valid|train', default: 'valid', help: 'which list of the .data file' },
    batch: { type: 'string', value: 'N', default: EVAL_BATCH, help: 'images per forward pass' },
    strict: { type: 'boolean', help: 'stop at the first image that does not decode instead of skipping it with a note' },
    'max-pixels': MAX_PIXELS_OPTION,
    device: DEVICE_OPTION,
    width: WIDTH_OPTION,
    height: HEIGHT_OPTION,
  },
  darknet: {
    thresh: same('thresh', 'T'),
    out: lacking('out', '--out DIR (the comp4_det_test_ file name prefix is fixed)', 'PREFIX'),
    ...NO_WINDOW_FLAGS,
    ...SIZE_FLAGS,
    ...DEVICE_FLAGS,
  },
};

export const AP_CHOICES = ['voc07', 'voc07-darknet', 'voc10', 'coco101', 'coco', 'all'] as const;

export const mapSpec: CommandSpec = {
  path: 'detector map',
  summary: 'per-class AP, mAP, precision/recall/F1 and TP/FP/FN of a split (or of result files)',
  description:
    "AlexeyAB's detector map. Detects on the split (candidates above --det-thresh, do_nms_sort at --nms) and prints per-class AP " +
    'with TP/FP, the mAP at --iou, and precision/recall/F1, TP/FP/FN and average IoU of the detections with score >= --thresh. ' +
    'With --gt and --results no network runs: the result files are scored against the annotations.',
  synopsis: '<data> <cfg> <weights>',
  alsoUsage: ['detector map --gt instances.json --results results.json [options]', 'detector map --gt VOC_ROOT:SET --results DIR [--names FILE] [options]'],
  positionals: [
    { ...DATA, optional: true, help: `${DATA.help}; not with --gt/--results` },
    { ...CFG, optional: true },
    { ...WEIGHTS, optional: true },
  ],
  options: {
    thresh: { type: 'string', value: 'T', default: 0.25, help: 'confidence threshold of precision/recall/F1, TP/FP/FN and the per-class TP/FP' },
    iou: { type: 'string', value: 'T', default: 0.5, help: 'IoU a detection needs to match a truth' },
    ap: { type: 'string', value: 'DEF', default: 'voc10', help: `AP definition: ${AP_CHOICES.join(', ')}, or several comma-separated (see below)` },
    'max-dets': { type: 'string', value: 'N', defaultText: '100 for coco101/coco, as COCOeval, else all', help: 'keep the N top-scored detections per image and class' },
    split: { type: 'string', value: 'valid|train', default: 'valid', help: 'which list of the .data file' },
    strict: { type: 'boolean', help: 'a bad label line or an image that does not decode is an error (default: reported and skipped)' },
    json: { type: 'string', value: 'FILE', defaultText: 'not written', help: 'write every number as JSON' },
    'det-thresh': { type: 'string', value: 'T', default: EVAL_THRESH, help: 'keep candidates with a class probability above T' },
    nms: { type: 'string', value: 'T', default: EVAL_NMS, help: 'IoU threshold of do_nms_sort (0: no NMS)' },
    batch: { type: 'string', value: 'N', default: EVAL_BATCH, help: 'images per forward pass' },
    'max-pixels': MAX_PIXELS_OPTION,
    device: DEVICE_OPTION,
    width: WIDTH_OPTION,
    height: HEIGHT_OPTION,
    gt: { type: 'string', value: 'FILE|ROOT:SET', defaultText: 'detect with the network', help: 'ground truth to score --results against: a COCO instances JSON (iscrowd, area) or a VOC image set (ROOT/ImageSets/Main/SET.txt, ROOT/Annotations/*.xml with difficult)' },
    results: { type: 'string', value: 'FILE|DIR', defaultText: 'detect with the network', help: 'COCO: a JSON array of {image_id, category_id, bbox [x,y,w,h], score}; VOC: a folder of comp4_det_test_<class>.txt' },
    names: { type: 'string', value: 'FILE', defaultText: "VOC's 20 classes", help: 'class names of VOC --gt/--results scoring' },
  },
  darknet: {
    thresh: same('thresh', 'T'),
    iou_thresh: same('iou', 'T'),
    points: mapped('points', 'ap', 'N', { '0': 'voc10', '11': 'voc07-darknet', '101': 'coco101' }),
    ...NO_WINDOW_FLAGS,
    ...SIZE_FLAGS,
    ...DEVICE_FLAGS,
  },
  notes: `AP definitions (--ap):
  --ap  voc10          VOC2010+ all-point AP (area under the interpolated curve), VOC matching (default)
        voc07          VOC2007 11-point AP at the devkit's recall points (voc_eval.py), VOC matching
        voc07-darknet  VOC2007 11-point AP at Darknet's recall points k/10, VOC matching
        coco101        COCO 101-point AP at --iou, COCO matching
        coco           COCO AP@[.50:.05:.95] (101-point) and COCOeval's 12-number summary
        all            every definition above side by side (or name several: --ap voc10,coco)
Scoring files: COCO boxes are compared as pycocotools does (category ids of --gt); VOC boxes as voc_eval.py
does (1-based pixels, widths + 1).
Classes without ground truth are left out of the mAP (and said so). docs/SCORING.md: the definitions and how
they agree with COCOeval and the VOC devkit.`,
};

export const anchorsSpec: CommandSpec = {
  path: 'detector calc-anchors',
  summary: 'k-means++ anchors (distance 1 - IoU) of the training boxes',
  description:
    "AlexeyAB's detector calc_anchors. k-means++ with distance 1 - IoU over the box sizes of the split's labels (relative size x " +
    'net size). Prints the average IoU and the anchors in pixels and in grid cells (pixels / stride, what [region] anchors= wants), ' +
    'and an "anchors = ..." line to paste.',
  positionals: [{ name: 'data', help: 'Darknet .data file (train=, valid=)' }],
  options: {
    num: { type: 'string', value: 'N', defaultText: "num= of the --cfg's last [region] layer; required without --cfg", help: 'number of anchors' },
    width: { type: 'string', value: 'W', defaultText: "the --cfg's width, else 416", help: 'network width the boxes are scaled to' },
    height: { type: 'string', value: 'H', defaultText: "the --cfg's height, else 416", help: 'network height the boxes are scaled to' },
    cfg: { type: 'string', value: 'FILE', defaultText: 'none', help: 'take width/height from [net] and num and the stride from the last [region] layer (explicit options win)' },
    seed: { type: 'string', value: 'S', default: 0, help: 'seed of the k-means++ starts' },
    restarts: { type: 'string', value: 'N', default: 3, help: 'k-means++ runs; the best average IoU wins' },
    split: { type: 'string', value: 'train|valid', default: 'train', help: 'which list of the .data file' },
    strict: { type: 'boolean', help: 'a bad label line is an error (default: reported and skipped)' },
    out: { type: 'string', value: 'FILE', defaultText: 'not written', help: 'write the anchors line (atomically)' },
  },
  darknet: {
    num_of_clusters: same('num', 'N'),
    ...SIZE_FLAGS,
    show: lacking('show', 'the printed anchors (and --out FILE); no window is opened'),
    ...NO_WINDOW_FLAGS,
  },
};

export const detectorGroup: CommandGroup = {
  path: 'detector',
  summary: "Darknet's detector: test, train, valid, map, calc-anchors",
  description: "Darknet's `detector` commands (its single-dash flags are accepted where tsgrad has the feature).",
  subcommands: [
    { name: 'test', command: lazyCommand(testSpec, async () => (await import('./detector.js')).testBody) },
    { name: 'train', command: lazyCommand(trainSpec, async () => (await import('./detector-train.js')).trainBody) },
    { name: 'valid', command: lazyCommand(validSpec, async () => (await import('./detector-eval.js')).validBody) },
    { name: 'map', command: lazyCommand(mapSpec, async () => (await import('./detector-eval.js')).mapBody) },
    { name: 'calc-anchors', aliases: ['calc_anchors'], command: lazyCommand(anchorsSpec, async () => (await import('./detector-eval.js')).anchorsBody) },
  ],
};
