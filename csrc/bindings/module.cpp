// The private extension pyvidfast._C. Users import pyvidfast.transform etc., never this module.
// Arrays cross the boundary as (data pointer, sizes, element strides) from torch tensors the Python
// wrappers validated and allocated: the extension does not link libtorch, so it does not depend on
// the torch version.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>

#include "transform/cpu/resize_rows.h"
#include "transform/resize_crop_normalize.h"

namespace py = pybind11;

namespace pvf {
namespace color {
void register_color(py::module_& m);  // color/color_bindings.cpp
}  // namespace color
namespace transform {
void register_fused_resize(py::module_& m);  // transform/fused_resize_bindings.cpp
}  // namespace transform

bool has_cuda_build() {
#ifdef PYVIDFAST_WITH_CUDA
  return true;
#else
  return false;
#endif
}

namespace {

using Shape3 = std::array<int64_t, 3>;
using Shape4 = std::array<int64_t, 4>;
using Pair = std::array<int64_t, 2>;

transform::ResizeCropParams make_resize_params(uintptr_t src_ptr, const Shape3& src_sizes,
                                               const Shape4& src_strides, const Pair& resize_hw,
                                               const Pair& crop_tl, const Pair& crop_hw,
                                               uintptr_t dst_ptr, const Shape4& dst_strides,
                                               const std::string& out_dtype, bool fma) {
  transform::ResizeCropParams p;
  p.src = reinterpret_cast<const uint8_t*>(src_ptr);
  p.frames = src_sizes[0];
  p.height = src_sizes[1];
  p.width = src_sizes[2];
  p.src_stride_t = src_strides[0];
  p.src_stride_h = src_strides[1];
  p.src_stride_w = src_strides[2];
  p.src_stride_c = src_strides[3];
  p.resize_h = resize_hw[0];
  p.resize_w = resize_hw[1];
  p.top = crop_tl[0];
  p.left = crop_tl[1];
  p.crop_h = crop_hw[0];
  p.crop_w = crop_hw[1];
  p.dst = reinterpret_cast<void*>(dst_ptr);
  p.dst_stride_t = dst_strides[0];
  p.dst_stride_c = dst_strides[1];
  p.dst_stride_h = dst_strides[2];
  p.dst_stride_w = dst_strides[3];
  p.out_dtype = transform::parse_out_dtype(out_dtype);
  p.fma = fma;
  transform::validate(p);
  return p;
}

void register_transform(py::module_& m) {
  m.def(
      "resize_crop_normalize",
      [](uintptr_t src_ptr, const Shape3& src_sizes, const Shape4& src_strides,
         const Pair& resize_hw, const Pair& crop_tl, const Pair& crop_hw, uintptr_t dst_ptr,
         const Shape4& dst_strides, const std::string& out_dtype, bool fma, int num_threads) {
        const auto p = make_resize_params(src_ptr, src_sizes, src_strides, resize_hw, crop_tl,
                                          crop_hw, dst_ptr, dst_strides, out_dtype, fma);
        transform::resize_crop_normalize_cpu(p, num_threads);
      },
      py::arg("src_ptr"), py::arg("src_sizes"), py::arg("src_strides"), py::arg("resize_hw"),
      py::arg("crop_tl"), py::arg("crop_hw"), py::arg("dst_ptr"), py::arg("dst_strides"),
      py::arg("out_dtype"), py::arg("fma"), py::arg("num_threads"),
      py::call_guard<py::gil_scoped_release>(),
      "CPU resize -> crop -> normalise of uint8 [T, H, W, 3] frames (element strides) into "
      "[T, 3, crop_h, crop_w] (element strides). Blocks until done; releases the GIL.");
  m.def(
      "resize_crop_normalize_workspace_bytes",
      [](const Shape3& src_sizes, const Pair& resize_hw, const Pair& crop_tl, const Pair& crop_hw) {
        transform::ResizeCropParams p;
        p.frames = src_sizes[0];
        p.height = src_sizes[1];
        p.width = src_sizes[2];
        p.resize_h = resize_hw[0];
        p.resize_w = resize_hw[1];
        p.top = crop_tl[0];
        p.left = crop_tl[1];
        p.crop_h = crop_hw[0];
        p.crop_w = crop_hw[1];
        return transform::cuda_workspace_bytes(p);
      },
      py::arg("src_sizes"), py::arg("resize_hw"), py::arg("crop_tl"), py::arg("crop_hw"),
      "Bytes of CUDA scratch resize_crop_normalize_cuda needs.");
  m.def(
      "resize_crop_normalize_cuda",
      [](uintptr_t src_ptr, const Shape3& src_sizes, const Shape4& src_strides,
         const Pair& resize_hw, const Pair& crop_tl, const Pair& crop_hw, uintptr_t dst_ptr,
         const Shape4& dst_strides, const std::string& out_dtype, bool fma, int device,
         uintptr_t stream, uintptr_t workspace_ptr, size_t workspace_bytes) {
        const auto p = make_resize_params(src_ptr, src_sizes, src_strides, resize_hw, crop_tl,
                                          crop_hw, dst_ptr, dst_strides, out_dtype, fma);
        transform::resize_crop_normalize_cuda(
            p, device, stream, reinterpret_cast<void*>(workspace_ptr), workspace_bytes);
      },
      py::arg("src_ptr"), py::arg("src_sizes"), py::arg("src_strides"), py::arg("resize_hw"),
      py::arg("crop_tl"), py::arg("crop_hw"), py::arg("dst_ptr"), py::arg("dst_strides"),
      py::arg("out_dtype"), py::arg("fma"), py::arg("device"), py::arg("stream"),
      py::arg("workspace_ptr"), py::arg("workspace_bytes"),
      py::call_guard<py::gil_scoped_release>(),
      "CUDA resize -> crop -> normalise on `stream` (cudaStream_t as int) of `device`; device "
      "pointers; asynchronous (no host synchronisation).");
}

}  // namespace
}  // namespace pvf

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyvidfast native kernels (private; use the pyvidfast Python API)";
  m.def("has_cuda", &pvf::has_cuda_build, "True when the CUDA kernels were compiled in.");
  m.def("cpu_has_fma", &pvf::transform::cpu_has_fma,
        "True when the CPU kernels' fused multiply-add variant can run here.");
  pvf::register_transform(m);
  pvf::color::register_color(m);
  pvf::transform::register_fused_resize(m);
}
