// `tsgrad darknet make-weights` and `tsgrad darknet make-input`: the deterministic weight and input
// generators of SEMANTICS.md 3 as commands. `argv` is what follows the subcommand name.
// Exit codes: 0 done, 1 the inputs were read but are wrong (bad cfg, write failed), 2 usage error.

import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

import { writeFileAtomic } from '../yolo/darknet/atomic-write.js';
import { readCfgFile, type NetOverrides } from '../yolo/darknet/cfg.js';
import { float32Bytes, makeInput, makeWeightsBytes } from '../yolo/darknet/generate.js';

/** Where a command prints (stdout for results, stderr for errors); defaults to the process streams. */
export interface CommandIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIO: CommandIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

const WEIGHTS_USAGE = `usage: tsgrad darknet make-weights --cfg FILE --seed S --out FILE [--width W] [--height H]
  Writes a Darknet .weights file (version 0.2.0, seen 0) with the deterministic values of
  SEMANTICS.md 3 for every layer of the cfg. --width/--height replace the [net] size (they change
  the file only for cfgs with [connected] or [local] layers); default: the cfg's own size.
  S is an integer in 0..4294967295.`;

const INPUT_USAGE = `usage: tsgrad darknet make-input --width W --height H --out FILE [--seed 7] [--channels 3]
  Writes the synthetic network input of SEMANTICS.md 3.3: channels×height×width float32
  little-endian values in CHW order, k/255 for 8-bit k.`;

class UsageError extends Error {}

function parse(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } }, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function intArg(values: Record<string, string | boolean | undefined>, name: string, min: number, max: number, def?: number): number {
  const v = values[name];
  if (v === undefined) {
    if (def === undefined) throw new UsageError(`--${name} is required`);
    return def;
  }
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got '${String(v)}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${v}`);
  return n;
}

function strArg(values: Record<string, string | boolean | undefined>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

async function run(argv: string[], io: CommandIO, usage: string, body: () => Promise<string>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${usage}\n`);
    return 0;
  }
  try {
    io.out(`${await body()}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n${usage}\n`);
      return 2;
    }
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function makeWeightsCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return run(argv, io, WEIGHTS_USAGE, async () => {
    const values = parse(argv, { cfg: { type: 'string' }, width: { type: 'string' }, height: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } });
    const cfg = strArg(values, 'cfg');
    const out = strArg(values, 'out');
    const seed = intArg(values, 'seed', 0, 0xffffffff);
    const overrides: Record<string, number> = {};
    if (values['width'] !== undefined) overrides['width'] = intArg(values, 'width', 1, 1 << 16);
    if (values['height'] !== undefined) overrides['height'] = intArg(values, 'height', 1, 1 << 16);
    const net = readCfgFile(cfg, { overrides: overrides as NetOverrides });
    const bytes = makeWeightsBytes(net, seed);
    await writeFileAtomic(out, bytes);
    return `wrote ${out}: ${bytes.byteLength} bytes, ${net.paramCount} parameters, ${net.net.width}x${net.net.height}, seed ${seed}, sha256 ${sha256(bytes)}`;
  });
}

export async function makeInputCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return run(argv, io, INPUT_USAGE, async () => {
    const values = parse(argv, { width: { type: 'string' }, height: { type: 'string' }, seed: { type: 'string' }, channels: { type: 'string' }, out: { type: 'string' } });
    const width = intArg(values, 'width', 1, 1 << 16);
    const height = intArg(values, 'height', 1, 1 << 16);
    const seed = intArg(values, 'seed', 0, 0xffffffff, 7);
    const channels = intArg(values, 'channels', 1, 64, 3);
    const out = strArg(values, 'out');
    const bytes = float32Bytes(makeInput(width, height, seed, channels));
    await writeFileAtomic(out, bytes);
    return `wrote ${out}: ${channels}x${height}x${width} float32 (${bytes.byteLength} bytes), seed ${seed}, sha256 ${sha256(bytes)}`;
  });
}
