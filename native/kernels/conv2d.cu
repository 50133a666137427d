// conv2d over NCHW built on gemm and im2col, with groups, dilation and per-side zero padding; mirrors
// src/tensor/ops/conv2d.ts. Per group g (Cg = C/G input channels, Og = O/G outputs, K = Cg*kh*kw):
//   forward:  Y_{b,g} [Og, OH*OW] = W_g [Og, K] @ col_{b,g} + bias     (one batched gemm per chunk of images)
//   input:    dcol_{b,g} = W_g^T @ dY_{b,g}, then dx_{b,g} = col2im(dcol_{b,g})
//   weight:   dW_g = sum_b dY_{b,g} @ col_{b,g}^T                    (one gemm per image, beta = 1 after the first)
//   bias:     db[o] = sum_{b, p} dy[b, o, p]                         (summed in double)
// Every output is written with `=`. A 1x1 kernel with stride 1 and no padding needs no im2col: col_{b,g}
// is x's planes themselves. im2col buffers come from the caching allocator, in chunks of images of at most
// 256 MiB.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
constexpr int kBiasThreads = 256;

__global__ void conv_bias_grad_kernel(float* __restrict__ db, const float* __restrict__ dy, int B, int O, int HW) {
  __shared__ double partial[kBiasThreads];
  const int o = blockIdx.x;
  double acc = 0.0;
  for (int b = 0; b < B; b++) {
    const float* row = dy + ((long long)b * O + o) * HW;
    for (int p = threadIdx.x; p < HW; p += blockDim.x) acc += double(row[p]);
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[o] = float(partial[0]);
}

constexpr int64_t kColBudgetBytes = int64_t(256) << 20;

struct Plan {
  int64_t G, Cg, Og, K, HW, OHW;
  bool direct;    // 1x1, stride 1, no padding: col_{b,g} = x_{b,g}
  int64_t chunk;  // images per im2col buffer
  ConvGeom unfold;  // im2col geometry of one group (C = Cg)
};

Plan plan(const char* op, const ConvGeom& g) {
  for (int64_t v : {g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.groups})
    if (v <= 0) bad_arg(op, "channels, sizes, kernel, stride, dilation and groups must be positive");
  require_nonneg(op, "B", g.B);
  if (g.pt < 0 || g.pb < 0 || g.pl < 0 || g.pr < 0) bad_arg(op, "padding must be >= 0");
  if (g.C % g.groups || g.O % g.groups)
    bad_arg(op, "groups " + std::to_string(g.groups) + " must divide C " + std::to_string(g.C) + " and O " + std::to_string(g.O));
  Plan p;
  const int64_t OH = g.OH(), OW = g.OW();
  if (OH < 1 || OW < 1) bad_arg(op, "output size " + std::to_string(OH) + "x" + std::to_string(OW) + " is empty");
  p.G = g.groups;
  p.Cg = g.C / g.groups;
  p.Og = g.O / g.groups;
  p.K = p.Cg * g.kh * g.kw;
  p.HW = g.H * g.W;
  p.OHW = OH * OW;
  p.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pb == 0 && g.pl == 0 && g.pr == 0;
  p.chunk = std::max<int64_t>(1, std::min<int64_t>(g.B, kColBudgetBytes / std::max<int64_t>(p.K * p.OHW * 4, 1)));
  p.unfold = g;
  p.unfold.C = p.Cg;
  require_int32_size(op, "im2col buffer", p.chunk * p.K * p.OHW);
  require_int32_size(op, "input size", g.B * g.C * p.HW);
  require_int32_size(op, "output size", g.B * g.O * p.OHW);
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void conv2d(float* y, const float* x, const float* w, const float* bias, const ConvGeom& g) {
  const char* name = "conv2d";
  rt::require(name);
  Plan p = plan(name, g);
  range_f(name, "y", y, g.B * g.O * p.OHW);
  range_f(name, "x", x, g.B * g.C * p.HW);
  range_f(name, "w", w, g.O * p.K);
  if (bias) range_f(name, "bias", bias, g.O);
  if (g.B == 0) return;
  // Y_{b,g} [Og, OHW] = W_g [Og, K] @ col_{b,g} [K, OHW]
  GemmArgs a;
  a.M = p.Og;
  a.N = p.OHW;
  a.K = p.K;
  a.lda = p.K;
  a.ldb = p.OHW;
  a.ldc = p.OHW;
  a.biasMode = bias ? kBiasRow : kBiasNone;
  a.strideA = 0;
  a.strideC = g.O * p.OHW;
  std::unique_ptr<rt::Scratch> col;
  if (!p.direct) col.reset(new rt::Scratch(size_t(p.chunk * p.K * p.OHW) * 4));
  for (int64_t b0 = 0; b0 < g.B; b0 += p.chunk) {
    const int64_t nb = p.direct ? g.B : std::min(p.chunk, g.B - b0);
    for (int64_t gi = 0; gi < p.G; gi++) {
      const float* xg = x + (b0 * g.C + gi * p.Cg) * p.HW;
      if (p.direct) {
        a.B = xg;
        a.strideB = g.C * p.HW;
      } else {
        ConvGeom u = p.unfold;
        u.B = nb;
        im2col(col->as<float>(), xg, u, g.C * p.HW);
        a.B = col->as<float>();
        a.strideB = p.K * p.OHW;
      }
      a.A = w + gi * p.Og * p.K;
      a.bias = bias ? bias + gi * p.Og : nullptr;
      a.C = y + (b0 * g.O + gi * p.Og) * p.OHW;
      a.batch = nb;
      gemm(a);
    }
    if (p.direct) break;
  }
}

void conv2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeom& g) {
  const char* name = "conv2d_backward_input";
  rt::require(name);
  Plan p = plan(name, g);
  range_f(name, "dx", dx, g.B * g.C * p.HW);
  range_f(name, "dy", dy, g.B * g.O * p.OHW);
  range_f(name, "w", w, g.O * p.K);
  if (g.B == 0) return;
  // dcol_{b,g} [K, OHW] = W_g^T [K, Og] @ dY_{b,g} [Og, OHW]   (W_g stored [Og, K])
  GemmArgs a;
  a.transA = true;
  a.M = p.K;
  a.N = p.OHW;
  a.K = p.Og;
  a.lda = p.K;
  a.ldb = p.OHW;
  a.ldc = p.OHW;
  a.strideA = 0;
  a.strideB = g.O * p.OHW;
  std::unique_ptr<rt::Scratch> col;
  if (!p.direct) col.reset(new rt::Scratch(size_t(p.chunk * p.K * p.OHW) * 4));
  for (int64_t b0 = 0; b0 < g.B; b0 += p.chunk) {
    const int64_t nb = p.direct ? g.B : std::min(p.chunk, g.B - b0);
    for (int64_t gi = 0; gi < p.G; gi++) {
      float* dxg = dx + (b0 * g.C + gi * p.Cg) * p.HW;
      a.A = w + gi * p.Og * p.K;
      a.B = dy + (b0 * g.O + gi * p.Og) * p.OHW;
      a.batch = nb;
      if (p.direct) {
        a.C = dxg;
        a.strideC = g.C * p.HW;
        gemm(a);
      } else {
        a.C = col->as<float>();
        a.strideC = p.K * p.OHW;
        gemm(a);
        ConvGeom u = p.unfold;
        u.B = nb;
        col2im(dxg, col->as<float>(), u, g.C * p.HW);
      }
    }
    if (p.direct) break;
  }
}

void conv2d_backward_weight(float* dw, const float* x, const float* dy, const ConvGeom& g) {
  const char* name = "conv2d_backward_weight";
  rt::require(name);
  Plan p = plan(name, g);
  range_f(name, "dw", dw, g.O * p.K);
  range_f(name, "dy", dy, g.B * g.O * p.OHW);
  range_f(name, "x", x, g.B * g.C * p.HW);
  if (g.B == 0) {
    fill(dw, kFloat32, g.O * p.K, 0.0);
    return;
  }
  // dW_g [Og, K] (+)= dY_{b,g} [Og, OHW] @ col_{b,g}^T   (col_{b,g} stored [K, OHW])
  GemmArgs a;
  a.M = p.Og;
  a.N = p.K;
  a.K = p.OHW;
  a.transB = true;
  a.lda = p.OHW;
  a.ldb = p.OHW;
  a.ldc = p.K;
  a.batch = 1;
  std::unique_ptr<rt::Scratch> col;
  if (!p.direct) col.reset(new rt::Scratch(size_t(p.chunk * p.K * p.OHW) * 4));
  for (int64_t b0 = 0; b0 < g.B; b0 += p.chunk) {
    const int64_t nb = std::min(p.chunk, g.B - b0);
    for (int64_t gi = 0; gi < p.G; gi++) {
      const float* xg = x + (b0 * g.C + gi * p.Cg) * p.HW;
      if (!p.direct) {
        ConvGeom u = p.unfold;
        u.B = nb;
        im2col(col->as<float>(), xg, u, g.C * p.HW);
      }
      a.C = dw + gi * p.Og * p.K;
      for (int64_t i = 0; i < nb; i++) {
        a.A = dy + ((b0 + i) * g.O + gi * p.Og) * p.OHW;
        a.B = p.direct ? xg + i * g.C * p.HW : col->as<float>() + i * p.K * p.OHW;
        a.beta = (b0 == 0 && i == 0) ? 0.0f : 1.0f;
        gemm(a);
      }
    }
  }
}

void conv2d_backward_bias(float* db, const float* dy, int64_t B, int64_t O, int64_t HW) {
  const char* name = "conv2d_backward_bias";
  rt::require(name);
  require_nonneg(name, "B", B);
  require_pos(name, "O", O);
  require_nonneg(name, "HW", HW);
  require_int32_size(name, "B*O*HW", B * O * HW);
  range_f(name, "db", db, O);
  range_f(name, "dy", dy, B * O * HW);
  TS_LAUNCH(conv_bias_grad_kernel, unsigned(O), kBiasThreads, 0, db, dy, int(B), int(O), int(HW));
}

}  // namespace tsgrad
