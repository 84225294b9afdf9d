// CUDA kernels for resize -> crop -> normalise: the same arithmetic as the CPU path (the weights
// and per-pixel conversions come from resize_weights.h; Note [matching ATen's AA bicubic]), so
// CPU and CUDA agree bit for bit. Three launches on the caller's stream, none synchronising:
//   1. weights: the taps of every cropped output column and row (compute_axis_taps);
//   2. horizontal: for every frame and every input row the cropped rows read, the cropped columns
//      into a float32 scratch [T][rows][3][crop_w];
//   3. vertical: the cropped output pixels, clamped, rounded and normalised into the destination.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "common/check.h"
#include "common/cuda_guard.h"
#include "transform/resize_crop_normalize.h"

namespace pvf {
namespace transform {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridY = 65535;

inline size_t align_up(size_t n) { return (n + 255) / 256 * 256; }

void check_cuda(cudaError_t err, const char* what) {
  pvf::check_cuda(err, "resize_crop_normalize", what);
}

// Byte offsets of the workspace sections.
struct Workspace {
  AxisFilter fx, fy;
  int64_t row0 = 0, rows = 0;  // input rows the cropped output rows read
  size_t wx = 0, x_first = 0, x_count = 0, wy = 0, y_first = 0, y_count = 0, tmp = 0, total = 0;
};

Workspace plan(const ResizeCropParams& p) {
  Workspace ws;
  ws.fx = make_axis_filter(p.width, p.resize_w);
  ws.fy = make_axis_filter(p.height, p.resize_h);
  needed_input_rows(p, &ws.row0, &ws.rows);
  size_t at = 0;
  auto take = [&at](size_t bytes) {
    const size_t offset = at;
    at += align_up(bytes);
    return offset;
  };
  ws.wx = take(sizeof(float) * p.crop_w * ws.fx.max_taps);
  ws.x_first = take(sizeof(int) * p.crop_w);
  ws.x_count = take(sizeof(int) * p.crop_w);
  ws.wy = take(sizeof(float) * p.crop_h * ws.fy.max_taps);
  ws.y_first = take(sizeof(int) * p.crop_h);
  ws.y_count = take(sizeof(int) * p.crop_h);
  ws.tmp = take(sizeof(float) * p.frames * ws.rows * 3 * p.crop_w);
  ws.total = at;
  return ws;
}

// One thread per cropped output column (i < crop_w) or row (i >= crop_w).
template <bool kFma>
__global__ void weights_kernel(AxisFilter fx, AxisFilter fy, int64_t left, int64_t top,
                               int64_t crop_w, int64_t crop_h, float* wx, int* x_first,
                               int* x_count, float* wy, int* y_first, int* y_count) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= crop_w + crop_h) return;
  int64_t first = 0;
  if (i < crop_w) {
    const int n = compute_axis_taps<kFma>(fx, left + i, wx + i * fx.max_taps, &first);
    x_first[i] = static_cast<int>(first);
    x_count[i] = n;
  } else {
    const int64_t y = i - crop_w;
    const int n = compute_axis_taps<kFma>(fy, top + y, wy + y * fy.max_taps, &first);
    y_first[y] = static_cast<int>(first);
    y_count[y] = n;
  }
}

// ATen's accumulation: out = src_0 * w_0; out += src_j * w_j (a zero-tap window gives 0 * src),
// the += fused when kFma (Note [FMA mode]).
template <bool kFma>
__global__ void horizontal_kernel(const uint8_t* __restrict__ src, int64_t frames, int64_t stride_t,
                                  int64_t stride_h, int64_t stride_w, int64_t stride_c,
                                  int64_t row0, int64_t rows, int64_t crop_w, int max_taps,
                                  const float* __restrict__ wx, const int* __restrict__ x_first,
                                  const int* __restrict__ x_count, float* __restrict__ tmp) {
  const int64_t x = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (x >= crop_w) return;
  const float* w = wx + x * max_taps;
  const int first = x_first[x];
  const int n = x_count[x];
  for (int64_t tr = blockIdx.y; tr < frames * rows; tr += gridDim.y) {
    const int64_t t = tr / rows;
    const int64_t r = tr % rows;
    const uint8_t* s = src + t * stride_t + (row0 + r) * stride_h + first * stride_w;
    float acc0 = mul_rn(static_cast<float>(s[0]), w[0]);
    float acc1 = mul_rn(static_cast<float>(s[stride_c]), w[0]);
    float acc2 = mul_rn(static_cast<float>(s[2 * stride_c]), w[0]);
    for (int j = 1; j < n; ++j) {
      const uint8_t* sj = s + j * stride_w;
      acc0 = mul_add<kFma>(static_cast<float>(sj[0]), w[j], acc0);
      acc1 = mul_add<kFma>(static_cast<float>(sj[stride_c]), w[j], acc1);
      acc2 = mul_add<kFma>(static_cast<float>(sj[2 * stride_c]), w[j], acc2);
    }
    float* out = tmp + (tr * 3) * crop_w + x;
    out[0] = acc0;
    out[crop_w] = acc1;
    out[2 * crop_w] = acc2;
  }
}

template <OutDtype D, bool kFma>
__global__ void vertical_kernel(const float* __restrict__ tmp, int64_t frames, int64_t row0,
                                int64_t rows, int64_t crop_h, int64_t crop_w, int max_taps,
                                const float* __restrict__ wy, const int* __restrict__ y_first,
                                const int* __restrict__ y_count, void* __restrict__ dst,
                                int64_t dst_t, int64_t dst_c, int64_t dst_h) {
  const int64_t x = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (x >= crop_w) return;
  for (int64_t ty = blockIdx.y; ty < frames * crop_h; ty += gridDim.y) {
    const int64_t t = ty / crop_h;
    const int64_t y = ty % crop_h;
    const float* w = wy + y * max_taps;
    const int n = y_count[y];
    const float* s = tmp + ((t * rows + (y_first[y] - row0)) * 3) * crop_w + x;
    const int64_t row_stride = 3 * crop_w;
    for (int c = 0; c < 3; ++c) {
      const float* sc = s + c * crop_w;
      float acc = mul_rn(sc[0], w[0]);
      for (int j = 1; j < n; ++j) acc = mul_add<kFma>(sc[j * row_stride], w[j], acc);
      const float v = clamp_round_255(acc);
      const int64_t o = t * dst_t + c * dst_c + y * dst_h + x;
      if (D == OutDtype::kUint8) {
        static_cast<uint8_t*>(dst)[o] = static_cast<uint8_t>(static_cast<int>(v));
      } else if (D == OutDtype::kFloat32) {
        static_cast<float*>(dst)[o] = normalize_255(v);
      } else {
        static_cast<uint16_t*>(dst)[o] = normalized_bits16(D, static_cast<int>(v));
      }
    }
  }
}

template <OutDtype D, bool kFma>
void launch_vertical(const ResizeCropParams& p, const Workspace& ws, char* base,
                     cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.crop_w, kThreads)),
                  static_cast<unsigned>(std::min<int64_t>(p.frames * p.crop_h, kMaxGridY)));
  vertical_kernel<D, kFma><<<grid, kThreads, 0, stream>>>(
      reinterpret_cast<const float*>(base + ws.tmp), p.frames, ws.row0, ws.rows, p.crop_h, p.crop_w,
      ws.fy.max_taps, reinterpret_cast<const float*>(base + ws.wy),
      reinterpret_cast<const int*>(base + ws.y_first),
      reinterpret_cast<const int*>(base + ws.y_count), p.dst, p.dst_stride_t, p.dst_stride_c,
      p.dst_stride_h);
}

template <bool kFma>
void launch_all(const ResizeCropParams& p, const Workspace& ws, char* base, cudaStream_t stream) {
  weights_kernel<kFma>
      <<<static_cast<unsigned>(ceil_div(p.crop_w + p.crop_h, kThreads)), kThreads, 0, stream>>>(
          ws.fx, ws.fy, p.left, p.top, p.crop_w, p.crop_h, reinterpret_cast<float*>(base + ws.wx),
          reinterpret_cast<int*>(base + ws.x_first), reinterpret_cast<int*>(base + ws.x_count),
          reinterpret_cast<float*>(base + ws.wy), reinterpret_cast<int*>(base + ws.y_first),
          reinterpret_cast<int*>(base + ws.y_count));
  check_cuda(cudaGetLastError(), "weights_kernel launch");

  if (ws.rows > 0) {
    const dim3 grid(static_cast<unsigned>(ceil_div(p.crop_w, kThreads)),
                    static_cast<unsigned>(std::min<int64_t>(p.frames * ws.rows, kMaxGridY)));
    horizontal_kernel<kFma><<<grid, kThreads, 0, stream>>>(
        p.src, p.frames, p.src_stride_t, p.src_stride_h, p.src_stride_w, p.src_stride_c, ws.row0,
        ws.rows, p.crop_w, ws.fx.max_taps, reinterpret_cast<const float*>(base + ws.wx),
        reinterpret_cast<const int*>(base + ws.x_first),
        reinterpret_cast<const int*>(base + ws.x_count), reinterpret_cast<float*>(base + ws.tmp));
    check_cuda(cudaGetLastError(), "horizontal_kernel launch");
  }

  switch (p.out_dtype) {
    case OutDtype::kUint8:
      launch_vertical<OutDtype::kUint8, kFma>(p, ws, base, stream);
      break;
    case OutDtype::kFloat32:
      launch_vertical<OutDtype::kFloat32, kFma>(p, ws, base, stream);
      break;
    case OutDtype::kBFloat16:
      launch_vertical<OutDtype::kBFloat16, kFma>(p, ws, base, stream);
      break;
    case OutDtype::kFloat16:
      launch_vertical<OutDtype::kFloat16, kFma>(p, ws, base, stream);
      break;
  }
  check_cuda(cudaGetLastError(), "vertical_kernel launch");
}

}  // namespace

size_t cuda_workspace_bytes(const ResizeCropParams& p) {
  PVF_CHECK(p.frames >= 0, "frames must be >= 0, got frames=", p.frames);
  PVF_CHECK(p.height > 0 && p.width > 0 && p.resize_h > 0 && p.resize_w > 0 && p.crop_h > 0 &&
                p.crop_w > 0,
            "sizes must be positive, got frame ", p.height, "x", p.width, ", resize ", p.resize_h,
            "x", p.resize_w, ", crop ", p.crop_h, "x", p.crop_w);
  return plan(p).total;
}

void resize_crop_normalize_cuda(const ResizeCropParams& p, int device, uintptr_t stream_handle,
                                void* workspace, size_t workspace_bytes) {
  validate(p);
  if (p.frames == 0) return;
  const Workspace ws = plan(p);
  PVF_CHECK(workspace != nullptr && workspace_bytes >= ws.total,
            "workspace_bytes=", workspace_bytes, " is smaller than the ", ws.total,
            " bytes needed");
  // Indices are int in the weight tables; video sizes are far below 2^31.
  PVF_CHECK(p.width < (int64_t{1} << 31) && p.height < (int64_t{1} << 31),
            "frame too large for the CUDA path: ", p.height, "x", p.width);
  DeviceGuard guard(device);
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  char* base = static_cast<char*>(workspace);
  if (p.fma) {
    launch_all<true>(p, ws, base, stream);
  } else {
    launch_all<false>(p, ws, base, stream);
  }
}

}  // namespace transform
}  // namespace pvf
