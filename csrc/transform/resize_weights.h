// Per-axis weights of PyTorch's antialiased bicubic resize and the per-pixel output conversions,
// shared (__host__ __device__) by the CPU and CUDA kernels. See "Note [matching ATen's AA
// bicubic]".
//
// Note [matching ATen's AA bicubic]
// torchvision's uint8 BICUBIC + antialias resize is F.interpolate(x.float(), mode="bicubic",
// antialias=True), clamp(0, 255), round half to even, cast. ATen's CPU kernel computes per-axis
// weights (a = -0.5, normalised) in mixed float/double steps and sums taps in order, width axis
// first, skipping an axis whose size does not change. The helpers below reproduce those steps
// literally, through mul_rn/add_rn/mul_add so no compiler contracts them: CUDA computes exactly
// what the CPU does. Details (the formulas, ATen's source): docs/notes.md.
//
// Note [FMA mode]
// ATen's AVX2/AVX512 CPU builds fuse `out += src * w` and the cubic polynomial into FMAs, its
// DEFAULT build does not, and they disagree on ~1e-5 of natural pixels. The kernels take a flag,
// `fma`: off reproduces the DEFAULT build bit for bit, on the AVX2 build; the Python wrapper sets
// it from torch.backends.cpu.get_cpu_capability(), so the result equals this process's torch.
// Details: docs/notes.md.

#pragma once

#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace pvf {
namespace transform {

// IEEE single-precision operations that the compiler may not fuse (nvcc contracts a * b + c into an
// FMA by default; gcc does too where FMA exists, which the CPU build does not enable).
PVF_HOST_DEVICE inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

PVF_HOST_DEVICE inline float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

PVF_HOST_DEVICE inline float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

PVF_HOST_DEVICE inline float div_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// a * b + c, either rounded twice (kFma = false) or once as a fused multiply-add (kFma = true).
// See Note [FMA mode]: ATen's vectorised CPU builds (AVX2, AVX512) are compiled with FMA
// contraction, the DEFAULT build is not, and the two round differently in rare ties.
template <bool kFma>
PVF_HOST_DEVICE inline float mul_add(float a, float b, float c) {
  if (kFma) {
#ifdef __CUDA_ARCH__
    return __fmaf_rn(a, b, c);
#else
    return std::fma(a, b, c);  // exact on any CPU (libm emulates it without FMA hardware)
#endif
  }
  return add_rn(mul_rn(a, b), c);
}

// Keys cubic convolution with a = -0.5 (PIL's and ATen's aa_filter for bicubic), evaluated in the
// same order as ATen's cubic_convolution1/2 with a folded in: a + 2 = 1.5, a + 3 = 2.5, 5a = -2.5,
// 8a = -4, 4a = -2. With kFma the multiply-adds are fused where gcc's contraction fuses them.
template <bool kFma>
PVF_HOST_DEVICE inline float bicubic_aa_filter(float x) {
  x = fabsf(x);
  if (x < 1.0f) {
    // ((a + 2) * x - (a + 3)) * x * x + 1
    return mul_add<kFma>(mul_rn(mul_add<kFma>(1.5f, x, -2.5f), x), x, 1.0f);
  }
  if (x < 2.0f) {
    // ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return mul_add<kFma>(mul_add<kFma>(mul_add<kFma>(-0.5f, x, 2.5f), x, -4.0f), x, 2.0f);
  }
  return 0.0f;
}

// One resized axis: input and output length and ATen's scale/support/tap count for it.
struct AxisFilter {
  int64_t in_size;
  int64_t out_size;
  float scale;
  float support;
  int max_taps;
  bool identity;  // equal sizes: ATen skips the axis, which is one tap of weight 1 here
};

PVF_HOST_DEVICE inline AxisFilter make_axis_filter(int64_t in_size, int64_t out_size) {
  AxisFilter f;
  f.in_size = in_size;
  f.out_size = out_size;
  f.identity = in_size == out_size;
  f.scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  f.support = f.scale >= 1.0f ? static_cast<float>(2.0 * static_cast<double>(f.scale)) : 2.0f;
  f.max_taps = f.identity ? 1 : static_cast<int>(ceilf(f.support)) * 2 + 1;
  return f;
}

// Taps of output index i: writes f.max_taps weights (zero-padded) to w, returns the first input
// index in *first and the number of taps used.
template <bool kFma>
PVF_HOST_DEVICE inline int compute_axis_taps(const AxisFilter& f, int64_t i, float* w,
                                             int64_t* first) {
  if (f.identity) {
    w[0] = 1.0f;
    *first = i;
    return 1;
  }
  const float center = static_cast<float>(static_cast<double>(f.scale) * (i + 0.5));
  const float invscale = f.scale >= 1.0f ? static_cast<float>(1.0 / f.scale) : 1.0f;
  int64_t xmin = static_cast<int64_t>(static_cast<double>(center - f.support) + 0.5);
  xmin = xmin > 0 ? xmin : 0;
  int64_t xend = static_cast<int64_t>(static_cast<double>(center + f.support) + 0.5);
  xend = xend < f.in_size ? xend : f.in_size;
  int64_t xsize = xend - xmin;
  // ATen: "rare cases when due to precision xsize can be larger than max_interp_size by one".
  xsize = xsize < 0 ? 0 : (xsize > f.max_taps ? f.max_taps : xsize);
  float total = 0.0f;
  for (int64_t j = 0; j < xsize; ++j) {
    const float d = static_cast<float>(j + xmin) - center;
    const float arg = static_cast<float>((static_cast<double>(d) + 0.5) * invscale);
    w[j] = bicubic_aa_filter<kFma>(arg);
    total = add_rn(total, w[j]);
  }
  if (total != 0.0f) {
    for (int64_t j = 0; j < xsize; ++j) w[j] = div_rn(w[j], total);
  }
  for (int64_t j = xsize; j < f.max_taps; ++j) w[j] = 0.0f;
  *first = xmin;
  return static_cast<int>(xsize);
}

// torch.clamp(0, 255) then torch.round (half to even) of a resized value; the result is a whole
// number in [0, 255]. Adding and subtracting 1.5 * 2^23 rounds half to even in the default
// rounding mode for |v| < 2^22 and vectorises on SSE2 (rintf needs SSE4.1).
PVF_HOST_DEVICE inline float clamp_round_255(float v) {
  v = v < 0.0f ? 0.0f : v;
  v = v > 255.0f ? 255.0f : v;
  return sub_rn(add_rn(v, 12582912.0f), 12582912.0f);
}

// CogVideoX normalisation (x - 127.5) / 127.5 in float32 (not x / 127.5 - 1: one ulp apart).
PVF_HOST_DEVICE inline float normalize_255(float u) { return div_rn(sub_rn(u, 127.5f), 127.5f); }

PVF_HOST_DEVICE inline uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

// float -> bfloat16 bits, round to nearest even as c10::BFloat16 / Tensor.to(torch.bfloat16)
// (finite inputs; NaN cannot occur here).
PVF_HOST_DEVICE inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t rounding_bias = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding_bias) >> 16);
}

// float -> IEEE half bits, round to nearest even as Tensor.to(torch.float16) (finite inputs).
PVF_HOST_DEVICE inline uint16_t float_to_half_bits(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7FFFFFFFu;
  if (abs >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65536: inf
  if (abs < 0x38800000u) {                                               // below 2^-14: subnormal
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);           // < 2^-25: zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // value = mant * 2^(exp - 150); half subnormal unit 2^-24
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((abs - 0x38000000u) >> 13);  // rebias exponent 127 -> 15
  const uint32_t rem = abs & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | h);
}

enum class OutDtype : int { kUint8 = 0, kFloat32 = 1, kBFloat16 = 2, kFloat16 = 3 };

// The 16-bit pattern of normalize_255(u) in a 2-byte output dtype.
PVF_HOST_DEVICE inline uint16_t normalized_bits16(OutDtype dtype, int u) {
  const float v = normalize_255(static_cast<float>(u));
  return dtype == OutDtype::kBFloat16 ? float_to_bf16_bits(v) : float_to_half_bits(v);
}

}  // namespace transform
}  // namespace pvf
