// `tsgrad darknet make-weights` and `tsgrad darknet make-input`: the deterministic weight and input
// generators (src/yolo/darknet/generate.ts) as commands; their options are in darknet-commands.ts.
// Exit codes: 0 done, 1 the inputs were read but are wrong (bad cfg, write failed), 2 usage error.

import { createHash } from 'node:crypto';

import { writeOutput } from '../io/output.js';
import { readCfgFile, type NetOverrides } from '../yolo/darknet/cfg.js';
import { float32Bytes, makeInput, makeWeightsBytes } from '../yolo/darknet/generate.js';
import { processIO, runCommand, sizeOverrides, type CommandIO, type ParsedArgs } from './args.js';
import { makeInputSpec, makeWeightsSpec } from './darknet-commands.js';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function makeWeightsCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(makeWeightsSpec, argv, io, (a) => makeWeightsBody(a, io));
}

export async function makeWeightsBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const cfg = a.string('cfg');
  const out = a.string('out');
  const seed = a.int('seed', 0, 0xffffffff);
  const net = readCfgFile(cfg, { overrides: sizeOverrides(a) as NetOverrides });
  const bytes = makeWeightsBytes(net, seed);
  await writeOutput(out, bytes);
  io.out(`wrote ${out}: ${bytes.byteLength} bytes, ${net.paramCount} parameters, ${net.net.width}x${net.net.height}, seed ${seed}, sha256 ${sha256(bytes)}\n`);
}

export async function makeInputCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(makeInputSpec, argv, io, (a) => makeInputBody(a, io));
}

export async function makeInputBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const width = a.int('width', 1, 1 << 16);
  const height = a.int('height', 1, 1 << 16);
  const seed = a.int('seed', 0, 0xffffffff);
  const channels = a.int('channels', 1, 64);
  const out = a.string('out');
  const bytes = float32Bytes(makeInput(width, height, seed, channels));
  await writeOutput(out, bytes);
  io.out(`wrote ${out}: ${channels}x${height}x${width} float32 (${bytes.byteLength} bytes), seed ${seed}, sha256 ${sha256(bytes)}\n`);
}
