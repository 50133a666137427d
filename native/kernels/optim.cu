// optim: in-place parameter updates, mirroring src/nn/optim/{sgd,adam}.ts (double arithmetic, one
// rounding to float32 per stored value, so the results equal the CPU backend's).
//   sgd pytorch: g' = g + decay*w; v = first_step ? g' : momentum*v + g'; w = w - lr*v
//   sgd darknet: u = v - g - (decay*batch)*w; w = w + (lr/batch)*u; v = momentum*u
//                (Darknet's update_convolutional_layer with g = dLoss/dw; v holds momentum-scaled updates)
//   adam:        g' = g + decay*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'*g';
//                w = w - (lr*(m/c1)) / (sqrt(v/c2) + eps),  c1 = 1 - b1^step, c2 = 1 - b2^step
#include <cmath>

#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
__global__ void sgd_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ vel, int n, double lr,
                           double momentum, double decay, double batch, bool darknet, bool first_step) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const double wi = double(w[i]), gi = double(g[i]);
    if (darknet) {
      const double u = double(vel[i]) - gi - (decay * batch) * wi;
      w[i] = float(wi + (lr / batch) * u);
      vel[i] = float(momentum * u);
    } else {
      const double gd = gi + decay * wi;
      const double vi = first_step ? gd : momentum * double(vel[i]) + gd;
      vel[i] = float(vi);
      w[i] = float(wi - lr * vi);
    }
  }
}

__global__ void adam_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v, int n, double lr, double b1, double b2, double eps, double decay,
                            double c1, double c2) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const double wi = double(w[i]);
    const double gi = double(g[i]) + decay * wi;
    const double mi = b1 * double(m[i]) + (1.0 - b1) * gi;
    const double vi = b2 * double(v[i]) + (1.0 - b2) * gi * gi;
    m[i] = float(mi);
    v[i] = float(vi);
    w[i] = float(wi - (lr * (mi / c1)) / (sqrt(vi / c2) + eps));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void sgd(float* w, const float* g, float* velocity, int64_t n, double lr, double momentum, double decay, double batch,
         int variant, bool first_step) {
  const char* name = "sgd";
  rt::require(name);
  require_int32_size(name, "n", n);
  if (variant != kSgdPytorch && variant != kSgdDarknet) bad_arg(name, "unknown variant " + std::to_string(variant));
  if (variant == kSgdDarknet && !(batch > 0)) bad_arg(name, "darknet batch must be > 0");
  range_f(name, "w", w, n);
  range_f(name, "g", g, n);
  range_f(name, "velocity", velocity, n);
  if (n == 0) return;
  TS_LAUNCH_NOSYNC(sgd_kernel, grid_for(n, 256), 256, 0, w, g, velocity, int(n), lr, momentum, decay, batch,
            variant == kSgdDarknet, first_step);
}

void adam(float* w, const float* g, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps,
          double decay, int64_t step) {
  const char* name = "adam";
  rt::require(name);
  require_int32_size(name, "n", n);
  require_pos(name, "step", step);
  range_f(name, "w", w, n);
  range_f(name, "g", g, n);
  range_f(name, "m", m, n);
  range_f(name, "v", v, n);
  if (n == 0) return;
  const double c1 = 1.0 - std::pow(beta1, double(step)), c2 = 1.0 - std::pow(beta2, double(step));
  TS_LAUNCH_NOSYNC(adam_kernel, grid_for(n, 256), 256, 0, w, g, m, v, int(n), lr, beta1, beta2, eps, decay, c1, c2);
}

}  // namespace tsgrad
