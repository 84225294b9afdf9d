// A 4:2:0 frame as NVDEC and FFmpeg hand it over: a luma plane and an interleaved U,V plane (NV12
// for 8-bit samples, P016 for 16-bit samples with the value in the high bits), each addressed by
// pointer and element strides (a row pitch, any view). Validation and the per-device entry points.
#pragma once

#include <cstdint>
#include <string>

#include "color/yuv_to_rgb.h"

namespace pvf {
namespace color {

struct YuvFrame {
  const void* luma = nullptr;    // [height, width] samples
  const void* chroma = nullptr;  // [ceil(height / 2), ceil(width / 2), 2] samples: U, V
  int64_t height = 0, width = 0;
  int64_t luma_stride_h = 0, luma_stride_w = 1;
  int64_t chroma_stride_h = 0, chroma_stride_w = 2, chroma_stride_c = 1;
  bool sixteen_bit = false;  // uint16 samples (P016) instead of uint8 (NV12)
  Matrix matrix = Matrix::kBT709;
  bool full_range = false;
};

// "bt601", "bt709", "bt2020" -> Matrix; throws std::invalid_argument otherwise.
Matrix parse_matrix(const std::string& name);

// Throws std::invalid_argument naming the first bad field and its value.
void validate(const YuvFrame& f);

// CPU: RGB of one frame into dst[y * dst_stride_h + x * dst_stride_w + c] (uint8, c = R, G, B).
// Blocks until done; call without the GIL.
void yuv_to_rgb_cpu(const YuvFrame& f, uint8_t* dst, int64_t dst_stride_h, int64_t dst_stride_w,
                    int num_threads);

// CUDA: the same into a device buffer, enqueued on `stream` of `device` without synchronising.
// Throws std::runtime_error if the build has no CUDA kernels.
void yuv_to_rgb_cuda(const YuvFrame& f, uint8_t* dst, int64_t dst_stride_h, int64_t dst_stride_w,
                     int device, uintptr_t stream);

}  // namespace color
}  // namespace pvf
