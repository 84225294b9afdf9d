// The per-block steps of the fused kernel (Note [fused resize kernel] in
// cuda/fused_resize_cuda.cu) as __host__ __device__ functions: the CUDA kernel runs each step on
// its threads with __syncthreads() between them, and cpu/fused_resize_emulate.cpp runs the same
// steps one item after another, so the CPU tests check the kernel's plan reads, tile ranges, quad
// loads, chunking and summation order, not just the per-pixel math.
#pragma once

#include <cstdint>
#include <cstring>
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

// Everything one block needs: its frame, plan and the input window its tile reads.
struct FusedTile {
  const FusedFrame* f;
  const FusedGeom* g;
  int bx, by, crop_h, crop_w;
  int col_lo, ncols, row_lo, row_hi;
  int stride;  // staged row length: the batch's max_cols (a multiple of 4)
};

// The block's shared memory: staged chunk [3][chunk][stride], resized rows [3][chunk][tile_w],
// the tile's quad weights [u][quad][4] (x_union resp. y_union rows of 32 floats) and the quads'
// windows: xu / xn (first relative to col_lo, length) and yu / yn (first row, length).
struct FusedSmem {
  int chunk;  // rows staged at a time
  float* stage;
  float* hrow;
  float* wx;
  float* wy;
  int32_t* xu;
  int32_t* xn;
  int32_t* yu;
  int32_t* yn;
};

constexpr int kFusedQuads = kFusedTileW / kFusedQuad;  // quads per tile side (8)
static_assert(kFusedTileW == kFusedTileH && kFusedQuads == kFusedThreadsY,
              "one vertical quad per thread row, one horizontal quad per 4 columns");

PVF_HOST_DEVICE inline FusedSmem fused_smem(float* base, const FusedBatch& b) {
  FusedSmem m;
  m.chunk = b.chunk;
  m.stage = base;  // 16-byte aligned, as are the planes (stride is a multiple of 4)
  m.hrow = m.stage + 3 * b.chunk * b.max_cols;
  m.wx = m.hrow + 3 * b.chunk * kFusedTileW;
  m.wy = m.wx + b.x_union * kFusedTileW;
  m.xu = reinterpret_cast<int32_t*>(m.wy + b.y_union * kFusedTileH);
  m.xn = m.xu + kFusedQuads;
  m.yu = m.xn + kFusedQuads;
  m.yn = m.yu + kFusedQuads;
  return m;
}

template <typename T>
PVF_HOST_DEVICE inline const T* plan_array(const FusedGeom* g, int64_t offset) {
  return reinterpret_cast<const T*>(reinterpret_cast<const unsigned char*>(g) + offset);
}

PVF_HOST_DEVICE inline FusedTile fused_tile(const FusedBatch& b, int z, int bx, int by) {
  FusedTile s;
  s.f = &b.frames[z];
  s.g = s.f->geom;
  s.bx = bx;
  s.by = by;
  s.crop_h = s.g->crop_h;
  s.crop_w = s.g->crop_w;
  const int32_t* xr = plan_array<int32_t>(s.g, s.g->x_range) + 2 * bx;
  const int32_t* yr = plan_array<int32_t>(s.g, s.g->y_range) + 2 * by;
  s.col_lo = xr[0];
  s.ncols = xr[1];
  s.row_lo = yr[0];
  s.row_hi = yr[1];
  s.stride = b.max_cols;
  return s;
}

PVF_HOST_DEVICE inline int fused_setup_items(const FusedBatch& b) {
  return (b.x_union + b.y_union) * kFusedTileW;
}

// Step 0, item i < fused_setup_items: one weight of the tile's quads (and, for the first items,
// the quads' windows) from the cached plan into shared memory, read once per block. Quads past
// the crop get length 0; weight rows past a plan's own union are never read.
PVF_HOST_DEVICE inline void fused_setup(const FusedTile& s, const FusedBatch& b, const FusedSmem& m,
                                        int i) {
  const FusedGeom& g = *s.g;
  const bool is_x = i < b.x_union * kFusedTileW;
  const int j = is_x ? i : i - b.x_union * kFusedTileW;
  const int u = j / kFusedTileW, q = (j % kFusedTileW) / kFusedQuad, k = j % kFusedQuad;
  const int64_t quad = int64_t{is_x ? s.bx : s.by} * kFusedQuads + q;
  const int64_t quads = ((is_x ? s.crop_w : s.crop_h) + kFusedQuad - 1) / kFusedQuad;
  const int uni = is_x ? g.x_union : g.y_union;
  if (quad < quads && u < uni) {
    const float* w = plan_array<float>(&g, is_x ? g.xq_w : g.yq_w);
    (is_x ? m.wx : m.wy)[j] = w[(quad * uni + u) * kFusedQuad + k];
  }
  if (u != 0 || k != 0) return;
  const bool valid = quad < quads;
  const int32_t first = valid ? plan_array<int32_t>(&g, is_x ? g.xq_first : g.yq_first)[quad] : 0;
  (is_x ? m.xu : m.yu)[q] = is_x ? first - s.col_lo : first;
  (is_x ? m.xn : m.yn)[q] = valid ? plan_array<int32_t>(&g, is_x ? g.xq_len : g.yq_len)[quad] : 0;
}

// uint8 value -> float exactly, with an integer OR and one add (2^23 + v - 2^23) instead of the
// slower int-to-float conversion.
PVF_HOST_DEVICE inline float u8_to_float(uint32_t v) {
  const uint32_t bits = 0x4B000000u | v;
#ifdef __CUDA_ARCH__
  return __fsub_rn(__uint_as_float(bits), 8388608.0f);
#else
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f - 8388608.0f;
#endif
}

// An aligned load of an unsigned integer type (4 or 8 bytes) at p.
template <typename U>
PVF_HOST_DEVICE inline U load_vec(const void* p) {
#ifdef __CUDA_ARCH__
  return __ldg(static_cast<const U*>(p));
#else
  U v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// Four staged pixels (rr, cc .. cc + 3) of the chunk as floats, one 16-byte store per channel
// (cc is a multiple of 4), so a warp's stores do not conflict in shared memory.
PVF_HOST_DEVICE inline void stage_put4(const FusedSmem& m, int stride, int rr, int cc,
                                       const uint32_t* px) {
  const int plane = m.chunk * stride;
  float* d = m.stage + rr * stride + cc;
  PVF_UNROLL
  for (int c = 0; c < 3; ++c) {
    float v[4];
    PVF_UNROLL
    for (int k = 0; k < 4; ++k) v[k] = u8_to_float((px[k] >> (8 * c)) & 0xFFu);
#ifdef __CUDA_ARCH__
    *reinterpret_cast<float4*>(d + c * plane) = make_float4(v[0], v[1], v[2], v[3]);
#else
    std::memcpy(d + c * plane, v, sizeof(v));
#endif
  }
}

template <SourceKind K>
using SampleT = typename std::conditional<K == SourceKind::kP016, uint16_t, uint8_t>::type;

// The RGB of source pixel (y, x), any strides (YUV converted as yuv_to_rgb.h does for the CPU).
template <SourceKind K>
PVF_HOST_DEVICE inline uint32_t fused_load_rgb(const FusedFrame& f, int64_t y, int64_t x) {
  if constexpr (K == SourceKind::kRGB8) {
    const uint8_t* p = static_cast<const uint8_t*>(f.plane0) + y * f.s0h + x * f.s0w;
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[f.s0c]) << 8) |
           (static_cast<uint32_t>(p[2 * f.s0c]) << 16);
  } else {
    using T = SampleT<K>;
    const T* luma = static_cast<const T*>(f.plane0);
    const T* c = static_cast<const T*>(f.plane1) + (y >> 1) * f.s1h + (x >> 1) * f.s1w;
    const color::ChromaTerms ct =
        color::chroma_terms(f.coeffs, color::promote(c[0]), color::promote(c[f.s1c]));
    return color::yuv_pixel_packed(f.coeffs, color::promote(luma[y * f.s0h + x * f.s0w]), ct);
  }
}

// Sample k of a vector holding 4 samples of type T.
template <typename T, typename U>
PVF_HOST_DEVICE inline int32_t lane(U v, int k) {
  return color::promote(static_cast<T>(v >> (8 * sizeof(T) * k)));
}

// Four dense pixels (x, x + 3) of row y of an aligned frame: one or two vector loads per plane.
template <SourceKind K>
PVF_HOST_DEVICE inline void load_quad(const FusedFrame& f, int64_t y, int64_t x, uint32_t* px) {
  if constexpr (K == SourceKind::kRGB8) {
    const uint8_t* p = static_cast<const uint8_t*>(f.plane0) + y * f.s0h + x * 3;
    uint32_t w[3];
    for (int k = 0; k < 3; ++k) w[k] = load_vec<uint32_t>(p + 4 * k);
    px[0] = w[0] & 0xFFFFFFu;
    px[1] = (w[0] >> 24) | ((w[1] & 0xFFFFu) << 8);
    px[2] = (w[1] >> 16) | ((w[2] & 0xFFu) << 16);
    px[3] = w[2] >> 8;
  } else {
    using T = SampleT<K>;
    using U = typename std::conditional<sizeof(T) == 1, uint32_t, uint64_t>::type;
    const U l = load_vec<U>(static_cast<const T*>(f.plane0) + y * f.s0h + x);
    const U c = load_vec<U>(static_cast<const T*>(f.plane1) + (y >> 1) * f.s1h + x);
    const color::ChromaTerms c0 = color::chroma_terms(f.coeffs, lane<T>(c, 0), lane<T>(c, 1));
    const color::ChromaTerms c1 = color::chroma_terms(f.coeffs, lane<T>(c, 2), lane<T>(c, 3));
    PVF_UNROLL
    for (int k = 0; k < 4; ++k) {
      px[k] = color::yuv_pixel_packed(f.coeffs, lane<T>(l, k), k < 2 ? c0 : c1);
    }
  }
}

// Step 1, item i: the quad (4 columns x 1 row) i of the chunk's rows [r0, r0 + rows), staged as
// floats. Aligned frames load whole quads; the rest (and a frame's ragged right edge) per pixel.
template <SourceKind K>
PVF_HOST_DEVICE inline void fused_stage_quad(const FusedTile& s, const FusedSmem& m, int r0,
                                             int i) {
  const int per_row = (s.ncols + 3) >> 2;
  const int rr = i / per_row, cc = (i - rr * per_row) * 4;
  const int64_t y = r0 + rr, x = s.col_lo + cc;
  uint32_t px[4] = {0, 0, 0, 0};  // columns past the tile's range are staged as 0, never read
  if (s.f->vec && x + 4 <= s.f->width) {
    load_quad<K>(*s.f, y, x, px);
  } else {
    for (int k = 0; k < 4 && cc + k < s.ncols; ++k) px[k] = fused_load_rgb<K>(*s.f, y, x + k);
  }
  stage_put4(m, s.stride, rr, cc, px);
}

PVF_HOST_DEVICE inline int fused_quads(const FusedTile& s, int rows) {
  return rows * ((s.ncols + 3) >> 2);
}

// Step 2, item i of rows * kFusedQuads: quad q of chunk row rr, i.e. output columns 4q .. 4q + 3
// of the tile: one pass over the quad's window, each staged pixel read once for the four columns
// (zero weights outside a column's own window), in ATen's tap order from 0.
template <bool kFma>
PVF_HOST_DEVICE inline void fused_horizontal(const FusedTile& s, const FusedSmem& m, int i) {
  const int rr = i / kFusedQuads, q = i - rr * kFusedQuads;
  const int n = m.xn[q];
  if (n == 0) return;
  const int plane = m.chunk * s.stride;
  const float* p = m.stage + rr * s.stride + m.xu[q];
  const float* w = m.wx + q * kFusedQuad;
  float a[3][kFusedQuad] = {};
  for (int u = 0; u < n; ++u) {
    const float* wu = w + u * kFusedTileW;
    PVF_UNROLL
    for (int c = 0; c < 3; ++c) {
      const float v = p[c * plane + u];
      PVF_UNROLL
      for (int k = 0; k < kFusedQuad; ++k) a[c][k] = mul_add<kFma>(v, wu[k], a[c][k]);
    }
  }
  PVF_UNROLL
  for (int c = 0; c < 3; ++c) {
    PVF_UNROLL
    for (int k = 0; k < kFusedQuad; ++k) {
      m.hrow[(c * m.chunk + rr) * kFusedTileW + q * kFusedQuad + k] = a[c][k];
    }
  }
}

// One thread's accumulators: tile rows 4 * ty .. 4 * ty + 3 of column tx, three channels.
struct FusedAcc {
  float v[kFusedQuad][3] = {};
};

// Step 3: the chunk rows [r0, r0 + rows) inside the window of this thread's row quad, in
// increasing row order, each resized value read once for the four rows, so the sum over all
// chunks is ATen's tap order (zero weights outside a row's own window).
template <bool kFma>
PVF_HOST_DEVICE inline void fused_vertical(const FusedSmem& m, int r0, int rows, int tx, int ty,
                                           FusedAcc* acc) {
  const int first = m.yu[ty];
  const int lo = first > r0 ? first : r0;
  const int end = first + m.yn[ty];
  const int hi = end < r0 + rows ? end : r0 + rows;
  for (int r = lo; r < hi; ++r) {
    const float* w = m.wy + (r - first) * kFusedTileH + ty * kFusedQuad;
    PVF_UNROLL
    for (int c = 0; c < 3; ++c) {
      const float v = m.hrow[(c * m.chunk + (r - r0)) * kFusedTileW + tx];
      PVF_UNROLL
      for (int k = 0; k < kFusedQuad; ++k) acc->v[k][c] = mul_add<kFma>(v, w[k], acc->v[k][c]);
    }
  }
}

// Clamp, round, normalise and store this thread's pixels of output frame t (dst [t, c, y, x]).
template <OutDtype D>
PVF_HOST_DEVICE inline void fused_store(const FusedTile& s, int tx, int ty, const FusedAcc& acc,
                                        int64_t t, void* dst, int64_t dst_t, int64_t dst_c,
                                        int64_t dst_h) {
  const int64_t x = int64_t{s.bx} * kFusedTileW + tx;
  if (x >= s.crop_w) return;
  PVF_UNROLL
  for (int k = 0; k < kFusedQuad; ++k) {
    const int64_t y = int64_t{s.by} * kFusedTileH + ty * kFusedQuad + k;
    if (y >= s.crop_h) continue;
    PVF_UNROLL
    for (int c = 0; c < 3; ++c) {
      const int64_t o = t * dst_t + c * dst_c + y * dst_h + x;
      const float v = clamp_round_255(acc.v[k][c]);
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
