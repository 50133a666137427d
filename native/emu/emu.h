// Host emulation of the CUDA execution model, so that the kernels in native/kernels/*.cu compile with
// g++ and run on the CPU (the `cuda-emu` device, used by CI where there is no GPU).
//
// Model
// -----
// * A launch runs its blocks one after another on the calling host thread. Inside a block the threads run
//   back to back, each to completion, on a small fiber stack. A thread that reaches __syncthreads() or a
//   warp collective (__shfl_*_sync, __ballot_sync, ...) is parked (its fiber keeps its stack) and the next
//   thread starts. A block barrier opens when every live thread of the block waits at it; a warp
//   collective completes when every lane named in its mask waits at it. Then the parked threads resume,
//   in thread order.
// * Deadlocks and divergent barriers are reported as launch errors (never a hang):
//   - a thread exits while others wait at __syncthreads (or reaches one after another has exited);
//   - a warp collective names a lane that exited, does not exist, or waits elsewhere;
//   - no thread can make progress.
//   The launch then fails with cudaErrorLaunchFailure and emu::last_error_detail() says why.
// * Kernels launched with TS_LAUNCH_NOSYNC promise to use no barrier or warp collective: their threads run
//   as plain calls on the host stack, without fibers (a barrier reached anyway fails the launch).
// * threadIdx/blockIdx/blockDim/gridDim are thread_local globals set by the scheduler before a thread
//   (fiber) resumes; __shared__ variables are thread_local statics, i.e. one copy per host thread, which is
//   per block because the blocks of a launch run one after another on that thread.
// * Atomics are plain read-modify-writes: emulated threads switch only at barriers, so nothing can
//   interleave inside one.
// * Races are not detected (threads run in a fixed order); run the real-GPU build under compute-sanitizer
//   for that.
//
// This header also provides the subset of the CUDA runtime API that native/runtime uses, implemented on
// host memory, so that the runtime is one source for both builds.
#pragma once

#include <math.h>
#include <stdio.h>

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// ---------------------------------------------------------------------------------------------------
// Language keywords
// ---------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __align__(n) __attribute__((aligned(n)))

// ---------------------------------------------------------------------------------------------------
// Vector types
// ---------------------------------------------------------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(16) uint4 {
  unsigned int x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// ---------------------------------------------------------------------------------------------------
// Built-in variables (set by the scheduler before each emulated thread runs or resumes)
// ---------------------------------------------------------------------------------------------------
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------------------
// Synchronisation and warp collectives (implemented in emu.cc)
// ---------------------------------------------------------------------------------------------------
namespace emu {
enum class WarpOp : uint8_t { Sync, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All };
void syncthreads();
uint32_t warp_collective(WarpOp op, unsigned mask, uint32_t value, int param, int width);
void* dynamic_shared();

template <class T>
inline uint32_t to_bits(T v) {
  static_assert(sizeof(T) == 4, "warp shuffles are emulated for 32-bit types");
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}
template <class T>
inline T from_bits(uint32_t u) {
  T v;
  std::memcpy(&v, &u, 4);
  return v;
}
}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::warp_collective(emu::WarpOp::Sync, mask, 0, 0, 32); }
inline void __threadfence() {}
inline void __threadfence_block() {}

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  return emu::from_bits<T>(emu::warp_collective(emu::WarpOp::ShflIdx, mask, emu::to_bits(v), src, width));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return emu::from_bits<T>(emu::warp_collective(emu::WarpOp::ShflUp, mask, emu::to_bits(v), (int)delta, width));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return emu::from_bits<T>(emu::warp_collective(emu::WarpOp::ShflDown, mask, emu::to_bits(v), (int)delta, width));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return emu::from_bits<T>(emu::warp_collective(emu::WarpOp::ShflXor, mask, emu::to_bits(v), lane_mask, width));
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return emu::warp_collective(emu::WarpOp::Ballot, mask, pred != 0, 0, 32);
}
inline int __any_sync(unsigned mask, int pred) {
  return (int)emu::warp_collective(emu::WarpOp::Any, mask, pred != 0, 0, 32);
}
inline int __all_sync(unsigned mask, int pred) {
  return (int)emu::warp_collective(emu::WarpOp::All, mask, pred != 0, 0, 32);
}

// Dynamic shared memory: `extern __shared__ T name[]` does not link under g++; kernels use this macro.
#define TS_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(::emu::dynamic_shared())

// ---------------------------------------------------------------------------------------------------
// Atomics: plain read-modify-write (see the model above)
// ---------------------------------------------------------------------------------------------------
template <class T>
inline T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <class T>
inline T atomicSub(T* p, T v) {
  T old = *p;
  *p = old - v;
  return old;
}
template <class T>
inline T atomicExch(T* p, T v) {
  T old = *p;
  *p = v;
  return old;
}
template <class T>
inline T atomicMax(T* p, T v) {
  T old = *p;
  if (v > old) *p = v;
  return old;
}
template <class T>
inline T atomicMin(T* p, T v) {
  T old = *p;
  if (v < old) *p = v;
  return old;
}
template <class T>
inline T atomicCAS(T* p, T compare, T v) {
  T old = *p;
  if (old == compare) *p = v;
  return old;
}

// ---------------------------------------------------------------------------------------------------
// Math: the <math.h> float functions (expf, logf, fmaxf, ...) are used as is. Intrinsics:
// ---------------------------------------------------------------------------------------------------
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __fdividef(float a, float b) { return a / b; }
// (macros: newer C libraries declare rsqrt/rsqrtf themselves, with other rounding guarantees)
inline float emu_rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double emu_rsqrt(double x) { return 1.0 / sqrt(x); }
#define rsqrtf emu_rsqrtf
#define rsqrt emu_rsqrt
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
// Correctly rounded single operations that must not be fused into an FMA (as on the GPU): the empty asm
// hides the intermediate from the optimiser so g++ -mfma cannot contract it.
inline float __fmul_rn(float a, float b) {
  float r = a * b;
  asm("" : "+x"(r));
  return r;
}
inline float __fadd_rn(float a, float b) {
  float r = a + b;
  asm("" : "+x"(r));
  return r;
}
inline float __fsub_rn(float a, float b) {
  float r = a - b;
  asm("" : "+x"(r));
  return r;
}
inline float __fdiv_rn(float a, float b) {
  float r = a / b;
  asm("" : "+x"(r));
  return r;
}
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dmul_rn(double a, double b) {
  double r = a * b;
  asm("" : "+x"(r));
  return r;
}
inline double __dadd_rn(double a, double b) {
  double r = a + b;
  asm("" : "+x"(r));
  return r;
}
inline float __double2float_rn(double x) { return (float)x; }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rn(float x) { return (int)rintf(x); }
inline int __float_as_int(float x) { return emu::from_bits<int>(emu::to_bits(x)); }
inline float __int_as_float(int x) { return emu::from_bits<float>(emu::to_bits(x)); }
inline unsigned __float_as_uint(float x) { return emu::from_bits<unsigned>(emu::to_bits(x)); }
inline float __uint_as_float(unsigned x) { return emu::from_bits<float>(emu::to_bits(x)); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((int64_t)a * b) >> 32); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T>
inline T __ldg(const T* p) {
  return *p;
}

// CUDA device code has min/max overloads for the arithmetic types.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

// ---------------------------------------------------------------------------------------------------
// Launch
// ---------------------------------------------------------------------------------------------------
namespace emu {
using Thunk = void (*)(void*);
// Runs every block of the launch; records a launch error (read back by cudaGetLastError) on failure.
// barrier_free: the kernel promises not to use __syncthreads or warp collectives, so its threads run as
// plain calls, without fibers (~5x cheaper per thread); breaking the promise is a launch error.
void launch_impl(const char* name, dim3 grid, dim3 block, size_t dynamic_smem, Thunk fn, void* ctx, bool barrier_free);

template <class F>
inline void launch(const char* name, dim3 grid, dim3 block, size_t dynamic_smem, bool barrier_free, F&& f) {
  using Fn = std::remove_reference_t<F>;
  launch_impl(name, grid, block, dynamic_smem, [](void* c) { (*static_cast<Fn*>(c))(); }, (void*)&f, barrier_free);
}

// Detail of the last launch failure on this host thread (deadlock description, bad configuration).
const char* last_error_detail();
}  // namespace emu

// ---------------------------------------------------------------------------------------------------
// CUDA runtime API subset on host memory (implemented in emu.cc)
// ---------------------------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
struct emu_stream;
typedef emu_stream* cudaStream_t;
constexpr unsigned cudaStreamNonBlocking = 1;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int major;
  int minor;
  int multiProcessorCount;
};

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
