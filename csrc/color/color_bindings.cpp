// pyvidfast._C bindings for YUV -> RGB (register_color, called from bindings/module.cpp). Planes
// cross as (data pointer, element strides) of tensors the Python wrapper validated.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>

#include "color/yuv_frame.h"

namespace py = pybind11;

namespace pvf {
namespace color {
namespace {

using Pair = std::array<int64_t, 2>;
using Triple = std::array<int64_t, 3>;

YuvFrame make_frame(uintptr_t luma_ptr, const Pair& luma_strides, uintptr_t chroma_ptr,
                    const Triple& chroma_strides, const Pair& size_hw, bool sixteen_bit,
                    const std::string& matrix, bool full_range) {
  YuvFrame f;
  f.luma = reinterpret_cast<const void*>(luma_ptr);
  f.chroma = reinterpret_cast<const void*>(chroma_ptr);
  f.height = size_hw[0];
  f.width = size_hw[1];
  f.luma_stride_h = luma_strides[0];
  f.luma_stride_w = luma_strides[1];
  f.chroma_stride_h = chroma_strides[0];
  f.chroma_stride_w = chroma_strides[1];
  f.chroma_stride_c = chroma_strides[2];
  f.sixteen_bit = sixteen_bit;
  f.matrix = parse_matrix(matrix);
  f.full_range = full_range;
  validate(f);
  return f;
}

}  // namespace

void register_color(py::module_& m) {
  m.def(
      "yuv_to_rgb",
      [](uintptr_t luma_ptr, const Pair& luma_strides, uintptr_t chroma_ptr,
         const Triple& chroma_strides, const Pair& size_hw, bool sixteen_bit,
         const std::string& matrix, bool full_range, uintptr_t dst_ptr, const Pair& dst_strides,
         int num_threads) {
        const YuvFrame f = make_frame(luma_ptr, luma_strides, chroma_ptr, chroma_strides, size_hw,
                                      sixteen_bit, matrix, full_range);
        yuv_to_rgb_cpu(f, reinterpret_cast<uint8_t*>(dst_ptr), dst_strides[0], dst_strides[1],
                       num_threads);
      },
      py::arg("luma_ptr"), py::arg("luma_strides"), py::arg("chroma_ptr"),
      py::arg("chroma_strides"), py::arg("size_hw"), py::arg("sixteen_bit"), py::arg("matrix"),
      py::arg("full_range"), py::arg("dst_ptr"), py::arg("dst_strides"), py::arg("num_threads"),
      py::call_guard<py::gil_scoped_release>(),
      "CPU NV12/P016 -> uint8 RGB [H, W, 3] (dst strides for H and W; channels contiguous). "
      "Blocks until done; releases the GIL.");
  m.def(
      "yuv_to_rgb_cuda",
      [](uintptr_t luma_ptr, const Pair& luma_strides, uintptr_t chroma_ptr,
         const Triple& chroma_strides, const Pair& size_hw, bool sixteen_bit,
         const std::string& matrix, bool full_range, uintptr_t dst_ptr, const Pair& dst_strides,
         int device, uintptr_t stream) {
        const YuvFrame f = make_frame(luma_ptr, luma_strides, chroma_ptr, chroma_strides, size_hw,
                                      sixteen_bit, matrix, full_range);
        yuv_to_rgb_cuda(f, reinterpret_cast<uint8_t*>(dst_ptr), dst_strides[0], dst_strides[1],
                        device, stream);
      },
      py::arg("luma_ptr"), py::arg("luma_strides"), py::arg("chroma_ptr"),
      py::arg("chroma_strides"), py::arg("size_hw"), py::arg("sixteen_bit"), py::arg("matrix"),
      py::arg("full_range"), py::arg("dst_ptr"), py::arg("dst_strides"), py::arg("device"),
      py::arg("stream"), py::call_guard<py::gil_scoped_release>(),
      "CUDA NV12/P016 -> uint8 RGB on `stream` of `device`; asynchronous (no host sync).");
  m.def(
      "yuv_coeffs",
      [](const std::string& matrix, bool full_range) {
        const YuvCoeffs k = make_yuv_coeffs(parse_matrix(matrix), full_range);
        return std::array<int32_t, 6>{k.y, k.vr, k.ub, k.ug, k.vg, k.y_offset};
      },
      py::arg("matrix"), py::arg("full_range"),
      "swscale's 16-bit multipliers (y, vr, ub, ug, vg, y_offset) for a matrix and range.");
}

}  // namespace color
}  // namespace pvf
