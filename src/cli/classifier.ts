// `tsgrad classifier predict [data] <cfg> <weights> <image>`: Darknet's `classifier predict`: letterbox
// the image to the network size, one forward pass, print the top-k entries of the output layer (the last
// layer that is not [cost]) as "<percent>%: <name>". Also the `tsgrad classifier` entry point (the
// subcommands are defined in classifier-commands.ts).

import { noGrad } from '../autograd/grad-mode.js';
import { scope } from '../tensor/memory.js';
import { loadImage } from '../yolo/data/image.js';
import { inputTensor, prepareImage } from '../yolo/net/input.js';
import { openNetwork } from '../yolo/net/network.js';
import { processIO, runCommand, runGroup, sizeOverrides, type CommandIO, type ParsedArgs } from './args.js';
import { classifierGroup, predictSpec } from './classifier-commands.js';
import { firstItem } from './darknet.js';
import { readClassNames } from './detector.js';

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => (values[b]! > values[a]! ? 1 : values[b]! < values[a]! ? -1 : a - b));
  return idx.slice(0, Math.min(k, idx.length));
}

export async function classifierCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runGroup(classifierGroup, argv, io);
}

/** `classifier predict` on an argument list (see predictSpec). */
export async function classifierPredict(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(predictSpec, argv, io, (a) => predictBody(a, io));
}

export async function predictBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const cfgFile = a.positional('cfg')!;
  const weightsFile = a.positional('weights')!;
  const image = a.positional('image')!;
  const top = a.int('top', 1, 1 << 20);
  const namesFile = a.optionalString('names') ?? a.positional('data');
  const size = sizeOverrides(a);
  const device = await a.device();
  const names = namesFile === undefined ? null : readClassNames(namesFile);

  const net = openNetwork(cfgFile, weightsFile, { device, ...size }).eval();
  const im = await loadImage(image);
  const input = prepareImage(net, im, 'letterbox');
  const t0 = performance.now();
  const out = scope(() => noGrad(() => firstItem(net.output(net.forward(inputTensor(net, input))))));
  const ms = performance.now() - t0;
  if (names !== null && names.length < out.length) throw new Error(`${namesFile}: ${names.length} class names, but the network has ${out.length} outputs`);
  const lines = [`${image}: Predicted in ${ms.toFixed(0)} ms.`];
  for (const i of topK(out, top)) lines.push(`${(out[i]! * 100).toFixed(2).padStart(5)}%: ${names === null ? String(i) : names[i]}`);
  io.out(`${lines.join('\n')}\n`);
}
