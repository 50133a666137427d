// Device runtime: discovery, stream, caching allocator, copies, error checks. See runtime.h.
#include "runtime.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tsgrad::rt {
namespace {

#ifdef TSGRAD_EMU
constexpr const char* kBackend = "emu";
#else
constexpr const char* kBackend = "cuda";
#endif

std::string error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + std::to_string(int(e)) + "): " + cudaGetErrorString(e);
}

std::string hex(const void* p) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)reinterpret_cast<uintptr_t>(p));
  return buf;
}

struct Device {
  std::mutex mu;
  bool initialised = false;
  DeviceInfo info;
  cudaStream_t stream = nullptr;

  void init() {
    info.backend = kBackend;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    int v = 0;
    if (cudaDriverGetVersion(&v) == cudaSuccess) info.driverVersion = v;
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) info.runtimeVersion = v;
    if (e != cudaSuccess) {
      cudaGetLastError();
      info.errorCode = int(e);
      info.reason = "cudaGetDeviceCount failed: " + error_text(e);
      return;
    }
    info.deviceCount = count;
    if (count == 0) {
      info.reason = "no CUDA device found";
      return;
    }
    cudaDeviceProp prop;
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
      cudaGetLastError();
      info.errorCode = int(e);
      info.reason = "cannot open CUDA device 0: " + error_text(e);
      return;
    }
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.totalMemory = prop.totalGlobalMem;
    info.multiProcessorCount = prop.multiProcessorCount;
#ifndef TSGRAD_EMU
    if (prop.major < 8) {
      info.reason = "CUDA device 0 (" + info.name + ") has compute capability " + std::to_string(prop.major) + "." +
                    std::to_string(prop.minor) + "; this build has kernels for 8.0 and newer only";
      return;
    }
#endif
    if ((e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess) {
      cudaGetLastError();
      info.errorCode = int(e);
      info.reason = "cannot create a CUDA stream: " + error_text(e);
      return;
    }
    info.available = true;
  }

  const DeviceInfo& get() {
    std::lock_guard<std::mutex> lock(mu);
    if (!initialised) {
      init();
      initialised = true;
    }
    return info;
  }
};

Device& device() {
  static Device* d = new Device();  // never destroyed: no CUDA calls during process teardown
  return *d;
}

// Rounds a request up to its bin: 512 B minimum, then four bins per power of two (waste < 25%).
size_t bin_size(size_t n) {
  if (n <= 512) return 512;
  unsigned lg = 63u - unsigned(__builtin_clzll((unsigned long long)(n - 1)));
  size_t step = (size_t(1) << lg) / 4;
  return (n + step - 1) / step * step;
}

struct Block {
  size_t requested;
  size_t bin;
};

struct Allocator {
  std::mutex mu;
  std::map<uintptr_t, Block> live;
  std::unordered_map<size_t, std::vector<void*>> cached;
  MemoryStats st;

  void note_peaks() {
    if (st.allocatedBytes > st.peakAllocatedBytes) st.peakAllocatedBytes = st.allocatedBytes;
    if (st.reservedBytes > st.peakReservedBytes) st.peakReservedBytes = st.reservedBytes;
  }

  // Caller holds mu.
  void release_cached() {
    for (auto& kv : cached) {
      for (void* p : kv.second) {
        cudaError_t e = cudaFree(p);
        if (e != cudaSuccess) {
          cudaGetLastError();
          throw_cuda("emptyCache (cudaFree)", e);
        }
        st.deviceFrees++;
        st.reservedBytes -= kv.first;
        st.cachedBlocks--;
      }
      kv.second.clear();
    }
  }
};

Allocator& allocator() {
  static Allocator* a = new Allocator();
  return *a;
}

}  // namespace

DeviceInfo device_info() { return device().get(); }

int multiprocessor_count() {
  static const int count = [] {
    const DeviceInfo& d = device().get();
    return d.multiProcessorCount > 0 ? d.multiProcessorCount : 1;
  }();
  return count;
}

void require(const char* op) {
  const DeviceInfo& d = device().get();
  if (!d.available) throw Error(std::string(op) + ": " + d.backend + " device unavailable: " + d.reason);
}

cudaStream_t stream() { return device().stream; }

void throw_cuda(const char* op, cudaError_t e, const char* context) {
  std::string msg = std::string(op) + ": " + error_text(e);
#ifdef TSGRAD_EMU
  const char* detail = emu::last_error_detail();
  if (detail && *detail) msg += std::string(" [") + detail + "]";
#endif
  if (context) msg += std::string(" ") + context;
  throw Error(msg);
}

void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_cuda(kernel, e, "(kernel launch)");
}

void* malloc(size_t bytes) {
  require("malloc");
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  size_t bin = bin_size(bytes);
  void* p = nullptr;
  auto it = a.cached.find(bin);
  if (it != a.cached.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    a.st.cachedBlocks--;
    a.st.cacheHits++;
  } else {
    cudaError_t e = cudaMalloc(&p, bin);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      cudaStreamSynchronize(device().stream);
      a.release_cached();
      e = cudaMalloc(&p, bin);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      std::string ctx = "while allocating " + std::to_string(bytes) + " bytes (allocated " +
                        std::to_string(a.st.allocatedBytes) + ", reserved " + std::to_string(a.st.reservedBytes) + ")";
      throw_cuda("malloc", e, ctx.c_str());
    }
    a.st.deviceMallocs++;
    a.st.reservedBytes += bin;
  }
  a.live[reinterpret_cast<uintptr_t>(p)] = Block{bytes, bin};
  a.st.liveBlocks++;
  a.st.allocatedBytes += bin;
  a.st.requestedBytes += bytes;
  a.note_peaks();
  return p;
}

void free(void* p) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  auto it = a.live.find(reinterpret_cast<uintptr_t>(p));
  if (it == a.live.end()) throw Error("free: " + hex(p) + " is not the start of a live device allocation (double free?)");
  Block b = it->second;
  a.live.erase(it);
  a.cached[b.bin].push_back(p);
  a.st.cachedBlocks++;
  a.st.liveBlocks--;
  a.st.allocatedBytes -= b.bin;
  a.st.requestedBytes -= b.requested;
}

void empty_cache() {
  if (!device().get().available) return;
  synchronize();
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  a.release_cached();
}

MemoryStats memory_stats() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.st;
}

void reset_peak_stats() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  a.st.peakAllocatedBytes = a.st.allocatedBytes;
  a.st.peakReservedBytes = a.st.reservedBytes;
}

void check_range(const void* p, size_t bytes, const char* op, const char* arg) {
  if (bytes == 0) return;
  Allocator& a = allocator();
  uintptr_t u = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(a.mu);
  auto it = a.live.upper_bound(u);
  if (it != a.live.begin()) {
    --it;
    uintptr_t base = it->first;
    size_t size = it->second.requested;
    if (u >= base && u - base <= size && bytes <= size - (u - base)) return;
    if (u >= base && u - base < size)
      throw Error(std::string(op) + ": argument '" + arg + "' needs " + std::to_string(bytes) + " bytes at " + hex(p) +
                  " but only " + std::to_string(size - (u - base)) + " remain in its allocation of " + std::to_string(size) +
                  " bytes at " + hex(reinterpret_cast<void*>(base)));
  }
  throw Error(std::string(op) + ": argument '" + arg + "' (" + hex(p) + ", " + std::to_string(bytes) +
              " bytes) is not inside a live device allocation");
}

namespace {
void check_device_error(const char* op);
}

void memcpy_htod(void* dst, const void* src, size_t bytes) {
  require("memcpyHtoD");
  check_range(dst, bytes, "memcpyHtoD", "dst");
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, device().stream), "memcpyHtoD");
}

void memcpy_dtoh(void* dst, const void* src, size_t bytes) {
  require("memcpyDtoH");
  check_range(src, bytes, "memcpyDtoH", "src");
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, device().stream), "memcpyDtoH");
  cudaError_t e = cudaStreamSynchronize(device().stream);
  if (e != cudaSuccess) throw_cuda("memcpyDtoH", e, "(possibly from an earlier asynchronous kernel)");
  check_device_error("memcpyDtoH");
}

void memcpy_dtod(void* dst, const void* src, size_t bytes) {
  require("memcpyDtoD");
  check_range(dst, bytes, "memcpyDtoD", "dst");
  check_range(src, bytes, "memcpyDtoD", "src");
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, device().stream), "memcpyDtoD");
}

namespace {
struct ErrorSlot {
  std::mutex mu;
  int32_t* dev = nullptr;
  bool armed = false;
};
ErrorSlot& error_slot() {
  static ErrorSlot* s = new ErrorSlot();
  return *s;
}

std::string describe_device_error(const int32_t e[4]) {
  switch (e[0]) {
    case 1:
      return "one_hot: index " + std::to_string(e[2]) + " at position " + std::to_string(e[1]) + " is outside [0, " +
             std::to_string(e[3]) + ")";
    default:
      return "kernel reported error code " + std::to_string(e[0]) + " (" + std::to_string(e[1]) + ", " +
             std::to_string(e[2]) + ", " + std::to_string(e[3]) + ")";
  }
}

// After a successful stream synchronisation: throw what a kernel recorded, if a check is armed.
void check_device_error(const char* op) {
  ErrorSlot& s = error_slot();
  int32_t e[4] = {0, 0, 0, 0};
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.armed || !s.dev) return;
    s.armed = false;
    check(cudaMemcpy(e, s.dev, sizeof e, cudaMemcpyDeviceToHost), op);
    if (e[0] == 0) return;
    check(cudaMemsetAsync(s.dev, 0, sizeof e, device().stream), op);
    check(cudaStreamSynchronize(device().stream), op);
  }
  throw Error(std::string(op) + ": an earlier kernel failed: " + describe_device_error(e));
}
}  // namespace

int32_t* device_error_slot() {
  require("device_error_slot");
  ErrorSlot& s = error_slot();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.dev) {
    void* p = nullptr;
    check(cudaMalloc(&p, 4 * sizeof(int32_t)), "device_error_slot (cudaMalloc)");
    check(cudaMemsetAsync(p, 0, 4 * sizeof(int32_t), device().stream), "device_error_slot (cudaMemset)");
    s.dev = static_cast<int32_t*>(p);
  }
  return s.dev;
}

void arm_device_error_check() {
  ErrorSlot& s = error_slot();
  std::lock_guard<std::mutex> lock(s.mu);
  s.armed = true;
}

void synchronize() {
  require("synchronize");
  cudaError_t e = cudaStreamSynchronize(device().stream);
  if (e != cudaSuccess) throw_cuda("synchronize", e, "(possibly from an earlier asynchronous kernel)");
  check_device_error("synchronize");
}

}  // namespace tsgrad::rt
