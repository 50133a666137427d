// binary: out = a op b elementwise with NumPy broadcasting, expressed as per-operand strides over the
// output shape (stride 0 on broadcast dims; up to 8 dims; any operand may be a strided view).
//
//   add a + b | sub a - b | mul a * b | div a / b | pow a^b
//   maximum: a > b || a is NaN ? a : b | minimum: a < b || a is NaN ? a : b      (NaN in either side wins)
//   eq ne lt le gt ge: 1 or 0 (NaN compares false, except ne)
// float32: computed in float32. int32: computed in double and stored with JavaScript's ToInt32, so the
// results equal the CPU backend's (an Int32Array store of the double result). Output written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
template <class T>
__device__ __forceinline__ T binary_op(int op, T a, T b) {
  switch (op) {
    case kBinaryAdd: return a + b;
    case kBinarySub: return a - b;
    case kBinaryMul: return a * b;
    case kBinaryDiv: return a / b;
    case kBinaryPow: return pow(a, b);
    case kBinaryMaximum: return (a > b || a != a) ? a : b;
    case kBinaryMinimum: return (a < b || a != a) ? a : b;
    case kBinaryEq: return a == b ? T(1) : T(0);
    case kBinaryNe: return a != b ? T(1) : T(0);
    case kBinaryLt: return a < b ? T(1) : T(0);
    case kBinaryLe: return a <= b ? T(1) : T(0);
    case kBinaryGt: return a > b ? T(1) : T(0);
    case kBinaryGe: return a >= b ? T(1) : T(0);
  }
  return a;
}
template <>
__device__ __forceinline__ float binary_op<float>(int op, float a, float b) {
  switch (op) {
    case kBinaryAdd: return a + b;
    case kBinarySub: return a - b;
    case kBinaryMul: return a * b;
    case kBinaryDiv: return a / b;
    case kBinaryPow: return powf(a, b);
    case kBinaryMaximum: return (a > b || a != a) ? a : b;
    case kBinaryMinimum: return (a < b || a != a) ? a : b;
    case kBinaryEq: return a == b ? 1.0f : 0.0f;
    case kBinaryNe: return a != b ? 1.0f : 0.0f;
    case kBinaryLt: return a < b ? 1.0f : 0.0f;
    case kBinaryLe: return a <= b ? 1.0f : 0.0f;
    case kBinaryGt: return a > b ? 1.0f : 0.0f;
    case kBinaryGe: return a >= b ? 1.0f : 0.0f;
  }
  return a;
}

__global__ void binary_f32_kernel(float* __restrict__ out, const float* __restrict__ a, const float* __restrict__ b,
                                  DevStrided<3> s, int op) {
  int stride = gridDim.x * blockDim.x;
  if (s.contiguous) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) out[i] = binary_op<float>(op, a[i], b[i]);
  } else {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) {
      int off[3];
      strided_offsets<3>(s, i, off);
      out[off[0]] = binary_op<float>(op, a[off[1]], b[off[2]]);
    }
  }
}

__global__ void binary_i32_kernel(int* __restrict__ out, const int* __restrict__ a, const int* __restrict__ b,
                                  DevStrided<3> s, int op) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += gridDim.x * blockDim.x) {
    int off[3];
    strided_offsets<3>(s, i, off);
    out[off[0]] = js_to_int32(binary_op<double>(op, double(a[off[1]]), double(b[off[2]])));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void binary(void* out, const void* a, const void* b, const Strided& s, int op, int dtype) {
  const char* name = "binary";
  rt::require(name);
  if (op < 0 || op >= kBinaryCount) bad_arg(name, "unknown op code " + std::to_string(op));
  const void* ptrs[3] = {out, a, b};
  const int sizes[3] = {4, 4, 4};
  const char* names[3] = {"out", "a", "b"};
  DevStrided<3> d = make_strided<3>(name, s, ptrs, sizes, names);
  if (d.n == 0) return;
  if (dtype == kFloat32) {
    TS_LAUNCH_NOSYNC(binary_f32_kernel, grid_for(d.n, 256), 256, 0, static_cast<float*>(out), static_cast<const float*>(a),
              static_cast<const float*>(b), d, op);
  } else if (dtype == kInt32) {
    TS_LAUNCH_NOSYNC(binary_i32_kernel, grid_for(d.n, 256), 256, 0, static_cast<int*>(out), static_cast<const int*>(a),
              static_cast<const int*>(b), d, op);
  } else {
    bad_arg(name, "unknown dtype code " + std::to_string(dtype));
  }
}

}  // namespace tsgrad
