// CUDA YUV -> RGB (the decoder's plain RGB output): one thread per pixel, the shared yuv_to_rgb.h
// arithmetic (Note [matching swscale's yuv2rgb]); asynchronous on the caller's stream.
#include <cuda_runtime.h>

#include "color/yuv_frame.h"
#include "common/check.h"
#include "common/cuda_guard.h"

namespace pvf {
namespace color {
namespace {

constexpr int kBlockW = 32, kBlockH = 8;

template <typename T>
__global__ void yuv_to_rgb_kernel(YuvFrame f, YuvCoeffs k, uint8_t* __restrict__ dst, int64_t dst_h,
                                  int64_t dst_w) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * kBlockW + threadIdx.x;
  const int64_t y = static_cast<int64_t>(blockIdx.y) * kBlockH + threadIdx.y;
  if (x >= f.width || y >= f.height) return;
  const T* c =
      static_cast<const T*>(f.chroma) + (y >> 1) * f.chroma_stride_h + (x >> 1) * f.chroma_stride_w;
  const ChromaTerms t = chroma_terms(k, promote(c[0]), promote(c[f.chroma_stride_c]));
  const T* l = static_cast<const T*>(f.luma) + y * f.luma_stride_h + x * f.luma_stride_w;
  uint8_t* p = dst + y * dst_h + x * dst_w;
  yuv_pixel(k, promote(*l), t, p, p + 1, p + 2);
}

void check_cuda(cudaError_t err, const char* what) { pvf::check_cuda(err, "yuv_to_rgb", what); }

}  // namespace

void yuv_to_rgb_cuda(const YuvFrame& f, uint8_t* dst, int64_t dst_stride_h, int64_t dst_stride_w,
                     int device, uintptr_t stream_handle) {
  validate(f);
  PVF_CHECK(dst != nullptr, "dst pointer is null");
  PVF_CHECK((f.height + kBlockH - 1) / kBlockH <= 65535, "frame too tall: ", f.height);
  DeviceGuard guard(device);
  const dim3 grid(static_cast<unsigned>((f.width + kBlockW - 1) / kBlockW),
                  static_cast<unsigned>((f.height + kBlockH - 1) / kBlockH));
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  const YuvCoeffs k = make_yuv_coeffs(f.matrix, f.full_range);
  if (f.sixteen_bit) {
    yuv_to_rgb_kernel<uint16_t>
        <<<grid, dim3(kBlockW, kBlockH), 0, stream>>>(f, k, dst, dst_stride_h, dst_stride_w);
  } else {
    yuv_to_rgb_kernel<uint8_t>
        <<<grid, dim3(kBlockW, kBlockH), 0, stream>>>(f, k, dst, dst_stride_h, dst_stride_w);
  }
  const cudaError_t err = cudaGetLastError();
  check_cuda(err, "yuv_to_rgb_kernel launch");
}

}  // namespace color
}  // namespace pvf
