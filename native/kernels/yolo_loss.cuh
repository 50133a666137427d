// Shared by region_loss.cu and detection_loss.cu: Darknet's float box math (each operation rounded to
// float and never contracted into an FMA, as Darknet's C code rounds it) and the deterministic loss
// reductions (per-block partials in double, then one block adds them in block order and writes the
// stats and the cost). Included after common.cuh; everything has internal linkage.
#pragma once

namespace tsgrad {
namespace {

constexpr int kThreads = 256;     // power of two (tree reduction)
constexpr int kMaxBlocks = 1024;  // grid-stride beyond this, so the final pass adds at most 1024 partials
constexpr int kQ = 9;             // per-block partials: the 8 stats slots, then Σ δ²
constexpr int kSumSq = 8;

struct Box {
  float x, y, w, h;
};

// Single float operations, never contracted into an FMA (Darknet's C rounds each one).
__device__ __forceinline__ float fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fsub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float fdiv(float a, float b) { return __fdiv_rn(a, b); }

// Darknet's box.c in float: overlap of two segments, intersection, union, IoU (no guard on a zero union).
__device__ __forceinline__ float overlap(float x1, float w1, float x2, float w2) {
  const float l1 = fsub(x1, fdiv(w1, 2.0f)), l2 = fsub(x2, fdiv(w2, 2.0f));
  const float left = l1 > l2 ? l1 : l2;
  const float r1 = fadd(x1, fdiv(w1, 2.0f)), r2 = fadd(x2, fdiv(w2, 2.0f));
  const float right = r1 < r2 ? r1 : r2;
  return fsub(right, left);
}

__device__ float box_iou(const Box& a, const Box& b) {
  const float ow = overlap(a.x, a.w, b.x, b.w), oh = overlap(a.y, a.h, b.y, b.h);
  const float inter = (ow < 0 || oh < 0) ? 0.0f : fmul(ow, oh);
  const float uni = fsub(fadd(fmul(a.w, a.h), fmul(b.w, b.h)), inter);
  return fdiv(inter, uni);
}

// Sums q[k] over the block; thread 0 stores them at partial[blockIdx.x * kQ + k]. blockDim.x == kThreads.
__device__ void block_partials(double* partial, const double q[kQ]) {
  __shared__ double red[kQ][kThreads];
  const int tid = threadIdx.x;
  for (int k = 0; k < kQ; k++) red[k][tid] = q[k];
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (tid < s)
      for (int k = 0; k < kQ; k++) red[k][tid] += red[k][tid + s];
    __syncthreads();
  }
  if (tid == 0)
    for (int k = 0; k < kQ; k++) partial[blockIdx.x * kQ + k] = red[k][0];
}

// stats[k] = Σ partials of slot k; cost = (float)sqrt(Σ δ²) squared, as pow(mag_array(δ), 2).
__global__ void loss_finish_kernel(float* __restrict__ cost, float* __restrict__ stats, const double* __restrict__ partial,
                                   int blocks) {
  const int k = threadIdx.x;
  if (k >= kQ) return;
  double sum = 0.0;
  for (int b = 0; b < blocks; b++) sum += partial[b * kQ + k];
  if (k < kSumSq) {
    stats[k] = float(sum);
  } else {
    const float mag = __fsqrt_rn(float(sum));
    cost[0] = fmul(mag, mag);
  }
}

}  // namespace
}  // namespace tsgrad
