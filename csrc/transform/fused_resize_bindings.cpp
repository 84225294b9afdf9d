// pyvidfast._C bindings for the fused GPU path (register_fused_resize, called from
// bindings/module.cpp): plan on the host, launch on a stream. See transform/fused_resize.h.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "color/yuv_frame.h"
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

// One frame: {plane0, plane1, s0h, s0w, s0c, s1h, s1w, s1c, height, width, full_range, resize_h,
// resize_w, top, left}.
using FrameInts = std::array<int64_t, 15>;

}  // namespace

void register_fused_resize(py::module_& m) {
  m.def(
      "fused_resize_plan",
      [](const std::string& kind, const std::vector<FrameInts>& frames,
         const std::vector<std::string>& matrices, const std::array<int64_t, 2>& crop_hw,
         bool fma) {
        const SourceKind k = parse_kind(kind);
        PVF_CHECK(matrices.size() == frames.size(), "matrices must have one entry per frame, got ",
                  matrices.size(), " for ", frames.size(), " frames");
        std::vector<FusedInput> inputs;
        for (size_t i = 0; i < frames.size(); ++i) {
          const FrameInts& v = frames[i];
          FusedInput in;
          in.frame.plane0 = reinterpret_cast<const void*>(static_cast<uintptr_t>(v[0]));
          in.frame.plane1 = reinterpret_cast<const void*>(static_cast<uintptr_t>(v[1]));
          in.frame.s0h = v[2];
          in.frame.s0w = v[3];
          in.frame.s0c = v[4];
          in.frame.s1h = v[5];
          in.frame.s1w = v[6];
          in.frame.s1c = v[7];
          PVF_CHECK(v[2] >= 0 && v[3] >= 0 && v[4] >= 0 && v[5] >= 0 && v[6] >= 0 && v[7] >= 0,
                    "strides must be >= 0 (frame ", i, ")");
          PVF_CHECK(k == SourceKind::kRGB8 || v[1] != 0, "chroma pointer is null (frame ", i, ")");
          in.frame.height = static_cast<int32_t>(v[8]);
          in.frame.width = static_cast<int32_t>(v[9]);
          PVF_CHECK(v[8] == in.frame.height && v[9] == in.frame.width, "frame ", i,
                    " is too large: ", v[8], "x", v[9]);
          in.frame.coeffs = color::make_yuv_coeffs(color::parse_matrix(matrices[i]), v[10] != 0);
          in.resize_h = v[11];
          in.resize_w = v[12];
          in.top = v[13];
          in.left = v[14];
          inputs.push_back(in);
        }
        FusedPlan plan;
        {
          py::gil_scoped_release release;
          plan = plan_fused(inputs, crop_hw[0], crop_hw[1], fma);
        }
        return py::make_tuple(
            py::bytes(reinterpret_cast<const char*>(plan.table.data()), plan.table.size()),
            plan.frames, plan.grid_x, plan.grid_y, plan.smem_bytes);
      },
      py::arg("kind"), py::arg("frames"), py::arg("matrices"), py::arg("crop_hw"), py::arg("fma"),
      "Host table (bytes, frames, grid_x, grid_y, smem_bytes) for fused_resize_cuda; kind is "
      "'rgb', 'nv12' or 'p016'. Pointers are the device addresses the kernel will read.");
  m.def(
      "fused_resize_cuda",
      [](const std::string& kind, uintptr_t table_ptr, int64_t frames, int64_t grid_x,
         int64_t grid_y, size_t smem_bytes, const std::array<int64_t, 2>& crop_hw,
         uintptr_t dst_ptr, const std::array<int64_t, 4>& dst_strides, const std::string& out_dtype,
         bool fma, int device, uintptr_t stream) {
        PVF_CHECK(dst_strides[3] == 1, "dst must be contiguous along the width, got stride ",
                  dst_strides[3]);
        launch_fused_cuda(parse_kind(kind), reinterpret_cast<const void*>(table_ptr), frames,
                          grid_x, grid_y, smem_bytes, crop_hw[0], crop_hw[1],
                          reinterpret_cast<void*>(dst_ptr), dst_strides[0], dst_strides[1],
                          dst_strides[2], parse_out_dtype(out_dtype), fma, device, stream);
      },
      py::arg("kind"), py::arg("table_ptr"), py::arg("frames"), py::arg("grid_x"),
      py::arg("grid_y"), py::arg("smem_bytes"), py::arg("crop_hw"), py::arg("dst_ptr"),
      py::arg("dst_strides"), py::arg("out_dtype"), py::arg("fma"), py::arg("device"),
      py::arg("stream"), py::call_guard<py::gil_scoped_release>(),
      "Fused resize -> crop -> normalise of a planned batch on `stream` of `device`; the table "
      "must already be on the device. Asynchronous (no host synchronisation).");
  m.def(
      "fused_resize_emulate",
      [](const std::string& kind, uintptr_t table_ptr, int64_t frames, int64_t grid_x,
         int64_t grid_y, const std::array<int64_t, 4>& dst_strides, uintptr_t dst_ptr,
         const std::string& out_dtype, bool fma, int num_threads) {
        PVF_CHECK(dst_strides[3] == 1, "dst must be contiguous along the width, got stride ",
                  dst_strides[3]);
        fused_resize_emulate_cpu(parse_kind(kind), reinterpret_cast<const void*>(table_ptr), frames,
                                 grid_x, grid_y, reinterpret_cast<void*>(dst_ptr), dst_strides[0],
                                 dst_strides[1], dst_strides[2], parse_out_dtype(out_dtype), fma,
                                 num_threads);
      },
      py::arg("kind"), py::arg("table_ptr"), py::arg("frames"), py::arg("grid_x"),
      py::arg("grid_y"), py::arg("dst_strides"), py::arg("dst_ptr"), py::arg("out_dtype"),
      py::arg("fma"), py::arg("num_threads"), py::call_guard<py::gil_scoped_release>(),
      "The fused CUDA kernel's steps run on the CPU over a host table (host pointers): a test "
      "of the kernel's logic without a GPU. Blocks; releases the GIL.");
}

}  // namespace transform
}  // namespace pvf
