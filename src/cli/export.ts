// `tsgrad export onnx <cfg> <weights> <out.onnx>`: a Darknet network (cfg + .weights) as an ONNX model
// (src/yolo/onnx, docs/EXPORT.md), written atomically.
// Exit codes: 0 written, 1 the inputs were read but cannot be exported (bad cfg or weights, a layer
// without an ONNX form, write failed), 2 usage error.

import { openNetwork } from '../yolo/net/network.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, writeOnnxFile } from '../yolo/onnx/export.js';
import { dispatchSubcommand, intArg, parseCommandArgs, processIO, runCommand, UsageError, type CommandIO, type Subcommand } from './args.js';

const USAGE = `usage: tsgrad export onnx <cfg> <weights> <out.onnx> [--width W --height H] [--batch N | --dynamic-batch]
                          [--opset ${DEFAULT_OPSET}] [--fold-bn] [--decode] [--exact-leaky]
  Writes the network's inference forward as an ONNX model: input 'input' float32 [N, c, h, w].
  --width/--height  the input size (default: the cfg's own; [connected]/[local] weights fix it)
  --batch N         fixed batch size (default 1); --dynamic-batch: a symbolic batch dimension 'N'
  --opset K         ONNX opset ${MIN_OPSET}..${MAX_OPSET}
  --fold-bn         fold batch norm into the convolution / connected weights (else BatchNormalization)
  --decode          outputs 'boxes' [N, K, 4] (x, y, w, h relative to the input) and 'scores'
                    [N, K, classes] (objectness × class probability) instead of the raw output 'output'
  --exact-leaky     leaky/relie with Darknet's double-precision slope product (else LeakyRelu, ≤ 1 ulp off)
  See docs/EXPORT.md for the layouts.`;

const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  onnx: async () => exportOnnxCommand,
};

export async function exportCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return dispatchSubcommand('export', SUBCOMMANDS, argv, io, USAGE);
}

/** `export onnx`: see the file comment. */
export async function exportOnnxCommand(rest: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(rest, io, USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      rest,
      {
        width: { type: 'string' },
        height: { type: 'string' },
        batch: { type: 'string' },
        'dynamic-batch': { type: 'boolean' },
        opset: { type: 'string' },
        'fold-bn': { type: 'boolean' },
        decode: { type: 'boolean' },
        'exact-leaky': { type: 'boolean' },
      },
      true,
    );
    if (positionals.length !== 3) throw new UsageError(`expected <cfg> <weights> <out.onnx>, got ${positionals.length} arguments`);
    const [cfgFile, weightsFile, out] = positionals as [string, string, string];
    const width = intArg(values, 'width', 1, 1 << 16);
    const height = intArg(values, 'height', 1, 1 << 16);
    const batch = intArg(values, 'batch', 1, 1 << 16);
    const dynamicBatch = values['dynamic-batch'] === true;
    if (batch !== undefined && dynamicBatch) throw new UsageError('--batch and --dynamic-batch exclude each other');
    const opset = intArg(values, 'opset', MIN_OPSET, MAX_OPSET) ?? DEFAULT_OPSET;

    const t0 = performance.now();
    const net = openNetwork(cfgFile, weightsFile, { ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) }).eval();
    const t1 = performance.now();
    const model = await writeOnnxFile(out, net, {
      ...(batch === undefined ? {} : { batch }),
      dynamicBatch,
      opset,
      foldBn: values['fold-bn'] === true,
      decode: values['decode'] === true,
      exactLeaky: values['exact-leaky'] === true,
    });
    const t2 = performance.now();
    const dims = (shape: readonly number[]): string => `[${[model.batch, ...shape].join(', ')}]`;
    const list = (vs: typeof model.outputs): string => vs.map((v) => `'${v.name}' ${dims(v.shape)}`).join(', ');
    io.out(
      `wrote ${out}: ${model.bytes.byteLength} bytes, opset ${model.opset}, ${model.nodes} nodes, ${model.parameters} parameters\n` +
        `  input ${list(model.inputs)} → output ${list(model.outputs)}\n` +
        `  read ${(t1 - t0).toFixed(0)} ms, exported and written in ${(t2 - t1).toFixed(0)} ms\n`,
    );
  });
}
