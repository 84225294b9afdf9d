// The fused GPU path: source pixels (uint8 RGB, or NV12 / P016 planes converted per pixel on load)
// -> antialiased bicubic resize -> crop -> normalise in one kernel, for a batch of frames that may
// have different source sizes and colour settings but share the crop size. See "Note [fused
// resize kernel]" in cuda/fused_resize_cuda.cu.
//
// Two pieces of host data, built by different calls so that a call's host cost does not grow with
// the batch:
//   - a plan per geometry (source size, resize, crop origin, crop size, fma): weights, tap windows
//     and tile ranges (plan_geometry). The caller uploads it once and caches it on the device.
//   - per call, one FrameGroup record per run of same-size frames (pointers, strides, colour),
//   which
//     make_batches validates and expands into FusedFrame descriptors; those travel as kernel
//     parameters (FusedBatch, up to kFusedBatchFrames frames per launch), so no table is copied.
// Nothing here synchronises with the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "color/yuv_to_rgb.h"
#include "transform/resize_weights.h"

namespace pvf {
namespace transform {

enum class SourceKind : int { kRGB8 = 0, kNV12 = 1, kP016 = 2 };

// A block computes a kFusedTileW x kFusedTileH output tile with kFusedTileW x kFusedThreadsY
// threads; input rows go through shared memory at most kFusedChunkRows at a time
// (FusedBatch::chunk). Each thread of the horizontal pass computes kFusedQuad adjacent output
// columns of one row, each thread of the vertical pass kFusedQuad adjacent output rows of one
// column (Note [fused resize kernel]).
constexpr int kFusedTileW = 32;
constexpr int kFusedTileH = 32;
constexpr int kFusedThreadsY = 8;
constexpr int kFusedChunkRows = 32;
constexpr int kFusedQuad = 4;
constexpr int kFusedBatchFrames = 64;
// Shared memory per block: the layout shrinks its chunk below kFusedSmemTarget where it can;
// A100 gives a block at most 163 KiB, Hopper 227 KiB.
constexpr size_t kFusedSmemTarget = 64 * 1024;
constexpr size_t kFusedSmemLimit = 160 * 1024;

// One geometry's plan, at the start of its buffer; offsets are bytes from the buffer's start.
// Per axis, output indices go in quads of kFusedQuad (aligned to the tiles); quad q reads the
// input window [q_first[q], q_first[q] + q_len[q]) (the union of its outputs' tap windows) with
// q_w[q][u][k] the weight of input q_first + u for output 4q + k: ATen's weight inside the
// output's own window, 0 outside it (adding v * 0 leaves a float sum unchanged, so the sum is
// still ATen's). Tile ranges: columns [col_lo, col_lo + ncols) with col_lo a multiple of 4
// (aligned quad loads), rows [row_lo, row_hi).
struct FusedGeom {
  int32_t src_h = 0, src_w = 0, crop_h = 0, crop_w = 0;
  int32_t x_union = 1, y_union = 1, max_cols = 4, unused = 0;
  int64_t xq_first = 0, xq_len = 0,
          xq_w = 0;  // int32 [quads], int32 [quads], float [quads][x_union][4]
  int64_t yq_first = 0, yq_len = 0, yq_w = 0;  // the same for rows
  int64_t x_range = 0, y_range = 0;            // int32 [tiles][2]
};

// One frame as the kernel reads it. plane0: RGB ([H, W, 3] with element strides s0h, s0w, s0c) or
// luma ([H, W]); plane1: interleaved chroma ([ceil(H/2), ceil(W/2), 2], s1h, s1w, s1c). `vec`:
// the planes are dense and aligned so that 4 pixels load with one 4- or 8-byte access.
struct FusedFrame {
  const void* plane0 = nullptr;
  const void* plane1 = nullptr;
  const FusedGeom* geom = nullptr;  // device (or, emulated, host) plan
  int32_t s0h = 0, s0w = 0, s0c = 0, s1h = 0, s1w = 0, s1c = 0;
  int32_t height = 0, width = 0, vec = 0, unused = 0;
  color::YuvCoeffs coeffs;
};

// A launch's kernel parameter. max_cols / x_union / y_union are the maxima over its frames' plans
// and, with the rows staged at a time (`chunk`, fewer for very large downscales), fix the
// shared-memory layout.
struct FusedBatch {
  int32_t count = 0, max_cols = 4, x_union = 1, y_union = 1, chunk = kFusedChunkRows, unused = 0;
  FusedFrame frames[kFusedBatchFrames];
};

// What Python passes per run of same-size frames (a numpy record array, FRAME_GROUP in
// pyvidfast/transform/fused.py, field for field). Pointers and element strides of the planes:
// frame k of the group is at luma + k * luma_sn (and chroma + k * chroma_sn).
struct FrameGroup {
  int64_t luma, chroma, plan, count;
  int64_t luma_sn, luma_sh, luma_sw, luma_sc;
  int64_t chroma_sn, chroma_sh, chroma_sw, chroma_sc;
  int64_t height, width, chroma_h, chroma_w, chroma_c;
  int64_t matrix, full_range;
  int64_t plan_src_h, plan_src_w, plan_max_cols, plan_x_union, plan_y_union;
};

// The summary of a plan the caller keeps beside the uploaded buffer.
struct GeomPlan {
  std::vector<unsigned char> bytes;
  int32_t src_h = 0, src_w = 0, max_cols = 0, x_union = 0, y_union = 0;
};

// The plan of one geometry. Throws std::invalid_argument on bad sizes or a crop outside the
// resized frame. Host only; shared by every build so the CPU tests exercise it.
GeomPlan plan_geometry(int64_t src_h, int64_t src_w, int64_t resize_h, int64_t resize_w,
                       int64_t top, int64_t left, int64_t crop_h, int64_t crop_w, bool fma);

// Validates the groups (shapes, strides, the plan matching the frame size) and splits their
// frames into launches of at most kFusedBatchFrames. Throws std::invalid_argument naming the group.
std::vector<FusedBatch> make_batches(SourceKind kind, const FrameGroup* groups, int64_t n);

// Shared memory of a batch: the staged chunk (3 planes of chunk x max_cols floats), the
// horizontally resized rows (3 x chunk x kFusedTileW floats), the tile's quad weights
// (x_union and y_union rows of 32 floats) and the quads' windows (2 x 2 x 8 ints).
inline size_t fused_smem_bytes(const FusedBatch& b) {
  const size_t floats = 3 * static_cast<size_t>(b.chunk) * b.max_cols +
                        3 * static_cast<size_t>(b.chunk) * kFusedTileW +
                        static_cast<size_t>(b.x_union) * kFusedTileW +
                        static_cast<size_t>(b.y_union) * kFusedTileH + 4 * 8;
  return floats * 4;
}

// Launches the fused kernel once per batch on `stream` of `device` (no synchronisation). dst is
// indexed [t, c, y, x] by the element strides (x stride 1); batch i's frames start at frame
// i * kFusedBatchFrames. Throws std::runtime_error if the build has no CUDA kernels.
void launch_fused_cuda(SourceKind kind, const std::vector<FusedBatch>& batches, int64_t crop_h,
                       int64_t crop_w, void* dst, int64_t dst_stride_t, int64_t dst_stride_c,
                       int64_t dst_stride_h, OutDtype out_dtype, bool fma, int device,
                       uintptr_t stream);

// CPU: runs the CUDA kernel's per-block steps (fused_resize_tile.h) one after another over the
// same batches, with host pointers in them; blocks until done. It exists to test the kernel's
// logic on machines without a GPU and equals the CPU op bit for bit (tests/test_color.py).
void fused_resize_emulate_cpu(SourceKind kind, const std::vector<FusedBatch>& batches,
                              int64_t crop_h, int64_t crop_w, void* dst, int64_t dst_stride_t,
                              int64_t dst_stride_c, int64_t dst_stride_h, OutDtype out_dtype,
                              bool fma, int num_threads);

}  // namespace transform
}  // namespace pvf
