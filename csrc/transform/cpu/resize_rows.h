// The CPU inner loops, compiled twice: rows_plain (separate multiply and add, any x86-64/ARM CPU)
// and rows_fma (fused multiply-add, for Note [FMA mode]; x86 builds it with the FMA target and
// run it only where the CPU has FMA). Both come from resize_rows_impl.h.
#pragma once

#include <cstdint>

namespace pvf {
namespace transform {

#define PVF_DECLARE_ROWS(NS)                                                                      \
  namespace NS {                                                                                  \
  /* Horizontal taps of every cropped column of one row: `row` holds interleaved R, G, B floats \
     of input columns [lo, ...); out planes r, g, b get crop_w floats. */                        \
  void horizontal_taps(int taps, const float* row, const int64_t* first, int64_t lo,             \
                       const float* splat_weights, int64_t crop_w, float* r, float* g, float* b); \
  /* acc[k] = rows[0][k] * w[0]; acc[k] += rows[j][k] * w[j], for k < len. */                    \
  void vertical_row(const float* const* rows, const float* w, int n, int64_t len, float* acc);   \
  }

PVF_DECLARE_ROWS(rows_plain)
PVF_DECLARE_ROWS(rows_fma)
#undef PVF_DECLARE_ROWS

// True when rows_fma may run here (x86: the CPU has FMA3; elsewhere FMA is baseline).
bool cpu_has_fma();

}  // namespace transform
}  // namespace pvf
