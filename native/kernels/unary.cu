// unary: y = f(x) elementwise over a strided iteration space (y and x may be any views of one shape).
//
// Formulas (float32 unless noted; p0, p1 are the op's parameters, given as doubles):
//   identity x | neg -x | abs |x| | sign (x > 0) - (x < 0) (NaN -> 0) | exp | log | sqrt | rsqrt 1/sqrt(x)
//   square x*x | reciprocal 1/x | sin | cos | tanh | sigmoid 1/(1 + exp(-x))
//   relu x > 0 ? x : 0 | leakyRelu x > 0 ? x : (float)p0 * x        (PyTorch; float32 product)
//   leakyDarknet x > 0 ? x : (float)(p0 * (double)x)               (Darknet's `.1*x` in double, SEMANTICS 6.3)
//   sigmoidDarknet (float)(1 / (1 + exp(-(double)x)))              (Darknet's logistic, in double)
//   softplus log(1 + exp(x)) (x for x > 20) | silu x * sigmoid(x) | mish x * tanh(softplus(x))
//   floor | ceil | round (half to even) | trunc
//   clamp x < p0 ? p0 : x > p1 ? p1 : x | heaviside x > 0 ? 1 : p0 | inRange p0 <= x <= p1 ? 1 : 0
//   addScalar x + p0 | mulScalar x * p0 | rsubScalar p0 - x | rdivScalar p0 / x | powScalar x^p0
//   maximumScalar / minimumScalar: max/min(x, p0), NaN in x propagates
// The comparisons follow src/tensor/ops/unary.ts (NaN compares false). Output written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
__device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

__device__ __forceinline__ float unary_op(int op, float x, double p0, double p1) {
  const float f0 = float(p0), f1 = float(p1);
  switch (op) {
    case kUnaryIdentity: return x;
    case kUnaryNeg: return -x;
    case kUnaryAbs: return fabsf(x);
    case kUnarySign: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case kUnaryExp: return expf(x);
    case kUnaryLog: return logf(x);
    case kUnarySqrt: return sqrtf(x);
    case kUnaryRsqrt: return 1.0f / sqrtf(x);
    case kUnarySquare: return x * x;
    case kUnaryReciprocal: return 1.0f / x;
    case kUnarySin: return sinf(x);
    case kUnaryCos: return cosf(x);
    case kUnaryTanh: return tanhf(x);
    case kUnarySigmoid: return 1.0f / (1.0f + expf(-x));
    case kUnaryRelu: return x > 0.0f ? x : 0.0f;
    case kUnaryLeakyRelu: return x > 0.0f ? x : __fmul_rn(f0, x);
    case kUnaryLeakyDarknet: return x > 0.0f ? x : float(p0 * double(x));
    case kUnarySigmoidDarknet: return float(1.0 / (1.0 + exp(-double(x))));
    case kUnarySoftplus: return softplus_f(x);
    case kUnarySilu: return x / (1.0f + expf(-x));
    case kUnaryMish: return x * tanhf(softplus_f(x));
    case kUnaryFloor: return floorf(x);
    case kUnaryCeil: return ceilf(x);
    case kUnaryRound: return rintf(x);
    case kUnaryTrunc: return truncf(x);
    case kUnaryClamp: return x < f0 ? f0 : (x > f1 ? f1 : x);
    case kUnaryHeaviside: return x > 0.0f ? 1.0f : f0;
    case kUnaryInRange: return (x >= f0 && x <= f1) ? 1.0f : 0.0f;
    case kUnaryAddScalar: return x + f0;
    case kUnaryMulScalar: return x * f0;
    case kUnaryRsubScalar: return f0 - x;
    case kUnaryRdivScalar: return f0 / x;
    case kUnaryPowScalar: return powf(x, f0);
    case kUnaryMaximumScalar: return (x > f0 || x != x) ? x : f0;
    case kUnaryMinimumScalar: return (x < f0 || x != x) ? x : f0;
  }
  return x;
}

// One kernel for every op: the switch on the (block-uniform) op costs a branch per element, which a
// memory-bound elementwise kernel does not notice, and keeps the build small.
__global__ void unary_kernel(float* __restrict__ y, const float* __restrict__ x, DevStrided<2> s, int op, double p0,
                             double p1) {
  int stride = gridDim.x * blockDim.x;
  if (s.contiguous) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) y[i] = unary_op(op, x[i], p0, p1);
  } else {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.n; i += stride) {
      int off[2];
      strided_offsets<2>(s, i, off);
      y[off[0]] = unary_op(op, x[off[1]], p0, p1);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void unary(float* y, const float* x, const Strided& s, int op, double p0, double p1) {
  const char* name = "unary";
  rt::require(name);
  if (op < 0 || op >= kUnaryCount) bad_arg(name, "unknown op code " + std::to_string(op));
  const void* ptrs[2] = {y, x};
  const int sizes[2] = {4, 4};
  const char* names[2] = {"y", "x"};
  DevStrided<2> d = make_strided<2>(name, s, ptrs, sizes, names);
  if (d.n == 0) return;
  TS_LAUNCH_NOSYNC(unary_kernel, grid_for(d.n, 256), 256, 0, y, x, d, op, p0, p1);
}

}  // namespace tsgrad
