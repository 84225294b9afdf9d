// Validation for YuvFrame; the kernels live in cpu/ and cuda/.
#include "color/yuv_frame.h"

#include <stdexcept>

#include "common/check.h"

namespace pvf {
namespace color {

Matrix parse_matrix(const std::string& name) {
  if (name == "bt601") return Matrix::kBT601;
  if (name == "bt709") return Matrix::kBT709;
  if (name == "bt2020") return Matrix::kBT2020;
  PVF_CHECK(false, "matrix must be 'bt601', 'bt709' or 'bt2020', got matrix=", name);
  return Matrix::kBT709;
}

void validate(const YuvFrame& f) {
  PVF_CHECK(f.height > 0 && f.width > 0, "luma must have a positive size, got ", f.height, "x",
            f.width);
  PVF_CHECK(f.height < (int64_t{1} << 24) && f.width < (int64_t{1} << 24),
            "frame sizes must be < 2^24, got ", f.height, "x", f.width);
  PVF_CHECK(f.luma != nullptr && f.chroma != nullptr, "luma and chroma pointers must be set");
  PVF_CHECK(f.luma_stride_h >= 0 && f.luma_stride_w >= 0, "luma strides must be >= 0, got (",
            f.luma_stride_h, ", ", f.luma_stride_w, ")");
  PVF_CHECK(f.chroma_stride_h >= 0 && f.chroma_stride_w >= 0 && f.chroma_stride_c >= 0,
            "chroma strides must be >= 0, got (", f.chroma_stride_h, ", ", f.chroma_stride_w, ", ",
            f.chroma_stride_c, ")");
  const int m = static_cast<int>(f.matrix);
  PVF_CHECK(m >= 0 && m <= 2, "unknown matrix code ", m);
}

#ifndef PYVIDFAST_WITH_CUDA
void yuv_to_rgb_cuda(const YuvFrame&, uint8_t*, int64_t, int64_t, int, uintptr_t) {
  throw std::runtime_error("CUDA support was not built: pyvidfast was compiled without nvcc");
}
#endif

}  // namespace color
}  // namespace pvf
