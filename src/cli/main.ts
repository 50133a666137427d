// The `tsgrad` command: a table of its commands (groups of subcommands, or single commands). Each entry's
// definition lives in a small module of its own (loaded for --help and dispatch); the work itself is
// loaded only when a command runs.

import { readFileSync } from 'node:fs';

import { EXIT, processIO, runCommand, runGroup, wrap, type Command, type CommandGroup, type CommandIO } from './args.js';
import { nearest } from './suggest.js';

type Entry = { group: () => Promise<CommandGroup> } | { command: () => Promise<Command> };

const COMMANDS: Record<string, Entry> = {
  detector: { group: async () => (await import('./detector-commands.js')).detectorGroup },
  classifier: { group: async () => (await import('./classifier-commands.js')).classifierGroup },
  darknet: { group: async () => (await import('./darknet-commands.js')).darknetGroup },
  data: { group: async () => (await import('./data-commands.js')).dataGroup },
  export: { group: async () => (await import('./export-commands.js')).exportGroup },
  'check-refs': { command: async () => (await import('./check-refs.js')).checkRefsSpec },
  info: { command: async () => (await import('./info.js')).infoSpec },
  'build-native': { command: async () => (await import('./build-native.js')).buildNativeSpec },
};

/** Register another command (a group of subcommands or a single command). */
export function registerCommand(name: string, entry: Entry): void {
  COMMANDS[name] = entry;
}

/** The package version (package.json beside dist/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function summaries(): Promise<[string, string][]> {
  return Promise.all(Object.entries(COMMANDS).map(async ([name, e]) => [name, 'group' in e ? (await e.group()).summary : (await e.command()).summary] as [string, string]));
}

export const EXIT_CODES_TEXT =
  'exit codes: 0 done, 1 the job failed, 2 usage error, 3 the --device asked for is not available here, ' +
  '130 training interrupted by Ctrl-C (after writing its checkpoint)';

/** The top-level help. */
export async function mainHelp(): Promise<string> {
  const rows = await summaries();
  const col = Math.max(...rows.map(([n]) => n.length)) + 2;
  return [
    'usage: tsgrad <command> [args]      (tsgrad <command> --help for its subcommands or options)',
    '',
    "A from-scratch deep-learning stack in TypeScript with Darknet's detector and classifier commands.",
    '',
    'commands:',
    ...rows.map(([n, s]) => `  ${n.padEnd(col)}${s}`),
    '',
    'options:',
    '  --version     print the version',
    '  -h, --help    show this help',
    '',
    wrap(EXIT_CODES_TEXT, 98, 2),
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`tsgrad ${version()} (node ${process.version}, ${process.platform}-${process.arch})\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const text = await mainHelp();
    if (name === undefined) io.err(text);
    else io.out(text);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    const near = nearest(name, Object.keys(COMMANDS));
    const what = name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`;
    io.err(`error: ${what}${near ? `; did you mean '${near}'?` : ''}\nusage: tsgrad <${Object.keys(COMMANDS).join('|')}> ...; 'tsgrad --help' lists them\n`);
    return EXIT.usage;
  }
  if ('group' in entry) return runGroup(await entry.group(), rest, io);
  return runCommand(await entry.command(), rest, io);
}
