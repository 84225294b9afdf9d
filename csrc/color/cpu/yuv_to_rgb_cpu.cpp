// CPU YUV -> RGB: rows in parallel, every pixel through the shared yuv_to_rgb.h arithmetic
// (Note [matching swscale's yuv2rgb]).
#include <algorithm>

#include "color/yuv_frame.h"
#include "common/check.h"
#include "common/parallel.h"

namespace pvf {
namespace color {
namespace {

template <typename T>
void convert_rows(const YuvFrame& f, const YuvCoeffs& k, int64_t y0, int64_t y1, uint8_t* dst,
                  int64_t dst_h, int64_t dst_w) {
  const T* luma = static_cast<const T*>(f.luma);
  const T* chroma = static_cast<const T*>(f.chroma);
  for (int64_t y = y0; y < y1; ++y) {
    const T* ly = luma + y * f.luma_stride_h;
    const T* cy = chroma + (y >> 1) * f.chroma_stride_h;  // nearest chroma row
    uint8_t* d = dst + y * dst_h;
    for (int64_t x = 0; x < f.width; ++x) {
      const T* c = cy + (x >> 1) * f.chroma_stride_w;  // nearest chroma column
      const ChromaTerms t = chroma_terms(k, promote(c[0]), promote(c[f.chroma_stride_c]));
      uint8_t* p = d + x * dst_w;
      yuv_pixel(k, promote(ly[x * f.luma_stride_w]), t, p, p + 1, p + 2);
    }
  }
}

}  // namespace

void yuv_to_rgb_cpu(const YuvFrame& f, uint8_t* dst, int64_t dst_stride_h, int64_t dst_stride_w,
                    int num_threads) {
  validate(f);
  PVF_CHECK(dst != nullptr, "dst pointer is null");
  PVF_CHECK(num_threads > 0, "num_threads must be positive, got num_threads=", num_threads);
  const YuvCoeffs k = make_yuv_coeffs(f.matrix, f.full_range);
  constexpr int64_t kRows = 16;  // rows per task
  const int64_t tasks = (f.height + kRows - 1) / kRows;
  parallel_for(tasks, num_threads, [&](int64_t task, int) {
    const int64_t y0 = task * kRows;
    const int64_t y1 = std::min(f.height, y0 + kRows);
    if (f.sixteen_bit) {
      convert_rows<uint16_t>(f, k, y0, y1, dst, dst_stride_h, dst_stride_w);
    } else {
      convert_rows<uint8_t>(f, k, y0, y1, dst, dst_stride_h, dst_stride_w);
    }
  });
}

}  // namespace color
}  // namespace pvf
