// where: out = cond != 0 ? a : b elementwise with broadcasting (per-operand strides over out's shape).
// cond has the dtype of a and b (float32: NaN counts as non-zero, as in JavaScript). Output written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
template <class T>
__global__ void where_kernel(T* __restrict__ out, const T* __restrict__ cond, const T* __restrict__ a,
                             const T* __restrict__ b, DevStrided<4> s) {
  int stride = gridDim.x * blockDim.x;
  if (s.contiguous) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) out[i] = cond[i] != T(0) ? a[i] : b[i];
  } else {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) {
      int off[4];
      strided_offsets<4>(s, i, off);
      out[off[0]] = cond[off[1]] != T(0) ? a[off[2]] : b[off[3]];
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void where(void* out, const void* cond, const void* a, const void* b, const Strided& s, int dtype) {
  const char* name = "where";
  rt::require(name);
  const void* ptrs[4] = {out, cond, a, b};
  const int sizes[4] = {4, 4, 4, 4};
  const char* names[4] = {"out", "cond", "a", "b"};
  DevStrided<4> d = make_strided<4>(name, s, ptrs, sizes, names);
  if (d.n == 0) return;
  if (dtype == kFloat32) {
    auto k = where_kernel<float>;
    TS_LAUNCH_NOSYNC(k, grid_for(d.n, 256), 256, 0, static_cast<float*>(out), static_cast<const float*>(cond),
              static_cast<const float*>(a), static_cast<const float*>(b), d);
  } else if (dtype == kInt32) {
    auto k = where_kernel<int>;
    TS_LAUNCH_NOSYNC(k, grid_for(d.n, 256), 256, 0, static_cast<int*>(out), static_cast<const int*>(cond),
              static_cast<const int*>(a), static_cast<const int*>(b), d);
  } else {
    bad_arg(name, "unknown dtype code " + std::to_string(dtype));
  }
}

}  // namespace tsgrad
