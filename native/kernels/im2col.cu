// im2col / col2im for 2-D convolution over NCHW (zero padding, stride, dilation).
//   im2col: col[b][(c*kh + i)*kw + j][oy*OW + ox] = x[b][c][oy*sh - pt + i*dh][ox*sw - pl + j*dw]
//           (0 where the tap falls in the padding); col is [B, C*kh*kw, OH*OW]; images of x are
//           `x_batch_stride` elements apart (conv2d unfolds one group of channels of a wider tensor), and
//           col may have any strides (local2d stores it location-major, [OH*OW, C*kh*kw, B]).
//   col2im: its adjoint, x[b][c][h][w] = sum of the col entries im2col reads from (h, w); computed as a
//           gather (each input cell sums its own taps in (i, j) order: deterministic, no atomics).
// Outputs written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
struct Geom {
  int C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;  // ph, pw: top and left padding
  long long xbs;                                       // batch stride of x
  long long csb, csr, csp;                             // col strides (image, row, position)
};

__global__ void im2col_kernel(float* __restrict__ col, const float* __restrict__ x, Geom g, int total) {
  const int ohw = g.OH * g.OW, ckk = g.C * g.kh * g.kw;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int p = t % ohw;
    const int r = (t / ohw) % ckk;
    const int b = t / (ohw * ckk);
    const int oy = p / g.OW, ox = p - oy * g.OW;
    const int j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
    const int h = oy * g.sh - g.ph + i * g.dh, w = ox * g.sw - g.pw + j * g.dw;
    float v = 0.0f;
    if (h >= 0 && h < g.H && w >= 0 && w < g.W) v = x[b * g.xbs + ((long long)c * g.H + h) * g.W + w];
    col[b * g.csb + r * g.csr + p * g.csp] = v;
  }
}

__global__ void col2im_kernel(float* __restrict__ x, const float* __restrict__ col, Geom g, int total) {
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int w = t % g.W;
    const int h = (t / g.W) % g.H;
    const int c = (t / (g.W * g.H)) % g.C;
    const int b = t / (g.W * g.H * g.C);
    const float* colb = col + b * g.csb;
    float acc = 0.0f;
    for (int i = 0; i < g.kh; i++) {
      const int ty = h + g.ph - i * g.dh;  // = oy * sh
      if (ty < 0 || ty % g.sh != 0) continue;
      const int oy = ty / g.sh;
      if (oy >= g.OH) continue;
      for (int j = 0; j < g.kw; j++) {
        const int tx = w + g.pw - j * g.dw;
        if (tx < 0 || tx % g.sw != 0) continue;
        const int ox = tx / g.sw;
        if (ox >= g.OW) continue;
        acc += colb[((c * g.kh + i) * g.kw + j) * g.csr + (oy * g.OW + ox) * g.csp];
      }
    }
    x[b * g.xbs + ((long long)c * g.H + h) * g.W + w] = acc;
  }
}

Geom device_geom(const char* op, const ConvGeom& g, int64_t xbs, const int64_t* cs) {
  for (int64_t v : {g.C, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw})
    if (v <= 0) bad_arg(op, "sizes, kernel, stride and dilation must be positive");
  if (g.pt < 0 || g.pb < 0 || g.pl < 0 || g.pr < 0) bad_arg(op, "padding must be >= 0");
  require_nonneg(op, "B", g.B);
  if (xbs < g.C * g.H * g.W) bad_arg(op, "x batch stride " + std::to_string(xbs) + " < C*H*W");
  const int64_t OH = g.OH(), OW = g.OW();
  if (OH < 1 || OW < 1)
    bad_arg(op, "output size " + std::to_string(OH) + "x" + std::to_string(OW) + " for input " + std::to_string(g.H) + "x" +
                    std::to_string(g.W) + ", kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw));
  require_int32_size(op, "col size", g.B * g.C * g.kh * g.kw * OH * OW);
  require_int32_size(op, "input size", g.B * g.C * g.H * g.W);
  const int64_t ckk = g.C * g.kh * g.kw, ohw = OH * OW;
  Geom d{int(g.C), int(g.H), int(g.W), int(g.kh), int(g.kw), int(g.sh), int(g.sw), int(g.pt), int(g.pl),
         int(g.dh), int(g.dw), int(OH), int(OW), (long long)xbs, 0, 0, 0};
  d.csb = cs ? cs[0] : ckk * ohw;
  d.csr = cs ? cs[1] : ohw;
  d.csp = cs ? cs[2] : 1;
  if (d.csb < 0 || d.csr < 0 || d.csp < 0) bad_arg(op, "col strides must be >= 0");
  return d;
}

// Elements of col touched (one past the largest offset).
int64_t col_extent(const ConvGeom& g, const Geom& d) {
  const int64_t ckk = g.C * g.kh * g.kw, ohw = int64_t(d.OH) * d.OW;
  if (g.B == 0 || ckk == 0 || ohw == 0) return 0;
  return (g.B - 1) * d.csb + (ckk - 1) * d.csr + (ohw - 1) * d.csp + 1;
}

// Elements of x touched by B images of C planes each, xbs apart.
int64_t x_extent(const ConvGeom& g, int64_t xbs) { return g.B > 0 ? (g.B - 1) * xbs + g.C * g.H * g.W : 0; }

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void im2col(float* col, const float* x, const ConvGeom& g, int64_t x_batch_stride, const int64_t* col_strides) {
  const char* name = "im2col";
  rt::require(name);
  const int64_t xbs = x_batch_stride ? x_batch_stride : g.C * g.H * g.W;
  Geom d = device_geom(name, g, xbs, col_strides);
  const int64_t total = g.B * g.C * g.kh * g.kw * d.OH * d.OW;
  range_f(name, "col", col, col_extent(g, d));
  range_f(name, "x", x, x_extent(g, xbs));
  require_int32_size(name, "col extent", col_extent(g, d));
  if (total == 0) return;
  TS_LAUNCH_NOSYNC(im2col_kernel, grid_for(total, 256), 256, 0, col, x, d, int(total));
}

void col2im(float* x, const float* col, const ConvGeom& g, int64_t x_batch_stride, const int64_t* col_strides) {
  const char* name = "col2im";
  rt::require(name);
  const int64_t xbs = x_batch_stride ? x_batch_stride : g.C * g.H * g.W;
  Geom d = device_geom(name, g, xbs, col_strides);
  const int64_t total = g.B * g.C * g.H * g.W;
  range_f(name, "x", x, x_extent(g, xbs));
  range_f(name, "col", col, col_extent(g, d));
  require_int32_size(name, "col extent", col_extent(g, d));
  if (total == 0) return;
  TS_LAUNCH_NOSYNC(col2im_kernel, grid_for(total, 256), 256, 0, x, col, d, int(total));
}

}  // namespace tsgrad
