// reorg: space-to-depth by stride s of x [B, C, H, W] into y [B, C*s*s, H/s, W/s], in three orders.
// Per batch item, with out (oc, i, j) and input (c, h, w):
//   darknet (Darknet's reorg layer, reorg_cpu(..., forward=0); SEMANTICS 6.5): the flat output, off < s*s,
//     c2 < C/(s*s), jj < H, ii < W (the *input's* H and W), is
//       out[((off*(C/s^2) + c2)*H + jj)*W + ii] = in[(c2*s*H + s*jj + off/s)*(s*W) + s*ii + off%s]
//     i.e. the input is reinterpreted as [C/s^2, s*H, s*W]; the result is read as [C*s*s, H/s, W/s].
//   pixelUnshuffle (F.pixel_unshuffle): y[c*s*s + dy*s + dx, i, j] = x[c, s*i + dy, s*j + dx]
//   ardi (torch-refs reorg_ardi):       y[(dy*s + dx)*C + c, i, j] = x[c, s*i + dy, s*j + dx]
// Each is a permutation; backward applies its inverse (dx[in(o)] = dy[o]). Outputs written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
// Input index (within one batch item) of output element o.
__device__ __forceinline__ int reorg_source(int o, int C, int H, int W, int s, int mode) {
  if (mode == kReorgDarknet) {
    const int ii = o % W, jj = (o / W) % H, k = o / (W * H);
    const int cs = C / (s * s);
    const int c2 = k % cs, off = k / cs;
    return ((c2 * s * H) + s * jj + off / s) * (s * W) + s * ii + off % s;
  }
  const int oh = H / s, ow = W / s;
  const int j = o % ow, i = (o / ow) % oh, oc = o / (ow * oh);
  int c, dy, dx;
  if (mode == kReorgPixelUnshuffle) {
    c = oc / (s * s);
    dy = (oc % (s * s)) / s;
    dx = oc % s;
  } else {
    c = oc % C;
    dy = (oc / C) / s;
    dx = (oc / C) % s;
  }
  return (c * H + s * i + dy) * W + s * j + dx;
}

__global__ void reorg_kernel(float* __restrict__ out, const float* __restrict__ in, int C, int H, int W, int s, int mode,
                             bool backward, int per_item, int total) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const int b = t / per_item, o = t - b * per_item;
    const long long src = (long long)b * per_item + reorg_source(o, C, H, W, s, mode);
    if (backward) out[src] = in[t];  // out = dx (input layout), in = dy (output layout)
    else out[t] = in[src];
  }
}

void launch(const char* name, float* out, const float* in, int64_t B, int64_t C, int64_t H, int64_t W, int64_t s,
            int mode, bool backward) {
  rt::require(name);
  require_nonneg(name, "B", B);
  for (int64_t v : {C, H, W, s})
    if (v <= 0) bad_arg(name, "C, H, W and stride must be positive");
  if (mode < kReorgDarknet || mode > kReorgArdi) bad_arg(name, "unknown mode " + std::to_string(mode));
  if (H % s || W % s)
    bad_arg(name, "H " + std::to_string(H) + " and W " + std::to_string(W) + " must be multiples of the stride " +
                      std::to_string(s));
  if (mode == kReorgDarknet && C % (s * s))
    bad_arg(name, "Darknet reorg needs C (" + std::to_string(C) + ") divisible by stride^2");
  const int64_t per_item = C * H * W, total = B * per_item;
  require_int32_size(name, "size", total);
  range_f(name, backward ? "dx" : "y", out, total);
  range_f(name, backward ? "dy" : "x", in, total);
  if (total == 0) return;
  TS_LAUNCH_NOSYNC(reorg_kernel, grid_for(total, 256), 256, 0, out, in, int(C), int(H), int(W), int(s), mode, backward,
            int(per_item), int(total));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void reorg(float* y, const float* x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t stride, int mode) {
  launch("reorg", y, x, B, C, H, W, stride, mode, false);
}

void reorg_backward(float* dx, const float* dy, int64_t B, int64_t C, int64_t H, int64_t W, int64_t stride, int mode) {
  launch("reorgBackward", dx, dy, B, C, H, W, stride, mode, true);
}

}  // namespace tsgrad
