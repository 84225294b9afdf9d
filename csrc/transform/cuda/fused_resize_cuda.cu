// Note [fused resize kernel]
// One launch turns up to kFusedBatchFrames frames (uint8 RGB, or NV12 / P016 planes) into the
// normalised, cropped output: each source pixel is read from global memory about once per output
// tile, converted once, and each output value is written once; no float scratch in global memory.
// The arithmetic is the CPU path's: YUV -> RGB per source pixel with yuv_to_rgb.h (rounded to
// uint8, as PyAV hands the CPU op uint8 RGB), then ATen's separable antialiased bicubic
// (horizontal pass first, taps summed in ATen's order, Note [matching ATen's AA bicubic]), clamp,
// round and normalise from resize_weights.h.
//
// Grid: (x tiles, y tiles, frames of the launch). A block owns a 32 x 32 output tile of one frame
// and 256 threads. The design follows the arithmetic of the 1080p -> 480x720 sample (2.25x
// downscale): ~10 horizontal taps per (source row, output column) and ~10 vertical taps per
// output, i.e. ~1.6 G multiply-adds for 49 frames, against ~1.5 bytes of NV12 per source pixel.
// Plain per-tap code is bound by shared-memory traffic (three pixel words and a weight per tap),
// so both passes are register-blocked four-wide:
//   0. setup: the tile's zero-padded quad weights ([u][quad][4]) and quad windows go from the
//      cached per-geometry plan into shared memory once; nothing in the loops reads the plan
//      again. The frame descriptor is a kernel parameter (__grid_constant__ FusedBatch), so the
//      only dependent global loads at block start are the plan's tile ranges.
//   then per chunk of source rows (32, fewer where a very large downscale needs the room):
//   1. stage: quads of 4 pixels, with one 4-byte (NV12 luma and chroma; three for RGB) or
//      8-byte (P016) load per plane where the frame is dense and aligned (per pixel otherwise),
//      converted to RGB once, to float with an OR and an add, and stored as one 16-byte word
//      per channel (no bank conflicts);
//   2. horizontal: a thread takes 4 adjacent output columns of one staged row and walks their
//      union window once: each staged pixel is read once for 4 columns and each weight row is
//      one 16-byte read, so a tile's source rows are resized once (32-row tiles re-read ~1.14x
//      the rows they need, against ~1.28x for 16 rows);
//   3. vertical: a thread takes 4 adjacent output rows of one column and walks their union window
//      in increasing row order, each resized value read once for the 4 rows, the weights a
//      broadcast 16-byte read.
// Zero weights pad each output's own taps to its quad's window: v * 0 added to a float sum leaves
// it unchanged (up to the sign of a zero, which clamp and round erase), and a sum that starts at
// 0 makes the first real tap a plain product, so every output is still ATen's sum in ATen's
// order (Note [matching ATen's AA bicubic]; multiply-adds fused when kFma), bit for bit.
// Two barriers per chunk: step 1 of the next chunk overwrites only the staged pixels (read by
// step 2, before the second barrier) and step 2 only the resized rows (read by step 3, before the
// next chunk's first barrier), so a warp may stage chunk k + 1 while others still run step 3 of k.
// Frames differ in size, matrix and range through their descriptors; frames with one geometry
// share a plan. ptxas (sm_90): 63-64 registers, no spills, so 4 blocks of 256 threads per SM; a
// 1080p -> 480x720 tile uses 48.6 KiB of shared memory (4 blocks: 194 KiB of Hopper's 228).
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/check.h"
#include "common/cuda_guard.h"
#include "transform/fused_resize.h"
#include "transform/fused_resize_tile.h"

namespace pvf {
namespace transform {
namespace {

// Blocks per SM the register allocation must allow (64 registers per thread): a tuning choice
// to re-measure on the GPU (benchmarks/bench_gpu_transform.py).
constexpr int kFusedMinBlocksPerSM = 4;
constexpr int kMaxDevices = 64;

void check_cuda(cudaError_t err, const char* what) {
  pvf::check_cuda(err, "the fused resize", what);
}

template <SourceKind K, OutDtype D, bool kFma>
__global__ void __launch_bounds__(kFusedThreads, kFusedMinBlocksPerSM)
    fused_kernel(const __grid_constant__ FusedBatch batch, int64_t t0, void* __restrict__ dst,
                 int64_t dst_t, int64_t dst_c, int64_t dst_h) {
  extern __shared__ __align__(16) float smem[];  // 16-byte stores in step 1
  const FusedTile s = fused_tile(batch, blockIdx.z, blockIdx.x, blockIdx.y);
  const FusedSmem m = fused_smem(smem, batch);
  const int tid = threadIdx.y * kFusedTileW + threadIdx.x;
  for (int i = tid; i < fused_setup_items(batch); i += kFusedThreads) fused_setup(s, batch, m, i);
  FusedAcc acc;
  __syncthreads();
  for (int r0 = s.row_lo; r0 < s.row_hi; r0 += m.chunk) {
    const int rows = min(m.chunk, s.row_hi - r0);
    const int quads = fused_quads(s, rows);
    for (int i = tid; i < quads; i += kFusedThreads) fused_stage_quad<K>(s, m, r0, i);
    __syncthreads();
    for (int i = tid; i < rows * kFusedQuads; i += kFusedThreads) fused_horizontal<kFma>(s, m, i);
    __syncthreads();
    fused_vertical<kFma>(m, r0, rows, threadIdx.x, threadIdx.y, &acc);
  }
  fused_store<D>(s, threadIdx.x, threadIdx.y, acc, t0 + blockIdx.z, dst, dst_t, dst_c, dst_h);
}

template <SourceKind K, OutDtype D, bool kFma>
void launch(const std::vector<FusedBatch>& batches, unsigned gx, unsigned gy, void* dst,
            int64_t dst_t, int64_t dst_c, int64_t dst_h, int device, cudaStream_t stream) {
  auto* kernel = &fused_kernel<K, D, kFma>;
  // The shared memory this instantiation has opted into, per device: above 48 KiB a kernel must
  // opt in (a 1080p -> 480x720 tile needs ~49 KiB); done once per size, not per call.
  static std::atomic<size_t> opted[kMaxDevices];
  for (size_t i = 0; i < batches.size(); ++i) {
    const FusedBatch& b = batches[i];
    const size_t smem = fused_smem_bytes(b);
    if (smem > 48 * 1024 && smem > opted[device].load()) {
      check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(smem)),
                 "cudaFuncSetAttribute (shared memory for a large downscale)");
      opted[device].store(smem);
    }
    const dim3 grid(gx, gy, static_cast<unsigned>(b.count));
    kernel<<<grid, dim3(kFusedTileW, kFusedThreadsY), smem, stream>>>(
        b, static_cast<int64_t>(i) * kFusedBatchFrames, dst, dst_t, dst_c, dst_h);
    check_cuda(cudaGetLastError(), "fused_kernel launch");
  }
}

template <SourceKind K, bool kFma>
void by_dtype(OutDtype d, const std::vector<FusedBatch>& b, unsigned gx, unsigned gy, void* dst,
              int64_t dst_t, int64_t dst_c, int64_t dst_h, int device, cudaStream_t stream) {
  switch (d) {
    case OutDtype::kUint8:
      return launch<K, OutDtype::kUint8, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, device, stream);
    case OutDtype::kFloat32:
      return launch<K, OutDtype::kFloat32, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, device,
                                                 stream);
    case OutDtype::kBFloat16:
      return launch<K, OutDtype::kBFloat16, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, device,
                                                  stream);
    case OutDtype::kFloat16:
      return launch<K, OutDtype::kFloat16, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, device,
                                                 stream);
  }
  PVF_CHECK(false, "unknown out_dtype code ", static_cast<int>(d));
}

template <bool kFma>
void by_kind(SourceKind k, OutDtype d, const std::vector<FusedBatch>& b, unsigned gx, unsigned gy,
             void* dst, int64_t dst_t, int64_t dst_c, int64_t dst_h, int device,
             cudaStream_t stream) {
  switch (k) {
    case SourceKind::kRGB8:
      return by_dtype<SourceKind::kRGB8, kFma>(d, b, gx, gy, dst, dst_t, dst_c, dst_h, device,
                                               stream);
    case SourceKind::kNV12:
      return by_dtype<SourceKind::kNV12, kFma>(d, b, gx, gy, dst, dst_t, dst_c, dst_h, device,
                                               stream);
    case SourceKind::kP016:
      return by_dtype<SourceKind::kP016, kFma>(d, b, gx, gy, dst, dst_t, dst_c, dst_h, device,
                                               stream);
  }
  PVF_CHECK(false, "unknown source kind ", static_cast<int>(k));
}

}  // namespace

void launch_fused_cuda(SourceKind kind, const std::vector<FusedBatch>& batches, int64_t crop_h,
                       int64_t crop_w, void* dst, int64_t dst_stride_t, int64_t dst_stride_c,
                       int64_t dst_stride_h, OutDtype out_dtype, bool fma, int device,
                       uintptr_t stream_handle) {
  if (batches.empty()) return;
  PVF_CHECK(dst != nullptr, "dst must be a device pointer");
  PVF_CHECK(crop_h > 0 && crop_w > 0, "crop must be positive, got ", crop_h, "x", crop_w);
  const int64_t gx = (crop_w + kFusedTileW - 1) / kFusedTileW;
  const int64_t gy = (crop_h + kFusedTileH - 1) / kFusedTileH;
  PVF_CHECK(gy <= 65535, "crop height too large: ", crop_h);
  PVF_CHECK(dst_stride_t >= 0 && dst_stride_c >= 0 && dst_stride_h >= 0,
            "dst strides must be >= 0");
  PVF_CHECK(device >= 0 && device < kMaxDevices, "device index out of range: ", device);
  DeviceGuard guard(device);
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  const auto ux = static_cast<unsigned>(gx), uy = static_cast<unsigned>(gy);
  if (fma) {
    by_kind<true>(kind, out_dtype, batches, ux, uy, dst, dst_stride_t, dst_stride_c, dst_stride_h,
                  device, stream);
  } else {
    by_kind<false>(kind, out_dtype, batches, ux, uy, dst, dst_stride_t, dst_stride_c, dst_stride_h,
                   device, stream);
  }
}

}  // namespace transform
}  // namespace pvf
