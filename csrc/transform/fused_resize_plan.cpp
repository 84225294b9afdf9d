// Host side of the fused GPU path (fused_resize.h): one geometry's plan of weights, tap windows and
// tile ranges, and the per-call validation of frame groups into kernel-parameter batches. Weights
// come from the same compute_axis_taps as the CPU kernel.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/check.h"
#include "transform/fused_resize.h"

namespace pvf {
namespace transform {
namespace {

// Taps of the cropped indices [start, start + n) of one axis, padded to the longest window.
struct Axis {
  int taps = 1;
  std::vector<float> w;
  std::vector<int32_t> first, count;
};

Axis axis_taps(int64_t in, int64_t out, int64_t start, int64_t n, bool fma) {
  const AxisFilter f = make_axis_filter(in, out);
  std::vector<float> all(static_cast<size_t>(n * f.max_taps));
  Axis a;
  a.first.resize(static_cast<size_t>(n));
  a.count.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t first = 0;
    float* w = &all[static_cast<size_t>(i * f.max_taps)];
    int c = fma ? compute_axis_taps<true>(f, start + i, w, &first)
                : compute_axis_taps<false>(f, start + i, w, &first);
    if (c == 0) {
      // An empty window: read one in-range tap of weight 0, as the CPU kernel does.
      w[0] = 0.0f;
      c = 1;
      first = std::min<int64_t>(std::max<int64_t>(first, 0), in - 1);
    }
    a.first[i] = static_cast<int32_t>(first);
    a.count[i] = c;
    a.taps = std::max(a.taps, c);
  }
  a.w.assign(static_cast<size_t>(n * a.taps), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(&all[static_cast<size_t>(i * f.max_taps)], a.count[i],
                &a.w[static_cast<size_t>(i * a.taps)]);
  }
  return a;
}

// {lo, span} of the input indices read by each tile of `tile` consecutive outputs, lo rounded
// down to a multiple of `align`. Columns give span = ncols, rows give span = row_hi.
std::vector<int32_t> tile_ranges(const Axis& a, int64_t n, int tile, int align, bool end,
                                 int32_t* widest) {
  std::vector<int32_t> r;
  for (int64_t t0 = 0; t0 < n; t0 += tile) {
    int32_t lo = INT32_MAX, hi = 0;
    for (int64_t i = t0; i < std::min<int64_t>(n, t0 + tile); ++i) {
      lo = std::min(lo, a.first[i]);
      hi = std::max(hi, a.first[i] + a.count[i]);
    }
    lo -= lo % align;
    r.push_back(lo);
    r.push_back(end ? hi : hi - lo);
    *widest = std::max(*widest, hi - lo);
  }
  return r;
}

// Quads of kFusedQuad consecutive outputs (Note [fused resize kernel]): their union windows and
// zero-padded weights, float [quads][uni][4].
struct Quads {
  int32_t uni = 1;
  std::vector<int32_t> first, len;
  std::vector<float> w;
};

Quads quads_of(const Axis& a, int64_t n) {
  const int64_t nq = (n + kFusedQuad - 1) / kFusedQuad;
  Quads r;
  for (int64_t q = 0; q < nq; ++q) {
    int32_t lo = INT32_MAX, hi = 0;
    for (int64_t i = q * kFusedQuad; i < std::min<int64_t>(n, (q + 1) * kFusedQuad); ++i) {
      lo = std::min(lo, a.first[i]);
      hi = std::max(hi, a.first[i] + a.count[i]);
    }
    r.first.push_back(lo);
    r.len.push_back(hi - lo);
    r.uni = std::max(r.uni, hi - lo);
  }
  r.w.assign(static_cast<size_t>(nq * r.uni * kFusedQuad), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t q = i / kFusedQuad, k = i % kFusedQuad;
    for (int32_t j = 0; j < a.count[i]; ++j) {
      const int64_t u = a.first[i] - r.first[q] + j;
      r.w[static_cast<size_t>((q * r.uni + u) * kFusedQuad + k)] =
          a.w[static_cast<size_t>(i * a.taps + j)];
    }
  }
  return r;
}

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// Appends v to the plan bytes (16-byte aligned) and returns its offset.
template <typename T>
int64_t put(std::vector<unsigned char>* bytes, const std::vector<T>& v) {
  const size_t at = align16(bytes->size());
  bytes->resize(at + v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(bytes->data() + at, v.data(), v.size() * sizeof(T));
  return static_cast<int64_t>(at);
}

}  // namespace

GeomPlan plan_geometry(int64_t src_h, int64_t src_w, int64_t resize_h, int64_t resize_w,
                       int64_t top, int64_t left, int64_t crop_h, int64_t crop_w, bool fma) {
  PVF_CHECK(crop_h > 0 && crop_w > 0, "size must be positive, got size=(", crop_h, ", ", crop_w,
            ")");
  PVF_CHECK(src_h > 0 && src_w > 0, "frame size must be positive, got ", src_h, "x", src_w);
  PVF_CHECK(resize_h > 0 && resize_w > 0, "resize size must be positive, got ", resize_h, "x",
            resize_w);
  constexpr int64_t kMax = int64_t{1} << 24;
  PVF_CHECK(src_h < kMax && src_w < kMax && resize_h < kMax && resize_w < kMax,
            "sizes must be < 2^24, got frame ", src_h, "x", src_w, ", resize ", resize_h, "x",
            resize_w);
  PVF_CHECK(top >= 0 && top + crop_h <= resize_h && left >= 0 && left + crop_w <= resize_w,
            "crop (top=", top, ", left=", left, ") of ", crop_h, "x", crop_w,
            " is outside the resized ", resize_h, "x", resize_w, " frame");
  const Axis ax = axis_taps(src_w, resize_w, left, crop_w, fma);
  const Axis ay = axis_taps(src_h, resize_h, top, crop_h, fma);
  const Quads qx = quads_of(ax, crop_w);
  const Quads qy = quads_of(ay, crop_h);
  FusedGeom g;
  g.src_h = static_cast<int32_t>(src_h);
  g.src_w = static_cast<int32_t>(src_w);
  g.crop_h = static_cast<int32_t>(crop_h);
  g.crop_w = static_cast<int32_t>(crop_w);
  g.x_union = qx.uni;
  g.y_union = qy.uni;
  int32_t widest = 1, tallest = 1;
  const auto xr = tile_ranges(ax, crop_w, kFusedTileW, 4, false, &widest);
  const auto yr = tile_ranges(ay, crop_h, kFusedTileH, 1, true, &tallest);
  g.max_cols = (widest + 3) / 4 * 4;  // whole quads
  GeomPlan plan;
  plan.bytes.resize(sizeof(FusedGeom));
  g.xq_first = put(&plan.bytes, qx.first);
  g.xq_len = put(&plan.bytes, qx.len);
  g.xq_w = put(&plan.bytes, qx.w);
  g.yq_first = put(&plan.bytes, qy.first);
  g.yq_len = put(&plan.bytes, qy.len);
  g.yq_w = put(&plan.bytes, qy.w);
  g.x_range = put(&plan.bytes, xr);
  g.y_range = put(&plan.bytes, yr);
  std::memcpy(plan.bytes.data(), &g, sizeof(g));
  plan.src_h = g.src_h;
  plan.src_w = g.src_w;
  plan.max_cols = g.max_cols;
  plan.x_union = g.x_union;
  plan.y_union = g.y_union;
  // Even staging one row at a time, a tile of an extreme downscale (hundreds of times) reads more
  // than a block's shared memory holds.
  FusedBatch probe;  // the smallest layout: one row per chunk
  probe.chunk = 1;
  probe.max_cols = g.max_cols;
  probe.x_union = g.x_union;
  probe.y_union = g.y_union;
  PVF_CHECK(fused_smem_bytes(probe) <= kFusedSmemLimit,
            "the downscale is too large for the fused kernel: one ", kFusedTileW,
            "-column output tile reads ", g.max_cols, " input columns (windows of ", g.x_union,
            " and ", g.y_union, " taps); resize in two steps");
  return plan;
}

}  // namespace transform
}  // namespace pvf
