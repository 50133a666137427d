// softmax / log_softmax along the middle dim of a contiguous [outer, n, inner] view, and their backward.
//   m = max_k x_k (NaN propagates), s = sum_k exp(x_k - m)
//   softmax:      y_k = exp(x_k - m) / s
//   log_softmax:  y_k = x_k - m - log(s)
//   backward (dy given, y the forward output):
//     softmax:     dx_k = y_k * (dy_k - sum_j dy_j y_j)
//     log_softmax: dx_k = dy_k - exp(y_k) * sum_j dy_j
// inner == 1: a block per row (32/128/256 threads by row length) with block reductions.
// inner > 1: a thread per (o, j) walks k (coalesced across j). Outputs written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
__global__ void softmax_rows_kernel(float* __restrict__ y, const float* __restrict__ x, int n, bool log) {
  const float* xr = x + (long long)blockIdx.x * n;
  float* yr = y + (long long)blockIdx.x * n;
  float m = -INFINITY;
  for (int k = threadIdx.x; k < n; k += blockDim.x) m = nan_max(m, xr[k]);
  m = block_max(m);
  float s = 0.0f;
  for (int k = threadIdx.x; k < n; k += blockDim.x) s += expf(xr[k] - m);
  s = block_sum(s);
  if (log) {
    const float ls = m + logf(s);
    for (int k = threadIdx.x; k < n; k += blockDim.x) yr[k] = xr[k] - ls;
  } else {
    const float inv = 1.0f / s;
    for (int k = threadIdx.x; k < n; k += blockDim.x) yr[k] = expf(xr[k] - m) * inv;
  }
}

__global__ void softmax_cols_kernel(float* __restrict__ y, const float* __restrict__ x, int outer, int n, int inner,
                                    bool log) {
  const int total = outer * inner;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int o = t / inner, j = t - o * inner;
    const long long base = (long long)o * n * inner + j;
    float m = -INFINITY;
    for (int k = 0; k < n; k++) m = nan_max(m, x[base + (long long)k * inner]);
    float s = 0.0f;
    for (int k = 0; k < n; k++) s += expf(x[base + (long long)k * inner] - m);
    if (log) {
      const float ls = m + logf(s);
      for (int k = 0; k < n; k++) y[base + (long long)k * inner] = x[base + (long long)k * inner] - ls;
    } else {
      const float inv = 1.0f / s;
      for (int k = 0; k < n; k++) y[base + (long long)k * inner] = expf(x[base + (long long)k * inner] - m) * inv;
    }
  }
}

__global__ void softmax_backward_rows_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                             const float* __restrict__ y, int n, bool log) {
  const long long off = (long long)blockIdx.x * n;
  float s = 0.0f;
  for (int k = threadIdx.x; k < n; k += blockDim.x) s += log ? dy[off + k] : dy[off + k] * y[off + k];
  s = block_sum(s);
  for (int k = threadIdx.x; k < n; k += blockDim.x)
    dx[off + k] = log ? dy[off + k] - expf(y[off + k]) * s : y[off + k] * (dy[off + k] - s);
}

__global__ void softmax_backward_cols_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                             const float* __restrict__ y, int outer, int n, int inner, bool log) {
  const int total = outer * inner;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int o = t / inner, j = t - o * inner;
    const long long base = (long long)o * n * inner + j;
    float s = 0.0f;
    for (int k = 0; k < n; k++) {
      const long long i = base + (long long)k * inner;
      s += log ? dy[i] : dy[i] * y[i];
    }
    for (int k = 0; k < n; k++) {
      const long long i = base + (long long)k * inner;
      dx[i] = log ? dy[i] - expf(y[i]) * s : y[i] * (dy[i] - s);
    }
  }
}

int row_threads(int64_t n) { return n <= 64 ? 32 : (n <= 1024 ? 128 : 256); }

void check(const char* name, int64_t outer, int64_t n, int64_t inner) {
  rt::require(name);
  require_nonneg(name, "outer", outer);
  require_nonneg(name, "n", n);
  require_nonneg(name, "inner", inner);
  require_int32_size(name, "outer*n*inner", outer * n * inner);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void softmax(float* y, const float* x, int64_t outer, int64_t n, int64_t inner, bool log) {
  const char* name = "softmax";
  check(name, outer, n, inner);
  const int64_t total = outer * n * inner;
  range_f(name, "y", y, total);
  range_f(name, "x", x, total);
  if (total == 0) return;
  if (inner == 1)
    TS_LAUNCH(softmax_rows_kernel, unsigned(outer), row_threads(n), 0, y, x, int(n), log);
  else
    TS_LAUNCH_NOSYNC(softmax_cols_kernel, grid_for(outer * inner, 256), 256, 0, y, x, int(outer), int(n), int(inner), log);
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  const char* name = "softmaxBackward";
  check(name, outer, n, inner);
  const int64_t total = outer * n * inner;
  range_f(name, "dx", dx, total);
  range_f(name, "dy", dy, total);
  range_f(name, "y", y, total);
  if (total == 0) return;
  if (inner == 1)
    TS_LAUNCH(softmax_backward_rows_kernel, unsigned(outer), row_threads(n), 0, dx, dy, y, int(n), log);
  else
    TS_LAUNCH_NOSYNC(softmax_backward_cols_kernel, grid_for(outer * inner, 256), 256, 0, dx, dy, y, int(outer), int(n),
              int(inner), log);
}

}  // namespace tsgrad
