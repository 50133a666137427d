// The reference networks exported to ONNX and run by onnxruntime (CPU): yolov2-tiny-voc, yolov2-voc
// (route + reorg), yolov1-tiny, yolov1 ([local], [dropout], [connected]) and darknet19 at small input
// sizes with the deterministic generator's weights, two batch images. Exports (the second only for the
// smaller networks, whose session creation is cheap; together they cover every option):
//   raw      fixed batch 2, BatchNormalization nodes, opset 13: `output` equals tsgrad's cpu output within
//            1e-5 of its largest value, and Darknet's decoding + do_nms_sort of it keeps the same
//            detections (same (index, class) pairs; probabilities and boxes within 1e-5) — for
//            darknet19 the same top-5 classes
//   second   dynamic batch with another option set (--decode, --fold-bn, opset 11 / 18, --exact-leaky):
//            the decoded `boxes`/`scores` equal tsgrad's candidates within 1e-5 and keep the same
//            detections after NMS (darknet19: raw output, folded BN, opset 18)
// Each test reports the worst difference and the export / session-create / run times.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import '../src/index.js';
import { topK } from '../src/cli/classifier.js';
import { makeInput } from '../src/yolo/darknet/generate.js';
import { networkBoxes } from '../src/yolo/net/detections.js';
import { layersOfType } from '../src/yolo/net/network.js';
import { exportOnnxModel, type OnnxExportOptions } from '../src/yolo/onnx/index.js';
import { fromHost } from '../src/tensor/ops/creation.js';
import { scope } from '../src/tensor/memory.js';
import {
  compareKept,
  darknetCfg,
  difference,
  generatedNetwork,
  headOutputs,
  keptFromDecoded,
  keptFromLayers,
  ortSession,
  runOrt,
  tsgradForward,
} from './helpers/onnx.js';

const TOL = 1e-5;
const THRESH = 0.005;
const NMS = 0.45;
const BATCH = 2;

interface Spec {
  name: string;
  width: number;
  height: number;
  second: OnnxExportOptions | null;
  /** What agrees besides the output values. */
  agrees: string;
}

async function checkNetwork(spec: Spec, diag: (s: string) => void): Promise<void> {
  const net = generatedNetwork(darknetCfg(spec.name), spec.width, spec.height);
  const [c, h, w] = net.inputShape;
  const input = new Float32Array(BATCH * c * h * w);
  for (let b = 0; b < BATCH; b++) input.set(makeInput(w, h, 7 + b, c), b * c * h * w);
  const dims = [BATCH, c, h, w];
  const outs = tsgradForward(net, input, BATCH);
  const ref = outs[net.outputIndex]!;
  const heads = layersOfType(net, 'region', 'detection');
  const refKept = Array.from({ length: BATCH }, (_, b) => (heads.length > 0 ? keptFromLayers(net, headOutputs(net, outs), BATCH, b, THRESH, NMS) : []));

  const exports: [string, OnnxExportOptions][] = [['raw', { batch: BATCH }]];
  if (spec.second !== null) exports.push(['second', { ...spec.second, dynamicBatch: true }]);
  for (const [label, opts] of exports) {
    const t0 = performance.now();
    const model = exportOnnxModel(net, opts);
    const t1 = performance.now();
    const session = await ortSession(model.bytes);
    const t2 = performance.now();
    const r = await runOrt(session, input, dims);
    const t3 = performance.now();
    await session.release();
    let worst: number;
    let keptCount = 0;
    if (opts.decode !== true) {
      assert.deepEqual(r['output']!.dims, [BATCH, ...net.layers[net.outputIndex]!.layer.out]);
      const d = difference(r['output']!.data, ref);
      worst = d.rel;
      assert.ok(d.rel <= TOL, `${spec.name} ${label}: max |ort − tsgrad| = ${d.maxAbs} of max ${d.maxRef} (${d.rel} > ${TOL})`);
      if (heads.length > 0) {
        const ortHeads = new Map([[heads[0]!.index, r['output']!.data]]);
        for (let b = 0; b < BATCH; b++) {
          const kept = keptFromLayers(net, ortHeads, BATCH, b, THRESH, NMS);
          compareKept(kept, refKept[b]!, TOL);
          keptCount += kept.length;
        }
      } else {
        const per = ref.length / BATCH;
        for (let b = 0; b < BATCH; b++) {
          assert.deepEqual(topK(r['output']!.data.subarray(b * per, (b + 1) * per), 5), topK(ref.subarray(b * per, (b + 1) * per), 5), `${spec.name} ${label}: top-5 of image ${b}`);
        }
      }
    } else {
      const boxes = r['boxes']!;
      const scores = r['scores']!;
      worst = 0;
      for (let b = 0; b < BATCH; b++) {
        // tsgrad's candidates at threshold 0: prob = score where > 0 (scores ≤ 0 only from YOLOv1 confidences).
        const cands = scope(() => networkBoxes(net, outs.map((o, i) => fromHost(o, [BATCH, ...net.layers[i]!.layer.out])), { thresh: 0, batchIndex: b }).detections);
        assert.deepEqual(boxes.dims, [BATCH, cands.length, 4]);
        const ours = { box: [] as number[], prob: [] as number[] };
        const theirs = { box: [] as number[], prob: [] as number[] };
        const classes = scores.dims[2]!;
        cands.forEach((d, k) => {
          const bo = (b * cands.length + k) * 4;
          ours.box.push(...boxes.data.subarray(bo, bo + 4));
          theirs.box.push(d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h);
          const so = (b * cands.length + k) * classes;
          ours.prob.push(...Array.from(scores.data.subarray(so, so + classes), (s) => Math.max(s, 0)));
          theirs.prob.push(...d.prob);
        });
        for (const [what, a, e] of [['boxes', ours.box, theirs.box], ['scores', ours.prob, theirs.prob]] as const) {
          const d = difference(a, e);
          worst = Math.max(worst, d.rel);
          assert.ok(d.rel <= TOL, `${spec.name} ${label} ${what} of image ${b}: max |ort − tsgrad| = ${d.maxAbs} of max ${d.maxRef}`);
        }
        const kept = keptFromDecoded(boxes, scores, b, THRESH, NMS);
        compareKept(kept, refKept[b]!, TOL);
        keptCount += kept.length;
      }
    }
    diag(
      `${spec.name} ${w}x${h} ${label} ${JSON.stringify(opts)}: worst |Δ|/max ${worst.toExponential(2)}` +
        (heads.length > 0 ? `, ${keptCount} kept detections equal` : '') +
        `; ${(model.bytes.byteLength / 1e6).toFixed(1)} MB, ${model.nodes} nodes; export ${(t1 - t0).toFixed(0)} ms, ort session ${(t2 - t1).toFixed(0)} ms, run ${(t3 - t2).toFixed(0)} ms`,
    );
  }
}

const KEPT = 'keeps the same detections after NMS';

const SPECS: Spec[] = [
  { name: 'yolov2-tiny-voc', width: 96, height: 96, second: { decode: true, foldBn: true, opset: 11 }, agrees: KEPT },
  { name: 'yolov2-voc', width: 96, height: 96, second: null, agrees: KEPT },
  { name: 'yolov1-tiny', width: 64, height: 64, second: { decode: true, exactLeaky: true, opset: 18 }, agrees: KEPT },
  { name: 'yolov1', width: 64, height: 64, second: null, agrees: KEPT },
  { name: 'darknet19', width: 64, height: 64, second: { foldBn: true, opset: 18 }, agrees: 'gives the same top-5 classes' },
];

for (const spec of SPECS) {
  const also = spec.second === null ? '' : `, raw and with ${JSON.stringify(spec.second)}`;
  test(`${spec.name} at ${spec.width}x${spec.height} exported to ONNX: onnxruntime's output equals tsgrad's cpu output within 1e-5 and ${spec.agrees}${also}`, async (t) => {
    await checkNetwork(spec, (s) => t.diagnostic(s));
  });
}
