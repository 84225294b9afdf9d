// YUV -> RGB per pixel, shared (__host__ __device__) by the CPU and CUDA kernels. See
// "Note [matching swscale's yuv2rgb]".
//
// Note [matching swscale's yuv2rgb]
// The CPU path's RGB is PyAV's to_ndarray(format="rgb24"), i.e. swscale's unscaled yuv420p ->
// rgb24 converter: nearest chroma per 2x2 luma, Y/U/V as 16-bit words with 3 fractional bits
// less their offsets, pmulhw ((a * b) >> 16, floor) by swscale's 16-bit coefficients, saturating
// pack to [0, 255]. Reproducing that integer arithmetic gives PyAV's RGB bit for bit on 8-bit
// input; 10-bit (P016) enters as v10 << 1 with the same arithmetic, which swscale's generic scaler
// does not match exactly (measured in tests/test_color.py). Details: docs/notes.md.

#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace pvf {
namespace color {

enum class Matrix : int { kBT601 = 0, kBT709 = 1, kBT2020 = 2 };

// swscale's 16-bit multipliers and luma offset for one matrix and range (pmulhw operands).
struct YuvCoeffs {
  int32_t y = 0, vr = 0, ub = 0, ug = 0, vg = 0;
  int32_t y_offset = 0;  // subtracted from luma << 3
};

// (f + 2^15) >> 16 clipped to int16 (swscale's roundToInt16).
PVF_HOST_DEVICE inline int32_t round_to_int16(int64_t f) {
  const int64_t r = (f + (int64_t{1} << 15)) >> 16;
  return r < -0x7FFF ? -0x8000 : (r > 0x7FFF ? 0x7FFF : static_cast<int32_t>(r));
}

// ff_yuv2rgb_c_init_tables with contrast = saturation = 1 << 16 and brightness = 0 (swscale's
// defaults, which PyAV does not change). Rows of ff_yuv2rgb_coeffs: {crv, cbu, cgu, cgv}.
PVF_HOST_DEVICE inline YuvCoeffs make_yuv_coeffs(Matrix m, bool full_range) {
  int64_t crv = 104597, cbu = 132201, cgu = 25675, cgv = 53279;  // SWS_CS_ITU601 / SMPTE170M
  if (m == Matrix::kBT709) {
    crv = 117489, cbu = 138438, cgu = 13975, cgv = 34925;  // SWS_CS_ITU709
  } else if (m == Matrix::kBT2020) {
    crv = 110013, cbu = 140363, cgu = 12277, cgv = 42626;  // SWS_CS_BT2020
  }
  cgu = -cgu;
  cgv = -cgv;
  int64_t cy = int64_t{1} << 16;
  int64_t oy = 0;
  if (!full_range) {
    cy = (cy * 255) / 219;
    oy = int64_t{16} << 16;
  } else {
    // C's / truncates toward zero, also for the negative green terms.
    crv = (crv * 224) / 255;
    cbu = (cbu * 224) / 255;
    cgu = (cgu * 224) / 255;
    cgv = (cgv * 224) / 255;
  }
  // (c * contrast * saturation) >> 32 with both 1 << 16 leaves c unchanged; so does cy's >> 16.
  YuvCoeffs k;
  k.y = round_to_int16(cy * 8192);
  k.vr = round_to_int16(crv * 8192);
  k.ub = round_to_int16(cbu * 8192);
  k.ug = round_to_int16(cgu * 8192);
  k.vg = round_to_int16(cgv * 8192);
  k.y_offset = round_to_int16(oy * 8);
  return k;
}

// pmulhw: the high 16 bits of the 32-bit signed product (an arithmetic shift: floor).
PVF_HOST_DEVICE inline int32_t mulhi16(int32_t a, int32_t b) { return (a * b) >> 16; }

PVF_HOST_DEVICE inline uint8_t clamp_u8(int32_t v) {
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Samples as 16-bit words with 3 fractional bits of an 8-bit value ("v << 3"): 8-bit (NV12)
// samples are shifted up by 3, 16-bit (P016: the value in the high bits) ones down by 5, so a
// 10-bit value v10 becomes v10 << 1. See Note [matching swscale's yuv2rgb].
PVF_HOST_DEVICE inline int32_t promote(uint8_t v) { return static_cast<int32_t>(v) << 3; }
PVF_HOST_DEVICE inline int32_t promote(uint16_t v) { return static_cast<int32_t>(v) >> 5; }

// The chroma terms shared by the (up to) four luma pixels of one chroma sample.
struct ChromaTerms {
  int32_t r, g, b;
};

PVF_HOST_DEVICE inline ChromaTerms chroma_terms(const YuvCoeffs& k, int32_t u3, int32_t v3) {
  const int32_t u = u3 - (128 << 3);
  const int32_t v = v3 - (128 << 3);
  ChromaTerms t;
  t.r = mulhi16(v, k.vr);
  t.g = mulhi16(u, k.ug) + mulhi16(v, k.vg);
  t.b = mulhi16(u, k.ub);
  return t;
}

// One pixel: writes R, G, B.
PVF_HOST_DEVICE inline void yuv_pixel(const YuvCoeffs& k, int32_t y3, const ChromaTerms& c,
                                      uint8_t* r, uint8_t* g, uint8_t* b) {
  const int32_t y = mulhi16(y3 - k.y_offset, k.y);
  *r = clamp_u8(y + c.r);
  *g = clamp_u8(y + c.g);
  *b = clamp_u8(y + c.b);
}

// One pixel packed as R | G << 8 | B << 16 (what the CUDA kernel keeps in shared memory).
PVF_HOST_DEVICE inline uint32_t yuv_pixel_packed(const YuvCoeffs& k, int32_t y3,
                                                 const ChromaTerms& c) {
  uint8_t r, g, b;
  yuv_pixel(k, y3, c, &r, &g, &b);
  return static_cast<uint32_t>(r) | (static_cast<uint32_t>(g) << 8) |
         (static_cast<uint32_t>(b) << 16);
}

}  // namespace color
}  // namespace pvf
