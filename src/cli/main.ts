// The `tsgrad` command: a table from subcommand to handler (each handler parses its own arguments).

type Handler = (argv: string[]) => Promise<number>;

interface Command {
  summary: string;
  load: () => Promise<Handler>;
}

const COMMANDS: Record<string, Command> = {
  'check-refs': {
    summary: 'run PyTorch reference cases: check-refs <dir> [--device D]',
    load: async () => (await import('./check-refs.js')).checkRefsCommand,
  },
  darknet: {
    summary: 'darknet dump | make-weights | make-input',
    load: async () => (await import('./darknet.js')).darknetCommand,
  },
  detector: {
    summary: 'detector test | train | valid | map | calc_anchors',
    load: async () => (await import('./detector.js')).detectorCommand,
  },
  classifier: {
    summary: 'classifier predict | train',
    load: async () => (await import('./classifier.js')).classifierCommand,
  },
  data: {
    summary: 'data synth | convert-voc | convert-coco | check',
    load: async () => (await import('./data.js')).dataCommand,
  },
  export: { summary: 'export onnx <cfg> <weights> <out.onnx>', load: async () => (await import('./export.js')).exportCommand },
  info: {
    summary: 'backends, devices, driver/runtime versions',
    load: async () => (await import('./info.js')).infoCommand,
  },
  'build-native': {
    summary: 'build the native addon (cuda-emu, cuda) of this installation',
    load: async () => (await import('./build-native.js')).buildNativeCommand,
  },
};

/** Register another subcommand (used by the CLI modules of src/yolo). */
export function registerCommand(name: string, summary: string, load: () => Promise<Handler>): void {
  COMMANDS[name] = { summary, load };
}

function usage(): string {
  const lines = ['usage: tsgrad <command> [args]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`tsgrad: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  const handler = await cmd.load();
  return handler(rest);
}
