// avgpool2d over NCHW with PyTorch semantics (F.avg_pool2d); mirrors src/tensor/ops/avgpool2d.ts.
//   window (i, j): rows [h0, h0 + kh), h0 = i*sh - pad_top (same for columns), summed over in-image cells
//   divisor: count_include_pad: (min(h0 + kh, H + pad_bottom) - h0) * (min(w0 + kw, W + pad_right) - w0)
//            else: the number of in-image cells of the window
//   y = (sum in double, in row-major order) / divisor, rounded once: bit-exact with the CPU backend.
//   backward (gather): dx[h, w] = sum over the windows (i ascending, then j) covering (h, w) of dy/divisor,
//   in double (the CPU backend's order, so also bit-exact).
// Global average pooling is the case kernel = H x W, stride 1, no padding. Outputs written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
struct Win {
  int H, W, OH, OW, kh, kw, sh, sw, pt, pl, pb, pr;
  bool include_pad;
};

// Clipped window and divisor of output (i, j).
__device__ __forceinline__ void window(const Win& g, int i, int j, int* h0, int* h1, int* w0, int* w1, int* div) {
  int a0 = i * g.sh - g.pt, b0 = j * g.sw - g.pl;
  int a1 = min(a0 + g.kh, g.H + g.pb), b1 = min(b0 + g.kw, g.W + g.pr);
  const int padded = (a1 - a0) * (b1 - b0);
  a0 = max(a0, 0);
  b0 = max(b0, 0);
  a1 = min(a1, g.H);
  b1 = min(b1, g.W);
  *h0 = a0, *h1 = a1, *w0 = b0, *w1 = b1;
  *div = g.include_pad ? padded : (a1 - a0) * (b1 - b0);
}

__global__ void avgpool2d_kernel(float* __restrict__ y, const float* __restrict__ x, Win g, int total) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int j = t % g.OW;
    const int i = (t / g.OW) % g.OH;
    const int p = t / (g.OW * g.OH);
    int h0, h1, w0, w1, div;
    window(g, i, j, &h0, &h1, &w0, &w1, &div);
    const float* xp = x + (long long)p * g.H * g.W;
    double s = 0.0;
    for (int h = h0; h < h1; h++)
      for (int w = w0; w < w1; w++) s += double(xp[h * g.W + w]);
    y[t] = float(s / double(div));
  }
}

__global__ void avgpool2d_backward_kernel(float* __restrict__ dx, const float* __restrict__ dy, Win g, int total) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int w = t % g.W;
    const int h = (t / g.W) % g.H;
    const int p = t / (g.W * g.H);
    const float* dyp = dy + (long long)p * g.OH * g.OW;
    // Windows whose rows [i*sh - pt, i*sh - pt + kh) contain h.
    const int i_lo = max(0, (h + g.pt - g.kh + g.sh) / g.sh), i_hi = min(g.OH - 1, (h + g.pt) / g.sh);
    const int j_lo = max(0, (w + g.pl - g.kw + g.sw) / g.sw), j_hi = min(g.OW - 1, (w + g.pl) / g.sw);
    double acc = 0.0;
    for (int i = i_lo; i <= i_hi; i++) {
      for (int j = j_lo; j <= j_hi; j++) {
        int h0, h1, w0, w1, div;
        window(g, i, j, &h0, &h1, &w0, &w1, &div);
        if (h < h0 || h >= h1 || w < w0 || w >= w1) continue;
        acc += double(dyp[i * g.OW + j]) / double(div);
      }
    }
    dx[t] = float(acc);
  }
}

Win make_win(const char* name, const PoolGeom& g, bool include_pad) {
  for (int64_t v : {g.kh, g.kw, g.sh, g.sw})
    if (v <= 0) bad_arg(name, "kernel and stride must be positive");
  if (g.dh != 1 || g.dw != 1) bad_arg(name, "dilation must be 1");
  for (int64_t v : {g.B, g.C, g.H, g.W, g.OH, g.OW, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right})
    if (v < 0) bad_arg(name, "sizes and paddings must be >= 0");
  require_int32_size(name, "output size", g.B * g.C * g.OH * g.OW);
  require_int32_size(name, "input size", g.B * g.C * g.H * g.W);
  return Win{int(g.H), int(g.W), int(g.OH), int(g.OW), int(g.kh), int(g.kw), int(g.sh), int(g.sw),
             int(g.pad_top), int(g.pad_left), int(g.pad_bottom), int(g.pad_right), include_pad};
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void avgpool2d(float* y, const float* x, const PoolGeom& g, bool count_include_pad) {
  const char* name = "avgpool2d";
  rt::require(name);
  Win w = make_win(name, g, count_include_pad);
  const int64_t total = g.B * g.C * g.OH * g.OW;
  range_f(name, "y", y, total);
  range_f(name, "x", x, g.B * g.C * g.H * g.W);
  if (total == 0) return;
  TS_LAUNCH_NOSYNC(avgpool2d_kernel, grid_for(total, 256), 256, 0, y, x, w, int(total));
}

void avgpool2d_backward(float* dx, const float* dy, const PoolGeom& g, bool count_include_pad) {
  const char* name = "avgpool2d_backward";
  rt::require(name);
  Win w = make_win(name, g, count_include_pad);
  const int64_t total = g.B * g.C * g.H * g.W;
  range_f(name, "dx", dx, total);
  range_f(name, "dy", dy, g.B * g.C * g.OH * g.OW);
  if (total == 0) return;
  TS_LAUNCH_NOSYNC(avgpool2d_backward_kernel, grid_for(total, 256), 256, 0, dx, dy, w, int(total));
}

}  // namespace tsgrad
