// pyvidfast._C bindings for the fused GPU path (register_fused_resize, called from
// bindings/module.cpp): a plan per geometry (built once, cached by the caller on the device), and
// one call per batch that takes the frame groups as a record array. See transform/fused_resize.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/check.h"
#include "transform/fused_resize.h"
#include "transform/resize_crop_normalize.h"

namespace py = pybind11;

namespace pvf {
namespace transform {
namespace {

SourceKind parse_kind(const std::string& kind) {
  if (kind == "rgb") return SourceKind::kRGB8;
  if (kind == "nv12") return SourceKind::kNV12;
  if (kind == "p016") return SourceKind::kP016;
  PVF_CHECK(false, "kind must be 'rgb', 'nv12' or 'p016', got kind=", kind);
  return SourceKind::kRGB8;
}

// FrameGroup's fields in order (all int64), the columns of the records;
// pyvidfast/transform/fused.py checks its GROUP_FIELDS against this list once, so the two cannot
// drift apart.
const std::vector<std::string> kGroupFields = {
    "luma",       "chroma",     "plan",       "count",         "luma_sn",      "luma_sh",
    "luma_sw",    "luma_sc",    "chroma_sn",  "chroma_sh",     "chroma_sw",    "chroma_sc",
    "height",     "width",      "chroma_h",   "chroma_w",      "chroma_c",     "matrix",
    "full_range", "plan_src_h", "plan_src_w", "plan_max_cols", "plan_x_union", "plan_y_union"};
static_assert(sizeof(FrameGroup) == 24 * sizeof(int64_t), "FrameGroup must be 24 int64 fields");

// One int64 row of kGroupFields per frame group, C-contiguous.
using GroupArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

std::vector<FusedBatch> batches_of(const std::string& kind, const GroupArray& groups) {
  PVF_CHECK(groups.ndim() == 2 && groups.shape(1) == static_cast<py::ssize_t>(kGroupFields.size()),
            "groups must be [n, ", kGroupFields.size(), "] int64 records, got ndim ",
            groups.ndim());
  return make_batches(parse_kind(kind), reinterpret_cast<const FrameGroup*>(groups.data()),
                      groups.shape(0));
}

void check_dst(const std::array<int64_t, 4>& dst_strides) {
  PVF_CHECK(dst_strides[3] == 1, "dst must be contiguous along the width, got stride ",
            dst_strides[3]);
}

}  // namespace

void register_fused_resize(py::module_& m) {
  py::class_<GeomPlan>(m, "FusedPlan", "One geometry's plan for the fused kernel (host bytes).")
      .def_property_readonly("data",
                             [](const GeomPlan& p) {
                               return py::bytes(reinterpret_cast<const char*>(p.bytes.data()),
                                                p.bytes.size());
                             })
      .def_readonly("src_h", &GeomPlan::src_h)
      .def_readonly("src_w", &GeomPlan::src_w)
      .def_readonly("max_cols", &GeomPlan::max_cols)
      .def_readonly("x_union", &GeomPlan::x_union)
      .def_readonly("y_union", &GeomPlan::y_union);
  m.def("fused_plan", &plan_geometry, py::arg("src_h"), py::arg("src_w"), py::arg("resize_h"),
        py::arg("resize_w"), py::arg("top"), py::arg("left"), py::arg("crop_h"), py::arg("crop_w"),
        py::arg("fma"), py::call_guard<py::gil_scoped_release>(),
        "The fused kernel's plan (weights, tap windows, tile ranges) of one geometry.");
  m.def(
      "fused_group_fields", [] { return kGroupFields; },
      "Column names of the [n, 24] int64 frame-group records the fused entry points take.");
  m.def(
      "fused_resize_cuda",
      [](const std::string& kind, const GroupArray& groups, const std::array<int64_t, 2>& crop_hw,
         uintptr_t dst_ptr, const std::array<int64_t, 4>& dst_strides, const std::string& out_dtype,
         bool fma, int device, uintptr_t stream) {
        check_dst(dst_strides);
        const auto batches = batches_of(kind, groups);  // the array outlives the call
        launch_fused_cuda(parse_kind(kind), batches, crop_hw[0], crop_hw[1],
                          reinterpret_cast<void*>(dst_ptr), dst_strides[0], dst_strides[1],
                          dst_strides[2], parse_out_dtype(out_dtype), fma, device, stream);
      },
      py::arg("kind"), py::arg("groups"), py::arg("crop_hw"), py::arg("dst_ptr"),
      py::arg("dst_strides"), py::arg("out_dtype"), py::arg("fma"), py::arg("device"),
      py::arg("stream"), py::call_guard<py::gil_scoped_release>(),
      "Fused resize -> crop -> normalise of the frame groups (a host record array; plans and "
      "planes on the device) on `stream` of `device`. Asynchronous (no host synchronisation).");
  m.def(
      "fused_resize_emulate",
      [](const std::string& kind, const GroupArray& groups, const std::array<int64_t, 2>& crop_hw,
         uintptr_t dst_ptr, const std::array<int64_t, 4>& dst_strides, const std::string& out_dtype,
         bool fma, int num_threads) {
        check_dst(dst_strides);
        const auto batches = batches_of(kind, groups);  // the array outlives the call
        fused_resize_emulate_cpu(parse_kind(kind), batches, crop_hw[0], crop_hw[1],
                                 reinterpret_cast<void*>(dst_ptr), dst_strides[0], dst_strides[1],
                                 dst_strides[2], parse_out_dtype(out_dtype), fma, num_threads);
      },
      py::arg("kind"), py::arg("groups"), py::arg("crop_hw"), py::arg("dst_ptr"),
      py::arg("dst_strides"), py::arg("out_dtype"), py::arg("fma"), py::arg("num_threads"),
      py::call_guard<py::gil_scoped_release>(),
      "The fused CUDA kernel's steps run on the CPU (plans and planes in host memory): a test of "
      "the kernel's logic without a GPU. Blocks; releases the GIL.");
}

}  // namespace transform
}  // namespace pvf
