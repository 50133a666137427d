// region_loss: Darknet's YOLOv2 [region] training loss (forward_region_layer, SEMANTICS.md 8.3); mirrors the CPU
// kernel of src/yolo/loss/region-loss.ts, float32 operation for float32 operation (every product, sum and
// quotient rounded to float as Darknet's C code rounds it; the region box sizes and the log targets in double).
// Per image, anchor n at cell (i, j), slot = (n, loc = j*w + i), entry e of the slot at (n*(5+classes) + e)*h*w + loc:
//   not assigned: obj  δ = noobject_scale*((background ? 1 : 0) − obj), 0 when max_t IoU(pred, t) > thresh
//                 x..h δ = 0.01*(prior target − output) while seen < 12800 (prior box ((i+.5)/w, (j+.5)/h,
//                      anchor_w/w, anchor_h/h)), else 0;  classes δ = 0
//   assigned to truth t (cell (⌊x·w⌋, ⌊y·h⌋) clamped to the grid, anchor = best IoU of the truth's size with the
//   anchor sizes (bias_match) or the predicted sizes, all centred at 0):
//                 x..h δ = coord_scale*(2 − w·h)*(target − output), targets x·w − i, y·h − j, log(w·gw/anchor_w),
//                      log(h·gh/anchor_h);  obj δ = object_scale*(background ? 0 − obj : rescore ? iou − obj : 1 − obj);
//                 classes δ = class_scale*(onehot − p)
//   cost = Σ δ² over the batch (then sqrt and squared in float, as Darknet's pow(mag_array(δ), 2)).
//   stats[8] (src/yolo/loss/stats.ts): 0 Σ IoU, 1 # IoU > .5, 2 Σ obj of the assigned slots, 3 Σ obj of every slot,
//   4 Σ p(true class), 5 # truths, 6 unused (0), 7 # truths whose class is outside [0, classes) (the TS binding
//   throws the CPU's error when it is not 0).
//
// Darknet walks the truths of an image in order and a later truth on the same slot overwrites an earlier one.
// Here one thread owns one slot (b, n, loc) and writes every entry of it exactly once, which gives the same
// result: a truth's slot and the values it writes depend only on the truth and on the output (never on delta
// or on the other truths), every entry a truth writes belongs to its slot, and it writes all 5 + classes of
// them; so the final value of a slot is the value of the last truth assigned to it, or the unassigned value
// when there is none. The thread walks the image's truths in order, keeps the last one that lands on its slot,
// and adds the statistics of every one that does (each truth lands on exactly one slot, so each is counted
// once, overwritten or not). A truth with a bad class writes nothing; the image's first thread counts them.
// A truth whose x·w or y·h is NaN lands on no slot (the CPU kernel indexes with NaN: its writes are lost and
// its statistics become NaN); it still takes part in the ignore test, as on the CPU.
//
// Reductions: each block sums its threads' statistics and Σ δ² in double (shared-memory tree), one partial
// per block; a one-block kernel adds the partials in block order (deterministic for a given launch size) and
// writes stats and cost with `=`. The CPU (and Darknet) sum δ² in a float running sum, which drifts from the
// exact sum as the count grows (measured: 3e-5 relative at 71,500 values, 8e-5 at 286,000); the double sum here
// is exact to the final float rounding, so the two costs agree only that closely. delta is written with `=`.
#include "common.cuh"
#include "yolo_loss.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
constexpr int kMaxRegionAnchors = 64;
constexpr int kPriorSeenLimit = 12800;  // Darknet's hard-coded limit (PRIOR_SEEN_LIMIT in region-loss.ts)

struct RegionDev {
  int w, h, n, classes, hw, per, outputs, max_boxes;
  bool bias_match, rescore, background, prior;
  float object_scale, noobject_scale, class_scale, coord_scale, thresh;
  float anchors[2 * kMaxRegionAnchors];
};

// get_region_box: x = ((float)i + σx)/w in float; w = exp(tw)*anchor_w/w in double, rounded once.
__device__ __forceinline__ float region_size(float t, float anchor, int cells) {
  return float(__dmul_rn(exp(double(t)), double(anchor)) / double(cells));
}

__device__ Box region_box(const float* x, const RegionDev& p, int a, int i, int j, int loc) {
  const float* s = x + a * p.per * p.hw + loc;
  return {fdiv(fadd(float(i), s[0]), float(p.w)), fdiv(fadd(float(j), s[p.hw]), float(p.h)),
          region_size(s[2 * p.hw], p.anchors[2 * a], p.w), region_size(s[3 * p.hw], p.anchors[2 * a + 1], p.h)};
}

// Cell of a truth coordinate: trunc(v*cells) clamped to [0, cells); -1 (no cell) for NaN.
__device__ __forceinline__ int truth_cell(float v, int cells) {
  const float c = truncf(fmul(v, float(cells)));
  if (c != c) return -1;
  if (c < 0.0f) return 0;
  if (c > float(cells - 1)) return cells - 1;
  return int(c);
}

// The anchor a truth of size (tw, th) at cell (i, j) is assigned to: best IoU of the sizes centred at 0 (the
// first on ties; 0 when no IoU is positive).
__device__ int best_anchor(const float* x, const RegionDev& p, int i, int j, int loc, float tw, float th) {
  const Box t = {0.0f, 0.0f, tw, th};
  int best_n = 0;
  float best = 0.0f;
  for (int a = 0; a < p.n; a++) {
    Box s = {0.0f, 0.0f, 0.0f, 0.0f};
    if (p.bias_match) {
      s.w = fdiv(p.anchors[2 * a], float(p.w));
      s.h = fdiv(p.anchors[2 * a + 1], float(p.h));
    } else {
      const Box pred = region_box(x, p, a, i, j, loc);
      s.w = pred.w;
      s.h = pred.h;
    }
    const float iou = box_iou(s, t);
    if (iou > best) {
      best = iou;
      best_n = a;
    }
  }
  return best_n;
}

// delta_region_box's four coordinate deltas of slot (a, i, j) towards box t with `scale`.
__device__ __forceinline__ void box_deltas(float out[4], const float* s, const RegionDev& p, int a, int i, int j,
                                           const Box& t, float scale) {
  const float target[4] = {
      fsub(fmul(t.x, float(p.w)), float(i)),
      fsub(fmul(t.y, float(p.h)), float(j)),
      float(log(double(fdiv(fmul(t.w, float(p.w)), p.anchors[2 * a])))),
      float(log(double(fdiv(fmul(t.h, float(p.h)), p.anchors[2 * a + 1])))),
  };
  for (int e = 0; e < 4; e++) out[e] = fmul(scale, fsub(target[e], s[e * p.hw]));
}

// One thread per slot (b, a, loc), grid-stride; see the header for why this equals Darknet's truth order.
__global__ void region_loss_kernel(float* __restrict__ delta, double* __restrict__ partial,
                                   const float* __restrict__ output, const float* __restrict__ truth, int batch,
                                   RegionDev p) {
  double q[kQ];
  for (int k = 0; k < kQ; k++) q[k] = 0.0;
  const int per_image = p.n * p.hw, total = batch * per_image;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int b = t / per_image, r = t - b * per_image;
    const int a = r / p.hw, loc = r - a * p.hw;
    const int i = loc % p.w, j = loc / p.w;
    const float* x = output + (long long)b * p.outputs;
    const float* s = x + a * p.per * p.hw + loc;  // entry e of this slot at s[e * hw]
    float* d = delta + (long long)b * p.outputs + a * p.per * p.hw + loc;
    const float* tr = truth + (long long)b * p.max_boxes * 5;
    const Box pred = region_box(x, p, a, i, j, loc);
    const float obj = s[4 * p.hw];

    float best = 0.0f;  // best IoU of the prediction with any truth (ignore test)
    int last = -1, last_cls = 0;
    float last_iou = 0.0f;
    Box last_box = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int k = 0; k < p.max_boxes; k++) {
      const float* tk = tr + k * 5;
      if (tk[0] == 0.0f) break;
      const Box tb = {tk[0], tk[1], tk[2], tk[3]};
      const float iou = box_iou(pred, tb);
      if (iou > best) best = iou;
      const float cls = truncf(tk[4]);
      const bool bad = !(cls >= 0.0f && cls < float(p.classes));
      if (bad && r == 0) q[7] += 1.0;  // the image's first thread counts every bad truth once
      if (bad || truth_cell(tb.x, p.w) != i || truth_cell(tb.y, p.h) != j) continue;
      if (best_anchor(x, p, i, j, loc, tb.w, tb.h) != a) continue;
      q[0] += iou;
      if (iou > 0.5f) q[1] += 1.0;
      q[2] += obj;
      q[4] += s[(5 + int(cls)) * p.hw];
      q[5] += 1.0;
      last = k;
      last_cls = int(cls);
      last_iou = iou;
      last_box = tb;
    }
    q[3] += obj;

    float dc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float dobj;
    if (last >= 0) {
      const float scale = fmul(p.coord_scale, fsub(2.0f, fmul(last_box.w, last_box.h)));
      box_deltas(dc, s, p, a, i, j, last_box, scale);
      const float target = p.background ? 0.0f : p.rescore ? last_iou : 1.0f;
      dobj = fmul(p.object_scale, fsub(target, obj));
    } else {
      dobj = fmul(p.noobject_scale, fsub(p.background ? 1.0f : 0.0f, obj));
      if (best > p.thresh) dobj = 0.0f;
      if (p.prior) {
        const Box prior = {float((double(i) + 0.5) / double(p.w)), float((double(j) + 0.5) / double(p.h)),
                           fdiv(p.anchors[2 * a], float(p.w)), fdiv(p.anchors[2 * a + 1], float(p.h))};
        box_deltas(dc, s, p, a, i, j, prior, 0.01f);
      }
    }
    double sq = 0.0;
    for (int e = 0; e < 4; e++) {
      d[e * p.hw] = dc[e];
      sq += double(dc[e]) * double(dc[e]);
    }
    d[4 * p.hw] = dobj;
    sq += double(dobj) * double(dobj);
    for (int c = 0; c < p.classes; c++) {
      float v = 0.0f;
      if (last >= 0) v = fmul(p.class_scale, fsub(c == last_cls ? 1.0f : 0.0f, s[(5 + c) * p.hw]));
      d[(5 + c) * p.hw] = v;
      sq += double(v) * double(v);
    }
    q[kSumSq] += sq;
  }
  block_partials(partial, q);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void region_loss(float* delta, float* cost, float* stats, const float* output, const float* truth, int64_t batch,
                 const RegionLossParams& a) {
  const char* name = "region_loss";
  rt::require(name);
  require_nonneg(name, "batch", batch);
  require_pos(name, "w", a.w);
  require_pos(name, "h", a.h);
  require_pos(name, "n", a.n);
  require_pos(name, "classes", a.classes);
  require_nonneg(name, "maxBoxes", a.max_boxes);
  if (a.coords != 4) bad_arg(name, "coords=" + std::to_string(a.coords) + "; only coords=4 is supported");
  if (a.n > kMaxRegionAnchors) bad_arg(name, "num=" + std::to_string(a.n) + " anchors; the device kernel takes at most " + std::to_string(kMaxRegionAnchors));
  if (a.anchor_count != 2 * a.n)
    bad_arg(name, std::to_string(a.anchor_count) + " anchor values for num=" + std::to_string(a.n) + " (need " + std::to_string(2 * a.n) + ")");
  require_int32_size(name, "w*h", a.w * a.h);
  const int64_t outputs = a.n * (5 + a.classes) * a.w * a.h;
  require_int32_size(name, "batch*outputs", batch * outputs);
  require_int32_size(name, "batch*maxBoxes*5", batch * a.max_boxes * 5);
  range_f(name, "delta", delta, batch * outputs);
  range_f(name, "output", output, batch * outputs);
  range_f(name, "truth", truth, batch * a.max_boxes * 5);
  range_f(name, "cost", cost, 1);
  range_f(name, "stats", stats, kLossStats);

  RegionDev p{};
  p.w = int(a.w);
  p.h = int(a.h);
  p.n = int(a.n);
  p.classes = int(a.classes);
  p.hw = int(a.w * a.h);
  p.per = int(5 + a.classes);
  p.outputs = int(outputs);
  p.max_boxes = int(a.max_boxes);
  p.bias_match = a.bias_match;
  p.rescore = a.rescore;
  p.background = a.background;
  p.prior = a.seen < double(kPriorSeenLimit);
  p.object_scale = a.object_scale;
  p.noobject_scale = a.noobject_scale;
  p.class_scale = a.class_scale;
  p.coord_scale = a.coord_scale;
  p.thresh = a.thresh;
  for (int64_t k = 0; k < 2 * a.n; k++) p.anchors[k] = a.anchors[k];

  const int64_t total = batch * a.n * a.w * a.h;
  const unsigned blocks = grid_for(total, kThreads, kMaxBlocks);
  rt::Scratch partial(size_t(blocks) * kQ * sizeof(double));
  double* part = partial.as<double>();
  TS_LAUNCH(region_loss_kernel, blocks, kThreads, 0, delta, part, output, truth, int(batch), p);
  TS_LAUNCH_NOSYNC(loss_finish_kernel, 1, 32, 0, cost, stats, part, int(blocks));
}

}  // namespace tsgrad
