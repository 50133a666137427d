// detection_loss: Darknet's YOLOv1 [detection] training loss (forward_detection_layer, SEMANTICS.md 8.4); mirrors
// the CPU kernel of src/yolo/loss/detection-loss.ts operation for operation (float32 rounding of each step as
// there; box_rmse, the √ targets and the non-rescore confidence in double, as there).
// Per image, layout [side²·classes class scores][side²·n confidences][side²·n·4 boxes]; truth per cell
// [is_obj, classes one-hot, x, y, w, h]. For cell i:
//   every confidence: δ = noobject_scale*(0 − conf)
//   if trunc(is_obj) != 0: classes δ = class_scale*(truth − score); responsible box = the largest IoU (boxes in
//     cell units: x/side, y/side, w², h² with sqrt) once any IoU > 0, else the smallest RMSE (from 20);
//     forced: box 1 if w·h < 0.1 else 0; random (while seen < 64000): hash(seed, seen, b·side² + i) mod n
//     (randomBoxChoice in detection-loss.ts); an index outside [0, n) (NaN outputs, forced with n = 1) -> 0;
//     its confidence δ = object_scale*(rescore ? iou − conf : 1 − conf);
//     its coordinates δ = coord_scale*(target − output), √w, √h targets with sqrt
//   every other entry: 0.   cost = Σ δ² (then sqrt and squared in float, as pow(mag_array(δ), 2)).
//   stats[8] (src/yolo/loss/stats.ts): 0 Σ IoU, 1 # IoU > .5, 2 Σ conf of the responsible boxes, 3 Σ every conf,
//   4 Σ score of the true classes, 5 # truths, 6 Σ every class score at object cells, 7 unused (0).
//
// Cells are independent (each writes only its own entries), so one thread per (image, cell) computes and writes
// every delta entry of its cell exactly once, with `=`. Each block sums its threads' statistics and Σ δ² in double
// (shared-memory tree); a one-block kernel adds the per-block partials in block order (deterministic for a given
// launch size) and writes stats and cost. The CPU (and Darknet) sum δ² in a float running sum, which drifts
// from the exact sum as the count grows (see region_loss.cu); the double sum here is exact to the final float
// rounding, so the two costs agree only that closely.
#include <cmath>

#include "common.cuh"
#include "yolo_loss.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
constexpr double kRandomSeenLimit = 64000;  // Darknet's limit for random=1 (RANDOM_SEEN_LIMIT in detection-loss.ts)

struct DetectionDev {
  int side, cells, n, classes, outputs;
  bool rescore, sqrt, forced, random;
  unsigned seen, seed;  // ToInt32(seen), ToInt32(seed) as bits, for the random choice
  float object_scale, noobject_scale, class_scale, coord_scale;
};

// box_rmse: float differences, squares and sum in double (left to right), sqrt in double, rounded to float.
__device__ float box_rmse(const Box& a, const Box& b) {
  const double dx = fsub(a.x, b.x), dy = fsub(a.y, b.y), dw = fsub(a.w, b.w), dh = fsub(a.h, b.h);
  const double s = __dadd_rn(__dadd_rn(__dadd_rn(__dmul_rn(dx, dx), __dmul_rn(dy, dy)), __dmul_rn(dw, dw)), __dmul_rn(dh, dh));
  return float(sqrt(s));
}

// randomBoxChoice's 32-bit multiply-xorshift hash of (seed, seen, global cell index).
__device__ __forceinline__ unsigned box_hash(unsigned seed, unsigned seen, unsigned cell) {
  unsigned h = seed ^ (seen * 0x9e3779b1u) ^ (cell * 0x85ebca6bu);
  h = (h ^ (h >> 16)) * 0x7feb352du;
  h = (h ^ (h >> 15)) * 0x846ca68bu;
  return h ^ (h >> 16);
}

// Predicted box j of cell i in cell units (x/side, y/side; w², h² with sqrt).
__device__ __forceinline__ Box out_box(const float* x, const DetectionDev& p, int i, int j) {
  const float* o = x + p.cells * (p.classes + p.n) + (i * p.n + j) * 4;
  const float side = float(p.side);
  return {fdiv(o[0], side), fdiv(o[1], side), p.sqrt ? fmul(o[2], o[2]) : o[2], p.sqrt ? fmul(o[3], o[3]) : o[3]};
}

// One thread per (image, cell), grid-stride.
__global__ void detection_loss_kernel(float* __restrict__ delta, double* __restrict__ partial,
                                      const float* __restrict__ output, const float* __restrict__ truth, int batch,
                                      DetectionDev p) {
  double q[kQ];
  for (int k = 0; k < kQ; k++) q[k] = 0.0;
  const int total = batch * p.cells, tper = 5 + p.classes;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int b = t / p.cells, i = t - b * p.cells;
    const float* x = output + (long long)b * p.outputs;
    float* d = delta + (long long)b * p.outputs;
    const float* tr = truth + (long long)t * tper;
    const float* conf = x + p.cells * p.classes + i * p.n;
    float* dconf = d + p.cells * p.classes + i * p.n;
    for (int j = 0; j < p.n; j++) q[3] += conf[j];
    const bool is_obj = !(truncf(tr[0]) == 0.0f);
    double sq = 0.0;

    // classes
    const float* score = x + i * p.classes;
    float* dscore = d + i * p.classes;
    for (int c = 0; c < p.classes; c++) {
      float v = 0.0f;
      if (is_obj) {
        const float tc = tr[1 + c];
        v = fmul(p.class_scale, fsub(tc, score[c]));
        if (tc != 0.0f) q[4] += score[c];
        q[6] += score[c];
      }
      dscore[c] = v;
      sq += double(v) * double(v);
    }

    // the responsible box
    int best = -1;
    float iou = 0.0f;
    const float* tb = tr + 1 + p.classes;
    if (is_obj) {
      const float side = float(p.side);
      const Box truth_box = {fdiv(tb[0], side), fdiv(tb[1], side), tb[2], tb[3]};
      float best_iou = 0.0f, best_rmse = 20.0f;
      for (int j = 0; j < p.n; j++) {
        const Box o = out_box(x, p, i, j);
        const float v = box_iou(o, truth_box), rmse = box_rmse(o, truth_box);
        if (best_iou > 0 || v > 0) {
          if (v > best_iou) {
            best_iou = v;
            best = j;
          }
        } else if (rmse < best_rmse) {
          best_rmse = rmse;
          best = j;
        }
      }
      if (p.forced) best = fmul(truth_box.w, truth_box.h) < 0.1f ? 1 : 0;
      if (p.random) best = int(box_hash(p.seed, p.seen, unsigned(t)) % unsigned(p.n));
      if (best < 0 || best >= p.n) best = 0;
      iou = box_iou(out_box(x, p, i, best), truth_box);
      q[0] += iou;
      if (iou > 0.5f) q[1] += 1.0;
      q[2] += conf[best];
      q[5] += 1.0;
    }

    // confidences
    for (int j = 0; j < p.n; j++) {
      float v;
      if (j == best) {
        v = p.rescore ? fmul(p.object_scale, fsub(iou, conf[j]))
                      : float(__dmul_rn(double(p.object_scale), 1.0 - double(conf[j])));
      } else {
        v = fmul(p.noobject_scale, fsub(0.0f, conf[j]));
      }
      dconf[j] = v;
      sq += double(v) * double(v);
    }

    // coordinates
    const float* box = x + p.cells * (p.classes + p.n) + i * p.n * 4;
    float* dbox = d + p.cells * (p.classes + p.n) + i * p.n * 4;
    for (int j = 0; j < p.n; j++) {
      for (int e = 0; e < 4; e++) {
        float v = 0.0f;
        if (j == best) {
          const float o = box[j * 4 + e], target = tb[e];
          if (e >= 2 && p.sqrt) v = float(__dmul_rn(double(p.coord_scale), sqrt(double(target)) - double(o)));
          else v = fmul(p.coord_scale, fsub(target, o));
        }
        dbox[j * 4 + e] = v;
        sq += double(v) * double(v);
      }
    }
    q[kSumSq] += sq;
  }
  block_partials(partial, q);
}

// JavaScript's ToInt32 (as `v | 0`), as unsigned bits.
uint32_t js_int32_bits(double v) {
  if (!std::isfinite(v)) return 0;
  double m = std::fmod(std::trunc(v), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return uint32_t(m);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void detection_loss(float* delta, float* cost, float* stats, const float* output, const float* truth, int64_t batch,
                    const DetectionLossParams& a) {
  const char* name = "detection_loss";
  rt::require(name);
  require_nonneg(name, "batch", batch);
  require_pos(name, "side", a.side);
  require_pos(name, "n", a.n);
  require_pos(name, "classes", a.classes);
  if (a.coords != 4) bad_arg(name, "coords=" + std::to_string(a.coords) + "; only coords=4 is supported");
  require_int32_size(name, "side*side", a.side * a.side);
  const int64_t cells = a.side * a.side;
  const int64_t outputs = cells * (a.classes + a.n * 5);
  require_int32_size(name, "batch*outputs", batch * outputs);
  require_int32_size(name, "batch*side²*(5+classes)", batch * cells * (5 + a.classes));
  range_f(name, "delta", delta, batch * outputs);
  range_f(name, "output", output, batch * outputs);
  range_f(name, "truth", truth, batch * cells * (5 + a.classes));
  range_f(name, "cost", cost, 1);
  range_f(name, "stats", stats, kLossStats);

  DetectionDev p{};
  p.side = int(a.side);
  p.cells = int(cells);
  p.n = int(a.n);
  p.classes = int(a.classes);
  p.outputs = int(outputs);
  p.rescore = a.rescore;
  p.sqrt = a.sqrt;
  p.forced = a.forced;
  p.random = a.random && a.seen < kRandomSeenLimit;
  p.seen = js_int32_bits(a.seen);
  p.seed = js_int32_bits(a.seed);
  p.object_scale = a.object_scale;
  p.noobject_scale = a.noobject_scale;
  p.class_scale = a.class_scale;
  p.coord_scale = a.coord_scale;

  const int64_t total = batch * cells;
  const unsigned blocks = grid_for(total, kThreads, kMaxBlocks);
  rt::Scratch partial(size_t(blocks) * kQ * sizeof(double));
  double* part = partial.as<double>();
  TS_LAUNCH(detection_loss_kernel, blocks, kThreads, 0, delta, part, output, truth, int(batch), p);
  TS_LAUNCH_NOSYNC(loss_finish_kernel, 1, 32, 0, cost, stats, part, int(blocks));
}

}  // namespace tsgrad
