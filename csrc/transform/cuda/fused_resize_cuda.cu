// Note [fused resize kernel]
// One launch turns a batch of frames (uint8 RGB, or NV12 / P016 planes) into the normalised,
// cropped output, reading each source pixel from global memory about once per output tile and
// writing each output value once: no float scratch in global memory. The arithmetic is the CPU
// path's: YUV -> RGB per source pixel with yuv_to_rgb.h (rounded to uint8, as PyAV hands the CPU
// op uint8 RGB), then ATen's separable antialiased bicubic (horizontal pass first, taps summed in
// ATen's order, Note [matching ATen's AA bicubic]), clamp, round and normalise from
// resize_weights.h.
//
// Grid: (x tiles, y tiles, frames). A block owns a kFusedTileW x kFusedTileH tile of one frame's
// output; the plan gives the input rows [row_lo, row_hi) and columns [col_lo, col_hi) the tile
// reads. The rows go through shared memory kFusedChunkRows at a time:
//   1. load: each source pixel of the chunk, converted to RGB once, as three floats;
//   2. horizontal: each (chunk row, tile column) -> three floats (the horizontally resized row);
//   3. vertical: each thread adds the chunk rows inside its output rows' windows to its
//      accumulators, in increasing row order, so the sum is ATen's tap order across chunks
//      (the first tap a plain product, the rest multiply-adds, fused when kFma).
// Frames differ in size, matrix and range through their FusedFrame descriptors; frames with the
// same geometry share a FusedGeom (weights, tap windows, tile ranges).
#include <cuda_runtime.h>

#include <cstdint>

#include "common/check.h"
#include "common/cuda_guard.h"
#include "transform/fused_resize.h"
#include "transform/fused_resize_tile.h"

namespace pvf {
namespace transform {
namespace {

// Blocks per SM the register allocation must allow. 3 (ptxas for sm_90: 64-80 registers, no
// spills) gives 768 resident threads per SM; 4 caps registers at 64 and spills up to ~100 bytes
// in some instantiations. A tuning choice to re-measure on the GPU (bench_gpu_transform.py).
constexpr int kFusedMinBlocksPerSM = 3;

void check_cuda(cudaError_t err, const char* what) {
  pvf::check_cuda(err, "the fused resize", what);
}

template <SourceKind K, OutDtype D, bool kFma>
__global__ void __launch_bounds__(kFusedThreads, kFusedMinBlocksPerSM)
    fused_kernel(const unsigned char* __restrict__ table, void* __restrict__ dst, int64_t dst_t,
                 int64_t dst_c, int64_t dst_h) {
  extern __shared__ float smem[];
  const FusedTile s = fused_tile(table, blockIdx.z, blockIdx.x, blockIdx.y);
  float* stage = smem;                                    // [3][chunk][max_cols]
  float* hrow = smem + 3 * kFusedChunkRows * s.max_cols;  // [3][chunk][tile_w]
  const int tid = threadIdx.y * kFusedTileW + threadIdx.x;
  FusedThreadState st;
  fused_thread_init(s, threadIdx.x, threadIdx.y, &st);
  for (int r0 = s.row_lo; r0 < s.row_hi; r0 += kFusedChunkRows) {
    const int rows = min(kFusedChunkRows, s.row_hi - r0);
    // Warps walk rows, lanes walk columns: consecutive lanes read consecutive source bytes.
    for (int rr = threadIdx.y; rr < rows; rr += kFusedThreadsY) {
      for (int cc = threadIdx.x; cc < s.ncols; cc += kFusedTileW) {
        fused_stage_pixel<K>(s, r0, rr, cc, stage);
      }
    }
    __syncthreads();
    for (int i = tid; i < rows * kFusedTileW; i += kFusedThreads) {
      fused_horizontal<kFma>(s, i, stage, hrow);
    }
    __syncthreads();
    fused_vertical<kFma>(r0, rows, threadIdx.x, hrow, &st);
    __syncthreads();  // the next chunk overwrites the shared rows
  }
  fused_store<D>(s, st, dst, dst_t, dst_c, dst_h);
}

template <SourceKind K, OutDtype D, bool kFma>
void launch(const void* table, const dim3& grid, size_t smem, void* dst, int64_t dst_t,
            int64_t dst_c, int64_t dst_h, cudaStream_t stream) {
  auto* kernel = &fused_kernel<K, D, kFma>;
  if (smem > 48 * 1024) {
    // Above 48 KiB a kernel must opt in; a failure names the limit (very large downscales).
    check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem)),
               "cudaFuncSetAttribute (shared memory for a large downscale)");
  }
  kernel<<<grid, dim3(kFusedTileW, kFusedThreadsY), smem, stream>>>(
      static_cast<const unsigned char*>(table), dst, dst_t, dst_c, dst_h);
  check_cuda(cudaGetLastError(), "fused_kernel launch");
}

template <SourceKind K, bool kFma>
void dispatch_dtype(OutDtype d, const void* table, const dim3& grid, size_t smem, void* dst,
                    int64_t dst_t, int64_t dst_c, int64_t dst_h, cudaStream_t stream) {
  switch (d) {
    case OutDtype::kUint8:
      return launch<K, OutDtype::kUint8, kFma>(table, grid, smem, dst, dst_t, dst_c, dst_h, stream);
    case OutDtype::kFloat32:
      return launch<K, OutDtype::kFloat32, kFma>(table, grid, smem, dst, dst_t, dst_c, dst_h,
                                                 stream);
    case OutDtype::kBFloat16:
      return launch<K, OutDtype::kBFloat16, kFma>(table, grid, smem, dst, dst_t, dst_c, dst_h,
                                                  stream);
    case OutDtype::kFloat16:
      return launch<K, OutDtype::kFloat16, kFma>(table, grid, smem, dst, dst_t, dst_c, dst_h,
                                                 stream);
  }
  PVF_CHECK(false, "unknown out_dtype code ", static_cast<int>(d));
}

template <bool kFma>
void dispatch_kind(SourceKind k, OutDtype d, const void* table, const dim3& grid, size_t smem,
                   void* dst, int64_t dst_t, int64_t dst_c, int64_t dst_h, cudaStream_t stream) {
  switch (k) {
    case SourceKind::kRGB8:
      return dispatch_dtype<SourceKind::kRGB8, kFma>(d, table, grid, smem, dst, dst_t, dst_c, dst_h,
                                                     stream);
    case SourceKind::kNV12:
      return dispatch_dtype<SourceKind::kNV12, kFma>(d, table, grid, smem, dst, dst_t, dst_c, dst_h,
                                                     stream);
    case SourceKind::kP016:
      return dispatch_dtype<SourceKind::kP016, kFma>(d, table, grid, smem, dst, dst_t, dst_c, dst_h,
                                                     stream);
  }
  PVF_CHECK(false, "unknown source kind ", static_cast<int>(k));
}

}  // namespace

void launch_fused_cuda(SourceKind kind, const void* table, int64_t frames, int64_t grid_x,
                       int64_t grid_y, size_t smem_bytes, int64_t crop_h, int64_t crop_w, void* dst,
                       int64_t dst_stride_t, int64_t dst_stride_c, int64_t dst_stride_h,
                       OutDtype out_dtype, bool fma, int device, uintptr_t stream_handle) {
  if (frames == 0) return;
  PVF_CHECK(table != nullptr && dst != nullptr, "table and dst must be device pointers");
  PVF_CHECK(frames <= 65535, "at most 65535 frames per launch, got ", frames);
  PVF_CHECK(grid_x == (crop_w + kFusedTileW - 1) / kFusedTileW &&
                grid_y == (crop_h + kFusedTileH - 1) / kFusedTileH,
            "grid (", grid_x, ", ", grid_y, ") does not match the crop ", crop_h, "x", crop_w);
  PVF_CHECK(grid_y <= 65535, "crop height too large: ", crop_h);
  PVF_CHECK(dst_stride_t >= 0 && dst_stride_c >= 0 && dst_stride_h >= 0,
            "dst strides must be >= 0");
  DeviceGuard guard(device);
  const dim3 grid(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y),
                  static_cast<unsigned>(frames));
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  if (fma) {
    dispatch_kind<true>(kind, out_dtype, table, grid, smem_bytes, dst, dst_stride_t, dst_stride_c,
                        dst_stride_h, stream);
  } else {
    dispatch_kind<false>(kind, out_dtype, table, grid, smem_bytes, dst, dst_stride_t, dst_stride_c,
                         dst_stride_h, stream);
  }
}

}  // namespace transform
}  // namespace pvf
