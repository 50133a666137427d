// Shared by every kernel file: the CUDA/emulation include, the checked launch macro, argument checks and
// small device helpers (warp/block reductions). Kernels include only this header.
#pragma once

#include <algorithm>
#include <memory>
#include <cstdint>
#include <string>

#include "../runtime/cuda_api.h"
#include "../runtime/runtime.h"
#include "kernels.h"

// TS_LAUNCH(kernel, grid, block, dynamic_smem, args...): `kernel<<<grid, block, smem, stream>>>(args)` under
// nvcc, the emulated launcher under g++; then the launch is checked (a failure throws tsgrad::Error naming
// the kernel). A template kernel with commas in its name: bind it to a variable first
// (`auto k = gemm_kernel<128, 128>; TS_LAUNCH(k, ...)`).
// TS_LAUNCH_NOSYNC: the same, for kernels without __syncthreads or warp collectives; the emulator then
// runs their threads as plain calls instead of fibers (a barrier reached anyway is a launch error).
#ifdef TSGRAD_EMU
#define TS_LAUNCH_IMPL(barrier_free, kernel, grid, block, smem, ...)                                    \
  do {                                                                                                 \
    ::emu::launch(#kernel, (grid), (block), (smem), (barrier_free), [&]() { kernel(__VA_ARGS__); });   \
    ::tsgrad::rt::check_launch(#kernel);                                                               \
  } while (0)
#define TS_LAUNCH(...) TS_LAUNCH_IMPL(false, __VA_ARGS__)
#define TS_LAUNCH_NOSYNC(...) TS_LAUNCH_IMPL(true, __VA_ARGS__)
#else
#define TS_LAUNCH(kernel, grid, block, smem, ...)                                     \
  do {                                                                               \
    kernel<<<(grid), (block), (smem), ::tsgrad::rt::stream()>>>(__VA_ARGS__);        \
    ::tsgrad::rt::check_launch(#kernel);                                             \
  } while (0)
#define TS_LAUNCH_NOSYNC(...) TS_LAUNCH(__VA_ARGS__)
#define TS_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

namespace tsgrad {

// ------------------------------------------------------------------------------------------------
// Host-side helpers for launchers
// ------------------------------------------------------------------------------------------------
inline int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

// Grid for a grid-stride loop over n items with `threads` per block.
inline unsigned grid_for(int64_t n, int threads, int max_blocks = 8192) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return unsigned(b);
}

[[noreturn]] inline void bad_arg(const char* op, const std::string& msg) { throw Error(std::string(op) + ": " + msg); }

inline void require_nonneg(const char* op, const char* name, int64_t v) {
  if (v < 0) bad_arg(op, std::string(name) + " must be >= 0, got " + std::to_string(v));
}
inline void require_pos(const char* op, const char* name, int64_t v) {
  if (v <= 0) bad_arg(op, std::string(name) + " must be > 0, got " + std::to_string(v));
}
// Element counts are indexed with 32-bit ints on the device.
inline void require_int32_size(const char* op, const char* name, int64_t v) {
  if (v < 0 || v > int64_t(INT32_MAX)) bad_arg(op, std::string(name) + " = " + std::to_string(v) + " is outside [0, 2^31)");
}
inline void range_f(const char* op, const char* arg, const void* p, int64_t count) {
  rt::check_range(p, size_t(count) * 4, op, arg);
}

// ------------------------------------------------------------------------------------------------
// Device helpers
// ------------------------------------------------------------------------------------------------
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// max that propagates NaN (as Math.max and torch.max do; fmaxf would drop it)
__device__ __forceinline__ float nan_max(float a, float b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block, returned to every thread. blockDim.x must be a multiple of 32 (<= 1024) and every
// thread of the block must call it (it contains barriers).
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // a previous call may still be reading `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < nwarps ? partial[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v) {
  __shared__ float partial[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < nwarps ? partial[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace tsgrad

// ------------------------------------------------------------------------------------------------
// Strided iteration (unary, binary, where, copy): the host coalesces the shape, the device decomposes a
// linear index into per-operand offsets.
// ------------------------------------------------------------------------------------------------

namespace tsgrad {

template <int NOPS>
struct DevStrided {
  int ndim;     // >= 1 after coalescing
  int n;        // number of elements
  bool contiguous;  // every operand has stride 1 in a single dim
  int shape[kMaxDims];
  int stride[NOPS][kMaxDims];
};

// Every operand's [min, max] element offset over the iteration space.
inline void strided_extent(const Strided& s, int op_index, int64_t* lo, int64_t* hi) {
  *lo = 0;
  *hi = 0;
  for (int d = 0; d < s.ndim; d++) {
    int64_t span = (s.shape[d] - 1) * s.stride[op_index][d];
    if (span < 0) *lo += span;
    else *hi += span;
  }
}

// Checks shape/strides, the range of every operand (elem_size bytes per element), and returns the
// coalesced device description: size-1 dims dropped, dims merged where every operand is contiguous across
// them (the same rule as the CPU backend's coalesce()).
template <int NOPS>
DevStrided<NOPS> make_strided(const char* op, const Strided& s, const void* const ptrs[NOPS], const int elem_size[NOPS],
                              const char* const names[NOPS]) {
  if (s.nops != NOPS) bad_arg(op, "internal: expected " + std::to_string(NOPS) + " operands");
  if (s.ndim < 0 || s.ndim > kMaxDims) bad_arg(op, "rank " + std::to_string(s.ndim) + " is outside [0, 8]");
  int64_t n = 1;
  for (int d = 0; d < s.ndim; d++) {
    if (s.shape[d] < 0) bad_arg(op, "negative dimension in shape");
    n *= s.shape[d];
  }
  require_int32_size(op, "number of elements", n);
  DevStrided<NOPS> r{};
  r.n = int(n);
  if (n > 0) {
    for (int k = 0; k < NOPS; k++) {
      int64_t lo, hi;
      strided_extent(s, k, &lo, &hi);
      if (lo < INT32_MIN || hi > INT32_MAX) bad_arg(op, std::string("operand '") + names[k] + "' spans more than 2^31 elements");
      const char* base = static_cast<const char*>(ptrs[k]) + lo * elem_size[k];
      rt::check_range(base, size_t(hi - lo + 1) * size_t(elem_size[k]), op, names[k]);
    }
  }
  int nd = 0;
  for (int d = 0; d < s.ndim; d++) {
    int64_t len = s.shape[d];
    if (len == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < NOPS && merge; k++) merge = int64_t(r.stride[k][nd - 1]) == s.stride[k][d] * len;
    if (merge) {
      r.shape[nd - 1] *= int(len);
      for (int k = 0; k < NOPS; k++) r.stride[k][nd - 1] = int(s.stride[k][d]);
    } else {
      r.shape[nd] = int(len);
      for (int k = 0; k < NOPS; k++) r.stride[k][nd] = int(s.stride[k][d]);
      nd++;
    }
  }
  if (nd == 0) {
    r.shape[0] = 1;
    for (int k = 0; k < NOPS; k++) r.stride[k][0] = 1;
    nd = 1;
  }
  r.ndim = nd;
  r.contiguous = nd == 1;
  for (int k = 0; k < NOPS; k++) r.contiguous = r.contiguous && r.stride[k][0] == 1;
  return r;
}

// Offsets of every operand for linear index i (last dim fastest).
template <int NOPS>
__device__ __forceinline__ void strided_offsets(const DevStrided<NOPS>& s, int i, int off[NOPS]) {
#pragma unroll
  for (int k = 0; k < NOPS; k++) off[k] = 0;
  for (int d = s.ndim - 1; d >= 0; d--) {
    int len = s.shape[d];
    int c = i % len;
    i /= len;
#pragma unroll
    for (int k = 0; k < NOPS; k++) off[k] += c * s.stride[k][d];
  }
}

// JavaScript's ToInt32 (what storing a number into an Int32Array does): truncate, wrap modulo 2^32,
// NaN and infinities give 0.
__device__ __forceinline__ int js_to_int32(double v) {
  if (!(v - v == 0.0)) return 0;  // NaN or infinite
  double t = trunc(v);
  double m = fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return int(static_cast<unsigned int>(m));
}

}  // namespace tsgrad
