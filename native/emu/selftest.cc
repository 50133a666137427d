// Checks of the emulator itself, exposed as emuSelfTest(name) in the emulated addon only (several of these
// kernels are deliberately broken and would hang a real GPU). Each test launches a small kernel on host
// memory and returns its output; the broken ones must fail with a launch error that names the problem.
#include <string>
#include <vector>

#include "../kernels/common.cuh"

namespace tsgrad::emu_selftest {
namespace {

// out[t] = value written by thread (t + 1) % n before the barrier: needs a working __syncthreads.
__global__ void barrier_rotate(float* out) {
  __shared__ float s[256];
  int t = threadIdx.x, n = blockDim.x;
  s[t] = float(t + 1000 * blockIdx.x);
  __syncthreads();
  float v = s[(t + 1) % n];
  __syncthreads();  // second phase: overwrite after everyone has read
  s[t] = -1.0f;
  out[blockIdx.x * n + t] = v;
}

// Per lane: [xor-reduced sum, shfl_up 1, shfl_down 3, shfl idx 7, ballot(lane odd), any(lane==5), all(lane<32)]
__global__ void warp_ops(float* out) {
  int t = threadIdx.x, lane = t & 31;
  float v = float(t);
  float sum = v;
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  float up = __shfl_up_sync(0xffffffffu, v, 1);
  float down = __shfl_down_sync(0xffffffffu, v, 3);
  float idx = __shfl_sync(0xffffffffu, v, 7);
  unsigned ballot = __ballot_sync(0xffffffffu, lane & 1);
  int any = __any_sync(0xffffffffu, lane == 5);
  int all = __all_sync(0xffffffffu, lane < 32);
  float* o = out + t * 7;
  o[0] = sum;
  o[1] = up;
  o[2] = down;
  o[3] = idx;
  o[4] = float(ballot == 0xaaaaaaaau);
  o[5] = float(any);
  o[6] = float(all);
}

// block_sum / block_max from common.cuh over blockDim.x threads, repeated twice (reuse of its shared slots).
__global__ void block_reductions(float* out) {
  float v = float(threadIdx.x) - 10.0f;
  float s1 = block_sum(v);
  float m = block_max(v);
  float s2 = block_sum(1.0f);
  if (threadIdx.x == 0) {
    out[0] = s1;
    out[1] = m;
    out[2] = s2;
  }
}

__global__ void divergent_barrier(float* out) {
  if (threadIdx.x < 32) __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void exit_before_barrier(float* out) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void shuffle_with_exited_lane(float* out) {
  if (threadIdx.x == 3) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void shuffle_vs_barrier(float* out) {
  if (threadIdx.x == 0) __syncthreads();
  else out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void atomics(float* out) {
  atomicAdd(&out[0], 1.5f);
  atomicMax(reinterpret_cast<int*>(&out[1]), int(threadIdx.x));
}

}  // namespace

std::vector<double> run(const std::string& name) {
  std::vector<float> buf;
  auto result = [&]() { return std::vector<double>(buf.begin(), buf.end()); };
  if (name == "barrier") {
    buf.assign(2 * 96, 0.0f);
    TS_LAUNCH(barrier_rotate, 2, 96, 0, buf.data());
    return result();
  }
  if (name == "warp") {
    buf.assign(64 * 7, 0.0f);
    TS_LAUNCH(warp_ops, 1, 64, 0, buf.data());
    return result();
  }
  if (name == "blockReduce") {
    buf.assign(3, 0.0f);
    TS_LAUNCH(block_reductions, 1, 160, 0, buf.data());
    return result();
  }
  if (name == "atomics") {
    buf.assign(2, 0.0f);
    TS_LAUNCH(atomics, 3, 64, 0, buf.data());
    buf[1] = float(*reinterpret_cast<int*>(&buf[1]));
    return result();
  }
  buf.assign(1024, 0.0f);
  if (name == "divergentBarrier") TS_LAUNCH(divergent_barrier, 1, 64, 0, buf.data());
  else if (name == "exitBeforeBarrier") TS_LAUNCH(exit_before_barrier, 1, 64, 0, buf.data());
  else if (name == "shuffleExitedLane") TS_LAUNCH(shuffle_with_exited_lane, 1, 32, 0, buf.data());
  else if (name == "shuffleVsBarrier") TS_LAUNCH(shuffle_vs_barrier, 1, 32, 0, buf.data());
  else if (name == "badConfig") TS_LAUNCH(divergent_barrier, 1, 2048, 0, buf.data());
  else if (name == "barrierInNosyncKernel") TS_LAUNCH_NOSYNC(block_reductions, 1, 64, 0, buf.data());
  else throw Error("emuSelfTest: unknown test '" + name + "'");
  return result();
}

}  // namespace tsgrad::emu_selftest
