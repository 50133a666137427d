// batchnorm: 2-D batch normalisation over x [B, C, HW] (NCHW), statistics per channel over (B, HW),
// n = B*HW. Mirrors src/tensor/ops/batchnorm2d.ts, which has the full derivation; in short:
//
//   pytorch  train: var = biased; y = (x - mean) / sqrt(var + eps) * w + b       (double, rounded once)
//                   running = (1-m) running + m stat, running var gets var*n/(n-1)
//            eval:  the same with the running statistics
//   darknet  train: var = unbiased; y = float(float(x - mean) / (sqrt(var) + eps)), *w, +b in float
//                   running = float(float(running*float(1-m)) + float(float(m)*stat))
//            eval:  the same with the running statistics (bit-exact with Darknet's 6.2 arithmetic)
//   backward: dx = A*gy + Bc*(x - mean) + D per channel, with s the forward's denominator and
//            Sg = sum gy, Sgd = sum gy*(x - mean), Sgx = Sgd/s:
//     eval (batch statistics off):      A = w/s, Bc = D = 0
//     exact (either variant):           A = w/s, Bc = -w*Sgx*k/s, D = -w*Sg/(n*s),
//                                       k = 1/(n*s) (pytorch), 1/((n-1)*sqrt(var)) (darknet)
//     darknet rule (Darknet's formulas): r = sqrt(var + 1e-5f), A = w/r, Bc = 2*dvar/n, D = dmean/n,
//                                       dmean = -w*Sg/r, dvar = -w*Sgd/2 * (var + 1e-5f)^-1.5
//     dweight = Sgx, dbias = Sg.
//
// Statistics are sums in double. The per-channel sums are split over several blocks per channel when there
// are few channels (partials in a scratch buffer, then a per-channel finalize kernel), so the whole device
// works on a [64, 16, 208, 208] batch as well as on a [64, 1024, 13, 13] one. The sum of squares is
// taken around a per-channel shift (the channel's first value), which keeps the one-pass variance exact
// enough in double even when |mean| >> std. The training forward's sums are therefore not added in the
// CPU backend's order: expect last-bit differences in the statistics (and so in y).
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
constexpr int kThreads = 256;
constexpr float kDarknetBackwardEps = 1e-5f;

// Sum of `v` over the block (power-of-two blockDim <= kThreads), valid in thread 0.
__device__ __forceinline__ double block_sum_double(double v, double* buf) {
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  double r = buf[0];
  __syncthreads();
  return r;
}

// Block (split, c) walks elements j in [begin, end) of channel c: j = b*HW + k -> x[(b*C + c)*HW + k].
// FWD: partial = {sum (x - K), sum (x - K)^2} with K = x[c*HW] (first value of the channel).
// BWD: partial = {sum gy, sum gy*(x - mean[c])}.
template <bool BWD>
__global__ void bn_partial_kernel(double* __restrict__ partial, const float* __restrict__ x, const float* __restrict__ gy,
                                  const float* __restrict__ mean, int C, int HW, int n, int chunk) {
  __shared__ double buf[kThreads];
  const int c = blockIdx.y, split = blockIdx.x, splits = gridDim.x;
  const int begin = split * chunk, end = min(n, begin + chunk);
  const float shift = BWD ? mean[c] : x[(long long)c * HW];
  double s1 = 0.0, s2 = 0.0;
  int j = begin + threadIdx.x;
  if (j < end) {
    int b = j / HW, k = j - b * HW;
    while (j < end) {
      const long long at = ((long long)b * C + c) * HW + k;
      const double d = double(x[at]) - double(shift);
      if (BWD) {
        const double g = double(gy[at]);
        s1 += g;
        s2 += g * d;
      } else {
        s1 += d;
        s2 += d * d;
      }
      j += blockDim.x;
      k += blockDim.x;
      while (k >= HW) {
        k -= HW;
        b++;
      }
    }
  }
  s1 = block_sum_double(s1, buf);
  s2 = block_sum_double(s2, buf);
  if (threadIdx.x == 0) {
    partial[(c * splits + split) * 2] = s1;
    partial[(c * splits + split) * 2 + 1] = s2;
  }
}

// One thread per channel: statistics (training: from the partials; eval: the running ones), running
// update, and the per-channel coefficients coef[c] = {mean, scale, shift-or-den} for the normalise kernel.
__global__ void bn_forward_finalize_kernel(double* __restrict__ coef, float* __restrict__ batch_mean,
                                           float* __restrict__ batch_var, float* __restrict__ running_mean,
                                           float* __restrict__ running_var, const double* __restrict__ partial,
                                           const float* __restrict__ x, const float* __restrict__ weight,
                                           const float* __restrict__ bias, int C, int HW, int n, int splits,
                                           bool training, double momentum, double eps, bool darknet) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double mean, var;
  if (training) {
    double s1 = 0.0, s2 = 0.0;
    for (int s = 0; s < splits; s++) {
      s1 += partial[(c * splits + s) * 2];
      s2 += partial[(c * splits + s) * 2 + 1];
    }
    const double K = double(x[(long long)c * HW]);
    const double dn = double(n);
    double ss = s2 - s1 * s1 / dn;  // sum (x - mean)^2
    if (ss < 0) ss = 0;
    mean = K + s1 / dn;
    var = darknet ? ss / (dn - 1.0) : ss / dn;
    if (darknet) {
      // Darknet keeps float statistics: normalise with the rounded values (as the CPU backend does).
      mean = double(float(mean));
      var = double(float(var));
    }
    batch_mean[c] = float(mean);
    batch_var[c] = float(var);
    if (running_mean) {
      if (darknet) {
        const float keep = float(1.0 - momentum), take = float(momentum);
        running_mean[c] = __fadd_rn(__fmul_rn(running_mean[c], keep), __fmul_rn(take, float(mean)));
        running_var[c] = __fadd_rn(__fmul_rn(running_var[c], keep), __fmul_rn(take, float(var)));
      } else {
        running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
        running_var[c] = float((1.0 - momentum) * double(running_var[c]) + momentum * var * dn / (dn - 1.0));
      }
    }
  } else {
    mean = double(running_mean[c]);
    var = double(running_var[c]);
  }
  const double g = weight ? double(weight[c]) : 1.0;
  const double be = bias ? double(bias[c]) : 0.0;
  coef[c * 3] = mean;
  if (darknet) {
    coef[c * 3 + 1] = sqrt(var) + eps;  // denominator
    coef[c * 3 + 2] = 0.0;
  } else {
    coef[c * 3 + 1] = (1.0 / sqrt(var + eps)) * g;  // scale (the CPU backend's order of operations)
    coef[c * 3 + 2] = be;
  }
}

__global__ void bn_normalize_kernel(float* __restrict__ y, const float* __restrict__ x, const double* __restrict__ coef,
                                    const float* __restrict__ weight, const float* __restrict__ bias, int C, int HW,
                                    int total, bool darknet) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int c = (i / HW) % C;
    const double mean = coef[c * 3];
    if (darknet) {
      const float d = __fsub_rn(x[i], float(mean));
      float v = float(double(d) / coef[c * 3 + 1]);
      if (weight) v = __fmul_rn(v, weight[c]);
      if (bias) v = __fadd_rn(v, bias[c]);
      y[i] = v;
    } else {
      y[i] = float((double(x[i]) - mean) * coef[c * 3 + 1] + coef[c * 3 + 2]);
    }
  }
}

// Per channel: dweight, dbias and the dx coefficients coef[c] = {A, Bc, D, mean}.
__global__ void bn_backward_finalize_kernel(double* __restrict__ coef, float* __restrict__ dweight,
                                            float* __restrict__ dbias, const double* __restrict__ partial,
                                            const float* __restrict__ weight, const float* __restrict__ mean_t,
                                            const float* __restrict__ var_t, int C, int n, int splits, double eps,
                                            bool darknet, bool batch_stats, bool darknet_rule) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double sum_g = 0.0, sum_gd = 0.0;
  for (int s = 0; s < splits; s++) {
    sum_g += partial[(c * splits + s) * 2];
    sum_gd += partial[(c * splits + s) * 2 + 1];
  }
  const double var = double(var_t[c]);
  const double sigma = sqrt(var);
  const double s = darknet ? sigma + eps : sqrt(var + eps);
  const double sum_gx = sum_gd / s;
  if (dbias) dbias[c] = float(sum_g);
  if (dweight) dweight[c] = float(sum_gx);
  const double gamma = weight ? double(weight[c]) : 1.0;
  const double dn = double(n);
  double A, B, D;
  if (!batch_stats) {
    A = gamma / s;
    B = 0.0;
    D = 0.0;
  } else if (darknet_rule && darknet) {
    const double ve = var + double(kDarknetBackwardEps);
    const double rr = sqrt(ve);
    const double dmean = -gamma * sum_g / rr;
    const double dvar = -0.5 * gamma * sum_gd * pow(ve, -1.5);
    A = gamma / rr;
    B = 2.0 * dvar / dn;
    D = dmean / dn;
  } else {
    const double k = darknet ? (sigma > 0 ? 1.0 / ((dn - 1.0) * sigma) : 0.0) : 1.0 / (dn * s);
    A = gamma / s;
    B = -(gamma * sum_gx * k) / s;
    D = -(gamma * sum_g) / (dn * s);
  }
  coef[c * 4] = A;
  coef[c * 4 + 1] = B;
  coef[c * 4 + 2] = D;
  coef[c * 4 + 3] = double(mean_t[c]);
}

__global__ void bn_dx_kernel(float* __restrict__ dx, const float* __restrict__ gy, const float* __restrict__ x,
                             const double* __restrict__ coef, int C, int HW, int total) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int c = (i / HW) % C;
    const double* k = coef + c * 4;
    dx[i] = float(k[0] * double(gy[i]) + k[1] * (double(x[i]) - k[3]) + k[2]);
  }
}

// Blocks per channel for the partial sums: enough blocks in all to fill the device, at least ~2048
// elements per block.
int splits_for(int64_t C, int64_t n) {
  const int64_t sms = rt::multiprocessor_count();
  int64_t s = (4 * sms + C - 1) / C;
  s = std::min<int64_t>(s, (n + 2047) / 2048);
  return int(std::max<int64_t>(1, std::min<int64_t>(s, 1024)));
}

void check_common(const char* name, int64_t B, int64_t C, int64_t HW, int variant) {
  rt::require(name);
  require_nonneg(name, "B", B);
  require_nonneg(name, "C", C);
  require_nonneg(name, "HW", HW);
  require_int32_size(name, "B*C*HW", B * C * HW);
  if (C > 65535) bad_arg(name, "more than 65535 channels");
  if (variant != kBnPytorch && variant != kBnDarknet) bad_arg(name, "unknown variant " + std::to_string(variant));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void batchnorm_forward(float* y, float* batch_mean, float* batch_var, const float* x, const float* weight,
                       const float* bias, float* running_mean, float* running_var, int64_t B, int64_t C, int64_t HW,
                       bool training, double momentum, double eps, int variant) {
  const char* name = "batchnorm2d";
  check_common(name, B, C, HW, variant);
  const int64_t n = B * HW, total = B * C * HW;
  range_f(name, "y", y, total);
  range_f(name, "x", x, total);
  if (weight) range_f(name, "weight", weight, C);
  if (bias) range_f(name, "bias", bias, C);
  if ((running_mean == nullptr) != (running_var == nullptr)) bad_arg(name, "give both running statistics or neither");
  if (running_mean) {
    range_f(name, "runningMean", running_mean, C);
    range_f(name, "runningVar", running_var, C);
  }
  if (training) {
    if (!batch_mean || !batch_var) bad_arg(name, "training needs batchMean and batchVar outputs");
    range_f(name, "batchMean", batch_mean, C);
    range_f(name, "batchVar", batch_var, C);
    if (n < 2 && C > 0) bad_arg(name, "training needs more than one value per channel");
  } else if (!running_mean) {
    bad_arg(name, "eval mode needs runningMean and runningVar");
  }
  if (C == 0) return;
  const bool darknet = variant == kBnDarknet;
  rt::Scratch coef(size_t(C) * 3 * 8);
  int splits = 1;
  std::unique_ptr<rt::Scratch> partial;
  if (training) {
    splits = splits_for(C, n);
    const int chunk = int((n + splits - 1) / splits);
    splits = int((n + chunk - 1) / chunk);
    partial.reset(new rt::Scratch(size_t(C) * splits * 2 * 8));
    auto k = bn_partial_kernel<false>;
    TS_LAUNCH(k, dim3(unsigned(splits), unsigned(C), 1), kThreads, 0, partial->as<double>(), x, nullptr, nullptr, int(C),
              int(HW), int(n), chunk);
  }
  TS_LAUNCH_NOSYNC(bn_forward_finalize_kernel, unsigned(ceil_div(C, 128)), 128, 0, coef.as<double>(), batch_mean, batch_var,
            running_mean, running_var, partial ? partial->as<double>() : nullptr, x, weight, bias, int(C), int(HW),
            int(n), splits, training, momentum, eps, darknet);
  if (total == 0) return;
  TS_LAUNCH_NOSYNC(bn_normalize_kernel, grid_for(total, 256), 256, 0, y, x, coef.as<double>(), weight, bias, int(C), int(HW),
            int(total), darknet);
}

void batchnorm_backward(float* dx, float* dweight, float* dbias, const float* gy, const float* x, const float* weight,
                        const float* mean, const float* var, int64_t B, int64_t C, int64_t HW, double eps, int variant,
                        bool batch_stats, int rule) {
  const char* name = "batchnorm2d_backward";
  check_common(name, B, C, HW, variant);
  if (rule != kBnRuleExact && rule != kBnRuleDarknet) bad_arg(name, "unknown rule " + std::to_string(rule));
  const int64_t n = B * HW, total = B * C * HW;
  if (dx) range_f(name, "dx", dx, total);
  if (dweight) range_f(name, "dweight", dweight, C);
  if (dbias) range_f(name, "dbias", dbias, C);
  range_f(name, "gy", gy, total);
  range_f(name, "x", x, total);
  if (weight) range_f(name, "weight", weight, C);
  range_f(name, "mean", mean, C);
  range_f(name, "var", var, C);
  if (C == 0 || (!dx && !dweight && !dbias)) return;
  int splits = splits_for(C, std::max<int64_t>(n, 1));
  const int chunk = int(std::max<int64_t>(1, (n + splits - 1) / splits));
  splits = int(std::max<int64_t>(1, (n + chunk - 1) / chunk));
  rt::Scratch partial(size_t(C) * splits * 2 * 8), coef(size_t(C) * 4 * 8);
  auto k = bn_partial_kernel<true>;
  TS_LAUNCH(k, dim3(unsigned(splits), unsigned(C), 1), kThreads, 0, partial.as<double>(), x, gy, mean, int(C), int(HW),
            int(n), chunk);
  TS_LAUNCH_NOSYNC(bn_backward_finalize_kernel, unsigned(ceil_div(C, 128)), 128, 0, coef.as<double>(), dweight, dbias,
            partial.as<double>(), weight, mean, var, int(C), int(n), splits, eps, variant == kBnDarknet, batch_stats,
            rule == kBnRuleDarknet);
  if (dx && total > 0)
    TS_LAUNCH_NOSYNC(bn_dx_kernel, grid_for(total, 256), 256, 0, dx, gy, x, coef.as<double>(), int(C), int(HW), int(total));
}

}  // namespace tsgrad
