// The `tsgrad` command-line framework. Every command is one definition (CommandSpec: positionals,
// options with their defaults and help, Darknet's single-dash spellings); the parser and the --help text
// both come from it, so they cannot disagree.
//
//   const spec: CommandSpec = { path: 'detector map', summary: '...', positionals: [...], options: {...} };
//   export const detectorMap = (argv, io) => runCommand(spec, argv, io, async (a) => { a.float('thresh', 0, 1) ... });
//
// Adding an option is one entry in `options` (its default there is the one the readers return and the one
// --help shows). Commands with subcommands are a CommandGroup (runGroup dispatches, --help lists them).
//
// Why a parser of its own and not node:util parseArgs, commander or yargs: Darknet's flags are single-dash
// words (`-thresh 0.3`, `-num_of_clusters 9`), which those libraries read as bundles of short options
// (`-t -h -r ...`); and the help text has to come from the same table as the parser. The grammar here is
// small: `--name value`, `--name=value`, switches, `--` ends the options, `-h`, and the Darknet words
// each command declares.
//
// Exit codes (EXIT): 0 done, 1 the job failed, 2 usage error, 3 the device asked for is not available,
// 130 training interrupted by Ctrl-C (after writing its checkpoint).
// Errors print one line ("error: ..."); a usage error adds the usage line and a pointer to --help.

import { DEFAULT_MAX_PIXELS } from '../io/input.js';
import { getDevice, listDevices } from '../tensor/device.js';
import { nearest } from './suggest.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, deviceUnavailable: 3, interrupted: 130 } as const;

/** Where a command prints (stdout for results, stderr for errors and progress). */
export interface CommandIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stdout / stderr is a terminal (progress lines are redrawn in place there). Default false. */
  readonly outTTY?: boolean;
  readonly errTTY?: boolean;
  /** Terminal width (default 80). */
  readonly columns?: number;
}

export const processIO: CommandIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get outTTY() {
    return process.stdout.isTTY === true;
  },
  get errTTY() {
    return process.stderr.isTTY === true;
  },
  get columns() {
    return process.stderr.columns || process.stdout.columns || 80;
  },
};

/** A bad command line: exit code 2, printed with the usage line. */
export class UsageError extends Error {}

/** The device asked for exists but cannot run here (no driver, no GPU): exit code 3. */
export class DeviceUnavailableError extends Error {}

export interface OptionSpec {
  /** 'string' options take a value, 'boolean' ones are switches. */
  readonly type: 'string' | 'boolean';
  /** May be given several times (the values are collected). */
  readonly multiple?: boolean;
  /** Placeholder of the value in the help (N, FILE, DIR, ...). Default 'V'. */
  readonly value?: string;
  /** The default: what the readers return when the option is absent, and what --help shows. */
  readonly default?: string | number;
  /** A default that is computed (e.g. "the .data file's backup=, else ./backup"), for --help. */
  readonly defaultText?: string;
  readonly required?: boolean;
  readonly help: string;
}

export interface PositionalSpec {
  readonly name: string;
  readonly help: string;
  /** May be left out (then the optional ones are filled left to right as the count allows). */
  readonly optional?: boolean;
  /** Takes all the remaining arguments (one or more). Only the last positional. */
  readonly variadic?: boolean;
}

/**
 * A Darknet single-dash flag (`-thresh 0.3`, `-map`): what it stands for in tsgrad's options. `expand`
 * returns the tsgrad arguments (e.g. ['--thresh', '0.3']; [] for a flag that changes nothing here) or
 * throws a UsageError naming the nearest option when tsgrad lacks the feature.
 */
export interface DarknetFlag {
  /** Placeholder of its value when it takes one. */
  readonly value?: string;
  readonly expand: (value: string) => string[];
  /** One line for --help. */
  readonly help: string;
}

export interface CommandSpec {
  /** The words after `tsgrad`: 'detector map'. */
  readonly path: string;
  /** One line, for the subcommand list. */
  readonly summary: string;
  /** What it does, printed after the usage line. */
  readonly description?: string;
  /** The arguments part of the usage line, where the positionals alone do not say it (default: from them). */
  readonly synopsis?: string;
  /** Other forms of the command line, shown under the usage line (the words after `tsgrad`). */
  readonly alsoUsage?: readonly string[];
  readonly positionals?: readonly PositionalSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly darknet?: Readonly<Record<string, DarknetFlag>>;
  /** Printed after the options (details, examples). */
  readonly notes?: string;
}

/** A runnable command: its definition and a body that gets the parsed arguments. */
export interface Command extends CommandSpec {
  readonly run: (args: ParsedArgs, io: CommandIO) => Promise<number | void>;
}

/** A command with subcommands (`tsgrad detector <subcommand>`). */
export interface CommandGroup {
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly subcommands: readonly SubcommandEntry[];
}

export interface SubcommandEntry {
  readonly name: string;
  /** Other spellings accepted (Darknet's `calc_anchors`). */
  readonly aliases?: readonly string[];
  readonly command: Command;
}

type Values = Record<string, string | boolean | string[]>;

const HELP_OPTION: OptionSpec = { type: 'boolean', help: 'show this help' };

/** The parsed command line, with typed readers that apply the definition's defaults. */
export class ParsedArgs {
  constructor(
    readonly spec: CommandSpec,
    readonly values: Values,
    readonly positionals: readonly string[],
    private readonly byName: ReadonlyMap<string, string[]>,
    /** The command line as given (Darknet flags not yet expanded). */
    readonly argv: readonly string[],
  ) {}

  private option(name: string): OptionSpec {
    const o = this.spec.options[name];
    if (o === undefined) throw new Error(`${this.spec.path}: no option --${name} in the definition`);
    return o;
  }

  /** True when the option was given on the command line. */
  given(name: string): boolean {
    this.option(name);
    return this.values[name] !== undefined;
  }

  flag(name: string): boolean {
    return this.option(name).type === 'boolean' && this.values[name] === true;
  }

  /** The value, the default, or undefined. */
  optionalString(name: string): string | undefined {
    const o = this.option(name);
    const v = this.values[name];
    if (v === undefined) return o.default === undefined ? undefined : String(o.default);
    if (typeof v !== 'string') throw new Error(`${this.spec.path}: --${name} is not a single-valued option`);
    return v;
  }

  /** The value or the default; an absent option without either is a usage error. */
  string(name: string): string {
    const v = this.optionalString(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  }

  /** Every value of a `multiple` option, in order. */
  list(name: string): string[] {
    this.option(name);
    const v = this.values[name];
    return Array.isArray(v) ? v : [];
  }

  optionalInt(name: string, min: number, max: number): number | undefined {
    const v = this.optionalString(name);
    if (v === undefined) return undefined;
    // A negative integer is an integer out of range (the range message), not a malformed value.
    if (!/^[+-]?\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${v}`);
    return n;
  }

  int(name: string, min: number, max: number): number {
    const n = this.optionalInt(name, min, max);
    if (n === undefined) throw new UsageError(`--${name} is required`);
    return n;
  }

  optionalFloat(name: string, min: number, max: number): number | undefined {
    const v = this.optionalString(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}], got '${v}'`);
    return n;
  }

  float(name: string, min: number, max: number): number {
    const n = this.optionalFloat(name, min, max);
    if (n === undefined) throw new UsageError(`--${name} is required`);
    return n;
  }

  /** The value, which must be one of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T {
    const v = this.string(name);
    if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  }

  /** A positional argument by its name in the definition (undefined when an optional one was left out). */
  positional(name: string): string | undefined {
    return this.byName.get(name)?.[0];
  }

  /** All arguments of a variadic positional. */
  rest(name: string): string[] {
    return this.byName.get(name) ?? [];
  }

  /**
   * The --device value, checked to exist and be available here. A device other than cpu loads the CUDA
   * backend first (it registers 'cuda' and 'cuda-emu'). Unknown name: usage error; known but unusable:
   * DeviceUnavailableError (exit code 3) with the reason.
   */
  async device(): Promise<string> {
    return checkDevice(this.string('device'));
  }
}

/** See ParsedArgs.device. */
export async function checkDevice(name: string): Promise<string> {
  if (name !== 'cpu') {
    try {
      await import('../backends/cuda/index.js');
    } catch (e) {
      throw new DeviceUnavailableError(`--device ${name}: the CUDA backend did not load: ${(e as Error).message}`);
    }
  }
  const known = listDevices();
  const dev = known.find((d) => d.name === name);
  if (dev === undefined) {
    const near = nearest(name, known.map((d) => d.name));
    throw new UsageError(`--device: unknown device '${name}'${near ? `; did you mean '${near}'?` : ''} (devices: ${known.map((d) => d.name).join(', ')})`);
  }
  if (!dev.available) throw new DeviceUnavailableError(`--device ${name}: not available here: ${dev.reason} ('tsgrad info' shows every device)`);
  getDevice(name);
  return name;
}

// ---------------------------------------------------------------------------------------------
// parsing

function unknownOption(spec: CommandSpec, token: string): UsageError {
  const name = token.replace(/^-+/, '').replace(/=.*$/, '');
  const dashes = token.startsWith('--') ? '--' : '-';
  const shown = `${dashes}${name}`;
  if (dashes === '-') {
    const darknet = Object.keys(spec.darknet ?? {});
    const d = nearest(name, darknet);
    if (d !== null && d !== name) return new UsageError(`unknown option '${shown}'; did you mean Darknet's -${d} (${spec.darknet![d]!.help})?`);
    const o = nearest(name, [...Object.keys(spec.options), 'help']);
    if (o !== null) return new UsageError(`unknown option '${shown}'; did you mean --${o}? (tsgrad's own options start with two dashes)`);
    return new UsageError(`unknown option '${shown}' (tsgrad's options start with two dashes; --help lists them and the Darknet flags it accepts)`);
  }
  const o = nearest(name, [...Object.keys(spec.options), 'help']);
  if (o !== null) return new UsageError(`unknown option '${shown}'; did you mean --${o}?`);
  const d = spec.darknet?.[name.replace(/-/g, '_')];
  if (d !== undefined) return new UsageError(`unknown option '${shown}'; Darknet's -${name.replace(/-/g, '_')} is accepted (${d.help})`);
  return new UsageError(`unknown option '${shown}'`);
}

/** True for a token that is an option (not a value or positional): --x, -x; not '-', not a negative number. */
function isOptionToken(t: string): boolean {
  return t.length > 1 && t.startsWith('-') && !/^-\d/.test(t) && !/^-\.\d/.test(t);
}

/** Darknet's single-dash flags → tsgrad's long options; long options and their values pass through. */
function expandDarknetFlags(spec: CommandSpec, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (t.startsWith('--')) {
      out.push(t);
      const name = t.slice(2);
      const o = spec.options[name];
      if (!name.includes('=') && o?.type === 'string' && i + 1 < argv.length) out.push(argv[++i]!);
      continue;
    }
    if (!isOptionToken(t) || t === '-h') {
      out.push(t);
      continue;
    }
    const name = t.slice(1);
    const flag = spec.darknet?.[name];
    if (flag === undefined) throw unknownOption(spec, t);
    let value = '';
    if (flag.value !== undefined) {
      const v = argv[i + 1];
      if (v === undefined || (isOptionToken(v) && v.startsWith('--'))) throw new UsageError(`${t} needs a value (${flag.value})`);
      value = v;
      i++;
    }
    out.push(...flag.expand(value));
  }
  return out;
}

function countText(n: number): string {
  return `${n} argument${n === 1 ? '' : 's'}`;
}

function positionalSynopsis(spec: CommandSpec): string {
  return (spec.positionals ?? []).map((p) => (p.optional ? `[${p.name}${p.variadic ? '...' : ''}]` : `<${p.name}${p.variadic ? '...' : ''}>`)).join(' ');
}

function assignPositionals(spec: CommandSpec, given: readonly string[]): Map<string, string[]> {
  const list = spec.positionals ?? [];
  const required = list.filter((p) => !p.optional).length;
  const variadic = list.length > 0 && list[list.length - 1]!.variadic === true;
  const max = variadic ? Infinity : list.length;
  if (given.length < required || given.length > max) {
    if (list.length === 0) throw new UsageError(`unexpected argument '${given[0]}' (${spec.path} takes options only)`);
    throw new UsageError(`expected ${positionalSynopsis(spec)}, got ${countText(given.length)}`);
  }
  let optionalLeft = Math.min(given.length - required, list.filter((p) => p.optional && !p.variadic).length);
  const out = new Map<string, string[]>();
  let k = 0;
  for (const p of list) {
    if (p.variadic) {
      out.set(p.name, given.slice(k));
      k = given.length;
      continue;
    }
    if (p.optional) {
      if (optionalLeft === 0) continue;
      optionalLeft--;
    }
    out.set(p.name, [given[k++]!]);
  }
  return out;
}

/** True when argv asks for help (-h or --help before a `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const t of argv) {
    if (t === '--') return false;
    if (t === '-h' || t === '--help') return true;
  }
  return false;
}

/** Parses argv against the definition (usage problems throw UsageError). */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const tokens = expandDarknetFlags(spec, argv);
  const values: Values = {};
  const positionals: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '--') {
      positionals.push(...tokens.slice(i + 1));
      break;
    }
    if (!t.startsWith('--') || t === '--') {
      if (isOptionToken(t)) throw unknownOption(spec, t);
      positionals.push(t);
      continue;
    }
    const eq = t.indexOf('=');
    const name = eq < 0 ? t.slice(2) : t.slice(2, eq);
    const o = name === 'help' ? HELP_OPTION : spec.options[name];
    if (o === undefined) throw unknownOption(spec, t);
    if (o.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} is a switch and takes no value (got '${t}')`);
      values[name] = true;
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = t.slice(eq + 1);
    else {
      v = tokens[i + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new UsageError(`--${name} needs a value (${o.value ?? 'V'})`);
      i++;
    }
    if (v === '') throw new UsageError(`--${name} needs a value (${o.value ?? 'V'})`);
    if (o.multiple) {
      const prev = values[name];
      values[name] = [...(Array.isArray(prev) ? prev : []), v];
    } else values[name] = v;
  }
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.required && values[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return new ParsedArgs(spec, values, positionals, assignPositionals(spec, positionals), argv);
}

// ---------------------------------------------------------------------------------------------
// help

const WIDTH = 100;

/** Wraps `text` into lines of at most `width` characters; lines after the first get `indent` spaces before them. */
export function wrap(text: string, width: number, indent: number): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    // Split at single spaces so that runs of spaces inside a line (quoted output) are kept.
    let line: string | null = null;
    for (const w of para.split(' ')) {
      if (line !== null && line !== '' && line.length + 1 + w.length > width) {
        out.push(line);
        line = w;
      } else line = line === null ? w : `${line} ${w}`;
    }
    out.push(line ?? '');
  }
  return out.join(`\n${' '.repeat(indent)}`);
}

function table(rows: readonly [string, string][], maxCol = 26): string {
  const col = Math.min(maxCol, Math.max(...rows.map(([a]) => a.length)) + 2);
  return rows
    .map(([a, b]) => {
      const left = `  ${a}`;
      if (left.length + 1 > col + 2) return `${left}\n${' '.repeat(col + 2)}${wrap(b, WIDTH - col - 2, col + 2)}`;
      return `${left.padEnd(col + 2)}${wrap(b, WIDTH - col - 2, col + 2)}`;
    })
    .join('\n');
}

function defaultNote(o: OptionSpec): string {
  if (o.required) return ' (required)';
  if (o.default !== undefined) return ` (default ${o.default})`;
  if (o.defaultText !== undefined) return ` (default: ${o.defaultText})`;
  return '';
}

function optionLabel(name: string, o: OptionSpec): string {
  return o.type === 'boolean' ? `--${name}` : `--${name} ${o.value ?? 'V'}`;
}

/** The one-line synopsis: `usage: tsgrad <path> <positionals> --required V [options]`. */
export function usageLine(spec: CommandSpec): string {
  const req = Object.entries(spec.options)
    .filter(([, o]) => o.required)
    .map(([n, o]) => optionLabel(n, o));
  return ['usage: tsgrad', spec.path, spec.synopsis ?? positionalSynopsis(spec), ...req, '[options]'].filter((s) => s !== '').join(' ');
}

/** The whole --help text of a command. */
export function helpText(spec: CommandSpec): string {
  const parts = [usageLine(spec), ...(spec.alsoUsage ?? []).map((u) => `       tsgrad ${u}`)];
  parts.push('', wrap(spec.description ?? spec.summary, WIDTH, 0));
  const pos = spec.positionals ?? [];
  if (pos.length > 0) parts.push('', 'arguments:', table(pos.map((p) => [p.optional ? `[${p.name}]` : `<${p.name}>`, p.help])));
  const rows: [string, string][] = Object.entries(spec.options).map(([n, o]) => [optionLabel(n, o), `${o.help}${defaultNote(o)}${o.multiple ? ' (repeatable)' : ''}`]);
  rows.push(['-h, --help', HELP_OPTION.help]);
  parts.push('', 'options:', table(rows));
  const dn = Object.entries(spec.darknet ?? {});
  if (dn.length > 0) parts.push('', "Darknet's flags (single dash) accepted:", table(dn.map(([n, f]) => [`-${n}${f.value ? ` ${f.value}` : ''}`, f.help])));
  if (spec.notes) parts.push('', spec.notes);
  return `${parts.join('\n')}\n`;
}

/** The --help text of a group: one line per subcommand. */
export function groupHelpText(g: CommandGroup): string {
  const rows: [string, string][] = g.subcommands.map((s) => [s.name, `${s.command.summary}${s.aliases?.length ? ` (also: ${s.aliases.join(', ')})` : ''}`]);
  return (
    `usage: tsgrad ${g.path} <subcommand> [args]\n\n${wrap(g.description ?? g.summary, WIDTH, 0)}\n\nsubcommands:\n${table(rows, 16)}\n\n` +
    `Run 'tsgrad ${g.path} <subcommand> --help' for its arguments and options.\n`
  );
}

// ---------------------------------------------------------------------------------------------
// running

function pointer(path: string): string {
  return `'tsgrad ${path} --help' lists the options`;
}

/** Prints an error the way every command does and returns its exit code. */
export function reportError(spec: CommandSpec, e: unknown, io: CommandIO): number {
  if (e instanceof UsageError) {
    io.err(`error: ${e.message}\n${usageLine(spec)}; ${pointer(spec.path)}\n`);
    return EXIT.usage;
  }
  if (e instanceof DeviceUnavailableError) {
    io.err(`error: ${e.message}\n`);
    return EXIT.deviceUnavailable;
  }
  io.err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  return EXIT.failed;
}

/**
 * Runs a command: --help prints its help (exit 0); otherwise parses argv and runs `body` (default: the
 * command's own run). UsageError → 2, DeviceUnavailableError → 3, any other error → 1.
 */
export async function runCommand(
  spec: CommandSpec,
  argv: readonly string[],
  io: CommandIO,
  body: (args: ParsedArgs) => Promise<number | void> = (a) => (spec as Command).run(a, io),
): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(helpText(spec));
    return EXIT.ok;
  }
  try {
    const args = parseCommandLine(spec, argv);
    return (await body(args)) ?? EXIT.ok;
  } catch (e) {
    return reportError(spec, e, io);
  }
}

/** The subcommand entry that `name` names (its own name or an alias). */
export function findSubcommand(g: CommandGroup, name: string): SubcommandEntry | undefined {
  return g.subcommands.find((s) => s.name === name || (s.aliases ?? []).includes(name));
}

/** Runs argv[0]'s subcommand on the rest of argv; `--help` lists the subcommands. */
export async function runGroup(g: CommandGroup, argv: readonly string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help' || sub === 'help') {
    io.out(groupHelpText(g));
    return EXIT.ok;
  }
  const names = g.subcommands.map((s) => s.name);
  const hint = `usage: tsgrad ${g.path} <${names.join('|')}> ...; 'tsgrad ${g.path} --help' lists them`;
  if (sub === undefined) {
    io.err(`error: missing subcommand\n${hint}\n`);
    return EXIT.usage;
  }
  const entry = findSubcommand(g, sub);
  if (entry === undefined) {
    const near = nearest(sub, g.subcommands.flatMap((s) => [s.name, ...(s.aliases ?? [])]));
    io.err(`error: unknown ${g.path} subcommand '${sub}'${near ? `; did you mean '${near}'?` : ''}\n${hint}\n`);
    return EXIT.usage;
  }
  return runCommand(entry.command, rest, io);
}

/** A command whose body lives in a module loaded only when it runs (keeps --help and errors fast). */
export function lazyCommand(spec: CommandSpec, load: () => Promise<(args: ParsedArgs, io: CommandIO) => Promise<number | void>>): Command {
  return { ...spec, run: async (args, io) => (await load())(args, io) };
}

// ---------------------------------------------------------------------------------------------
// option definitions several commands share

export const DEVICE_OPTION: OptionSpec = { type: 'string', value: 'D', default: 'cpu', help: "device: cpu, cuda or cuda-emu ('tsgrad info' lists what is available)" };
export const WIDTH_OPTION: OptionSpec = { type: 'string', value: 'W', defaultText: "the cfg's width", help: 'network input width (replaces the [net] width)' };
export const HEIGHT_OPTION: OptionSpec = { type: 'string', value: 'H', defaultText: "the cfg's height", help: 'network input height (replaces the [net] height)' };
export const MAX_PIXELS_OPTION: OptionSpec = {
  type: 'string',
  value: 'N',
  default: DEFAULT_MAX_PIXELS,
  help: 'refuse an image of more than N pixels (width × height), checked from its header before decoding (decompression bombs)',
};

/** --width/--height as cfg overrides (only those given). */
export function sizeOverrides(a: ParsedArgs, min = 1): { width?: number; height?: number } {
  const width = a.optionalInt('width', min, 1 << 16);
  const height = a.optionalInt('height', min, 1 << 16);
  return { ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) };
}
