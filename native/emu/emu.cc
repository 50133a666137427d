// Host emulation of the CUDA execution model: fibers, the per-block scheduler, barriers, warp collectives,
// launch configuration checks and the CUDA runtime API subset on host memory. See emu.h for the model.
#include "emu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

// ---------------------------------------------------------------------------------------------------
// Execution contexts. x86-64: a hand-written switch that saves the callee-saved general registers on the
// old stack and restores them from the new one (a few ns; glibc swapcontext also makes a signal-mask
// system call per switch). MXCSR and the x87 control word are not switched: every fiber of a host thread
// shares them, and kernels never change floating-point modes. Elsewhere: ucontext.
// ---------------------------------------------------------------------------------------------------
#if defined(__x86_64__)
extern "C" void emu_switch(void** save_sp, void* load_sp);
extern "C" void emu_fiber_start();
asm(R"(
    .pushsection .text
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch

    .globl emu_fiber_start
    .hidden emu_fiber_start
    .type emu_fiber_start, @function
emu_fiber_start:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size emu_fiber_start, .-emu_fiber_start
    .popsection
)");

namespace {
struct Context {
  void* sp = nullptr;
};
// A fresh context whose first switch-in calls entry(arg) on the given stack (16-byte aligned at the call).
void ctx_make(Context* c, char* stack_lo, size_t size, void (*entry)(void*), void* arg) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack_lo) + size) & ~uintptr_t(15);
  uint64_t* s = reinterpret_cast<uint64_t*>(top);
  s[-1] = 0;
  s[-2] = 0;
  s[-3] = reinterpret_cast<uint64_t>(&emu_fiber_start);  // return address of the first switch
  s[-4] = 0;                                             // rbp
  s[-5] = 0;                                             // rbx
  s[-6] = reinterpret_cast<uint64_t>(arg);               // r12 -> rdi
  s[-7] = reinterpret_cast<uint64_t>(entry);             // r13 -> called
  s[-8] = 0;                                             // r14
  s[-9] = 0;                                             // r15
  c->sp = &s[-9];
}
inline void ctx_switch(Context* from, Context* to) { emu_switch(&from->sp, to->sp); }
}  // namespace
#else
#include <ucontext.h>
namespace {
struct Context {
  ucontext_t uc;
};
void (*g_entry)(void*);
void ucontext_trampoline(int lo, int hi) {
  uintptr_t p = (uintptr_t(unsigned(hi)) << 32) | uintptr_t(unsigned(lo));
  g_entry(reinterpret_cast<void*>(p));
}
void ctx_make(Context* c, char* stack_lo, size_t size, void (*entry)(void*), void* arg) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = stack_lo;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = nullptr;
  g_entry = entry;
  uintptr_t p = reinterpret_cast<uintptr_t>(arg);
  makecontext(&c->uc, reinterpret_cast<void (*)()>(ucontext_trampoline), 2, int(p & 0xffffffffu), int(p >> 32));
}
inline void ctx_switch(Context* from, Context* to) { swapcontext(&from->uc, &to->uc); }
}  // namespace
#endif

namespace emu {
namespace {

// Each emulated thread that is running or parked owns one stack. 64 KiB, with an inaccessible guard page
// below it so that an overflow faults instead of corrupting a neighbour. Only touched pages cost memory.
constexpr size_t kStackSize = 64 * 1024;

struct Stack {
  char* mem;  // guard page + stack
  char* lo;   // usable low end
};

Stack* new_stack() {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  void* m = mmap(nullptr, kStackSize + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  mprotect(m, page, PROT_NONE);
  return new Stack{static_cast<char*>(m), static_cast<char*>(m) + page};
}

enum class St : uint8_t { NotStarted, Ready, AtBarrier, AtWarp, Done };

struct Thread {
  Context ctx;
  Stack* stack = nullptr;
  St st = St::NotStarted;
  WarpOp op = WarpOp::Sync;
  unsigned mask = 0;
  uint32_t value = 0;
  int param = 0;
  int width = 32;
  uint32_t result = 0;
};

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::Sync: return "__syncwarp";
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
  }
  return "?";
}

struct Scheduler {
  std::vector<Thread> th;
  std::vector<int> queue;
  size_t qhead = 0;
  std::vector<Stack*> free_stacks;
  Context main;
  int n = 0;
  int cur = -1;
  int live = 0;
  int at_barrier = 0;
  int at_warp = 0;  // threads parked at a warp collective
  int exited_since_release = 0;
  bool running = false;
  bool direct = false;  // barrier-free launch: threads are plain calls on the host stack
  bool failed = false;
  std::string error;
  Thunk fn = nullptr;
  void* fn_ctx = nullptr;
  std::vector<float4> dyn_smem;  // float4 for 16-byte alignment

  ~Scheduler() {
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    for (Stack* s : free_stacks) {
      munmap(s->mem, kStackSize + page);
      delete s;
    }
  }

  std::string tid_str(int t) const {
    unsigned bx = blockDim.x, by = blockDim.y;
    return "(" + std::to_string(t % bx) + "," + std::to_string((t / bx) % by) + "," + std::to_string(t / (bx * by)) + ")";
  }
  std::string block_str() const {
    return "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," + std::to_string(blockIdx.z) + ")";
  }
  void fail(const std::string& msg) {
    if (!failed) {
      failed = true;
      error = block_str() + ": " + msg;
    }
  }
  void set_thread_idx(int t) {
    unsigned bx = blockDim.x, by = blockDim.y;
    threadIdx.x = unsigned(t) % bx;
    threadIdx.y = (unsigned(t) / bx) % by;
    threadIdx.z = unsigned(t) / (bx * by);
  }

  // Called on the emulated thread's own stack: park it and return to the scheduler.
  void park() { ctx_switch(&th[cur].ctx, &main); }

  static void fiber_entry(void* arg) {
    Scheduler* s = static_cast<Scheduler*>(arg);
    s->fn(s->fn_ctx);
    s->th[s->cur].st = St::Done;
    ctx_switch(&s->th[s->cur].ctx, &s->main);
    __builtin_trap();  // a finished fiber is never resumed
  }

  void push_ready(int t) {
    th[t].st = St::Ready;
    queue.push_back(t);
  }

  // Every lane named by a waiting collective has arrived: compute the results and release the lanes.
  void try_complete_warp(int t) {
    const Thread& me = th[t];
    int base = t & ~31;
    int lane = t & 31;
    int lanes = n - base < 32 ? n - base : 32;
    unsigned existing = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
    unsigned mask = me.mask;
    if (!(mask & (1u << lane))) {
      fail("thread " + tid_str(t) + " calls " + op_name(me.op) + " with a mask that does not include its own lane");
      return;
    }
    if (mask & ~existing) {
      fail(std::string(op_name(me.op)) + " mask names lanes that do not exist (the block's last warp has " +
           std::to_string(lanes) + " threads)");
      return;
    }
    if (me.width <= 0 || me.width > 32 || (me.width & (me.width - 1))) {
      fail(std::string(op_name(me.op)) + " width " + std::to_string(me.width) + " is not a power of two <= 32");
      return;
    }
    for (int l = 0; l < 32; l++) {
      if (!(mask & (1u << l))) continue;
      const Thread& o = th[base + l];
      if (o.st == St::Done) {
        fail("thread " + tid_str(t) + " waits at " + op_name(me.op) + " for lane " + std::to_string(l) + " which has exited");
        return;
      }
      if (o.st == St::AtBarrier) {
        fail("deadlock: thread " + tid_str(t) + " waits at " + op_name(me.op) + " while lane " + std::to_string(l) +
             " of its warp waits at __syncthreads");
        return;
      }
      if (o.st != St::AtWarp) return;  // not arrived yet
      if (o.op != me.op || o.mask != me.mask) {
        fail("deadlock: lanes of warp " + std::to_string(base / 32) + " wait at different collectives (" + op_name(o.op) +
             " and " + op_name(me.op) + ")");
        return;
      }
    }
    // Complete: results first (from the deposited values), then release in lane order.
    uint32_t vote = 0;
    for (int l = 0; l < 32; l++)
      if ((mask & (1u << l)) && th[base + l].value) vote |= 1u << l;
    for (int l = 0; l < 32; l++) {
      if (!(mask & (1u << l))) continue;
      Thread& o = th[base + l];
      int w = o.width;
      int seg = l & ~(w - 1);
      int src = l;
      switch (o.op) {
        case WarpOp::Sync: break;
        case WarpOp::ShflIdx: src = seg + (o.param & (w - 1)); break;
        case WarpOp::ShflUp: src = l - o.param >= seg ? l - o.param : l; break;
        case WarpOp::ShflDown: src = l + o.param < seg + w ? l + o.param : l; break;
        case WarpOp::ShflXor: src = ((l ^ o.param) & ~(w - 1)) == seg ? (l ^ o.param) : l; break;
        case WarpOp::Ballot: break;
        case WarpOp::Any: break;
        case WarpOp::All: break;
      }
      if (o.op == WarpOp::Ballot) o.result = vote;
      else if (o.op == WarpOp::Any) o.result = vote != 0;
      else if (o.op == WarpOp::All) o.result = vote == mask;
      else if (src < lanes && (mask & (1u << src))) o.result = th[base + src].value;
      else o.result = o.value;  // source lane inactive: undefined on the GPU; keep our own value
    }
    for (int l = 0; l < 32; l++)
      if (mask & (1u << l)) push_ready(base + l);
    at_warp -= __builtin_popcount(mask);
  }

  void on_barrier(int t) {
    at_barrier++;
    if (exited_since_release > 0) {
      fail("divergent __syncthreads: thread " + tid_str(t) + " waits at a barrier that " + std::to_string(exited_since_release) +
           " exited thread(s) never reached");
      return;
    }
    if (at_barrier == live) {
      for (int i = 0; i < n; i++)
        if (th[i].st == St::AtBarrier) push_ready(i);
      at_barrier = 0;
      exited_since_release = 0;
    }
  }

  void on_exit(int t) {
    live--;
    exited_since_release++;
    free_stacks.push_back(th[t].stack);
    th[t].stack = nullptr;
    if (at_barrier > 0) {
      fail("divergent __syncthreads: thread " + tid_str(t) + " exited while " + std::to_string(at_barrier) +
           " thread(s) wait at a barrier");
      return;
    }
    if (at_warp == 0) return;
    int base = t & ~31;
    for (int l = 0; l < 32 && base + l < n; l++) {
      const Thread& o = th[base + l];
      if (o.st == St::AtWarp && (o.mask & (1u << (t & 31)))) {
        fail("thread " + tid_str(base + l) + " waits at " + op_name(o.op) + " for lane " + std::to_string(t & 31) +
             " which has exited");
        return;
      }
    }
  }

  std::string describe_deadlock() const {
    std::string s = "deadlock: no thread can make progress;";
    int shown = 0;
    for (int i = 0; i < n && shown < 4; i++) {
      if (th[i].st == St::AtBarrier) {
        s += " thread " + tid_str(i) + " waits at __syncthreads;";
        shown++;
      } else if (th[i].st == St::AtWarp) {
        s += " thread " + tid_str(i) + " waits at " + op_name(th[i].op) + " (mask 0x";
        char buf[16];
        snprintf(buf, sizeof buf, "%08x", th[i].mask);
        s += std::string(buf) + ");";
        shown++;
      }
    }
    s += " " + std::to_string(at_barrier) + " of " + std::to_string(live) + " live threads at __syncthreads";
    return s;
  }

  // Barrier-free launch: every thread is a plain call (a barrier there throws DirectModeViolation).
  void run_block_direct() {
    for (int t = 0; t < n; t++) {
      cur = t;
      set_thread_idx(t);
      fn(fn_ctx);
    }
    cur = -1;
  }

  void run_block() {
    th.assign(size_t(n), Thread());
    queue.clear();
    qhead = 0;
    for (int i = 0; i < n; i++) queue.push_back(i);
    live = n;
    at_barrier = 0;
    at_warp = 0;
    exited_since_release = 0;
    while (!failed) {
      if (qhead == queue.size()) {
        if (live > 0) fail(describe_deadlock());
        break;
      }
      int t = queue[qhead++];
      Thread& me = th[t];
      cur = t;
      set_thread_idx(t);
      if (me.st == St::NotStarted) {
        if (free_stacks.empty()) {
          Stack* s = new_stack();
          if (!s) {
            fail("out of memory for emulated thread stacks");
            break;
          }
          free_stacks.push_back(s);
        }
        me.stack = free_stacks.back();
        free_stacks.pop_back();
        ctx_make(&me.ctx, me.stack->lo, kStackSize, &Scheduler::fiber_entry, this);
      }
      me.st = St::Ready;
      ctx_switch(&main, &th[t].ctx);
      Thread& after = th[t];
      switch (after.st) {
        case St::Done: on_exit(t); break;
        case St::AtBarrier: on_barrier(t); break;
        case St::AtWarp:
          at_warp++;
          try_complete_warp(t);
          break;
        default: fail("internal error: thread returned to the scheduler in an unexpected state"); break;
      }
    }
    // On failure, parked fibers are abandoned (kernels hold no resources); their stacks are reclaimed.
    for (Thread& x : th)
      if (x.stack) {
        free_stacks.push_back(x.stack);
        x.stack = nullptr;
      }
    cur = -1;
  }
};

thread_local Scheduler* g_sched = nullptr;
thread_local cudaError_t g_last_error = cudaSuccess;
thread_local std::string g_last_detail;

Scheduler& sched() {
  if (!g_sched) {
    static thread_local struct Holder {
      Scheduler s;
    } holder;
    g_sched = &holder.s;
  }
  return *g_sched;
}

void set_error(cudaError_t e, const std::string& detail) {
  if (g_last_error == cudaSuccess) {
    g_last_error = e;
    g_last_detail = detail;
  }
}

struct DirectModeViolation {
  const char* what;
};

}  // namespace

void syncthreads() {
  Scheduler& s = sched();
  if (!s.running || s.cur < 0) {
    fprintf(stderr, "tsgrad emu: __syncthreads called outside a kernel\n");
    abort();
  }
  if (s.direct) throw DirectModeViolation{"__syncthreads"};
  s.th[s.cur].st = St::AtBarrier;
  s.park();
}

uint32_t warp_collective(WarpOp op, unsigned mask, uint32_t value, int param, int width) {
  Scheduler& s = sched();
  if (!s.running || s.cur < 0) {
    fprintf(stderr, "tsgrad emu: %s called outside a kernel\n", op_name(op));
    abort();
  }
  if (s.direct) throw DirectModeViolation{op_name(op)};
  Thread& me = s.th[s.cur];
  me.st = St::AtWarp;
  me.op = op;
  me.mask = mask;
  me.value = value;
  me.param = param;
  me.width = width;
  s.park();
  return s.th[s.cur].result;
}

void* dynamic_shared() {
  Scheduler& s = sched();
  return s.dyn_smem.empty() ? nullptr : static_cast<void*>(s.dyn_smem.data());
}

const char* last_error_detail() { return g_last_detail.c_str(); }

void launch_impl(const char* name, dim3 grid, dim3 block, size_t dynamic_smem, Thunk fn, void* ctx, bool barrier_free) {
  Scheduler& s = sched();
  unsigned long long nthreads = (unsigned long long)block.x * block.y * block.z;
  if (s.running) {
    set_error(cudaErrorLaunchFailure, std::string(name) + ": launch from inside a kernel is not supported by the emulator");
    return;
  }
  if (nthreads == 0 || nthreads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 2147483647u || grid.y > 65535u || grid.z > 65535u) {
    set_error(cudaErrorInvalidConfiguration, std::string(name) + ": invalid launch configuration grid (" +
                                                 std::to_string(grid.x) + "," + std::to_string(grid.y) + "," +
                                                 std::to_string(grid.z) + ") block (" + std::to_string(block.x) + "," +
                                                 std::to_string(block.y) + "," + std::to_string(block.z) + ")");
    return;
  }
  if (dynamic_smem > 227 * 1024) {
    set_error(cudaErrorInvalidValue, std::string(name) + ": dynamic shared memory of " + std::to_string(dynamic_smem) +
                                         " bytes exceeds the 227 KiB per block limit");
    return;
  }
  s.dyn_smem.assign((dynamic_smem + 15) / 16, float4{0, 0, 0, 0});
  s.n = int(nthreads);
  s.fn = fn;
  s.fn_ctx = ctx;
  s.failed = false;
  s.error.clear();
  s.running = true;
  s.direct = barrier_free;
  gridDim = grid;
  blockDim = block;
  try {
    for (unsigned z = 0; z < grid.z && !s.failed; z++)
      for (unsigned y = 0; y < grid.y && !s.failed; y++)
        for (unsigned x = 0; x < grid.x && !s.failed; x++) {
          blockIdx = uint3{x, y, z};
          if (barrier_free) s.run_block_direct();
          else s.run_block();
        }
  } catch (const DirectModeViolation& v) {
    s.fail(std::string("kernel launched as barrier-free (TS_LAUNCH_NOSYNC) reached ") + v.what);
    s.cur = -1;
  }
  s.running = false;
  s.direct = false;
  if (s.failed) set_error(cudaErrorLaunchFailure, std::string(name) + ": " + s.error);
}

}  // namespace emu

// ---------------------------------------------------------------------------------------------------
// CUDA runtime API subset on host memory
// ---------------------------------------------------------------------------------------------------
namespace {
struct emu_stream_impl {
  int unused;
};
emu_stream_impl g_stream;
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  std::memset(prop, 0, sizeof *prop);
  snprintf(prop->name, sizeof prop->name, "host emulation of CUDA (g++, one host thread)");
  size_t total = 0, avail = 0;
  cudaMemGetInfo(&avail, &total);
  prop->totalGlobalMem = total;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->major = 0;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  *total_bytes = size_t(pages > 0 ? pages : 0) * size_t(page);
  *free_bytes = size_t(avail > 0 ? avail : 0) * size_t(page);
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  // 256-byte alignment, as cudaMalloc guarantees (float4 loads rely on 16).
  size_t rounded = (bytes + 255) & ~size_t(255);
  void* p = rounded ? std::aligned_alloc(256, rounded) : nullptr;
  if (rounded && !p) {
    *ptr = nullptr;
    emu::g_last_error = cudaErrorMemoryAllocation;
    return cudaErrorMemoryAllocation;
  }
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  if (bytes) std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = reinterpret_cast<cudaStream_t>(&g_stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetLastError() {
  cudaError_t e = emu::g_last_error;
  emu::g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return emu::g_last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}
