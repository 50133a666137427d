// fill: constant fill (float32 / int32) and seeded random fills that reproduce src/tensor/random.ts.
//
// Philox4x32-10 (Salmon et al., SC'11), counter-based: the random stream of a seed is the sequence of
// uint32 words r[0], r[1], ... where r[s] is lane s % 4 of philox(counter = (b lo32, b hi32, 0, 0),
// key = (seed lo32, seed hi32)) with b = floor(s / 4). This is exactly Rng.nextU32() in random.ts, so a
// fill that starts at stream position `start` gives the same numbers as that many nextU32() calls skipped
// and then the per-element draws below:
//   uniform[i] = lo + (hi - lo) * u(r[start + i]),              u(r) = (r >>> 8) / 2^24      in [0, 1)
//   normal[i]  = mean + std * sqrt(-2 ln u'(r[s])) * cos(2 pi u(r[s + 1])),   s = start + 2 i,
//                u'(r) = ((r >>> 8) + 1) / 2^24 in (0, 1]
// computed in double and rounded once to float32 (as a Float32Array store does in JS).
// Outputs are written with `=`.
#include "common.cuh"
#include "philox.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
__global__ void fill_f32_kernel(float* __restrict__ y, int n, float v) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] = v;
}

__global__ void fill_i32_kernel(int* __restrict__ y, int n, int v) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] = v;
}

__global__ void fill_uniform_kernel(float* __restrict__ y, int n, unsigned k0, unsigned k1, unsigned long long start,
                                    double lo, double hi) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    unsigned r = philox_word(start + (unsigned long long)i, k0, k1);
    double u = double(r >> 8) * (1.0 / 16777216.0);
    y[i] = float(lo + (hi - lo) * u);
  }
}

__global__ void fill_normal_kernel(float* __restrict__ y, int n, unsigned k0, unsigned k1, unsigned long long start,
                                   double mean, double std) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    unsigned long long s = start + 2ull * (unsigned long long)i;
    unsigned r1 = philox_word(s, k0, k1), r2 = philox_word(s + 1, k0, k1);
    double u1 = (double(r1 >> 8) + 1.0) * (1.0 / 16777216.0);
    double u2 = double(r2 >> 8) * (1.0 / 16777216.0);
    y[i] = float(mean + std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void fill(void* y, int dtype, int64_t n, double value) {
  const char* op = "fill";
  rt::require(op);
  require_int32_size(op, "n", n);
  rt::check_range(y, size_t(n) * 4, op, "y");
  if (n == 0) return;
  if (dtype == kFloat32) {
    TS_LAUNCH_NOSYNC(fill_f32_kernel, grid_for(n, 256), 256, 0, static_cast<float*>(y), int(n), float(value));
  } else if (dtype == kInt32) {
    if (value != double(int(value))) bad_arg(op, "value " + std::to_string(value) + " is not an int32");
    TS_LAUNCH_NOSYNC(fill_i32_kernel, grid_for(n, 256), 256, 0, static_cast<int*>(y), int(n), int(value));
  } else {
    bad_arg(op, "unknown dtype code " + std::to_string(dtype));
  }
}

void fill_uniform(float* y, int64_t n, uint64_t seed, uint64_t start, double lo, double hi) {
  const char* op = "fillUniform";
  rt::require(op);
  require_int32_size(op, "n", n);
  range_f(op, "y", y, n);
  if (n == 0) return;
  TS_LAUNCH_NOSYNC(fill_uniform_kernel, grid_for(n, 256), 256, 0, y, int(n), unsigned(seed), unsigned(seed >> 32),
            (unsigned long long)start, lo, hi);
}

void fill_normal(float* y, int64_t n, uint64_t seed, uint64_t start, double mean, double std) {
  const char* op = "fillNormal";
  rt::require(op);
  require_int32_size(op, "n", n);
  range_f(op, "y", y, n);
  if (n == 0) return;
  TS_LAUNCH_NOSYNC(fill_normal_kernel, grid_for(n, 256), 256, 0, y, int(n), unsigned(seed), unsigned(seed >> 32),
            (unsigned long long)start, mean, std);
}

}  // namespace tsgrad
