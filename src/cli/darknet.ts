// `tsgrad darknet <subcommand>` (defined in darknet-commands.ts):
//   dump          run a cfg + weights on one input and write every layer's output and detections.json,
//                 in the format of the reference cases (here)
//   make-weights  the deterministic weights generator (darknet-make.ts)
//   make-input    the synthetic input generator (darknet-make.ts)
// Exit codes: 0 done, 1 the inputs were read but are wrong (bad cfg, sizes, write failed), 2 usage error.

import { join } from 'node:path';

import '../index.js';
import { noGrad } from '../autograd/grad-mode.js';
import { scope } from '../tensor/memory.js';
import { narrow } from '../tensor/ops/views.js';
import { fromHost } from '../tensor/ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { readInputBytes, regularFileSize } from '../io/input.js';
import { writeOutput } from '../io/output.js';
import { float32Bytes, generateWeights } from '../yolo/darknet/generate.js';
import { detectionsJson, formatDetectionsJson, networkBoxes } from '../yolo/net/detections.js';
import { imageInput, inputTensor, readRawInput, type PreparedInput } from '../yolo/net/input.js';
import { layersOfType, openNetwork, type Network } from '../yolo/net/network.js';
import { loadWeights } from '../yolo/net/weights.js';
import type { BatchStats } from '../yolo/net/layers.js';
import { networkLoss } from '../yolo/loss/network-loss.js';
import { processIO, runCommand, runGroup, sizeOverrides, UsageError, type CommandIO, type ParsedArgs } from './args.js';
import { darknetGroup, dumpSpec } from './darknet-commands.js';

// CommandIO, for the modules and tests that import it from here.
export type { CommandIO } from './args.js';

/** Host float32 values of batch item 0 of a layer output. */
export function firstItem(t: Tensor): Float32Array {
  const v = narrow(t, 0, 0, 1);
  const d = v.data();
  if (v !== t) v.dispose();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/** `tsgrad darknet <subcommand> ...`. */
export async function darknetCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runGroup(darknetGroup, argv, io);
}

/** `darknet dump` on an argument list (see dumpSpec). */
export async function dumpCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  return runCommand(dumpSpec, argv, io, (a) => dumpBody(a, io));
}

/** A raw float32 truth file holding exactly the network's truths per image (batch 1). */
function readTruthFile(net: Network, file: string): Float32Array {
  const need = net.cfg.truths;
  // A regular file of the wrong size is reported from its size, without reading it.
  const size = regularFileSize(file);
  const wrong = size !== null && size !== need * 4;
  const bytes = wrong ? Buffer.alloc(0) : readInputBytes(file, 'truth file', need * 4 + 1);
  const length = wrong ? size : bytes.byteLength;
  if (length !== need * 4) {
    throw new Error(`${file}: ${length} bytes, but the network's loss layer reads ${need} float32 truth values (${need * 4} bytes) per image`);
  }
  const out = new Float32Array(need);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < need; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** Net from --cfg/--weights|--seed/--width/--height/--device. */
async function openFromArgs(a: ParsedArgs, io: CommandIO): Promise<Network> {
  const cfg = a.string('cfg');
  const weights = a.optionalString('weights');
  const seed = a.optionalInt('seed', 0, 0xffffffff);
  if ((weights === undefined) === (seed === undefined)) throw new UsageError('give exactly one of --weights FILE and --seed S');
  const size = sizeOverrides(a);
  const device = await a.device();
  const net = openNetwork(cfg, weights ?? null, { device, randomInit: false, warn: (m) => io.err(`warning: ${m}\n`), ...size });
  if (seed !== undefined) loadWeights(net, generateWeights(net.cfg, seed));
  return net.eval();
}

export async function dumpBody(a: ParsedArgs, io: CommandIO): Promise<void> {
  const outDir = a.string('out');
  const inputFile = a.optionalString('input');
  const imageFile = a.optionalString('image');
  if ((inputFile === undefined) === (imageFile === undefined)) throw new UsageError('give exactly one of --input FILE.f32 and --image FILE');
  const thresh = a.float('thresh', 0, 1);
  const nms = a.float('nms', 0, 1);
  const truthFile = a.optionalString('truth');
  const seen = a.int('seen', 0, Number.MAX_SAFE_INTEGER);
  const train = a.flag('train');
  const net = await openFromArgs(a, io);
  if (train) net.train();
  const input: PreparedInput = inputFile !== undefined ? readRawInput(net, inputFile) : await imageInput(net, imageFile!);
  const truth = truthFile === undefined ? null : readTruthFile(net, truthFile);

  const t0 = performance.now();
  // Layer outputs go to the host inside the scope; every device tensor is freed when it ends.
  const { dumps, doc, bn, loss } = scope(() =>
    noGrad(() => {
      const batchStats = new Map<number, BatchStats>();
      const outs = net.forward(inputTensor(net, input), { batchStats });
      const dumps = outs.map((t) => firstItem(t));
      const hasBoxes = layersOfType(net, 'region', 'detection').length > 0;
      const doc = hasBoxes ? detectionsJson(networkBoxes(net, outs, { thresh, imageW: input.imageW, imageH: input.imageH }), nms) : null;
      const bn = [...batchStats].map(([index, s]) => {
        const m = net.layers[index]!;
        const host = (t: Tensor | null): Float32Array => (t === null ? new Float32Array(0) : Float32Array.from(t.data()));
        return {
          index,
          mean: host(s.mean),
          variance: host(s.variance),
          rollingMean: host(m.weightTensor('rollingMean')),
          rollingVariance: host(m.weightTensor('rollingVariance')),
        };
      });
      let loss: { delta: Float32Array; cost: number; netCost: number } | null = null;
      if (truth !== null) {
        const r = networkLoss(net, outs, fromHost(truth, [1, truth.length], { device: net.device }), { seen });
        const last = r.layers[r.layers.length - 1]!;
        loss = { delta: firstItem(last.delta), cost: last.loss.item(), netCost: r.loss.item() };
      }
      return { dumps, doc, bn, loss };
    }),
  );
  const ms = performance.now() - t0;

  const lines: string[] = [];
  for (const m of net.layers) {
    const l = m.layer;
    const file = `L${String(l.index).padStart(2, '0')}_${l.type}.f32`;
    await writeOutput(join(outDir, file), float32Bytes(dumps[l.index]!));
    lines.push(`${file}  ${l.out.join('x')}`);
  }
  for (const b of bn) {
    const p = `L${String(b.index).padStart(2, '0')}_bn_`;
    await writeOutput(join(outDir, `${p}mean.f32`), float32Bytes(b.mean));
    await writeOutput(join(outDir, `${p}variance.f32`), float32Bytes(b.variance));
    await writeOutput(join(outDir, `${p}rolling_mean_after.f32`), float32Bytes(b.rollingMean));
    await writeOutput(join(outDir, `${p}rolling_variance_after.f32`), float32Bytes(b.rollingVariance));
  }
  if (bn.length > 0) lines.push(`L*_bn_{mean,variance,rolling_mean_after,rolling_variance_after}.f32  ${bn.length} BN layers (training mode)`);
  if (loss !== null) {
    await writeOutput(join(outDir, 'delta.f32'), float32Bytes(loss.delta));
    let sumSq = 0;
    for (const d of loss.delta) sumSq += d * d;
    const costDoc = { cost: loss.cost, seen, mode: train ? 'full' : 'isolated', sum_sq_delta_f64: sumSq, net_cost: loss.netCost };
    await writeOutput(join(outDir, 'cost.json'), new TextEncoder().encode(`${JSON.stringify(costDoc)}\n`));
    lines.push(`delta.f32  ${loss.delta.length} values`, `cost.json  cost ${loss.cost}, seen ${seen}`);
  }
  if (doc !== null) {
    await writeOutput(join(outDir, 'detections.json'), new TextEncoder().encode(formatDetectionsJson(doc)));
    lines.push(`detections.json  ${doc.nboxes} boxes, ${doc.kept.length} (box, class) pairs kept after NMS ${nms}, thresh ${thresh}`);
  }
  const [c, h, w] = net.inputShape;
  const src = inputFile ?? `${imageFile} (${input.imageW}x${input.imageH}, ${input.method})`;
  io.out(`${net.cfg.file} ${c}x${h}x${w} on ${net.device.name}, input ${src}: forward ${ms.toFixed(0)} ms\n${lines.map((s) => `  ${join(outDir, s)}`).join('\n')}\n`);
}
