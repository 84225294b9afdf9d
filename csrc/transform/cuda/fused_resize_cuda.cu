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
//   1. load: each source pixel of the chunk, converted to RGB, packed into one uint32;
//   2. horizontal: each (chunk row, tile column) -> three floats (the horizontally resized row);
//   3. vertical: each thread adds the chunk rows inside its output rows' windows to its
//      accumulators, in increasing row order, so the sum is ATen's tap order across chunks
//      (the first tap a plain product, the rest multiply-adds, fused when kFma).
// Frames differ in size, matrix and range through their FusedFrame descriptors; frames with the
// same geometry share a FusedGeom (weights, tap windows, tile ranges).
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "common/check.h"
#include "transform/fused_resize.h"

namespace pvf {
namespace transform {
namespace {

constexpr int kThreads = kFusedTileW * kFusedThreadsY;
constexpr int kRowsPerThread = kFusedTileH / kFusedThreadsY;

void check_cuda(cudaError_t err, const char* what) {
  PVF_CHECK_RUNTIME(err == cudaSuccess, "CUDA error in the fused resize (", what,
                    "): ", cudaGetErrorString(err));
}

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (device != previous_) check_cuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// The RGB of source pixel (y, x), packed R | G << 8 | B << 16.
template <SourceKind K>
__device__ __forceinline__ uint32_t load_rgb(const FusedFrame& f, int64_t y, int64_t x) {
  if constexpr (K == SourceKind::kRGB8) {
    const uint8_t* p = static_cast<const uint8_t*>(f.plane0) + y * f.s0h + x * f.s0w;
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[f.s0c]) << 8) |
           (static_cast<uint32_t>(p[2 * f.s0c]) << 16);
  } else {
    using T = typename std::conditional<K == SourceKind::kNV12, uint8_t, uint16_t>::type;
    const T* luma = static_cast<const T*>(f.plane0);
    const T* c = static_cast<const T*>(f.plane1) + (y >> 1) * f.s1h + (x >> 1) * f.s1w;
    const color::ChromaTerms t =
        color::chroma_terms(f.coeffs, color::promote(c[0]), color::promote(c[f.s1c]));
    return color::yuv_pixel_packed(f.coeffs, color::promote(luma[y * f.s0h + x * f.s0w]), t);
  }
}

__device__ __forceinline__ float channel(uint32_t rgb, int c) {
  return static_cast<float>((rgb >> (8 * c)) & 0xFFu);
}

template <OutDtype D>
__device__ __forceinline__ void store(void* dst, int64_t o, float acc) {
  const float v = clamp_round_255(acc);
  if constexpr (D == OutDtype::kUint8) {
    static_cast<uint8_t*>(dst)[o] = static_cast<uint8_t>(static_cast<int>(v));
  } else if constexpr (D == OutDtype::kFloat32) {
    static_cast<float*>(dst)[o] = normalize_255(v);
  } else {
    static_cast<uint16_t*>(dst)[o] = normalized_bits16(D, static_cast<int>(v));
  }
}

template <SourceKind K, OutDtype D, bool kFma>
__global__ void __launch_bounds__(kThreads)
    fused_kernel(const unsigned char* __restrict__ table, void* __restrict__ dst, int64_t dst_t,
                 int64_t dst_c, int64_t dst_h) {
  extern __shared__ uint32_t smem[];
  const FusedHeader& h = *reinterpret_cast<const FusedHeader*>(table);
  const int64_t crop_h = h.crop_h, crop_w = h.crop_w;
  const int max_cols = h.max_cols;
  const int64_t t = blockIdx.z;
  const FusedFrame f = reinterpret_cast<const FusedFrame*>(table + h.frames)[t];
  const FusedGeom g = reinterpret_cast<const FusedGeom*>(table + h.geoms)[f.geom];
  const float* floats = reinterpret_cast<const float*>(table + h.floats);
  const int32_t* ints = reinterpret_cast<const int32_t*>(table + h.ints);

  uint32_t* rgb = smem;                                                       // [chunk][max_cols]
  float* hrow = reinterpret_cast<float*>(smem + kFusedChunkRows * max_cols);  // [3][chunk][tile_w]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int tid = ty * kFusedTileW + tx;
  const int64_t x = static_cast<int64_t>(blockIdx.x) * kFusedTileW + tx;
  const int col_lo = ints[g.x_range + 2 * blockIdx.x];
  const int ncols = ints[g.x_range + 2 * blockIdx.x + 1] - col_lo;
  const int row_lo = ints[g.y_range + 2 * blockIdx.y];
  const int row_hi = ints[g.y_range + 2 * blockIdx.y + 1];

  // This thread's output rows and their vertical windows.
  int64_t yo[kRowsPerThread];
  int first[kRowsPerThread], count[kRowsPerThread];
  const float* wy[kRowsPerThread];
  float acc[kRowsPerThread][3];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    yo[i] = static_cast<int64_t>(blockIdx.y) * kFusedTileH + ty + i * kFusedThreadsY;
    const bool valid = yo[i] < crop_h && x < crop_w;
    first[i] = valid ? ints[g.y_first + yo[i]] : 0;
    count[i] = valid ? ints[g.y_count + yo[i]] : 0;
    wy[i] = floats + g.wy + (valid ? yo[i] : 0) * g.y_taps;
    acc[i][0] = acc[i][1] = acc[i][2] = 0.0f;
  }

  for (int r0 = row_lo; r0 < row_hi; r0 += kFusedChunkRows) {
    const int rows = min(kFusedChunkRows, row_hi - r0);
    // 1. Source pixels of the chunk, converted once.
    for (int i = tid; i < rows * ncols; i += kThreads) {
      const int rr = i / ncols, cc = i - rr * ncols;
      rgb[rr * max_cols + cc] = load_rgb<K>(f, r0 + rr, col_lo + cc);
    }
    __syncthreads();
    // 2. Horizontal pass of the chunk rows for the tile's columns.
    for (int i = tid; i < rows * kFusedTileW; i += kThreads) {
      const int rr = i / kFusedTileW, xx = i - rr * kFusedTileW;
      const int64_t xo = static_cast<int64_t>(blockIdx.x) * kFusedTileW + xx;
      if (xo >= crop_w) continue;
      const uint32_t* s = rgb + rr * max_cols + (ints[g.x_first + xo] - col_lo);
      const float* w = floats + g.wx + xo * g.x_taps;
      const int n = ints[g.x_count + xo];
      float a0 = mul_rn(channel(s[0], 0), w[0]);  // ATen: out = src_0 * w_0
      float a1 = mul_rn(channel(s[0], 1), w[0]);
      float a2 = mul_rn(channel(s[0], 2), w[0]);
      for (int j = 1; j < n; ++j) {  // out += src_j * w_j
        const uint32_t p = s[j];
        a0 = mul_add<kFma>(channel(p, 0), w[j], a0);
        a1 = mul_add<kFma>(channel(p, 1), w[j], a1);
        a2 = mul_add<kFma>(channel(p, 2), w[j], a2);
      }
      hrow[(0 * kFusedChunkRows + rr) * kFusedTileW + xx] = a0;
      hrow[(1 * kFusedChunkRows + rr) * kFusedTileW + xx] = a1;
      hrow[(2 * kFusedChunkRows + rr) * kFusedTileW + xx] = a2;
    }
    __syncthreads();
    // 3. Vertical taps inside this chunk, in row order.
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
      const int lo = max(first[i], r0), hi = min(first[i] + count[i], r0 + rows);
      for (int r = lo; r < hi; ++r) {
        const int j = r - first[i];
        const float wj = wy[i][j];
#pragma unroll
        for (int c = 0; c < 3; ++c) {
          const float v = hrow[(c * kFusedChunkRows + (r - r0)) * kFusedTileW + tx];
          acc[i][c] = j == 0 ? mul_rn(v, wj) : mul_add<kFma>(v, wj, acc[i][c]);
        }
      }
    }
    __syncthreads();  // the next chunk overwrites the shared rows
  }

  if (x >= crop_w) return;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    if (yo[i] >= crop_h) continue;
#pragma unroll
    for (int c = 0; c < 3; ++c) {
      store<D>(dst, t * dst_t + c * dst_c + yo[i] * dst_h + x, acc[i][c]);
    }
  }
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
