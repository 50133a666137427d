// `tsgrad classifier predict <cfg> <weights> <image>`: Darknet's `classifier predict`: letterbox the
// image to the network size, one forward pass, print the top-k entries of the output layer (the last
// layer that is not [cost]) as "<percent>%: <name>".

import { noGrad } from '../autograd/grad-mode.js';
import { scope } from '../tensor/memory.js';
import { loadImage } from '../yolo/data/image.js';
import { inputTensor, prepareImage } from '../yolo/net/input.js';
import { openNetwork } from '../yolo/net/network.js';
import { deviceArg, dispatchSubcommand, firstItem, intArg, parseCommandArgs, processIO, runCommand, stringArg, UsageError, type CommandIO, type Subcommand } from './darknet.js';
import { readClassNames } from './detector.js';

const USAGE = `usage: tsgrad classifier predict <cfg> <weights> <image> [--top 5] [--names FILE.names | FILE.data]
                                 [--device cpu|cuda|cuda-emu] [--width W] [--height H]
  Prints the --top largest outputs as "<percent>%: <class>" (the class index when no names are given).`;

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => (values[b]! > values[a]! ? 1 : values[b]! < values[a]! ? -1 : a - b));
  return idx.slice(0, Math.min(k, idx.length));
}

/** classifier subcommand → handler. */
const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  predict: async () => classifierPredict,
  train: async () => (await import('./classifier-train.js')).classifierTrain,
};

export async function classifierCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return dispatchSubcommand('classifier', SUBCOMMANDS, argv, io, USAGE);
}

/** `classifier predict`: see the file comment. */
export async function classifierPredict(rest: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(rest, io, USAGE, async () => {
    const { values, positionals } = parseCommandArgs(
      rest,
      { top: { type: 'string' }, names: { type: 'string' }, device: { type: 'string' }, width: { type: 'string' }, height: { type: 'string' } },
      true,
    );
    if (positionals.length !== 3) throw new UsageError(`expected <cfg> <weights> <image>, got ${positionals.length} arguments`);
    const [cfgFile, weightsFile, image] = positionals as [string, string, string];
    const top = intArg(values, 'top', 1, 1 << 20) ?? 5;
    const namesFile = stringArg(values, 'names');
    const width = intArg(values, 'width', 1, 1 << 16);
    const height = intArg(values, 'height', 1, 1 << 16);
    const device = await deviceArg(values);
    const names = namesFile === undefined ? null : readClassNames(namesFile);

    const net = openNetwork(cfgFile, weightsFile, {
      device,
      ...(width === undefined ? {} : { width }),
      ...(height === undefined ? {} : { height }),
    }).eval();
    const im = await loadImage(image);
    const input = prepareImage(net, im, 'letterbox');
    const t0 = performance.now();
    const out = scope(() => noGrad(() => firstItem(net.output(net.forward(inputTensor(net, input))))));
    const ms = performance.now() - t0;
    if (names !== null && names.length < out.length) throw new Error(`${namesFile}: ${names.length} class names, but the network has ${out.length} outputs`);
    const lines = [`${image}: Predicted in ${ms.toFixed(0)} ms.`];
    for (const i of topK(out, top)) lines.push(`${(out[i]! * 100).toFixed(2).padStart(5)}%: ${names === null ? String(i) : names[i]}`);
    io.out(`${lines.join('\n')}\n`);
  });
}
