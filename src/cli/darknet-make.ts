// `tsgrad darknet make-weights` and `tsgrad darknet make-input`: the deterministic weight and input
// generators of SEMANTICS.md 3 as commands. `argv` is what follows the subcommand name.
// Exit codes: 0 done, 1 the inputs were read but are wrong (bad cfg, write failed), 2 usage error.

import { createHash } from 'node:crypto';

import { writeOutput } from '../io/output.js';
import { readCfgFile, type NetOverrides } from '../yolo/darknet/cfg.js';
import { float32Bytes, makeInput, makeWeightsBytes } from '../yolo/darknet/generate.js';
import { intArg, parseCommandArgs, processIO, requiredArg, runCommand, UsageError, type ArgValues, type CommandIO } from './args.js';

const WEIGHTS_USAGE = `usage: tsgrad darknet make-weights --cfg FILE --seed S --out FILE [--width W] [--height H]
  Writes a Darknet .weights file (version 0.2.0, seen 0) with the deterministic values of
  SEMANTICS.md 3 for every layer of the cfg. --width/--height replace the [net] size (they change
  the file only for cfgs with [connected] or [local] layers); default: the cfg's own size.
  S is an integer in 0..4294967295.`;

const INPUT_USAGE = `usage: tsgrad darknet make-input --width W --height H --out FILE [--seed 7] [--channels 3]
  Writes the synthetic network input of SEMANTICS.md 3.3: channels×height×width float32
  little-endian values in CHW order, k/255 for 8-bit k.`;

/** A required non-negative integer option in min..max, or `def` when it is absent and a default exists. */
function intOption(values: ArgValues, name: string, min: number, max: number, def?: number): number {
  const v = intArg(values, name, min, max) ?? def;
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function makeWeightsCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(argv, io, WEIGHTS_USAGE, async () => {
    const { values } = parseCommandArgs(argv, { cfg: { type: 'string' }, width: { type: 'string' }, height: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } });
    const cfg = requiredArg(values, 'cfg');
    const out = requiredArg(values, 'out');
    const seed = intOption(values, 'seed', 0, 0xffffffff);
    const overrides: Record<string, number> = {};
    const width = intArg(values, 'width', 1, 1 << 16);
    const height = intArg(values, 'height', 1, 1 << 16);
    if (width !== undefined) overrides['width'] = width;
    if (height !== undefined) overrides['height'] = height;
    const net = readCfgFile(cfg, { overrides: overrides as NetOverrides });
    const bytes = makeWeightsBytes(net, seed);
    await writeOutput(out, bytes);
    io.out(`wrote ${out}: ${bytes.byteLength} bytes, ${net.paramCount} parameters, ${net.net.width}x${net.net.height}, seed ${seed}, sha256 ${sha256(bytes)}\n`);
  });
}

export async function makeInputCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(argv, io, INPUT_USAGE, async () => {
    const { values } = parseCommandArgs(argv, { width: { type: 'string' }, height: { type: 'string' }, seed: { type: 'string' }, channels: { type: 'string' }, out: { type: 'string' } });
    const width = intOption(values, 'width', 1, 1 << 16);
    const height = intOption(values, 'height', 1, 1 << 16);
    const seed = intOption(values, 'seed', 0, 0xffffffff, 7);
    const channels = intOption(values, 'channels', 1, 64, 3);
    const out = requiredArg(values, 'out');
    const bytes = float32Bytes(makeInput(width, height, seed, channels));
    await writeOutput(out, bytes);
    io.out(`wrote ${out}: ${channels}x${height}x${width} float32 (${bytes.byteLength} bytes), seed ${seed}, sha256 ${sha256(bytes)}\n`);
  });
}
