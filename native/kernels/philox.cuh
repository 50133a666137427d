// Philox4x32-10 on the device, identical to philox4x32() in src/tensor/random.ts (see that file and
// fill.cu for the stream layout).
#pragma once

#include "common.cuh"

namespace tsgrad {

constexpr unsigned kPhiloxM0 = 0xd2511f53u, kPhiloxM1 = 0xcd9e8d57u;
constexpr unsigned kPhiloxW0 = 0x9e3779b9u, kPhiloxW1 = 0xbb67ae85u;

__device__ __forceinline__ uint4 philox4x32_10(uint4 c, unsigned k0, unsigned k1) {
#pragma unroll
  for (int round = 0; round < 10; round++) {
    unsigned hi0 = __umulhi(kPhiloxM0, c.x), lo0 = kPhiloxM0 * c.x;
    unsigned hi1 = __umulhi(kPhiloxM1, c.z), lo1 = kPhiloxM1 * c.z;
    c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return c;
}

// Word s of the stream of key (k0, k1): lane s % 4 of the block with counter (s / 4 as two words, 0, 0).
__device__ __forceinline__ unsigned philox_word(unsigned long long s, unsigned k0, unsigned k1) {
  unsigned long long b = s >> 2;
  uint4 r = philox4x32_10(make_uint4(unsigned(b), unsigned(b >> 32), 0u, 0u), k0, k1);
  switch (unsigned(s & 3)) {
    case 0: return r.x;
    case 1: return r.y;
    case 2: return r.z;
    default: return r.w;
  }
}

}  // namespace tsgrad
