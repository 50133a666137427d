// The one include that gives the CUDA runtime API and language: the real one under nvcc, the host
// emulation (native/emu) when built with TSGRAD_EMU. Kernels and the runtime include this, never
// cuda_runtime.h directly.
#pragma once
#ifdef TSGRAD_EMU
#include "../emu/emu.h"
#else
#include <cuda_runtime.h>
#endif
