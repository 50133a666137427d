// Argument handling shared by every `tsgrad` command: where output goes, usage errors (exit code 2),
// typed option readers, the --device check, the run wrapper and subcommand dispatch.

import { parseArgs } from 'node:util';

import { getDevice } from '../tensor/device.js';
import { DEFAULT_MAX_PIXELS } from '../io/input.js';

/** Where a command prints (stdout for results, stderr for errors); defaults to the process streams. */
export interface CommandIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const processIO: CommandIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** A bad command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export type ArgValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A subcommand handler of a command with subcommands (`tsgrad detector <sub> ...`). */
export type Subcommand = (argv: string[], io: CommandIO) => Promise<number>;

/**
 * Runs argv[0]'s handler from `table` (loaded on demand) on the rest of argv. `--help` prints the list of
 * subcommands and `help` (the command's main usage); a missing or unknown subcommand is a usage error (2).
 */
export async function dispatchSubcommand(
  command: string,
  table: Readonly<Record<string, () => Promise<Subcommand>>>,
  argv: string[],
  io: CommandIO,
  help: string,
): Promise<number> {
  const usage = `usage: tsgrad ${command} <${Object.keys(table).join('|')}> ... (--help after a subcommand for its options)`;
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help' || sub === 'help') {
    io.out(`${usage}\n\n${help}\n`);
    return 0;
  }
  const load = sub === undefined ? undefined : table[sub];
  if (load === undefined) {
    io.err(`error: ${sub === undefined ? 'missing subcommand' : `unknown ${command} subcommand '${sub}'`}\n${usage}\n`);
    return 2;
  }
  return (await load())(rest, io);
}

/**
 * `--name -5` → `--name=-5` for the string options of `options`, so that a negative number given to a
 * numeric option reaches its range check ("must be in 1..65536, got -5") instead of parseArgs'
 * "argument is ambiguous".
 */
export function attachNegativeValues(argv: readonly string[], options: Readonly<Record<string, { type: 'string' | 'boolean' }>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const m = /^--([^=]+)$/.exec(a);
    if (m !== null && options[m[1]!]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf|nan)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** node:util parseArgs with usage errors; returns option values and positionals. */
export function parseCommandArgs(argv: string[], options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>, positionals = false): { values: ArgValues; positionals: string[] } {
  try {
    const r = parseArgs({ args: attachNegativeValues(argv, options), options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true });
    return { values: r.values as ArgValues, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function stringArg(values: ArgValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function requiredArg(values: ArgValues, name: string): string {
  const v = stringArg(values, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export function intArg(values: ArgValues, name: string, min: number, max: number): number | undefined {
  const v = stringArg(values, name);
  if (v === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw new UsageError(`--${name} must be ${min >= 0 ? 'a non-negative integer' : 'an integer'}, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${v}`);
  return n;
}

export function floatArg(values: ArgValues, name: string, def: number, min: number, max: number): number {
  const v = stringArg(values, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
}

/**
 * The --device value, checked to exist and be available here. A device other than cpu loads the CUDA
 * backend first (it registers 'cuda' and 'cuda-emu'); a backend that fails to load is reported.
 */
export async function deviceArg(values: ArgValues): Promise<string> {
  const name = stringArg(values, 'device') ?? 'cpu';
  if (name !== 'cpu') {
    try {
      await import('../backends/cuda/index.js');
    } catch (e) {
      throw new UsageError(`--device ${name}: the CUDA backend did not load: ${(e as Error).message}`);
    }
  }
  try {
    getDevice(name);
  } catch (e) {
    throw new UsageError(`--device: ${(e as Error).message}`);
  }
  return name;
}

/** Runs a command body: `--help` prints usage; UsageError → 2 (with usage), other errors → 1. */
export async function runCommand(argv: string[], io: CommandIO, usage: string, body: () => Promise<void>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${usage}\n`);
    return 0;
  }
  try {
    await body();
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


/** --max-pixels N: the image decode's pixel limit (width × height), default DEFAULT_MAX_PIXELS. */
export function maxPixelsArg(values: ArgValues): number | undefined {
  return intArg(values, 'max-pixels', 1, Number.MAX_SAFE_INTEGER);
}

/** The usage line of --max-pixels. */
export const MAX_PIXELS_USAGE = `--max-pixels N  refuse images over N pixels (width × height) before decoding them; default ${DEFAULT_MAX_PIXELS} (8192×8192)`;
