// maxpool2d over NCHW with one window geometry for PyTorch (symmetric padding, dilation, ceil mode via
// OH/OW) and Darknet (padding [left, right, top, bottom]) semantics; mirrors src/tensor/ops/maxpool2d.ts.
//   y[p, i, j] = max over taps (u, v): x[p, i*sh - pad_top + u*dh, j*sw - pad_left + v*dw], in-range taps only
//   ties: the first tap in row-major (u, v) order wins; NaN wins over numbers (the first NaN)
//   index[p, i, j] = h*W + w of the winning tap (int32); no in-range tap: y = empty_value, index = -1
//   backward: dx = 0, then dx[p, index[p, k]] += dy[p, k]   (atomics where windows overlap)
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
struct Win {
  int H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl;
};

__global__ void maxpool2d_kernel(float* __restrict__ y, int* __restrict__ index, const float* __restrict__ x, Win g,
                                 int total, float empty_value) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int j = t % g.OW;
    const int i = (t / g.OW) % g.OH;
    const int p = t / (g.OW * g.OH);
    const float* xp = x + (long long)p * g.H * g.W;
    const int h0 = i * g.sh - g.pt, w0 = j * g.sw - g.pl;
    float best = empty_value;
    int at = -1;
    for (int u = 0; u < g.kh; u++) {
      const int h = h0 + u * g.dh;
      if (h < 0 || h >= g.H) continue;
      for (int v = 0; v < g.kw; v++) {
        const int w = w0 + v * g.dw;
        if (w < 0 || w >= g.W) continue;
        const float val = xp[h * g.W + w];
        if (at < 0 || val > best || (val != val && best == best)) {
          best = val;
          at = h * g.W + w;
        }
      }
    }
    y[t] = best;
    if (index) index[t] = at;
  }
}

__global__ void maxpool2d_backward_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                          const int* __restrict__ index, int HW, int OHW, int total) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int at = index[t];
    if (at >= 0 && at < HW) atomicAdd(&dx[(long long)(t / OHW) * HW + at], dy[t]);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void maxpool2d(float* y, int32_t* index, const float* x, const PoolGeom& g, float empty_value) {
  const char* name = "maxpool2d";
  rt::require(name);
  for (int64_t v : {g.kh, g.kw, g.sh, g.sw, g.dh, g.dw})
    if (v <= 0) bad_arg(name, "kernel, stride and dilation must be positive");
  for (int64_t v : {g.B, g.C, g.H, g.W, g.OH, g.OW, g.pad_top, g.pad_left})
    if (v < 0) bad_arg(name, "sizes and paddings must be >= 0");
  const int64_t planes = g.B * g.C, total = planes * g.OH * g.OW;
  require_int32_size(name, "output size", total);
  require_int32_size(name, "input size", planes * g.H * g.W);
  range_f(name, "y", y, total);
  range_f(name, "x", x, planes * g.H * g.W);
  if (index) rt::check_range(index, size_t(total) * 4, name, "index");
  if (total == 0) return;
  Win w{int(g.H), int(g.W), int(g.OH), int(g.OW), int(g.kh), int(g.kw), int(g.sh),
        int(g.sw), int(g.dh), int(g.dw), int(g.pad_top), int(g.pad_left)};
  TS_LAUNCH_NOSYNC(maxpool2d_kernel, grid_for(total, 256), 256, 0, y, index, x, w, int(total), empty_value);
}

void maxpool2d_backward(float* dx, const float* dy, const int32_t* index, int64_t planes, int64_t HW, int64_t OHW) {
  const char* name = "maxpool2d_backward";
  rt::require(name);
  require_nonneg(name, "planes", planes);
  require_nonneg(name, "HW", HW);
  require_nonneg(name, "OHW", OHW);
  require_int32_size(name, "input size", planes * HW);
  require_int32_size(name, "output size", planes * OHW);
  range_f(name, "dx", dx, planes * HW);
  range_f(name, "dy", dy, planes * OHW);
  rt::check_range(index, size_t(planes * OHW) * 4, name, "index");
  fill(dx, kFloat32, planes * HW, 0.0);
  if (planes * OHW == 0 || HW == 0) return;
  TS_LAUNCH_NOSYNC(maxpool2d_backward_kernel, grid_for(planes * OHW, 256), 256, 0, dx, dy, index, int(HW), int(OHW),
            int(planes * OHW));
}

}  // namespace tsgrad
