// The per-block steps of the fused kernel (Note [fused resize kernel] in
// cuda/fused_resize_cuda.cu) as __host__ __device__ functions: the CUDA kernel runs each step on
// its threads with __syncthreads() between them, and cpu/fused_resize_emulate.cpp runs the same
// steps one item after another, so the CPU tests check the kernel's table reads, tile ranges,
// chunking and summation order, not just the per-pixel math.
#pragma once

#include <cstdint>
#include <type_traits>

#include "color/yuv_to_rgb.h"
#include "common/host_device.h"
#include "transform/fused_resize.h"
#include "transform/resize_weights.h"

namespace pvf {
namespace transform {

// Unrolls the short per-thread loops on the GPU so the accumulators stay in registers (host
// compilers unroll them on their own and would warn about the pragma).
#ifdef __CUDA_ARCH__
#define PVF_UNROLL _Pragma("unroll")
#else
#define PVF_UNROLL
#endif

constexpr int kFusedThreads = kFusedTileW * kFusedThreadsY;
constexpr int kFusedRowsPerThread = kFusedTileH / kFusedThreadsY;

// Everything one block needs: its frame, geometry and the input window its tile reads.
struct FusedTile {
  const FusedHeader* h;
  const FusedFrame* f;
  const FusedGeom* g;
  const float* floats;
  const int32_t* ints;
  int64_t t, bx, by;
  int col_lo, ncols, row_lo, row_hi, max_cols;
};

PVF_HOST_DEVICE inline FusedTile fused_tile(const unsigned char* table, int64_t t, int64_t bx,
                                            int64_t by) {
  FusedTile s;
  s.h = reinterpret_cast<const FusedHeader*>(table);
  s.f = reinterpret_cast<const FusedFrame*>(table + s.h->frames) + t;
  s.g = reinterpret_cast<const FusedGeom*>(table + s.h->geoms) + s.f->geom;
  s.floats = reinterpret_cast<const float*>(table + s.h->floats);
  s.ints = reinterpret_cast<const int32_t*>(table + s.h->ints);
  s.t = t;
  s.bx = bx;
  s.by = by;
  s.col_lo = s.ints[s.g->x_range + 2 * bx];
  s.ncols = s.ints[s.g->x_range + 2 * bx + 1] - s.col_lo;
  s.row_lo = s.ints[s.g->y_range + 2 * by];
  s.row_hi = s.ints[s.g->y_range + 2 * by + 1];
  s.max_cols = s.h->max_cols;
  return s;
}

// The RGB of source pixel (y, x), packed R | G << 8 | B << 16 (YUV converted as
// yuv_to_rgb.h does for the CPU path).
template <SourceKind K>
PVF_HOST_DEVICE inline uint32_t fused_load_rgb(const FusedFrame& f, int64_t y, int64_t x) {
  if constexpr (K == SourceKind::kRGB8) {
    const uint8_t* p = static_cast<const uint8_t*>(f.plane0) + y * f.s0h + x * f.s0w;
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[f.s0c]) << 8) |
           (static_cast<uint32_t>(p[2 * f.s0c]) << 16);
  } else {
    using T = typename std::conditional<K == SourceKind::kNV12, uint8_t, uint16_t>::type;
    const T* luma = static_cast<const T*>(f.plane0);
    const T* c = static_cast<const T*>(f.plane1) + (y >> 1) * f.s1h + (x >> 1) * f.s1w;
    const color::ChromaTerms ct =
        color::chroma_terms(f.coeffs, color::promote(c[0]), color::promote(c[f.s1c]));
    return color::yuv_pixel_packed(f.coeffs, color::promote(luma[y * f.s0h + x * f.s0w]), ct);
  }
}

// Step 1: source pixel (r0 + rr, col_lo + cc) of the chunk, converted once and kept as three
// floats, planar: stage[c][rr][cc] (row stride max_cols).
template <SourceKind K>
PVF_HOST_DEVICE inline void fused_stage_pixel(const FusedTile& s, int r0, int rr, int cc,
                                              float* stage) {
  const uint32_t p = fused_load_rgb<K>(*s.f, r0 + rr, s.col_lo + cc);
  const int plane = kFusedChunkRows * s.max_cols;
  float* d = stage + rr * s.max_cols + cc;
  d[0] = static_cast<float>(p & 0xFFu);
  d[plane] = static_cast<float>((p >> 8) & 0xFFu);
  d[2 * plane] = static_cast<float>((p >> 16) & 0xFFu);
}

// Step 2, item i of rows * kFusedTileW: the horizontal taps of one (chunk row, tile column), in
// ATen's order (out = src_0 * w_0; out += src_j * w_j), into hrow[c][row][column].
template <bool kFma>
PVF_HOST_DEVICE inline void fused_horizontal(const FusedTile& s, int i, const float* stage,
                                             float* hrow) {
  const int rr = i / kFusedTileW, xx = i - rr * kFusedTileW;
  const int64_t xo = s.bx * kFusedTileW + xx;
  if (xo >= s.h->crop_w) return;
  const int plane = kFusedChunkRows * s.max_cols;
  const float* p0 = stage + rr * s.max_cols + (s.ints[s.g->x_first + xo] - s.col_lo);
  const float* p1 = p0 + plane;
  const float* p2 = p1 + plane;
  const float* w = s.floats + s.g->wx + xo * s.g->x_taps;
  const int n = s.ints[s.g->x_count + xo];
  float a0 = mul_rn(p0[0], w[0]);
  float a1 = mul_rn(p1[0], w[0]);
  float a2 = mul_rn(p2[0], w[0]);
  for (int j = 1; j < n; ++j) {
    const float wj = w[j];
    a0 = mul_add<kFma>(p0[j], wj, a0);
    a1 = mul_add<kFma>(p1[j], wj, a1);
    a2 = mul_add<kFma>(p2[j], wj, a2);
  }
  hrow[(0 * kFusedChunkRows + rr) * kFusedTileW + xx] = a0;
  hrow[(1 * kFusedChunkRows + rr) * kFusedTileW + xx] = a1;
  hrow[(2 * kFusedChunkRows + rr) * kFusedTileW + xx] = a2;
}

// One thread's output pixels (column tx, rows ty + i * kFusedThreadsY of the tile) and their
// vertical windows.
struct FusedThreadState {
  int64_t x;
  int64_t y[kFusedRowsPerThread];
  int first[kFusedRowsPerThread], count[kFusedRowsPerThread];
  const float* wy[kFusedRowsPerThread];
  float acc[kFusedRowsPerThread][3];
};

PVF_HOST_DEVICE inline void fused_thread_init(const FusedTile& s, int tx, int ty,
                                              FusedThreadState* st) {
  st->x = s.bx * kFusedTileW + tx;
  PVF_UNROLL
  for (int i = 0; i < kFusedRowsPerThread; ++i) {
    st->y[i] = s.by * kFusedTileH + ty + i * kFusedThreadsY;
    const bool valid = st->y[i] < s.h->crop_h && st->x < s.h->crop_w;
    st->first[i] = valid ? s.ints[s.g->y_first + st->y[i]] : 0;
    st->count[i] = valid ? s.ints[s.g->y_count + st->y[i]] : 0;
    st->wy[i] = s.floats + s.g->wy + (valid ? st->y[i] : 0) * s.g->y_taps;
    st->acc[i][0] = st->acc[i][1] = st->acc[i][2] = 0.0f;
  }
}

// Step 3: the chunk rows [r0, r0 + rows) inside this thread's windows, in increasing row order,
// so the sum over all chunks is ATen's tap order (the first tap a plain product).
template <bool kFma>
PVF_HOST_DEVICE inline void fused_vertical(int r0, int rows, int tx, const float* hrow,
                                           FusedThreadState* st) {
  PVF_UNROLL
  for (int i = 0; i < kFusedRowsPerThread; ++i) {
    const int lo = st->first[i] > r0 ? st->first[i] : r0;
    const int end = st->first[i] + st->count[i];
    const int hi = end < r0 + rows ? end : r0 + rows;
    for (int r = lo; r < hi; ++r) {
      const int j = r - st->first[i];
      const float wj = st->wy[i][j];
      PVF_UNROLL
      for (int c = 0; c < 3; ++c) {
        const float v = hrow[(c * kFusedChunkRows + (r - r0)) * kFusedTileW + tx];
        st->acc[i][c] = j == 0 ? mul_rn(v, wj) : mul_add<kFma>(v, wj, st->acc[i][c]);
      }
    }
  }
}

// Clamp, round, normalise and store this thread's pixels (dst indexed [t, c, y, x]).
template <OutDtype D>
PVF_HOST_DEVICE inline void fused_store(const FusedTile& s, const FusedThreadState& st, void* dst,
                                        int64_t dst_t, int64_t dst_c, int64_t dst_h) {
  if (st.x >= s.h->crop_w) return;
  PVF_UNROLL
  for (int i = 0; i < kFusedRowsPerThread; ++i) {
    if (st.y[i] >= s.h->crop_h) continue;
    PVF_UNROLL
    for (int c = 0; c < 3; ++c) {
      const int64_t o = s.t * dst_t + c * dst_c + st.y[i] * dst_h + st.x;
      const float v = clamp_round_255(st.acc[i][c]);
      if constexpr (D == OutDtype::kUint8) {
        static_cast<uint8_t*>(dst)[o] = static_cast<uint8_t>(static_cast<int>(v));
      } else if constexpr (D == OutDtype::kFloat32) {
        static_cast<float*>(dst)[o] = normalize_255(v);
      } else {
        static_cast<uint16_t*>(dst)[o] = normalized_bits16(D, static_cast<int>(v));
      }
    }
  }
}

}  // namespace transform
}  // namespace pvf
