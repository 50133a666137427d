// `tsgrad darknet <subcommand>`:
//   dump          run a cfg + weights on one input and write every layer's output and detections.json,
//                 in the format of the reference cases (SEMANTICS.md 5, 7)
//   make-weights  the deterministic weights generator (src/cli/darknet-make.ts)
//   make-input    the synthetic input generator (src/cli/darknet-make.ts)
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
import { detectionsJson, DUMP_NMS, DUMP_THRESH, formatDetectionsJson, networkBoxes } from '../yolo/net/detections.js';
import { imageInput, inputTensor, readRawInput, type PreparedInput } from '../yolo/net/input.js';
import { layersOfType, openNetwork, type Network } from '../yolo/net/network.js';
import { loadWeights } from '../yolo/net/weights.js';
import type { BatchStats } from '../yolo/net/layers.js';
import { networkLoss } from '../yolo/loss/network-loss.js';
import { deviceArg, floatArg, intArg, parseCommandArgs, processIO, requiredArg, runCommand, stringArg, UsageError, type ArgValues, type CommandIO } from './args.js';
import { makeInputCommand, makeWeightsCommand } from './darknet-make.js';

// The shared argument helpers, re-exported for the command modules that import them from here.
export * from './args.js';

/** Host float32 values of batch item 0 of a layer output. */
export function firstItem(t: Tensor): Float32Array {
  const v = narrow(t, 0, 0, 1);
  const d = v.data();
  if (v !== t) v.dispose();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

const DUMP_USAGE = `usage: tsgrad darknet dump --cfg FILE (--weights FILE | --seed S) (--input FILE.f32 | --image FILE)
                          --out DIR [--width W] [--height H] [--device cpu|cuda|cuda-emu]
                          [--thresh ${DUMP_THRESH}] [--nms ${DUMP_NMS}]
  Runs the network once (inference, batch 1) and writes into DIR, for every layer i, its whole output
  as Lnn_<type>.f32 (float32 little-endian, Darknet's layout), and detections.json (candidates before
  and after do_nms_sort, SEMANTICS.md 7) when the net has a [region] or [detection] layer.
  --weights   a Darknet .weights file; or --seed S to use the deterministic generator's weights
  --input     raw float32 CHW input of exactly the network's size (e.g. from make-input)
  --image     an image, letterboxed ([region] nets) or resized ([detection] nets) as Darknet does;
              region boxes are then relative to the original image
  --width/--height replace the [net] size (default: the cfg's own).
  --truth FILE.f32  truth of the loss layer (Darknet's net.truth: 30 boxes × (x, y, w, h, class) for
              [region], side²·(1+classes+4) for [detection]); also writes the last loss layer's delta.f32
              and cost.json (cost, seen, mode, sum_sq_delta_f64, net_cost)
  --seen S    images seen before this batch (the region loss's 12,800 rule), default 0
  --train     run the whole forward in training mode (BN with batch statistics and a rolling update,
              dropout active) and write, for each BN layer, Lnn_bn_mean/variance (batch statistics) and
              Lnn_bn_rolling_mean_after/_variance_after; without it the loss sees the inference outputs
              (Darknet's train_isolated).`;

const USAGE = `usage: tsgrad darknet <subcommand> [args]
subcommands:
  dump          run a cfg + weights on an input, write every layer's output and detections.json
  make-weights  write deterministic pseudo-random .weights for a cfg (SEMANTICS.md 3)
  make-input    write the synthetic float32 input (SEMANTICS.md 3.3)
Run 'tsgrad darknet <subcommand> --help' for its arguments.`;

export async function darknetCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'dump':
      return dumpCommand(rest, io);
    case 'make-weights':
      return makeWeightsCommand(rest, io);
    case 'make-input':
      return makeInputCommand(rest, io);
    case undefined:
      io.err(`${USAGE}\n`);
      return 2;
    case 'help':
    case '-h':
    case '--help':
      io.out(`${USAGE}\n`);
      return 0;
    default:
      io.err(`error: unknown darknet subcommand '${sub}'\n${USAGE}\n`);
      return 2;
  }
}

/** A raw float32 truth file holding exactly the network's truths per image (batch 1). */
function readTruthFile(net: Network, file: string): Float32Array {
  const need = net.cfg.truths;
  const size = regularFileSize(file);
  // A regular file of the wrong size is reported from its size, without reading it.
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
async function openFromArgs(values: ArgValues, io: CommandIO): Promise<Network> {
  const cfg = requiredArg(values, 'cfg');
  const weights = stringArg(values, 'weights');
  const seed = intArg(values, 'seed', 0, 0xffffffff);
  if ((weights === undefined) === (seed === undefined)) throw new UsageError('give exactly one of --weights FILE and --seed S');
  const width = intArg(values, 'width', 1, 1 << 16);
  const height = intArg(values, 'height', 1, 1 << 16);
  const device = await deviceArg(values);
  const net = openNetwork(cfg, weights ?? null, {
    device,
    warn: (m) => io.err(`warning: ${m}\n`),
    randomInit: false,
    ...(width === undefined ? {} : { width }),
    ...(height === undefined ? {} : { height }),
  });
  if (seed !== undefined) loadWeights(net, generateWeights(net.cfg, seed));
  return net.eval();
}

async function dumpCommand(argv: string[], io: CommandIO): Promise<number> {
  return runCommand(argv, io, DUMP_USAGE, async () => {
    const { values } = parseCommandArgs(argv, {
      cfg: { type: 'string' },
      weights: { type: 'string' },
      seed: { type: 'string' },
      input: { type: 'string' },
      image: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      out: { type: 'string' },
      device: { type: 'string' },
      thresh: { type: 'string' },
      nms: { type: 'string' },
      truth: { type: 'string' },
      seen: { type: 'string' },
      train: { type: 'boolean' },
    });
    const outDir = requiredArg(values, 'out');
    const inputFile = stringArg(values, 'input');
    const imageFile = stringArg(values, 'image');
    if ((inputFile === undefined) === (imageFile === undefined)) throw new UsageError('give exactly one of --input FILE.f32 and --image FILE');
    const thresh = floatArg(values, 'thresh', DUMP_THRESH, 0, 1);
    const nms = floatArg(values, 'nms', DUMP_NMS, 0, 1);
    const truthFile = stringArg(values, 'truth');
    const seen = intArg(values, 'seen', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const train = values['train'] === true;
    const net = await openFromArgs(values, io);
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
  });
}
