// gemm: C = alpha * op(A) op(B) + beta * C (+ bias), row-major float32, batched by strides.
//
//   op(A) [M, K] = A (stored [M, K], leading dim lda) or A^T (A stored [K, M]); op(B) [K, N] likewise.
//   C[m, n] = alpha * sum_k op(A)[m, k] op(B)[k, n] + beta * C[m, n] + bias   (beta == 0: C is not read)
//   bias: none | per row (bias[m], the conv output channel) | per column (bias[n], linear's out feature).
//   Batch item b uses A + b*strideA, B + b*strideB, C + b*strideC (a stride of 0 broadcasts).
//
// Kernel: a two-level tiled SGEMM. Each block computes a BM x BN tile of C, walking K in BK slices:
//   global -> registers (one float4 of A and one of B per thread, vectorised where the 4 elements are
//   in bounds and 16-byte aligned; otherwise scalar with zero fill, so any M, N, K works)
//   registers -> shared memory, double buffered (the next slice is loaded while the current one is
//   multiplied; one barrier per slice). A is stored k-major (As[k][m]) so that both operands are read
//   as contiguous vectors in the inner loop.
//   Each thread accumulates a TM x TN register tile as outer products. Its rows are two groups of TM/2
//   (ty*TM/2 and BM/2 + ty*TM/2) and its columns likewise, so a warp's shared-memory vector reads are
//   conflict-free broadcasts.
// Configurations: 128x128x8 with 8x8 per thread (256 threads) for large problems, 64x64x16 with 4x4 per
// thread (256 threads) when the large tiles would leave the device under-filled.
// Accumulation is float32 with FMA (the order differs from a CPU loop: expect ~1e-6 relative differences).
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
struct GemmParams {
  float* C;
  const float* A;
  const float* B;
  const float* bias;
  int M, N, K;
  int lda, ldb, ldc;
  float alpha, beta;
  int bias_mode;
  bool trans_a, trans_b;
  bool vec_a, vec_b, vec_c;  // float4 access allowed (16-byte aligned base, ld and batch stride % 4 == 0)
  long long stride_a, stride_b, stride_c;
  int batch_offset;  // first batch item of this launch (grid.z covers at most 65535 items)
};

template <int N>
struct Frag;
template <>
struct Frag<4> {
  __device__ __forceinline__ static void load(float* dst, const float* src) {
    float4 v = *reinterpret_cast<const float4*>(src);
    dst[0] = v.x;
    dst[1] = v.y;
    dst[2] = v.z;
    dst[3] = v.w;
  }
};
template <>
struct Frag<2> {
  __device__ __forceinline__ static void load(float* dst, const float* src) {
    float2 v = *reinterpret_cast<const float2*>(src);
    dst[0] = v.x;
    dst[1] = v.y;
  }
};

template <int BM, int BN, int BK, int TM, int TN>
// Two blocks per multiprocessor (<= 128 registers per thread) so one block's loads overlap the other's math.
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2) gemm_kernel(GemmParams p) {
  constexpr int NT = (BM / TM) * (BN / TN);
  static_assert(BM * BK == 4 * NT && BN * BK == 4 * NT, "each thread loads one float4 of A and of B per slice");
  constexpr int PAD = 4;  // keeps rows 16-byte aligned, breaks the bank pattern of the transposed stores
  __shared__ __align__(16) float As[2][BK][BM + PAD];
  __shared__ __align__(16) float Bs[2][BK][BN + PAD];

  const int tid = threadIdx.x;
  const int tx = tid % (BN / TN), ty = tid / (BN / TN);
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const long long b = (long long)blockIdx.z + p.batch_offset;
  const float* __restrict__ A = p.A + b * p.stride_a;
  const float* __restrict__ B = p.B + b * p.stride_b;
  float* __restrict__ C = p.C + b * p.stride_c;
  const int M = p.M, N = p.N, K = p.K;

  // What this thread loads: 4 consecutive elements along the contiguous dim of the stored matrix.
  // A not transposed: row a_r of the tile, k offset a_c (contiguous along k). Transposed: k row a_r, m offset a_c.
  const int a_r = p.trans_a ? tid / (BM / 4) : tid / (BK / 4);
  const int a_c = p.trans_a ? (tid % (BM / 4)) * 4 : (tid % (BK / 4)) * 4;
  // B not transposed: k row b_r, n offset b_c (contiguous along n). Transposed: n row b_r, k offset b_c.
  const int b_r = p.trans_b ? tid / (BK / 4) : tid / (BN / 4);
  const int b_c = p.trans_b ? (tid % (BK / 4)) * 4 : (tid % (BN / 4)) * 4;

  float ra[4], rb[4];

  auto load_global = [&](int k0) {
    // A
    {
      int row, col, rows, cols;  // in stored coordinates
      if (p.trans_a) {
        row = k0 + a_r, col = m0 + a_c, rows = K, cols = M;
      } else {
        row = m0 + a_r, col = k0 + a_c, rows = M, cols = K;
      }
      const float* src = A + (long long)row * p.lda + col;
      if (p.vec_a && row < rows && col + 3 < cols) {
        float4 v = *reinterpret_cast<const float4*>(src);
        ra[0] = v.x, ra[1] = v.y, ra[2] = v.z, ra[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++) ra[i] = (row < rows && col + i < cols) ? src[i] : 0.0f;
      }
    }
    // B
    {
      int row, col, rows, cols;
      if (p.trans_b) {
        row = n0 + b_r, col = k0 + b_c, rows = N, cols = K;
      } else {
        row = k0 + b_r, col = n0 + b_c, rows = K, cols = N;
      }
      const float* src = B + (long long)row * p.ldb + col;
      if (p.vec_b && row < rows && col + 3 < cols) {
        float4 v = *reinterpret_cast<const float4*>(src);
        rb[0] = v.x, rb[1] = v.y, rb[2] = v.z, rb[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++) rb[i] = (row < rows && col + i < cols) ? src[i] : 0.0f;
      }
    }
  };

  auto store_shared = [&](int buf) {
    if (p.trans_a) {
      *reinterpret_cast<float4*>(&As[buf][a_r][a_c]) = make_float4(ra[0], ra[1], ra[2], ra[3]);
    } else {
#pragma unroll
      for (int i = 0; i < 4; i++) As[buf][a_c + i][a_r] = ra[i];
    }
    if (p.trans_b) {
#pragma unroll
      for (int i = 0; i < 4; i++) Bs[buf][b_c + i][b_r] = rb[i];
    } else {
      *reinterpret_cast<float4*>(&Bs[buf][b_r][b_c]) = make_float4(rb[0], rb[1], rb[2], rb[3]);
    }
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

  const int tiles = (K + BK - 1) / BK;
  if (tiles > 0) {
    load_global(0);
    store_shared(0);
  }
  __syncthreads();
  for (int t = 0; t < tiles; t++) {
    const int cur = t & 1;
    if (t + 1 < tiles) load_global((t + 1) * BK);
#pragma unroll
    for (int k = 0; k < BK; k++) {
      float a[TM], bv[TN];
      Frag<TM / 2>::load(a, &As[cur][k][ty * (TM / 2)]);
      Frag<TM / 2>::load(a + TM / 2, &As[cur][k][BM / 2 + ty * (TM / 2)]);
      Frag<TN / 2>::load(bv, &Bs[cur][k][tx * (TN / 2)]);
      Frag<TN / 2>::load(bv + TN / 2, &Bs[cur][k][BN / 2 + tx * (TN / 2)]);
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
    }
    if (t + 1 < tiles) store_shared(cur ^ 1);
    __syncthreads();
  }

  // Epilogue: alpha, beta, bias; float4 stores where a whole group of 4 columns is in bounds and aligned.
#pragma unroll
  for (int i = 0; i < TM; i++) {
    const int m = m0 + (i < TM / 2 ? ty * (TM / 2) + i : BM / 2 + ty * (TM / 2) + (i - TM / 2));
    if (m >= M) continue;
    const float row_bias = (p.bias_mode == kBiasRow) ? p.bias[m] : 0.0f;
    float* crow = C + (long long)m * p.ldc;
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int nb = n0 + (h == 0 ? tx * (TN / 2) : BN / 2 + tx * (TN / 2));
      float v[TN / 2];
#pragma unroll
      for (int j = 0; j < TN / 2; j++) {
        const int n = nb + j;
        float r = p.alpha * acc[i][h * (TN / 2) + j] + row_bias;
        if (p.bias_mode == kBiasCol && n < N) r += p.bias[n];
        v[j] = r;
      }
      bool stored = false;
      if constexpr (TN / 2 == 4) {
        if (p.vec_c && nb + 3 < N) {
          float4* dst = reinterpret_cast<float4*>(crow + nb);
          if (p.beta != 0.0f) {
            float4 old = *dst;
            v[0] += p.beta * old.x;
            v[1] += p.beta * old.y;
            v[2] += p.beta * old.z;
            v[3] += p.beta * old.w;
          }
          *dst = make_float4(v[0], v[1], v[2], v[3]);
          stored = true;
        }
      }
      if (!stored) {
#pragma unroll
        for (int j = 0; j < TN / 2; j++) {
          const int n = nb + j;
          if (n < N) crow[n] = p.beta != 0.0f ? v[j] + p.beta * crow[n] : v[j];
        }
      }
    }
  }
}

int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0; }

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void gemm(const GemmArgs& g) {
  const char* name = "gemm";
  rt::require(name);
  require_nonneg(name, "M", g.M);
  require_nonneg(name, "N", g.N);
  require_nonneg(name, "K", g.K);
  require_nonneg(name, "batch", g.batch);
  require_nonneg(name, "strideA", g.strideA);
  require_nonneg(name, "strideB", g.strideB);
  require_nonneg(name, "strideC", g.strideC);
  if (g.biasMode < kBiasNone || g.biasMode > kBiasCol) bad_arg(name, "unknown bias mode " + std::to_string(g.biasMode));
  const int64_t a_rows = g.transA ? g.K : g.M, a_cols = g.transA ? g.M : g.K;
  const int64_t b_rows = g.transB ? g.N : g.K, b_cols = g.transB ? g.K : g.N;
  if (g.lda < std::max<int64_t>(1, a_cols)) bad_arg(name, "lda " + std::to_string(g.lda) + " < " + std::to_string(a_cols));
  if (g.ldb < std::max<int64_t>(1, b_cols)) bad_arg(name, "ldb " + std::to_string(g.ldb) + " < " + std::to_string(b_cols));
  if (g.ldc < std::max<int64_t>(1, g.N)) bad_arg(name, "ldc " + std::to_string(g.ldc) + " < N = " + std::to_string(g.N));
  if (g.batch == 0 || g.M == 0 || g.N == 0) return;
  const int64_t sa = span(a_rows, a_cols, g.lda), sb = span(b_rows, b_cols, g.ldb), sc = span(g.M, g.N, g.ldc);
  for (int64_t v : {sa, sb, sc, g.lda, g.ldb, g.ldc}) require_int32_size(name, "matrix span", v);
  range_f(name, "A", g.A, (g.batch - 1) * g.strideA + sa);
  range_f(name, "B", g.B, (g.batch - 1) * g.strideB + sb);
  range_f(name, "C", g.C, (g.batch - 1) * g.strideC + sc);
  if (g.biasMode != kBiasNone) {
    if (!g.bias) bad_arg(name, "bias mode set but bias is null");
    range_f(name, "bias", g.bias, g.biasMode == kBiasRow ? g.M : g.N);
  }

  GemmParams p;
  p.C = g.C;
  p.A = g.A;
  p.B = g.B;
  p.bias = g.bias;
  p.M = int(g.M);
  p.N = int(g.N);
  p.K = int(g.K);
  p.lda = int(g.lda);
  p.ldb = int(g.ldb);
  p.ldc = int(g.ldc);
  p.alpha = g.alpha;
  p.beta = g.beta;
  p.bias_mode = g.biasMode;
  p.trans_a = g.transA;
  p.trans_b = g.transB;
  p.vec_a = aligned16(g.A) && g.lda % 4 == 0 && g.strideA % 4 == 0;
  p.vec_b = aligned16(g.B) && g.ldb % 4 == 0 && g.strideB % 4 == 0;
  p.vec_c = aligned16(g.C) && g.ldc % 4 == 0 && g.strideC % 4 == 0;
  p.stride_a = g.strideA;
  p.stride_b = g.strideB;
  p.stride_c = g.strideC;

  // Large tiles unless they would give fewer than two blocks per multiprocessor.
  const int64_t sms = rt::multiprocessor_count();
  const int64_t big_tiles = ((g.M + 127) / 128) * ((g.N + 127) / 128) * g.batch;
  const bool big = big_tiles >= 2 * sms;
  for (int64_t b0 = 0; b0 < g.batch; b0 += 65535) {
    const unsigned nb = unsigned(std::min<int64_t>(65535, g.batch - b0));
    p.batch_offset = int(b0);
    if (big) {
      auto k = gemm_kernel<128, 128, 8, 8, 8>;
      TS_LAUNCH(k, dim3(unsigned(ceil_div(g.N, 128)), unsigned(ceil_div(g.M, 128)), nb), 256, 0, p);
    } else {
      auto k = gemm_kernel<64, 64, 16, 4, 4>;
      TS_LAUNCH(k, dim3(unsigned(ceil_div(g.N, 64)), unsigned(ceil_div(g.M, 64)), nb), 256, 0, p);
    }
  }
}

}  // namespace tsgrad
