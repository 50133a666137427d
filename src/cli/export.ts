// `tsgrad export onnx <cfg> <weights> <out.onnx>`: a Darknet network (cfg + .weights) as an ONNX model
// (src/yolo/onnx, docs/EXPORT.md), written atomically.
// The options are defined in export-commands.ts. Exit codes: 0 written, 1 the inputs were read but cannot
// be exported (bad cfg or weights, a layer without an ONNX form, write failed), 2 usage error.

import { openNetwork } from '../yolo/net/network.js';
import { MAX_OPSET, MIN_OPSET, writeOnnxFile } from '../yolo/onnx/export.js';
import { processIO, runCommand, runGroup, sizeOverrides, UsageError, type CommandIO, type ParsedArgs } from './args.js';
import { exportGroup, onnxSpec } from './export-commands.js';

export async function exportCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runGroup(exportGroup, argv, io);
}

/** `export onnx` on an argument list (see onnxSpec). */
export async function exportOnnxCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(onnxSpec, argv, io, (a) => onnxBody(a, io));
}

export async function onnxBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const cfgFile = a.positional('cfg')!;
  const weightsFile = a.positional('weights')!;
  const out = a.positional('out.onnx')!;
  const size = sizeOverrides(a);
  const dynamicBatch = a.flag('dynamic-batch');
  if (a.given('batch') && dynamicBatch) throw new UsageError('--batch and --dynamic-batch exclude each other');
  const batch = a.int('batch', 1, 1 << 16);
  const opset = a.int('opset', MIN_OPSET, MAX_OPSET);

  const t0 = performance.now();
  const net = openNetwork(cfgFile, weightsFile, size).eval();
  const t1 = performance.now();
  const model = await writeOnnxFile(out, net, {
    ...(dynamicBatch ? {} : { batch }),
    dynamicBatch,
    opset,
    foldBn: a.flag('fold-bn'),
    decode: a.flag('decode'),
    exactLeaky: a.flag('exact-leaky'),
  });
  const t2 = performance.now();
  const dims = (shape: readonly number[]): string => `[${[model.batch, ...shape].join(', ')}]`;
  const list = (vs: typeof model.outputs): string => vs.map((v) => `'${v.name}' ${dims(v.shape)}`).join(', ');
  io.out(
    `wrote ${out}: ${model.bytes.byteLength} bytes, opset ${model.opset}, ${model.nodes} nodes, ${model.parameters} parameters\n` +
      `  input ${list(model.inputs)} → output ${list(model.outputs)}\n` +
      `  read ${(t1 - t0).toFixed(0)} ms, exported and written in ${(t2 - t1).toFixed(0)} ms\n`,
  );
}
