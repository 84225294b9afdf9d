// Validation and routing for resize_crop_normalize; the kernels live in cpu/ and cuda/.
#include "transform/resize_crop_normalize.h"

#include <stdexcept>
#include <vector>

#include "common/check.h"

namespace pvf {
namespace transform {

OutDtype parse_out_dtype(const std::string& name) {
  if (name == "uint8") return OutDtype::kUint8;
  if (name == "float32") return OutDtype::kFloat32;
  if (name == "bfloat16") return OutDtype::kBFloat16;
  if (name == "float16") return OutDtype::kFloat16;
  PVF_CHECK(false, "out_dtype must be uint8, float32, bfloat16 or float16, got out_dtype=", name);
  return OutDtype::kFloat32;
}

void validate(const ResizeCropParams& p) {
  PVF_CHECK(p.frames >= 0, "frames must be >= 0, got frames=", p.frames);
  PVF_CHECK(p.height > 0 && p.width > 0, "frame size must be positive, got height=", p.height,
            ", width=", p.width);
  PVF_CHECK(p.resize_h > 0 && p.resize_w > 0,
            "resize size must be positive, got resize_h=", p.resize_h, ", resize_w=", p.resize_w);
  PVF_CHECK(p.crop_h > 0 && p.crop_w > 0, "size must be positive, got size=(", p.crop_h, ", ",
            p.crop_w, ")");
  PVF_CHECK(p.top >= 0 && p.top + p.crop_h <= p.resize_h, "crop top=", p.top, " with height ",
            p.crop_h, " is outside the resized height ", p.resize_h);
  PVF_CHECK(p.left >= 0 && p.left + p.crop_w <= p.resize_w, "crop left=", p.left, " with width ",
            p.crop_w, " is outside the resized width ", p.resize_w);
  // Sizes beyond 2^24 would make float(in) / out inexact in ATen too; no video is that large.
  PVF_CHECK(p.height < (int64_t{1} << 24) && p.width < (int64_t{1} << 24) &&
                p.resize_h < (int64_t{1} << 24) && p.resize_w < (int64_t{1} << 24),
            "sizes must be < 2^24, got height=", p.height, ", width=", p.width,
            ", resize=", p.resize_h, "x", p.resize_w);
  PVF_CHECK(
      p.src_stride_t >= 0 && p.src_stride_h >= 0 && p.src_stride_w >= 0 && p.src_stride_c >= 0,
      "src strides must be >= 0, got (", p.src_stride_t, ", ", p.src_stride_h, ", ", p.src_stride_w,
      ", ", p.src_stride_c, ")");
  PVF_CHECK(p.dst_stride_w == 1,
            "dst must be contiguous along the width, got dst_stride_w=", p.dst_stride_w);
  PVF_CHECK(p.dst_stride_t >= 0 && p.dst_stride_c >= 0 && p.dst_stride_h >= 0,
            "dst strides must be >= 0, got (", p.dst_stride_t, ", ", p.dst_stride_c, ", ",
            p.dst_stride_h, ")");
  if (p.frames > 0) {
    PVF_CHECK(p.src != nullptr, "src pointer is null");
    PVF_CHECK(p.dst != nullptr, "dst pointer is null");
  }
}

void needed_input_rows(const ResizeCropParams& p, int64_t* first_row, int64_t* count) {
  const AxisFilter fy = make_axis_filter(p.height, p.resize_h);
  std::vector<float> w(static_cast<size_t>(fy.max_taps));
  int64_t lo = p.height, hi = 0;
  // Window starts and ends grow with the output row, but ATen clips a window that precision made
  // one tap too long, so take the extremes over every cropped row rather than the two ends.
  for (int64_t y = p.top; y < p.top + p.crop_h; ++y) {
    int64_t first = 0;
    const int n = p.fma ? compute_axis_taps<true>(fy, y, w.data(), &first)
                        : compute_axis_taps<false>(fy, y, w.data(), &first);
    lo = first < lo ? first : lo;
    hi = first + n > hi ? first + n : hi;
  }
  *first_row = lo < hi ? lo : 0;
  *count = lo < hi ? hi - lo : 0;
}

#ifndef PYVIDFAST_WITH_CUDA
size_t cuda_workspace_bytes(const ResizeCropParams&) {
  throw std::runtime_error("CUDA support was not built: pyvidfast was compiled without nvcc");
}

void resize_crop_normalize_cuda(const ResizeCropParams&, int, uintptr_t, void*, size_t) {
  throw std::runtime_error("CUDA support was not built: pyvidfast was compiled without nvcc");
}
#endif

}  // namespace transform
}  // namespace pvf
