// dropout (inverted), mirroring src/tensor/ops/dropout.ts:
//   u_k = (philox word k of key (seed, 0) >>> 8) / 2^24      (the k-th uniform of `new Rng(seed)`)
//   dropped when u_k < p; mask_k = dropped ? 0 : float(1 / (1 - p)); y_k = dropped ? 0 : x_k * mask_k
// so every device draws the same mask. Outputs written with `=`.
#include "common.cuh"
#include "philox.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
__global__ void dropout_kernel(float* __restrict__ y, float* __restrict__ mask, const float* __restrict__ x, int n,
                               double p, float scale, unsigned seed) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const double u = double(philox_word((unsigned long long)i, seed, 0u) >> 8) * (1.0 / 16777216.0);
    const bool keep = u >= p;
    mask[i] = keep ? scale : 0.0f;
    y[i] = keep ? __fmul_rn(x[i], scale) : 0.0f;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void dropout(float* y, float* mask, const float* x, int64_t n, double p, uint32_t seed) {
  const char* name = "dropout";
  rt::require(name);
  require_int32_size(name, "n", n);
  if (!(p >= 0.0 && p <= 1.0)) bad_arg(name, "probability must be in [0, 1]");
  range_f(name, "y", y, n);
  range_f(name, "mask", mask, n);
  range_f(name, "x", x, n);
  if (n == 0) return;
  TS_LAUNCH_NOSYNC(dropout_kernel, grid_for(n, 256), 256, 0, y, mask, x, int(n), p, float(1.0 / (1.0 - p)), seed);
}

}  // namespace tsgrad
