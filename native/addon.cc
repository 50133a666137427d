// N-API bindings (node-addon-api, NAPI_VERSION 8). No logic: each entry converts its JS arguments, calls one
// runtime function or kernel launcher, and converts the result. Any C++ error becomes a JS Error whose
// message starts with the entry's name.
//
// Device pointers cross to JavaScript as plain numbers (the address; 0 = null). Host and device
// addresses are below 2^48 on x86-64 and aarch64, so a double holds them exactly, and numbers are cheaper
// to pass than BigInts (a YOLO step makes hundreds of launches). Byte offsets are added in JS
// (`ptr + 4 * elementOffset`); every launcher then checks that each range lies inside one live
// allocation. Shapes and strides are JS arrays of integers.
#include <dlfcn.h>
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/runtime.h"

// The architectures the CUDA build compiled kernels for (CMake's CUDA_ARCHITECTURES, comma-separated);
// empty in the emulated build.
#ifndef TSGRAD_CUDA_ARCHITECTURES
#define TSGRAD_CUDA_ARCHITECTURES ""
#endif

#ifdef TSGRAD_EMU
namespace tsgrad::emu_selftest {
std::vector<double> run(const std::string& name);
}
#endif

namespace {
using namespace tsgrad;

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  Napi::Env env() const { return info_.Env(); }

  double num(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) fail(i, name, "must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  int64_t i64(size_t i, const char* name) const {
    double d = num(i, name);
    if (!(std::floor(d) == d) || std::fabs(d) > 9007199254740992.0) fail(i, name, "must be an integer, got " + fmt(d));
    return int64_t(d);
  }
  int i32(size_t i, const char* name) const {
    int64_t v = i64(i, name);
    if (v < INT32_MIN || v > INT32_MAX) fail(i, name, "is outside the int32 range");
    return int(v);
  }
  float f32(size_t i, const char* name) const { return float(num(i, name)); }
  std::string str(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsString()) fail(i, name, "must be a string");
    return v.As<Napi::String>().Utf8Value();
  }
  bool flag(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
    if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue() != 0;
    fail(i, name, "must be a boolean");
  }
  template <class T = float>
  T* ptr(size_t i, const char* name) const {
    double d = num(i, name);
    if (!(d >= 0) || std::floor(d) != d || d > 9007199254740992.0) fail(i, name, "is not a device pointer: " + fmt(d));
    return reinterpret_cast<T*>(uintptr_t(d));
  }
  std::vector<int64_t> ints(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsArray()) fail(i, name, "must be an array of integers");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<int64_t> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); k++) {
      Napi::Value e = a.Get(k);
      double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
      if (!(std::floor(d) == d) || std::fabs(d) > 9007199254740992.0)
        fail(i, name, "element " + std::to_string(k) + " is not an integer");
      out[k] = int64_t(d);
    }
    return out;
  }
  // An array of numbers (or a Float32Array), each rounded to float32 (as Math.fround).
  std::vector<float> floats(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsArray() && !v.IsTypedArray()) fail(i, name, "must be an array of numbers");
    Napi::Object a = v.As<Napi::Object>();
    uint32_t n = v.IsArray() ? v.As<Napi::Array>().Length() : uint32_t(v.As<Napi::TypedArray>().ElementLength());
    std::vector<float> out(n);
    for (uint32_t k = 0; k < n; k++) {
      Napi::Value e = a.Get(k);
      if (!e.IsNumber()) fail(i, name, "element " + std::to_string(k) + " is not a number");
      out[k] = float(e.As<Napi::Number>().DoubleValue());
    }
    return out;
  }
  // shape at shape_i, then one strides array per operand at strides_i, strides_i + 1, ...
  Strided strided(size_t shape_i, size_t strides_i, int nops, const char* const* names) const {
    std::vector<int64_t> shape = ints(shape_i, "shape");
    if (shape.size() > size_t(kMaxDims)) fail(shape_i, "shape", "has more than " + std::to_string(kMaxDims) + " dims");
    Strided st;
    st.ndim = int(shape.size());
    st.nops = nops;
    for (int d = 0; d < st.ndim; d++) st.shape[d] = shape[d];
    for (int k = 0; k < nops; k++) {
      std::vector<int64_t> v = ints(strides_i + k, names[k]);
      if (v.size() != shape.size()) fail(strides_i + k, names[k], "must have one entry per dim of shape");
      for (int d = 0; d < st.ndim; d++) st.stride[k][d] = v[d];
    }
    return st;
  }
  // Host memory of a TypedArray / DataView / Buffer (its own view range).
  std::pair<uint8_t*, size_t> host(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (v.IsTypedArray()) {
      Napi::TypedArray t = v.As<Napi::TypedArray>();
      Napi::ArrayBuffer buf = t.ArrayBuffer();
      return {static_cast<uint8_t*>(buf.Data()) + t.ByteOffset(), t.ByteLength()};
    }
    if (v.IsDataView()) {
      Napi::DataView t = v.As<Napi::DataView>();
      return {static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength()};
    }
    fail(i, name, "must be a TypedArray or DataView");
  }

  [[noreturn]] void fail(size_t i, const char* name, const std::string& msg) const {
    throw Error(std::string(op_) + ": argument " + std::to_string(i) + " ('" + name + "') " + msg);
  }

 private:
  static std::string fmt(double d) {
    char b[64];
    snprintf(b, sizeof b, "%.17g", d);
    return b;
  }
  const Napi::CallbackInfo& info_;
  const char* op_;
};

using Body = Napi::Value (*)(const Args&);
struct Entry {
  const char* name;
  size_t nargs;
  Body body;
};

Napi::Value dispatch(const Napi::CallbackInfo& info) {
  const Entry* e = static_cast<const Entry*>(info.Data());
  try {
    if (info.Length() < e->nargs)
      throw Error(std::string(e->name) + ": expected " + std::to_string(e->nargs) + " arguments, got " +
                  std::to_string(info.Length()));
    return e->body(Args(info, e->name));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& ex) {
    std::string msg = ex.what();
    if (msg.rfind(e->name, 0) != 0) msg = std::string(e->name) + ": " + msg;
    throw Napi::Error::New(info.Env(), msg);
  }
}

Napi::Value undef(const Args& a) { return a.env().Undefined(); }

// B, C, H, W, O, kh, kw, sh, sw, dh, dw, padTop, padBottom, padLeft, padRight, groups
ConvGeom conv_geom(const Args& a, size_t i) {
  ConvGeom g;
  g.B = a.i64(i, "B");
  g.C = a.i64(i + 1, "C");
  g.H = a.i64(i + 2, "H");
  g.W = a.i64(i + 3, "W");
  g.O = a.i64(i + 4, "O");
  g.kh = a.i64(i + 5, "kh");
  g.kw = a.i64(i + 6, "kw");
  g.sh = a.i64(i + 7, "sh");
  g.sw = a.i64(i + 8, "sw");
  g.dh = a.i64(i + 9, "dh");
  g.dw = a.i64(i + 10, "dw");
  g.pt = a.i64(i + 11, "padTop");
  g.pb = a.i64(i + 12, "padBottom");
  g.pl = a.i64(i + 13, "padLeft");
  g.pr = a.i64(i + 14, "padRight");
  g.groups = a.i64(i + 15, "groups");
  return g;
}

// B, C, H, W, OH, OW, kh, kw, sh, sw, [dh, dw,] padTop, padLeft, padBottom, padRight
PoolGeom pool_geom(const Args& a, size_t i, bool dilation) {
  PoolGeom g;
  g.B = a.i64(i, "B");
  g.C = a.i64(i + 1, "C");
  g.H = a.i64(i + 2, "H");
  g.W = a.i64(i + 3, "W");
  g.OH = a.i64(i + 4, "OH");
  g.OW = a.i64(i + 5, "OW");
  g.kh = a.i64(i + 6, "kh");
  g.kw = a.i64(i + 7, "kw");
  g.sh = a.i64(i + 8, "sh");
  g.sw = a.i64(i + 9, "sw");
  size_t p = i + 10;
  if (dilation) {
    g.dh = a.i64(p, "dh");
    g.dw = a.i64(p + 1, "dw");
    p += 2;
  }
  g.pad_top = a.i64(p, "padTop");
  g.pad_left = a.i64(p + 1, "padLeft");
  g.pad_bottom = a.i64(p + 2, "padBottom");
  g.pad_right = a.i64(p + 3, "padRight");
  return g;
}

Napi::Object stats_object(Napi::Env env, const rt::MemoryStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("allocatedBytes", double(s.allocatedBytes));
  o.Set("requestedBytes", double(s.requestedBytes));
  o.Set("reservedBytes", double(s.reservedBytes));
  o.Set("peakAllocatedBytes", double(s.peakAllocatedBytes));
  o.Set("peakReservedBytes", double(s.peakReservedBytes));
  o.Set("liveBlocks", double(s.liveBlocks));
  o.Set("cachedBlocks", double(s.cachedBlocks));
  o.Set("deviceMallocs", double(s.deviceMallocs));
  o.Set("deviceFrees", double(s.deviceFrees));
  o.Set("cacheHits", double(s.cacheHits));
  return o;
}

// clang-format off
const Entry kEntries[] = {
  {"info", 0, [](const Args& a) -> Napi::Value {
    rt::DeviceInfo d = rt::device_info();
    Napi::Object o = Napi::Object::New(a.env());
    o.Set("backend", d.backend);
    o.Set("available", d.available);
    o.Set("reason", d.reason);
    o.Set("errorCode", d.errorCode);
    o.Set("deviceCount", d.deviceCount);
    o.Set("name", d.name);
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("totalMemory", double(d.totalMemory));
    o.Set("multiProcessorCount", d.multiProcessorCount);
    o.Set("driverVersion", d.driverVersion);
    o.Set("runtimeVersion", d.runtimeVersion);
    return o;
  }},
  // What `tsgrad info` shows beside info(): whether the NVIDIA user-space driver (libcuda.so.1, which the
  // CUDA runtime loads) can be loaded, every device's properties, and what this build was compiled for.
  {"systemInfo", 0, [](const Args& a) -> Napi::Value {
    Napi::Env env = a.env();
    Napi::Object o = Napi::Object::New(env);
    void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    const char* dl_error = h ? nullptr : dlerror();
    o.Set("libcudaLoaded", h != nullptr);
    o.Set("libcudaError", dl_error ? dl_error : "");
    if (h) dlclose(h);
    Napi::Array devices = Napi::Array::New(env);
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();
      count = 0;
    }
    for (int i = 0; i < count; i++) {
      cudaDeviceProp p;
      if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", i);
      d.Set("name", std::string(p.name));
      d.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
      d.Set("totalMemory", double(p.totalGlobalMem));
      d.Set("multiProcessorCount", p.multiProcessorCount);
      devices.Set(devices.Length(), d);
    }
    o.Set("devices", devices);
    o.Set("cudaArchitectures", TSGRAD_CUDA_ARCHITECTURES);
#ifdef CUDART_VERSION
    o.Set("runtimeVersionBuilt", int(CUDART_VERSION));
#else
    o.Set("runtimeVersionBuilt", 0);
#endif
    return o;
  }},
  {"malloc", 1, [](const Args& a) -> Napi::Value {
    int64_t bytes = a.i64(0, "bytes");
    if (bytes < 0) a.fail(0, "bytes", "must be >= 0");
    return Napi::Number::New(a.env(), double(reinterpret_cast<uintptr_t>(rt::malloc(size_t(bytes)))));
  }},
  {"free", 1, [](const Args& a) { rt::free(a.ptr<void>(0, "ptr")); return undef(a); }},
  {"memcpyHtoD", 3, [](const Args& a) {
    auto [data, bytes] = a.host(2, "src");
    rt::memcpy_htod(a.ptr<uint8_t>(0, "dst") + a.i64(1, "dstByteOffset"), data, bytes);
    return undef(a);
  }},
  {"memcpyDtoH", 3, [](const Args& a) {
    auto [data, bytes] = a.host(0, "dst");
    rt::memcpy_dtoh(data, a.ptr<uint8_t>(1, "src") + a.i64(2, "srcByteOffset"), bytes);
    return undef(a);
  }},
  {"memcpyDtoD", 5, [](const Args& a) {
    int64_t bytes = a.i64(4, "bytes");
    if (bytes < 0) a.fail(4, "bytes", "must be >= 0");
    rt::memcpy_dtod(a.ptr<uint8_t>(0, "dst") + a.i64(1, "dstByteOffset"), a.ptr<uint8_t>(2, "src") + a.i64(3, "srcByteOffset"),
                    size_t(bytes));
    return undef(a);
  }},
  {"memoryStats", 0, [](const Args& a) -> Napi::Value { return stats_object(a.env(), rt::memory_stats()); }},
  {"resetPeakStats", 0, [](const Args& a) { rt::reset_peak_stats(); return undef(a); }},
  {"emptyCache", 0, [](const Args& a) { rt::empty_cache(); return undef(a); }},
  {"synchronize", 0, [](const Args& a) { rt::synchronize(); return undef(a); }},

  // fill.cu
  {"fill", 4, [](const Args& a) {
    fill(a.ptr<void>(0, "y"), a.i32(1, "dtype"), a.i64(2, "n"), a.num(3, "value"));
    return undef(a);
  }},
  {"fillUniform", 6, [](const Args& a) {
    fill_uniform(a.ptr(0, "y"), a.i64(1, "n"), uint64_t(a.i64(2, "seed")), uint64_t(a.i64(3, "start")), a.num(4, "lo"), a.num(5, "hi"));
    return undef(a);
  }},
  {"fillNormal", 6, [](const Args& a) {
    fill_normal(a.ptr(0, "y"), a.i64(1, "n"), uint64_t(a.i64(2, "seed")), uint64_t(a.i64(3, "start")), a.num(4, "mean"), a.num(5, "std"));
    return undef(a);
  }},

  // unary.cu
  {"unary", 8, [](const Args& a) {
    static const char* const names[] = {"yStrides", "xStrides"};
    unary(a.ptr(0, "y"), a.ptr(1, "x"), a.strided(2, 3, 2, names), a.i32(5, "op"), a.num(6, "p0"), a.num(7, "p1"));
    return undef(a);
  }},

  // binary.cu
  {"binary", 9, [](const Args& a) {
    static const char* const names[] = {"outStrides", "aStrides", "bStrides"};
    binary(a.ptr<void>(0, "out"), a.ptr<void>(1, "a"), a.ptr<void>(2, "b"), a.strided(3, 4, 3, names), a.i32(7, "op"),
           a.i32(8, "dtype"));
    return undef(a);
  }},

  // where.cu
  {"where", 10, [](const Args& a) {
    static const char* const names[] = {"outStrides", "condStrides", "aStrides", "bStrides"};
    where(a.ptr<void>(0, "out"), a.ptr<void>(1, "cond"), a.ptr<void>(2, "a"), a.ptr<void>(3, "b"), a.strided(4, 5, 4, names),
          a.i32(9, "dtype"));
    return undef(a);
  }},

  // copy.cu
  {"copy", 7, [](const Args& a) {
    static const char* const names[] = {"dstStrides", "srcStrides"};
    copy(a.ptr<void>(0, "dst"), a.i32(1, "dstDtype"), a.ptr<void>(2, "src"), a.i32(3, "srcDtype"), a.strided(4, 5, 2, names));
    return undef(a);
  }},

  // one_hot.cu
  {"oneHot", 5, [](const Args& a) {
    one_hot(a.ptr<void>(0, "out"), a.i32(1, "dtype"), a.ptr<int32_t>(2, "index"), a.i64(3, "N"), a.i64(4, "classes"));
    return undef(a);
  }},

  // reduce.cu
  {"reduce", 8, [](const Args& a) {
    reduce(a.ptr(0, "out"), a.ptr<int32_t>(1, "index"), a.ptr(2, "x"), a.i64(3, "outer"), a.i64(4, "n"), a.i64(5, "inner"),
           a.i32(6, "op"), a.f32(7, "scale"));
    return undef(a);
  }},

  // softmax.cu
  {"softmax", 6, [](const Args& a) {
    softmax(a.ptr(0, "y"), a.ptr(1, "x"), a.i64(2, "outer"), a.i64(3, "n"), a.i64(4, "inner"), a.flag(5, "log"));
    return undef(a);
  }},
  {"softmaxBackward", 7, [](const Args& a) {
    softmax_backward(a.ptr(0, "dx"), a.ptr(1, "dy"), a.ptr(2, "y"), a.i64(3, "outer"), a.i64(4, "n"), a.i64(5, "inner"),
                     a.flag(6, "log"));
    return undef(a);
  }},

  // gemm.cu
  {"gemm", 19, [](const Args& a) {
    GemmArgs g;
    g.C = a.ptr(0, "C");
    g.A = a.ptr(1, "A");
    g.B = a.ptr(2, "B");
    g.bias = a.ptr(3, "bias");
    g.M = a.i64(4, "M");
    g.N = a.i64(5, "N");
    g.K = a.i64(6, "K");
    g.transA = a.flag(7, "transA");
    g.transB = a.flag(8, "transB");
    g.lda = a.i64(9, "lda");
    g.ldb = a.i64(10, "ldb");
    g.ldc = a.i64(11, "ldc");
    g.alpha = a.f32(12, "alpha");
    g.beta = a.f32(13, "beta");
    g.biasMode = a.i32(14, "biasMode");
    g.batch = a.i64(15, "batch");
    g.strideA = a.i64(16, "strideA");
    g.strideB = a.i64(17, "strideB");
    g.strideC = a.i64(18, "strideC");
    gemm(g);
    return undef(a);
  }},

  // im2col.cu (geometry: see conv_geom; O and groups are ignored)
  {"im2col", 19, [](const Args& a) {
    im2col(a.ptr(0, "col"), a.ptr(1, "x"), conv_geom(a, 2), a.i64(18, "xBatchStride"));
    return undef(a);
  }},
  {"col2im", 19, [](const Args& a) {
    col2im(a.ptr(0, "x"), a.ptr(1, "col"), conv_geom(a, 2), a.i64(18, "xBatchStride"));
    return undef(a);
  }},

  // conv2d.cu
  {"conv2d", 20, [](const Args& a) {
    conv2d(a.ptr(0, "y"), a.ptr(1, "x"), a.ptr(2, "w"), a.ptr(3, "bias"), conv_geom(a, 4));
    return undef(a);
  }},
  {"conv2dBackwardInput", 19, [](const Args& a) {
    conv2d_backward_input(a.ptr(0, "dx"), a.ptr(1, "dy"), a.ptr(2, "w"), conv_geom(a, 3));
    return undef(a);
  }},
  {"conv2dBackwardWeight", 19, [](const Args& a) {
    conv2d_backward_weight(a.ptr(0, "dw"), a.ptr(1, "x"), a.ptr(2, "dy"), conv_geom(a, 3));
    return undef(a);
  }},
  {"conv2dBackwardBias", 5, [](const Args& a) {
    conv2d_backward_bias(a.ptr(0, "db"), a.ptr(1, "dy"), a.i64(2, "B"), a.i64(3, "O"), a.i64(4, "HW"));
    return undef(a);
  }},

  // local2d.cu (geometry as conv2d's with dh = dw = groups = 1; O = output channels)
  {"local2d", 20, [](const Args& a) {
    local2d(a.ptr(0, "y"), a.ptr(1, "x"), a.ptr(2, "w"), a.ptr(3, "bias"), conv_geom(a, 4));
    return undef(a);
  }},
  {"local2dBackwardInput", 19, [](const Args& a) {
    local2d_backward_input(a.ptr(0, "dx"), a.ptr(1, "dy"), a.ptr(2, "w"), conv_geom(a, 3));
    return undef(a);
  }},
  {"local2dBackwardWeight", 19, [](const Args& a) {
    local2d_backward_weight(a.ptr(0, "dw"), a.ptr(1, "x"), a.ptr(2, "dy"), conv_geom(a, 3));
    return undef(a);
  }},

  // dropout.cu
  {"dropout", 6, [](const Args& a) {
    int64_t seed = a.i64(5, "seed");
    if (seed < 0 || seed > int64_t(UINT32_MAX)) a.fail(5, "seed", "must be an integer in [0, 2^32)");
    dropout(a.ptr(0, "y"), a.ptr(1, "mask"), a.ptr(2, "x"), a.i64(3, "n"), a.num(4, "p"), uint32_t(seed));
    return undef(a);
  }},

  // batchnorm.cu
  {"batchnorm2d", 15, [](const Args& a) {
    batchnorm_forward(a.ptr(0, "y"), a.ptr(1, "batchMean"), a.ptr(2, "batchVar"), a.ptr(3, "x"), a.ptr(4, "weight"),
                      a.ptr(5, "bias"), a.ptr(6, "runningMean"), a.ptr(7, "runningVar"), a.i64(8, "B"), a.i64(9, "C"),
                      a.i64(10, "HW"), a.flag(11, "training"), a.num(12, "momentum"), a.num(13, "eps"), a.i32(14, "variant"));
    return undef(a);
  }},
  {"batchnorm2dBackward", 15, [](const Args& a) {
    batchnorm_backward(a.ptr(0, "dx"), a.ptr(1, "dweight"), a.ptr(2, "dbias"), a.ptr(3, "gy"), a.ptr(4, "x"), a.ptr(5, "weight"),
                       a.ptr(6, "mean"), a.ptr(7, "var"), a.i64(8, "B"), a.i64(9, "C"), a.i64(10, "HW"), a.num(11, "eps"),
                       a.i32(12, "variant"), a.flag(13, "batchStats"), a.i32(14, "rule"));
    return undef(a);
  }},

  // maxpool.cu
  {"maxpool2d", 20, [](const Args& a) {
    maxpool2d(a.ptr(0, "y"), a.ptr<int32_t>(1, "index"), a.ptr(2, "x"), pool_geom(a, 3, true), a.f32(19, "emptyValue"));
    return undef(a);
  }},
  {"maxpool2dBackward", 6, [](const Args& a) {
    maxpool2d_backward(a.ptr(0, "dx"), a.ptr(1, "dy"), a.ptr<int32_t>(2, "index"), a.i64(3, "planes"), a.i64(4, "HW"),
                       a.i64(5, "OHW"));
    return undef(a);
  }},

  // avgpool.cu
  {"avgpool2d", 17, [](const Args& a) {
    avgpool2d(a.ptr(0, "y"), a.ptr(1, "x"), pool_geom(a, 2, false), a.flag(16, "countIncludePad"));
    return undef(a);
  }},
  {"avgpool2dBackward", 17, [](const Args& a) {
    avgpool2d_backward(a.ptr(0, "dx"), a.ptr(1, "dy"), pool_geom(a, 2, false), a.flag(16, "countIncludePad"));
    return undef(a);
  }},

  // reorg.cu
  {"reorg", 8, [](const Args& a) {
    reorg(a.ptr(0, "y"), a.ptr(1, "x"), a.i64(2, "B"), a.i64(3, "C"), a.i64(4, "H"), a.i64(5, "W"), a.i64(6, "stride"),
          a.i32(7, "mode"));
    return undef(a);
  }},
  {"reorgBackward", 8, [](const Args& a) {
    reorg_backward(a.ptr(0, "dx"), a.ptr(1, "dy"), a.i64(2, "B"), a.i64(3, "C"), a.i64(4, "H"), a.i64(5, "W"),
                   a.i64(6, "stride"), a.i32(7, "mode"));
    return undef(a);
  }},

  // optim.cu
  {"sgd", 10, [](const Args& a) {
    sgd(a.ptr(0, "w"), a.ptr(1, "g"), a.ptr(2, "velocity"), a.i64(3, "n"), a.num(4, "lr"), a.num(5, "momentum"),
        a.num(6, "decay"), a.num(7, "batch"), a.i32(8, "variant"), a.flag(9, "firstStep"));
    return undef(a);
  }},
  {"adam", 11, [](const Args& a) {
    adam(a.ptr(0, "w"), a.ptr(1, "g"), a.ptr(2, "m"), a.ptr(3, "v"), a.i64(4, "n"), a.num(5, "lr"), a.num(6, "beta1"),
         a.num(7, "beta2"), a.num(8, "eps"), a.num(9, "decay"), a.i64(10, "step"));
    return undef(a);
  }},

  // region_loss.cu, detection_loss.cu
  {"regionLoss", 22, [](const Args& a) {
    RegionLossParams p;
    std::vector<float> anchors = a.floats(12, "anchors");
    p.w = a.i64(6, "w");
    p.h = a.i64(7, "h");
    p.n = a.i64(8, "n");
    p.classes = a.i64(9, "classes");
    p.coords = a.i64(10, "coords");
    p.max_boxes = a.i64(11, "maxBoxes");
    p.anchors = anchors.data();
    p.anchor_count = int64_t(anchors.size());
    p.bias_match = a.flag(13, "biasMatch");
    p.rescore = a.flag(14, "rescore");
    p.background = a.flag(15, "background");
    p.seen = a.num(16, "seen");
    p.object_scale = a.f32(17, "objectScale");
    p.noobject_scale = a.f32(18, "noobjectScale");
    p.class_scale = a.f32(19, "classScale");
    p.coord_scale = a.f32(20, "coordScale");
    p.thresh = a.f32(21, "thresh");
    region_loss(a.ptr(0, "delta"), a.ptr(1, "cost"), a.ptr(2, "stats"), a.ptr(3, "output"), a.ptr(4, "truth"),
                a.i64(5, "batch"), p);
    return undef(a);
  }},
  {"detectionLoss", 20, [](const Args& a) {
    DetectionLossParams p;
    p.side = a.i64(6, "side");
    p.n = a.i64(7, "n");
    p.classes = a.i64(8, "classes");
    p.coords = a.i64(9, "coords");
    p.rescore = a.flag(10, "rescore");
    p.sqrt = a.flag(11, "sqrt");
    p.forced = a.flag(12, "forced");
    p.random = a.flag(13, "random");
    p.seen = a.num(14, "seen");
    p.seed = a.num(15, "seed");
    p.object_scale = a.f32(16, "objectScale");
    p.noobject_scale = a.f32(17, "noobjectScale");
    p.class_scale = a.f32(18, "classScale");
    p.coord_scale = a.f32(19, "coordScale");
    detection_loss(a.ptr(0, "delta"), a.ptr(1, "cost"), a.ptr(2, "stats"), a.ptr(3, "output"), a.ptr(4, "truth"),
                   a.i64(5, "batch"), p);
    return undef(a);
  }},

#ifdef TSGRAD_EMU
  // Checks of the emulator itself (barriers, warp collectives, deadlock reports): see native/emu/selftest.cc.
  {"emuSelfTest", 1, [](const Args& a) -> Napi::Value {
    std::vector<double> r = emu_selftest::run(a.str(0, "name"));
    Napi::Array out = Napi::Array::New(a.env(), r.size());
    for (uint32_t i = 0; i < r.size(); i++) out.Set(i, r[i]);
    return out;
  }},
#endif
};
// clang-format on

// Shared name -> code tables, so TypeScript never hard-codes the enums.
Napi::Object constants(Napi::Env env) {
  auto lower = [](const char* s) {
    std::string t(s);
    t[0] = char(std::tolower(t[0]));
    return t;
  };
  Napi::Object c = Napi::Object::New(env);
  Napi::Object dtype = Napi::Object::New(env);
  dtype.Set("float32", int(kFloat32));
  dtype.Set("int32", int(kInt32));
  c.Set("dtype", dtype);
  Napi::Object unary_ops = Napi::Object::New(env);
#define TSGRAD_SET(name) unary_ops.Set(lower(#name), int(kUnary##name));
  TSGRAD_UNARY_OPS(TSGRAD_SET)
#undef TSGRAD_SET
  c.Set("unary", unary_ops);
  Napi::Object binary_ops = Napi::Object::New(env);
#define TSGRAD_SET(name) binary_ops.Set(lower(#name), int(kBinary##name));
  TSGRAD_BINARY_OPS(TSGRAD_SET)
#undef TSGRAD_SET
  c.Set("binary", binary_ops);
  Napi::Object reduce_ops = Napi::Object::New(env);
#define TSGRAD_SET(name) reduce_ops.Set(lower(#name), int(kReduce##name));
  TSGRAD_REDUCE_OPS(TSGRAD_SET)
#undef TSGRAD_SET
  c.Set("reduce", reduce_ops);
  Napi::Object bias = Napi::Object::New(env);
  bias.Set("none", int(kBiasNone));
  bias.Set("row", int(kBiasRow));
  bias.Set("col", int(kBiasCol));
  c.Set("biasMode", bias);
  Napi::Object bn = Napi::Object::New(env);
  bn.Set("pytorch", int(kBnPytorch));
  bn.Set("darknet", int(kBnDarknet));
  c.Set("bnVariant", bn);
  Napi::Object reorg_modes = Napi::Object::New(env);
  reorg_modes.Set("darknet", int(kReorgDarknet));
  reorg_modes.Set("pixelUnshuffle", int(kReorgPixelUnshuffle));
  reorg_modes.Set("ardi", int(kReorgArdi));
  c.Set("reorgMode", reorg_modes);
  Napi::Object bn_rules = Napi::Object::New(env);
  bn_rules.Set("exact", int(kBnRuleExact));
  bn_rules.Set("darknet", int(kBnRuleDarknet));
  c.Set("bnRule", bn_rules);
  Napi::Object sgd_variants = Napi::Object::New(env);
  sgd_variants.Set("pytorch", int(kSgdPytorch));
  sgd_variants.Set("darknet", int(kSgdDarknet));
  c.Set("sgdVariant", sgd_variants);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (const Entry& e : kEntries)
    exports.Set(e.name, Napi::Function::New(env, dispatch, e.name, const_cast<Entry*>(&e)));
#ifdef TSGRAD_EMU
  exports.Set("variant", "emu");
#else
  exports.Set("variant", "cuda");
#endif
  exports.Set("constants", constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsgrad, Init)
