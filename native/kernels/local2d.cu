// local2d: Darknet's locally connected layer ([local]); mirrors src/tensor/ops/local2d.ts.
//   y[b, o, l] = bias[o, l] + sum_r w[l, o, r] * patch_{b,l}[r]      l = oy*OW + ox, r = (c*kh + i)*kw + j
// weight [L, O, K] (Darknet's locations x n x c*size*size), bias [O, L], K = C*kh*kw.
// Built from the other kernels, location-major so that each location is one GEMM over the batch:
//   rows [L, K, B]  = im2col with col strides (1, B, K*B)             (patches of every image, per location)
//   forward:  T_l [O, B] = W_l [O, K] @ rows_l     (batched over l), y[b, o, l] = T[l, o, b] (+ bias)
//   input:    G_l [O, B] = dy[b, o, l];  drows_l = W_l^T @ G_l;  dx = col2im(drows)
//   weight:   dW_l [O, K] = G_l @ rows_l^T
// Every output is written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

struct Plan {
  int64_t B, O, K, L;
  int64_t rows_strides[3];  // im2col col strides for rows [L, K, B]
};

Plan plan(const char* op, const ConvGeom& g) {
  if (g.groups != 1 || g.dh != 1 || g.dw != 1) bad_arg(op, "groups and dilation must be 1");
  for (int64_t v : {g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw})
    if (v <= 0) bad_arg(op, "channels, sizes, kernel and stride must be positive");
  require_nonneg(op, "B", g.B);
  const int64_t OH = g.OH(), OW = g.OW();
  if (OH < 1 || OW < 1) bad_arg(op, "empty output");
  Plan p{g.B, g.O, g.C * g.kh * g.kw, OH * OW, {1, g.B, g.C * g.kh * g.kw * g.B}};
  require_int32_size(op, "rows buffer", p.L * p.K * p.B);
  require_int32_size(op, "output", p.L * p.O * p.B);
  require_int32_size(op, "weight", p.L * p.O * p.K);
  return p;
}

// dst [L, O, B] = src [B, O, L] (or the reverse): a strided copy.
void locations_first(float* dst, const float* src, const Plan& p) {
  Strided s;
  s.ndim = 3;
  s.nops = 2;
  const int64_t shape[3] = {p.L, p.O, p.B};
  const int64_t ds[3] = {p.O * p.B, p.B, 1}, ss[3] = {1, p.L, p.O * p.L};
  for (int d = 0; d < 3; d++) {
    s.shape[d] = shape[d];
    s.stride[0][d] = ds[d];
    s.stride[1][d] = ss[d];
  }
  copy(dst, kFloat32, src, kFloat32, s);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void local2d(float* y, const float* x, const float* w, const float* bias, const ConvGeom& g) {
  const char* name = "local2d";
  rt::require(name);
  Plan p = plan(name, g);
  range_f(name, "y", y, p.B * p.O * p.L);
  range_f(name, "x", x, g.B * g.C * g.H * g.W);
  range_f(name, "w", w, p.L * p.O * p.K);
  if (bias) range_f(name, "bias", bias, p.O * p.L);
  if (p.B == 0) return;
  rt::Scratch rows(size_t(p.L * p.K * p.B) * 4), t(size_t(p.L * p.O * p.B) * 4);
  im2col(rows.as<float>(), x, g, 0, p.rows_strides);
  GemmArgs a;
  a.A = w;
  a.B = rows.as<float>();
  a.C = t.as<float>();
  a.M = p.O;
  a.N = p.B;
  a.K = p.K;
  a.lda = p.K;
  a.ldb = p.B;
  a.ldc = p.B;
  a.batch = p.L;
  a.strideA = p.O * p.K;
  a.strideB = p.K * p.B;
  a.strideC = p.O * p.B;
  gemm(a);
  // y [B, O, L] = T [L, O, B] permuted, then + bias [O, L] broadcast over the batch
  Strided s;
  s.ndim = 3;
  s.nops = 2;
  const int64_t shape[3] = {p.B, p.O, p.L}, ys[3] = {p.O * p.L, p.L, 1}, ts[3] = {1, p.B, p.O * p.B};
  for (int d = 0; d < 3; d++) {
    s.shape[d] = shape[d];
    s.stride[0][d] = ys[d];
    s.stride[1][d] = ts[d];
  }
  copy(y, kFloat32, t.as<float>(), kFloat32, s);
  if (bias) {
    Strided b;
    b.ndim = 3;
    b.nops = 3;
    const int64_t bs[3] = {0, p.L, 1};
    for (int d = 0; d < 3; d++) {
      b.shape[d] = shape[d];
      b.stride[0][d] = ys[d];
      b.stride[1][d] = bs[d];
      b.stride[2][d] = ys[d];
    }
    binary(y, bias, y, b, kBinaryAdd, kFloat32);  // bias + t, the CPU backend's order
  }
}

void local2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeom& g) {
  const char* name = "local2d_backward_input";
  rt::require(name);
  Plan p = plan(name, g);
  range_f(name, "dx", dx, g.B * g.C * g.H * g.W);
  range_f(name, "dy", dy, p.B * p.O * p.L);
  range_f(name, "w", w, p.L * p.O * p.K);
  if (p.B == 0) return;
  rt::Scratch gl(size_t(p.L * p.O * p.B) * 4), drows(size_t(p.L * p.K * p.B) * 4);
  locations_first(gl.as<float>(), dy, p);
  // drows_l [K, B] = W_l^T [K, O] @ G_l [O, B]
  GemmArgs a;
  a.A = w;
  a.transA = true;
  a.B = gl.as<float>();
  a.C = drows.as<float>();
  a.M = p.K;
  a.N = p.B;
  a.K = p.O;
  a.lda = p.K;
  a.ldb = p.B;
  a.ldc = p.B;
  a.batch = p.L;
  a.strideA = p.O * p.K;
  a.strideB = p.O * p.B;
  a.strideC = p.K * p.B;
  gemm(a);
  col2im(dx, drows.as<float>(), g, 0, p.rows_strides);
}

void local2d_backward_weight(float* dw, const float* x, const float* dy, const ConvGeom& g) {
  const char* name = "local2d_backward_weight";
  rt::require(name);
  Plan p = plan(name, g);
  range_f(name, "dw", dw, p.L * p.O * p.K);
  range_f(name, "x", x, g.B * g.C * g.H * g.W);
  range_f(name, "dy", dy, p.B * p.O * p.L);
  if (p.B == 0) {
    fill(dw, kFloat32, p.L * p.O * p.K, 0.0);
    return;
  }
  rt::Scratch rows(size_t(p.L * p.K * p.B) * 4), gl(size_t(p.L * p.O * p.B) * 4);
  im2col(rows.as<float>(), x, g, 0, p.rows_strides);
  locations_first(gl.as<float>(), dy, p);
  // dW_l [O, K] = G_l [O, B] @ rows_l^T   (rows_l stored [K, B])
  GemmArgs a;
  a.A = gl.as<float>();
  a.B = rows.as<float>();
  a.transB = true;
  a.C = dw;
  a.M = p.O;
  a.N = p.K;
  a.K = p.B;
  a.lda = p.B;
  a.ldb = p.B;
  a.ldc = p.K;
  a.batch = p.L;
  a.strideA = p.O * p.B;
  a.strideB = p.K * p.B;
  a.strideC = p.O * p.K;
  gemm(a);
}

}  // namespace tsgrad
