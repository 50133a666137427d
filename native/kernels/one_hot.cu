// one_hot: out [N, classes] = 0 except out[i, index[i]] = 1 (float32 or int32 out; int32 index [N]).
// An index outside [0, classes) leaves its row zero and is reported (position, value) by the next
// synchronisation (synchronize / memcpyDtoH) through the runtime's device error slot, so the launch does
// not wait for the device. Output written with `=`.
#include "common.cuh"

namespace tsgrad {
namespace {

// ---------------------------------------------------------------------------------------------------
// CUDA kernels
// ---------------------------------------------------------------------------------------------------
template <class T>
__global__ void one_hot_kernel(T* __restrict__ out, const int* __restrict__ index, int N, int classes, int* err) {
  int total = N * classes;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    int row = i / classes, c = i - row * classes;
    int k = index[row];
    out[i] = k == c ? T(1) : T(0);
    if (c == 0 && (k < 0 || k >= classes)) {
      if (atomicCAS(&err[0], 0, -1) == 0) {  // claim the slot, then fill it; code last
        err[1] = row;
        err[2] = k;
        err[3] = classes;
        __threadfence();
        atomicExch(&err[0], 1);
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// launchers
// ---------------------------------------------------------------------------------------------------
void one_hot(void* out, int dtype, const int32_t* index, int64_t N, int64_t classes) {
  const char* name = "one_hot";
  rt::require(name);
  require_nonneg(name, "N", N);
  require_pos(name, "classes", classes);
  require_int32_size(name, "N*classes", N * classes);
  rt::check_range(out, size_t(N * classes) * 4, name, "out");
  rt::check_range(index, size_t(N) * 4, name, "index");
  if (N == 0) return;
  int* err = rt::device_error_slot();
  unsigned grid = grid_for(N * classes, 256);
  if (dtype == kFloat32) {
    auto k = one_hot_kernel<float>;
    TS_LAUNCH_NOSYNC(k, grid, 256, 0, static_cast<float*>(out), index, int(N), int(classes), err);
  } else if (dtype == kInt32) {
    auto k = one_hot_kernel<int>;
    TS_LAUNCH_NOSYNC(k, grid, 256, 0, static_cast<int*>(out), index, int(N), int(classes), err);
  } else {
    bad_arg(name, "unknown dtype code " + std::to_string(dtype));
  }
  rt::arm_device_error_check();
}

}  // namespace tsgrad
