// resize -> crop -> normalise of uint8 RGB frames (CogVideoX's resize_for_rectangle_crop followed
// by (x - 127.5) / 127.5): the parameters, their validation, and the per-device entry points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "transform/resize_weights.h"

namespace pvf {
namespace transform {

// Frames are addressed by pointer and element strides (no tensor library in the extension): the
// source as [T, H, W, C=3] uint8, the destination as [T, C=3, crop_h, crop_w] of out_dtype,
// whatever the memory order (a CTHW output is a permuted view of the same indexing).
struct ResizeCropParams {
  const uint8_t* src = nullptr;
  int64_t frames = 0, height = 0, width = 0;
  int64_t src_stride_t = 0, src_stride_h = 0, src_stride_w = 0, src_stride_c = 0;
  int64_t resize_h = 0, resize_w = 0;  // size after the resize, before the crop
  int64_t top = 0, left = 0;           // crop origin inside the resized frame
  int64_t crop_h = 0, crop_w = 0;      // output size
  void* dst = nullptr;
  int64_t dst_stride_t = 0, dst_stride_c = 0, dst_stride_h = 0, dst_stride_w = 1;
  OutDtype out_dtype = OutDtype::kFloat32;
  bool fma = false;  // Note [FMA mode] in resize_weights.h
};

// "uint8", "float32", "bfloat16", "float16" -> OutDtype; throws std::invalid_argument otherwise.
OutDtype parse_out_dtype(const std::string& name);

// Throws std::invalid_argument naming the first bad field and its value.
void validate(const ResizeCropParams& p);

// Number of input rows the cropped output rows read ([first_row, first_row + count)).
void needed_input_rows(const ResizeCropParams& p, int64_t* first_row, int64_t* count);

// CPU: num_threads worker threads; blocks until done. Call without the GIL.
void resize_crop_normalize_cpu(const ResizeCropParams& p, int num_threads);

// CUDA: bytes of device scratch the CUDA path needs for these parameters.
size_t cuda_workspace_bytes(const ResizeCropParams& p);

// CUDA: enqueues the work on `stream` (a cudaStream_t as an integer, 0 = legacy default stream) of
// `device` and returns without synchronising. src, dst and workspace are device pointers.
// Throws std::runtime_error if the build has no CUDA kernels ("CUDA support was not built").
void resize_crop_normalize_cuda(const ResizeCropParams& p, int device, uintptr_t stream,
                                void* workspace, size_t workspace_bytes);

}  // namespace transform
}  // namespace pvf
