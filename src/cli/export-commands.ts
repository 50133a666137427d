// `tsgrad export <subcommand>`: the definition of the ONNX export command; the body is in export.ts.

import { HEIGHT_OPTION, lazyCommand, WIDTH_OPTION, type CommandGroup, type CommandSpec } from './args.js';

/** The opsets src/yolo/onnx/export.ts writes (MIN_OPSET..MAX_OPSET, DEFAULT_OPSET); checked against it in the body. */
export const OPSET_RANGE = { min: 11, max: 18, default: 13 } as const;

export const onnxSpec: CommandSpec = {
  path: 'export onnx',
  summary: "a Darknet network (cfg + .weights) as an ONNX model of its inference forward",
  description:
    "Writes the network's inference forward as an ONNX model (atomically): input 'input' float32 [N, c, h, w]; output 'output' " +
    "(the raw output layer, Darknet's layout) or, with --decode, 'boxes' and 'scores'. docs/EXPORT.md describes the layouts.",
  positionals: [
    { name: 'cfg', help: 'network cfg' },
    { name: 'weights', help: 'Darknet .weights file' },
    { name: 'out.onnx', help: 'the model file to write' },
  ],
  options: {
    width: { ...WIDTH_OPTION, help: "input width ([connected]/[local] weights fix it)" },
    height: { ...HEIGHT_OPTION, help: "input height ([connected]/[local] weights fix it)" },
    batch: { type: 'string', value: 'N', default: 1, help: 'fixed batch size' },
    'dynamic-batch': { type: 'boolean', help: "a symbolic batch dimension 'N' instead of --batch" },
    opset: { type: 'string', value: 'K', default: OPSET_RANGE.default, help: `ONNX opset, ${OPSET_RANGE.min}..${OPSET_RANGE.max}` },
    'fold-bn': { type: 'boolean', help: 'fold batch norm into the convolution / connected weights (else BatchNormalization nodes)' },
    decode: { type: 'boolean', help: "outputs 'boxes' [N, K, 4] (x, y, w, h relative to the input) and 'scores' [N, K, classes] (objectness x class probability) instead of 'output'" },
    'exact-leaky': { type: 'boolean', help: "leaky/relie with Darknet's double-precision slope product (else LeakyRelu, at most 1 ulp off)" },
  },
};

export const exportGroup: CommandGroup = {
  path: 'export',
  summary: 'export networks: onnx',
  description: 'Export a Darknet network to another format.',
  subcommands: [{ name: 'onnx', command: lazyCommand(onnxSpec, async () => (await import('./export.js')).onnxBody) }],
};
