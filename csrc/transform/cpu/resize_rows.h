// The CPU inner loops, compiled twice: rows_plain (separate multiply and add, any x86-64/ARM CPU)
// and rows_fma (fused multiply-add, for Note [FMA mode]; x86 builds it with the FMA target and
// run it only where the CPU has FMA). Both come from resize_rows_impl.h.
#pragma once

#include <cstdint>

namespace pvf {
namespace transform {

#define PVF_DECLARE_ROWS(NS)                                                                      \
  namespace NS {                                                                                  \
  /* Horizontal pass of four input rows (rows[0..3], uint8 with the given element strides):       \
     columns [lo, lo + ncols) are unpacked into tbuf (12 * padded columns floats, zeros past      \
     ncols), then out[l] (planar [3][crop_w]) gets row l's cropped columns. */                    \
  void horizontal_rows4(int taps, const uint8_t* const* rows, int64_t stride_w, int64_t stride_c, \
                        int64_t lo, int64_t ncols, float* tbuf, const int64_t* first,             \
                        const float* splat_weights, int64_t crop_w, float* const* out);           \
  /* acc[k] = rows[0][k] * w[0]; acc[k] += rows[j][k] * w[j], for k < len. */                     \
  void vertical_row(const float* const* rows, const float* w, int n, int64_t len, float* acc);    \
  }

PVF_DECLARE_ROWS(rows_plain)
PVF_DECLARE_ROWS(rows_fma)
#undef PVF_DECLARE_ROWS

// True when rows_fma may run here (x86: the CPU has FMA3; elsewhere FMA is baseline).
bool cpu_has_fma();

}  // namespace transform
}  // namespace pvf
