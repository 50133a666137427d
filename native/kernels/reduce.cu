// reduce: sum / max / min along the middle dim of a contiguous [outer, n, inner] view.
//   sum:      out[o, j] = scale * sum_k x[o, k, j]             (accumulated in double, rounded once)
//   max, min: out[o, j] = max/min_k x[o, k, j]; index[o, j] = the first k attaining it (int32; may be
//             null). NaN wins (the first NaN), as in torch.max and the CPU backend.
// inner == 1 (rows): a block per row with a tree reduction; long rows with few of them are split over
// several blocks and their partial results reduced by a second launch.
// inner > 1 (columns): a thread per (o, j) walks k in order (coalesced across j), so sums are added in the
// same order as the CPU backend's.
// Outputs written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
constexpr int kReduceThreads = 256;  // power of two (tree reductions below)

// (value, index) candidate ordering for max (sign = +1) or min (sign = -1): NaN first, then the larger
// (smaller) value, then the smaller index.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi, bool is_max) {
  bool vn = v != v, bn = bv != bv;
  if (vn || bn) return vn && (!bn || i < bi);
  if (v == bv) return i < bi;
  return is_max ? v > bv : v < bv;
}

// Block b = (row, split): reduces x[row, begin:end) where rows are n long. With x_index, element k's index
// is x_index[row * n + k] (a second-stage pass over partial results), else begin + k.
__global__ void reduce_rows_kernel(float* __restrict__ out, int* __restrict__ out_index, const float* __restrict__ x,
                                   const int* __restrict__ x_index, int n, int chunk, int op, float scale) {
  __shared__ double ssum[kReduceThreads];
  __shared__ float sval[kReduceThreads];
  __shared__ int sidx[kReduceThreads];
  const int tid = threadIdx.x;
  const int row = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
  const int begin = split * chunk;
  const int end = min(n, begin + chunk);
  const float* xr = x + (long long)row * n;
  const int slot = row * splits + split;
  if (op == kReduceSum) {
    double acc = 0.0;
    for (int k = begin + tid; k < end; k += blockDim.x) acc += double(xr[k]);
    ssum[tid] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (tid < s) ssum[tid] += ssum[tid + s];
      __syncthreads();
    }
    if (tid == 0) out[slot] = float(ssum[0] * double(scale));
  } else {
    const bool is_max = op == kReduceMax;
    float bv = 0.0f;
    int bi = INT_MAX;
    for (int k = begin + tid; k < end; k += blockDim.x) {
      float v = xr[k];
      int i = x_index ? x_index[(long long)row * n + k] : k;
      if (bi == INT_MAX || better(v, i, bv, bi, is_max)) {
        bv = v;
        bi = i;
      }
    }
    sval[tid] = bv;
    sidx[tid] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (tid < s && sidx[tid + s] != INT_MAX &&
          (sidx[tid] == INT_MAX || better(sval[tid + s], sidx[tid + s], sval[tid], sidx[tid], is_max))) {
        sval[tid] = sval[tid + s];
        sidx[tid] = sidx[tid + s];
      }
      __syncthreads();
    }
    if (tid == 0) {
      out[slot] = sval[0];
      if (out_index) out_index[slot] = sidx[0];
    }
  }
}

__global__ void reduce_cols_kernel(float* __restrict__ out, int* __restrict__ out_index, const float* __restrict__ x,
                                   int outer, int n, int inner, int op, float scale) {
  const int total = outer * inner;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int o = t / inner, j = t - o * inner;
    const float* p = x + (long long)o * n * inner + j;
    if (op == kReduceSum) {
      double acc = 0.0;
      for (int k = 0; k < n; k++) acc += double(p[(long long)k * inner]);
      out[t] = float(acc * double(scale));
    } else {
      const bool is_max = op == kReduceMax;
      float bv = p[0];
      int bi = 0;
      for (int k = 1; k < n; k++) {
        float v = p[(long long)k * inner];
        if (better(v, k, bv, bi, is_max)) {
          bv = v;
          bi = k;
        }
      }
      out[t] = bv;
      if (out_index) out_index[t] = bi;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void reduce(float* out, int32_t* index, const float* x, int64_t outer, int64_t n, int64_t inner, int op, float scale) {
  const char* name = "reduce";
  rt::require(name);
  if (op < 0 || op >= kReduceCount) bad_arg(name, "unknown op code " + std::to_string(op));
  require_nonneg(name, "outer", outer);
  require_nonneg(name, "n", n);
  require_nonneg(name, "inner", inner);
  require_int32_size(name, "outer*n*inner", outer * n * inner);
  if (op != kReduceSum && n == 0 && outer * inner > 0) bad_arg(name, "max/min over an empty dimension");
  range_f(name, "out", out, outer * inner);
  range_f(name, "x", x, outer * n * inner);
  if (index) rt::check_range(index, size_t(outer * inner) * 4, name, "index");
  if (outer * inner == 0) return;
  int32_t* idx = op == kReduceSum ? nullptr : index;
  if (inner > 1 || n == 0) {
    TS_LAUNCH_NOSYNC(reduce_cols_kernel, grid_for(outer * inner, 256), 256, 0, out, idx, x, int(outer), int(n), int(inner), op,
              scale);
    return;
  }
  // Rows. Split long rows when there are too few of them to fill the device.
  const int64_t sms = rt::multiprocessor_count();
  int64_t splits = 1;
  if (n >= 8192 && outer < 2 * sms) {
    splits = std::min<int64_t>((n + 4095) / 4096, (4 * sms + outer - 1) / outer);
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 1024));
  }
  if (outer > 2147483647 / splits) splits = 1;
  if (splits == 1) {
    TS_LAUNCH(reduce_rows_kernel, dim3(unsigned(outer), 1, 1), kReduceThreads, 0, out, idx, x, nullptr, int(n), int(n),
              op, scale);
    return;
  }
  const int chunk = int((n + splits - 1) / splits);
  splits = (n + chunk - 1) / chunk;
  rt::Scratch pv(size_t(outer * splits) * 4), pi(op == kReduceSum ? 0 : size_t(outer * splits) * 4);
  float* part_val = pv.as<float>();
  int* part_idx = pi.as<int>();
  TS_LAUNCH(reduce_rows_kernel, dim3(unsigned(outer), unsigned(splits), 1), kReduceThreads, 0, part_val, part_idx, x,
            nullptr, int(n), chunk, op, 1.0f);
  TS_LAUNCH(reduce_rows_kernel, dim3(unsigned(outer), 1, 1), kReduceThreads, 0, out, idx, part_val, part_idx,
            int(splits), int(splits), op, scale);
}

}  // namespace tsgrad
