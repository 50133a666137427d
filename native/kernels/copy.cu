// copy: dst = cast(src) elementwise over a strided iteration space. Serves contiguous(), clone(), writes
// into slices (cat), expand materialisation and dtype casts.
//   float32 -> float32, int32 -> int32: bit copy
//   int32 -> float32: rounded to nearest
//   float32 -> int32: truncated toward zero, then wrapped like JavaScript's ToInt32 (NaN, inf -> 0), which
//                     is what the CPU backend's Math.trunc + Int32Array store gives
// Output written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
template <class D, class S>
__device__ __forceinline__ D convert(S v) {
  return D(v);
}
template <>
__device__ __forceinline__ int convert<int, float>(float v) {
  return js_to_int32(double(v));
}

template <class D, class S>
__global__ void copy_kernel(D* __restrict__ dst, const S* __restrict__ src, DevStrided<2> s) {
  int stride = gridDim.x * blockDim.x;
  if (s.contiguous) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) dst[i] = convert<D, S>(src[i]);
  } else {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) {
      int off[2];
      strided_offsets<2>(s, i, off);
      dst[off[0]] = convert<D, S>(src[off[1]]);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void copy(void* dst, int dst_dtype, const void* src, int src_dtype, const Strided& s) {
  const char* name = "copy";
  rt::require(name);
  for (int t : {dst_dtype, src_dtype})
    if (t != kFloat32 && t != kInt32) bad_arg(name, "unknown dtype code " + std::to_string(t));
  const void* ptrs[2] = {dst, src};
  const int sizes[2] = {4, 4};
  const char* names[2] = {"dst", "src"};
  DevStrided<2> d = make_strided<2>(name, s, ptrs, sizes, names);
  if (d.n == 0) return;
  unsigned grid = grid_for(d.n, 256);
  if (dst_dtype == src_dtype) {
    // Same type: a 32-bit bit copy.
    auto k = copy_kernel<unsigned, unsigned>;
    TS_LAUNCH_NOSYNC(k, grid, 256, 0, static_cast<unsigned*>(dst), static_cast<const unsigned*>(src), d);
  } else if (dst_dtype == kFloat32) {
    auto k = copy_kernel<float, int>;
    TS_LAUNCH_NOSYNC(k, grid, 256, 0, static_cast<float*>(dst), static_cast<const int*>(src), d);
  } else {
    auto k = copy_kernel<int, float>;
    TS_LAUNCH_NOSYNC(k, grid, 256, 0, static_cast<int*>(dst), static_cast<const float*>(src), d);
  }
}

}  // namespace tsgrad
