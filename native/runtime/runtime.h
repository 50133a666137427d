// Device runtime shared by both addon variants (one source; the emulated build runs it on host memory
// through native/emu): device discovery, the one stream, a caching allocator, copies and error checks.
//
// Every CUDA call and every kernel launch goes through check()/check_launch(), which turn a CUDA error into
// a tsgrad::Error naming the operation and the CUDA error (the addon turns that into a JS exception).
// Nothing here aborts the process.
//
// Streams: all work goes to one stream, in order. Launches and host-to-device copies return at once;
// only device-to-host copies and synchronize() wait. Freed blocks go back to the cache and may be handed
// out again before earlier kernels that used them have run: that is safe because the next user is
// enqueued on the same stream, after them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_api.h"

namespace tsgrad {

// Any error the addon reports to JavaScript.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace rt {

struct DeviceInfo {
  std::string backend;  // "cuda" or "emu"
  bool available = false;
  std::string reason;   // why not available ("" when available)
  int errorCode = 0;    // the CUDA error behind `reason`, 0 if none
  int deviceCount = 0;
  std::string name;
  int major = 0, minor = 0;
  uint64_t totalMemory = 0;
  int multiProcessorCount = 0;
  int driverVersion = 0;
  int runtimeVersion = 0;
};

struct MemoryStats {
  uint64_t allocatedBytes = 0;      // bytes in live blocks (bin sizes)
  uint64_t requestedBytes = 0;      // bytes asked for by live blocks
  uint64_t reservedBytes = 0;       // bytes held from the device: live + cached
  uint64_t peakAllocatedBytes = 0;
  uint64_t peakReservedBytes = 0;
  uint64_t liveBlocks = 0;
  uint64_t cachedBlocks = 0;
  uint64_t deviceMallocs = 0;       // cudaMalloc calls
  uint64_t deviceFrees = 0;         // cudaFree calls
  uint64_t cacheHits = 0;           // allocations served from the cache
};

// Device discovery (first call initialises; never throws).
DeviceInfo device_info();
// Multiprocessors of the device (1 under emulation or when unavailable); cheap, for launch heuristics.
int multiprocessor_count();
// Throws tsgrad::Error "<op>: <backend> device unavailable: <reason>" unless the device is usable.
void require(const char* op);
cudaStream_t stream();

[[noreturn]] void throw_cuda(const char* op, cudaError_t e, const char* context = nullptr);
inline void check(cudaError_t e, const char* op) {
  if (e != cudaSuccess) throw_cuda(op, e);
}
// After a launch: configuration errors (and, under emulation, any failure of the kernel).
void check_launch(const char* kernel);

// Caching allocator: sizes are rounded up to a bin (512 B minimum, then 4 bins per power of two) and
// freed blocks are kept per bin for reuse. Out of memory: the cache is released and the allocation retried.
void* malloc(size_t bytes);
void free(void* p);
void empty_cache();
MemoryStats memory_stats();
void reset_peak_stats();

// Throws unless [p, p + bytes) lies inside one live allocation. bytes == 0 always passes.
void check_range(const void* p, size_t bytes, const char* op, const char* arg);

void memcpy_htod(void* dst, const void* src, size_t bytes);
void memcpy_dtoh(void* dst, const void* src, size_t bytes);  // waits for the stream
void memcpy_dtod(void* dst, const void* src, size_t bytes);
void synchronize();

// Errors found by kernels (e.g. a class index out of range), reported without an extra synchronisation:
// a kernel records the first one in a small device slot {code, a, b, c}; the launcher arms the check, and
// the next synchronisation (synchronize, memcpyDtoH) reads the slot and throws. Codes: see kernels.h.
int32_t* device_error_slot();
void arm_device_error_check();

// Scratch memory for a launcher (im2col buffers, partial reductions), returned to the cache on scope exit.
class Scratch {
 public:
  Scratch(size_t bytes) : p_(bytes ? rt::malloc(bytes) : nullptr) {}
  ~Scratch() {
    if (p_) rt::free(p_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_;
};

}  // namespace rt
}  // namespace tsgrad
