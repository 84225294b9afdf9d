// The fused GPU path: source pixels (uint8 RGB, or NV12 / P016 planes converted per pixel on load)
// -> antialiased bicubic resize -> crop -> normalise in one kernel, for a batch of frames that may
// have different source sizes and colour settings but share the crop size. See "Note [fused
// resize kernel]" in cuda/fused_resize_cuda.cu.
//
// The host builds one table (plan_fused: per-frame descriptors, the per-geometry tap weights from
// resize_weights.h, and each output tile's input row/column range); the caller copies it to the
// device on its stream (pinned memory, non-blocking) and launches with launch_fused_cuda. Nothing
// here synchronises with the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "color/yuv_to_rgb.h"
#include "transform/resize_weights.h"

namespace pvf {
namespace transform {

enum class SourceKind : int { kRGB8 = 0, kNV12 = 1, kP016 = 2 };

// Output tile of one block (kFusedTileW x kFusedTileH pixels, kFusedTileW x kFusedThreadsY
// threads) and the input rows staged in shared memory at a time.
constexpr int kFusedTileW = 32;
constexpr int kFusedTileH = 16;
constexpr int kFusedThreadsY = 8;
constexpr int kFusedChunkRows = 16;

// One frame as the kernel reads it. plane0: RGB ([H, W, 3] with strides s0h, s0w, s0c) or luma
// ([H, W] with s0h, s0w); plane1: interleaved chroma ([ceil(H/2), ceil(W/2), 2], s1h, s1w, s1c).
struct FusedFrame {
  const void* plane0 = nullptr;
  const void* plane1 = nullptr;
  int64_t s0h = 0, s0w = 0, s0c = 0;
  int64_t s1h = 0, s1w = 0, s1c = 0;
  int32_t height = 0, width = 0;
  int32_t geom = 0;  // index of its FusedGeom
  int32_t unused = 0;
  color::YuvCoeffs coeffs;
};

// Weights and tile ranges shared by the frames with the same source size, resize and crop origin.
// Offsets count elements of the table's float / int32 sections.
struct FusedGeom {
  int32_t x_taps = 1, y_taps = 1;  // weights stored per output column / row (zero-padded)
  int64_t wx = 0, wy = 0;          // [crop_w][x_taps], [crop_h][y_taps]
  int64_t x_first = 0, x_count = 0, y_first = 0, y_count = 0;  // [crop_w], [crop_h]
  int64_t x_range = 0, y_range = 0;  // [tiles][2]: input columns / rows [lo, hi) a tile reads
};

// Byte offsets of the table's sections (at the start of the table).
struct FusedHeader {
  int64_t frames = 0, geoms = 0, floats = 0, ints = 0;
  int32_t num_frames = 0, max_cols = 0;
  int64_t crop_h = 0, crop_w = 0;
};

// What the host knows about one frame before planning.
struct FusedInput {
  FusedFrame frame;  // geom is filled in by plan_fused
  int64_t resize_h = 0, resize_w = 0, top = 0, left = 0;
};

struct FusedPlan {
  std::vector<unsigned char> table;
  int64_t grid_x = 0, grid_y = 0, frames = 0;
  size_t smem_bytes = 0;
};

// Builds the table for `inputs` (all cropped to crop_h x crop_w). Throws std::invalid_argument on
// bad sizes. Host only; shared by every build so the CPU tests exercise it.
FusedPlan plan_fused(const std::vector<FusedInput>& inputs, int64_t crop_h, int64_t crop_w,
                     bool fma);

// Shared memory the kernel needs for a table whose widest tile reads max_cols input columns: the
// staged chunk (3 planes of kFusedChunkRows x max_cols floats) and the horizontally resized rows
// (3 x kFusedChunkRows x kFusedTileW floats).
inline size_t fused_smem_bytes(int64_t max_cols) {
  return 3 * static_cast<size_t>(kFusedChunkRows) * static_cast<size_t>(max_cols) * 4 +
         3 * static_cast<size_t>(kFusedChunkRows) * kFusedTileW * 4;
}

// Launches the fused kernel on `stream` of `device` (no synchronisation). `table` is the plan's
// table already on the device; dst is indexed [t, c, y, x] by the element strides (x stride 1).
// Throws std::runtime_error if the build has no CUDA kernels.
void launch_fused_cuda(SourceKind kind, const void* table, int64_t frames, int64_t grid_x,
                       int64_t grid_y, size_t smem_bytes, int64_t crop_h, int64_t crop_w, void* dst,
                       int64_t dst_stride_t, int64_t dst_stride_c, int64_t dst_stride_h,
                       OutDtype out_dtype, bool fma, int device, uintptr_t stream);

// CPU: runs the CUDA kernel's per-block steps (fused_resize_tile.h) one after another over the
// same table, with host pointers in it; blocks until done. It exists to test the kernel's logic
// on machines without a GPU and equals the CPU op bit for bit (tests/test_color.py).
void fused_resize_emulate_cpu(SourceKind kind, const void* table, int64_t frames, int64_t grid_x,
                              int64_t grid_y, void* dst, int64_t dst_stride_t, int64_t dst_stride_c,
                              int64_t dst_stride_h, OutDtype out_dtype, bool fma, int num_threads);

}  // namespace transform
}  // namespace pvf
