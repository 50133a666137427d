// Launchers of every kernel family (one native/kernels/<op>.cu each). Plain C++: no CUDA types, so that
// addon.cc can include it. Conventions (llm.c style):
// * outputs first, then inputs, then sizes, then attributes; gradients are named d<x>;
// * every output is written with `=` (overwritten) unless its comment says `+=`;
// * all tensors are float32 device memory unless typed otherwise; sizes are elements;
// * every launcher checks that each pointer range lies inside one live allocation (so a wrong pointer is
//   an error, not a crash), launches on the one stream, and checks the launch. Errors are tsgrad::Error.
// * element counts must be < 2^31 (32-bit indexing on the device).
#pragma once

#include <cstdint>

namespace tsgrad {

enum DType : int { kFloat32 = 0, kInt32 = 1 };

// A strided iteration space: `shape` (<= kMaxDims dims) and, per operand, its element strides in that
// shape (stride 0 on broadcast dims, any sign). Operand 0 is the output.
constexpr int kMaxDims = 8;
constexpr int kMaxOperands = 4;
struct Strided {
  int ndim = 0;
  int nops = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxOperands][kMaxDims] = {};
};

// ---- fill.cu ------------------------------------------------------------------------------------
void fill(void* y, int dtype, int64_t n, double value);
// src/tensor/random.ts stream: element i uses word start + i (uniform) or words start + 2i, start + 2i + 1 (normal).
void fill_uniform(float* y, int64_t n, uint64_t seed, uint64_t start, double lo, double hi);
void fill_normal(float* y, int64_t n, uint64_t seed, uint64_t start, double mean, double std);

// ---- unary.cu -----------------------------------------------------------------------------------
// The op list is shared with TypeScript through the addon's `constants` (lowerCamelCase names there).
#define TSGRAD_UNARY_OPS(X)                                                                                \
  X(Identity) X(Neg) X(Abs) X(Sign) X(Exp) X(Log) X(Sqrt) X(Rsqrt) X(Square) X(Reciprocal) X(Sin) X(Cos)  \
  X(Tanh) X(Sigmoid) X(Relu) X(LeakyRelu) X(LeakyDarknet) X(SigmoidDarknet) X(Softplus) X(Silu) X(Mish)   \
  X(Floor) X(Ceil) X(Round) X(Trunc) X(Clamp) X(Heaviside) X(InRange) X(AddScalar) X(MulScalar)           \
  X(RsubScalar) X(RdivScalar) X(PowScalar) X(MaximumScalar) X(MinimumScalar)
enum UnaryOp : int {
#define TSGRAD_ENUM(name) kUnary##name,
  TSGRAD_UNARY_OPS(TSGRAD_ENUM)
#undef TSGRAD_ENUM
  kUnaryCount
};
// y = f(x) elementwise over s (operands: y, x; float32). p0, p1: the op's parameters (see unary.cu).
void unary(float* y, const float* x, const Strided& s, int op, double p0, double p1);

// ---- binary.cu ----------------------------------------------------------------------------------
#define TSGRAD_BINARY_OPS(X) X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Maximum) X(Minimum) X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge)
enum BinaryOp : int {
#define TSGRAD_ENUM(name) kBinary##name,
  TSGRAD_BINARY_OPS(TSGRAD_ENUM)
#undef TSGRAD_ENUM
  kBinaryCount
};
// out = a op b over s (operands: out, a, b; broadcasting = stride 0), all of `dtype`. Comparisons give 1/0.
// int32 is computed in double and stored with JavaScript's ToInt32 (as an Int32Array store does).
void binary(void* out, const void* a, const void* b, const Strided& s, int op, int dtype);

// ---- where.cu -----------------------------------------------------------------------------------
// out = cond != 0 ? a : b over s (operands: out, cond, a, b), all of `dtype`.
void where(void* out, const void* cond, const void* a, const void* b, const Strided& s, int dtype);

// ---- copy.cu ------------------------------------------------------------------------------------
// dst = cast(src) over s (operands: dst, src): strided copy, contiguous(), slice writes (cat), dtype cast.
// float32 -> int32 truncates toward zero and wraps like JavaScript's ToInt32 (NaN, inf -> 0).
void copy(void* dst, int dst_dtype, const void* src, int src_dtype, const Strided& s);

// ---- one_hot.cu ---------------------------------------------------------------------------------
// out [N, classes] = 0, then out[i, index[i]] = 1 (int32 index [N]; an index outside [0, classes) is an
// error reported by the launcher after the kernel ran, naming the first bad position).
void one_hot(void* out, int dtype, const int32_t* index, int64_t N, int64_t classes);

// ---- reduce.cu ----------------------------------------------------------------------------------
#define TSGRAD_REDUCE_OPS(X) X(Sum) X(Max) X(Min)
enum ReduceOp : int {
#define TSGRAD_ENUM(name) kReduce##name,
  TSGRAD_REDUCE_OPS(TSGRAD_ENUM)
#undef TSGRAD_ENUM
  kReduceCount
};
// x viewed as contiguous [outer, n, inner]; out[o, j] = scale * sum_k x[o, k, j] (Sum), or max/min over k
// (scale ignored) with index[o, j] (int32, may be null) = the first k attaining it. NaN wins max/min.
void reduce(float* out, int32_t* index, const float* x, int64_t outer, int64_t n, int64_t inner, int op, float scale);

// ---- softmax.cu ---------------------------------------------------------------------------------
// Along the middle dim of a contiguous [outer, n, inner] view.
// softmax: y = exp(x - max) / sum exp(x - max); log: y = x - max - log(sum exp(x - max)).
void softmax(float* y, const float* x, int64_t outer, int64_t n, int64_t inner, bool log);
// softmax: dx = y * (dy - sum_k dy*y); log_softmax: dx = dy - exp(y) * sum_k dy.
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t n, int64_t inner, bool log);

// ---- gemm.cu ------------------------------------------------------------------------------------
enum BiasMode : int { kBiasNone = 0, kBiasRow = 1, kBiasCol = 2 };
// For each batch item b (pointers advanced by stride* elements; stride 0 broadcasts):
//   C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C + bias
// row-major, op(A) = A ([M,K], lda) or A^T (A stored [K,M], lda); same for B. beta == 0 never reads C.
// bias: kBiasRow adds bias[m] to row m, kBiasCol adds bias[n] to column n.
struct GemmArgs {
  float* C = nullptr;
  const float* A = nullptr;
  const float* B = nullptr;
  const float* bias = nullptr;
  int64_t M = 0, N = 0, K = 0;
  bool transA = false, transB = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
  int biasMode = kBiasNone;
  int64_t batch = 1;
  int64_t strideA = 0, strideB = 0, strideC = 0;
};
void gemm(const GemmArgs& g);

// ---- im2col.cu ----------------------------------------------------------------------------------
// Convolution geometry (mirrors src/tensor/ops/conv2d.ts Conv2dParams): x [B, C, H, W], weight
// [O, C/groups, kh, kw], zero padding per side, OH = (H + pt + pb - dh*(kh-1) - 1)/sh + 1 (OW likewise).
struct ConvGeom {
  int64_t B = 0, C = 0, H = 0, W = 0;  // input
  int64_t O = 0;                      // output channels
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding top, bottom, left, right
  int64_t groups = 1;
  int64_t OH() const { return (H + pt + pb - dh * (kh - 1) - 1) / sh + 1; }
  int64_t OW() const { return (W + pl + pr - dw * (kw - 1) - 1) / sw + 1; }
};
// col(b, r = (c*kh + i)*kw + j, p = oy*OW + ox) = x[b][c][oy*sh - pt + i*dh][ox*sw - pl + j*dw] (0 in the
// padding), for c < g.C. Images of x are x_batch_stride elements apart (0: C*H*W). col(b, r, p) is stored at
// b*col_strides[0] + r*col_strides[1] + p*col_strides[2]; null col_strides = [C*kh*kw*OH*OW, OH*OW, 1], i.e.
// col is [B, C*kh*kw, OH*OW] (local2d uses [OH*OW, C*kh*kw, B]).
void im2col(float* col, const float* x, const ConvGeom& g, int64_t x_batch_stride = 0, const int64_t* col_strides = nullptr);
// Adjoint of im2col: x[b][c][h][w] = sum of the col entries that im2col reads from there (written with `=`).
void col2im(float* x, const float* col, const ConvGeom& g, int64_t x_batch_stride = 0, const int64_t* col_strides = nullptr);

// ---- conv2d.cu ----------------------------------------------------------------------------------
// Mirrors src/tensor/ops/conv2d.ts (groups, dilation, per-side padding); every output written with `=`:
// y[b,o,oy,ox] = bias[o] + sum_{c<C/G,i,j} w[o,c,i,j] * x[b, grp(o)*C/G + c, oy*sh-pt+i*dh, ox*sw-pl+j*dw]
void conv2d(float* y, const float* x, const float* w, const float* bias, const ConvGeom& g);
void conv2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeom& g);
// dw = sum_b dy_b col_b^T (per group)
void conv2d_backward_weight(float* dw, const float* x, const float* dy, const ConvGeom& g);
// db[o] = sum_{b,p} dy[b,o,p]
void conv2d_backward_bias(float* db, const float* dy, int64_t B, int64_t O, int64_t HW);

// ---- local2d.cu ---------------------------------------------------------------------------------
// Mirrors src/tensor/ops/local2d.ts (Darknet [local]): weight [OH, OW, O, C, kh, kw] (one filter bank per
// output location l = oy*OW + ox), bias [O, OH, OW] (may be null); g.groups = 1, g.dh = g.dw = 1, g.O = O.
// y[b, o, l] = bias[o, l] + sum_r w[l, o, r] * patch_{b,l}[r]   (r = (c, i, j)); every output written with `=`.
void local2d(float* y, const float* x, const float* w, const float* bias, const ConvGeom& g);
void local2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeom& g);
void local2d_backward_weight(float* dw, const float* x, const float* dy, const ConvGeom& g);

// ---- dropout.cu ---------------------------------------------------------------------------------
// Mirrors src/tensor/ops/dropout.ts: element k draws u = u32ToUnit(philox word k of key (seed, 0)) and is
// dropped when u < p; mask = dropped ? 0 : float(1/(1-p)); y = dropped ? 0 : x * mask. Both written with `=`.
void dropout(float* y, float* mask, const float* x, int64_t n, double p, uint32_t seed);

// ---- batchnorm.cu -------------------------------------------------------------------------------
// Mirrors src/tensor/ops/batchnorm2d.ts (its header has the full formulas). x [B, C, HW] contiguous;
// statistics per channel over (B, HW), n = B*HW; weight/bias (gamma/beta) null = 1/0.
enum BnVariant : int { kBnPytorch = 0, kBnDarknet = 1 };
enum BnRule : int { kBnRuleExact = 0, kBnRuleDarknet = 1 };
// training: batch_mean/batch_var [C] receive the batch statistics (var biased for pytorch, unbiased for
// darknet: the one normalised with) and running_mean/var (may be null) are updated in place:
//   pytorch: r = (1-m) r + m stat (the running var gets var*n/(n-1)), in double;
//   darknet: r = float(float(r * float(1-m)) + float(float(m) * stat)).
// eval: normalise with running_mean/running_var (batch_mean/var unused, may be null).
//   pytorch: y = (x - mean) / sqrt(var + eps) * gamma + beta          (double, rounded once)
//   darknet: y = float(float(x - mean) / (sqrt(var) + eps)), then *gamma, +beta in float (bit-exact 6.2)
void batchnorm_forward(float* y, float* batch_mean, float* batch_var, const float* x, const float* weight,
                       const float* bias, float* running_mean, float* running_var, int64_t B, int64_t C, int64_t HW,
                       bool training, double momentum, double eps, int variant);
// dx [B, C, HW], dweight [C], dbias [C] (each may be null) from gy and x, weight (may be null) and the
// statistics mean/var the forward normalised with. dx = A*gy + Bc*(x - mean) + D per channel, with
// (A, Bc, D) from the rule: eval (batch_stats false) A = gamma/s; exact derivative of either forward;
// or Darknet's own backward formulas (variant darknet, rule darknet). dweight = sum gy*xhat, dbias = sum gy.
void batchnorm_backward(float* dx, float* dweight, float* dbias, const float* gy, const float* x, const float* weight,
                        const float* mean, const float* var, int64_t B, int64_t C, int64_t HW, double eps, int variant,
                        bool batch_stats, int rule);

// ---- maxpool.cu ---------------------------------------------------------------------------------
struct PoolGeom {
  int64_t B = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};
// Window (i, j) taps rows i*sh - pad_top + u*dh (u < kh), cols j*sw - pad_left + v*dw (v < kw); taps outside
// the input never win. y = the max (first in row-major tap order on ties, NaN wins); index (int32) = h*W + w
// of that tap in its plane; a window with no in-range tap gives empty_value and index -1.
void maxpool2d(float* y, int32_t* index, const float* x, const PoolGeom& g, float empty_value);
// dx [planes, HW] = 0, then dx[p, index[p, k]] += dy[p, k] for every output k (index -1 skipped).
// Overlapping windows add with atomics: on a GPU the order of those additions (and so the last bit) varies.
void maxpool2d_backward(float* dx, const float* dy, const int32_t* index, int64_t planes, int64_t HW, int64_t OHW);

// ---- avgpool.cu ---------------------------------------------------------------------------------
// PyTorch avg_pool2d (dh = dw = 1): window rows [h0, h0 + kh) with h0 = i*sh - pad_top; divisor with
// count_include_pad = (min(h0 + kh, H + pad_bottom) - h0) * (same for w), else the in-image cell count.
// Sums in double, rounded once (bit-exact with the CPU backend). Global average pooling = kernel H x W.
void avgpool2d(float* y, const float* x, const PoolGeom& g, bool count_include_pad);
// dx = adjoint of avgpool2d applied to dy (each cell: sum over covering windows of dy/divisor, in double).
void avgpool2d_backward(float* dx, const float* dy, const PoolGeom& g, bool count_include_pad);

// ---- reorg.cu -----------------------------------------------------------------------------------
enum ReorgMode : int { kReorgDarknet = 0, kReorgPixelUnshuffle = 1, kReorgArdi = 2 };
// x [B, C, H, W] -> y [B, C*s*s, H/s, W/s] (see reorg.cu for the three orders); backward is the inverse
// permutation (dx written with `=`). C, H, W are always the forward input's.
void reorg(float* y, const float* x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t stride, int mode);
void reorg_backward(float* dx, const float* dy, int64_t B, int64_t C, int64_t H, int64_t W, int64_t stride, int mode);

// ---- optim.cu -----------------------------------------------------------------------------------
// Mirrors src/nn/optim/{sgd,adam}.ts; computed in double, stored as float32 (bit-exact with the CPU).
//   sgd pytorch: g' = g + decay*w; v = first_step ? g' : momentum*v + g'; w -= lr*v
//   sgd darknet: u = v - g - decay*batch*w; w += (lr/batch)*u; v = momentum*u
//   adam: g' = g + decay*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
//         w -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps)
enum SgdVariant : int { kSgdPytorch = 0, kSgdDarknet = 1 };
void sgd(float* w, const float* g, float* velocity, int64_t n, double lr, double momentum, double decay, double batch,
         int variant, bool first_step);
void adam(float* w, const float* g, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps,
          double decay, int64_t step);

// ---- region_loss.cu / detection_loss.cu ----------------------------------------------------------
// The YOLO training losses, mirroring src/yolo/loss/{region,detection}-loss.ts (Darknet's
// forward_region_layer / forward_detection_layer; the .cu headers have the formulas). Both write delta
// [batch, outputs] in full, cost [1] = Σ delta² (Darknet's cost) and stats [kLossStats] (sums, slots as in
// src/yolo/loss/stats.ts), all with `=`; output and truth are read only. Nothing crosses to the host.
constexpr int kLossStats = 8;
struct RegionLossParams {
  int64_t w = 0, h = 0, n = 0, classes = 0, coords = 4, max_boxes = 0;
  const float* anchors = nullptr;  // host memory: 2n anchor sizes in grid cells (at most 64 anchors)
  int64_t anchor_count = 0;
  bool bias_match = false, rescore = false, background = false;
  double seen = 0;  // images seen before this batch (coordinates pulled to the priors while < 12800)
  float object_scale = 1, noobject_scale = 1, class_scale = 1, coord_scale = 1, thresh = 0;
};
// output [batch, n*(5+classes)*h*w], truth [batch, max_boxes*5]. stats[7] = # truths whose class index is outside
// [0, classes) (they write nothing; the caller reports them).
void region_loss(float* delta, float* cost, float* stats, const float* output, const float* truth, int64_t batch,
                 const RegionLossParams& p);
struct DetectionLossParams {
  int64_t side = 0, n = 0, classes = 0, coords = 4;
  bool rescore = false, sqrt = false, forced = false, random = false;
  double seen = 0, seed = 0;  // random: a hashed choice while seen < 64000 (JS ToInt32 of seen and seed)
  float object_scale = 1, noobject_scale = 1, class_scale = 1, coord_scale = 1;
};
// output [batch, side²*(classes + 5n)], truth [batch, side²*(5+classes)].
void detection_loss(float* delta, float* cost, float* stats, const float* output, const float* truth, int64_t batch,
                    const DetectionLossParams& p);

}  // namespace tsgrad
