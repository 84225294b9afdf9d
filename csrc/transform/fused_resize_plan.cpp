// Host side of the fused GPU path: the table of frame descriptors, weights and tile ranges
// (fused_resize.h). Weights come from the same compute_axis_taps as the CPU kernel.
#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>

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

// [lo, hi) of the input indices read by each tile of `tile` consecutive outputs.
std::vector<int32_t> tile_ranges(const Axis& a, int64_t n, int tile, int32_t* widest) {
  std::vector<int32_t> r;
  for (int64_t t0 = 0; t0 < n; t0 += tile) {
    int32_t lo = INT32_MAX, hi = 0;
    for (int64_t i = t0; i < std::min<int64_t>(n, t0 + tile); ++i) {
      lo = std::min(lo, a.first[i]);
      hi = std::max(hi, a.first[i] + a.count[i]);
    }
    r.push_back(lo);
    r.push_back(hi);
    *widest = std::max(*widest, hi - lo);
  }
  return r;
}

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

}  // namespace

FusedPlan plan_fused(const std::vector<FusedInput>& inputs, int64_t crop_h, int64_t crop_w,
                     bool fma) {
  PVF_CHECK(crop_h > 0 && crop_w > 0, "size must be positive, got size=(", crop_h, ", ", crop_w,
            ")");
  PVF_CHECK(inputs.size() <= 65535, "at most 65535 frames per call, got ", inputs.size());
  std::vector<FusedFrame> frames;
  std::vector<FusedGeom> geoms;
  std::vector<float> floats;
  std::vector<int32_t> ints;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>, int32_t> seen;
  int32_t max_cols = 1;
  for (const FusedInput& in : inputs) {
    const FusedFrame& f = in.frame;
    PVF_CHECK(f.height > 0 && f.width > 0, "frame size must be positive, got ", f.height, "x",
              f.width);
    PVF_CHECK(f.height < (1 << 24) && f.width < (1 << 24) && in.resize_h < (1 << 24) &&
                  in.resize_w < (1 << 24),
              "sizes must be < 2^24, got frame ", f.height, "x", f.width, ", resize ", in.resize_h,
              "x", in.resize_w);
    PVF_CHECK(in.resize_h > 0 && in.resize_w > 0, "resize size must be positive, got ", in.resize_h,
              "x", in.resize_w);
    PVF_CHECK(in.top >= 0 && in.top + crop_h <= in.resize_h && in.left >= 0 &&
                  in.left + crop_w <= in.resize_w,
              "crop (top=", in.top, ", left=", in.left, ") of ", crop_h, "x", crop_w,
              " is outside the resized ", in.resize_h, "x", in.resize_w, " frame");
    PVF_CHECK(f.plane0 != nullptr, "source pointer is null");
    const auto key = std::make_tuple(int64_t{f.height}, int64_t{f.width}, in.resize_h, in.resize_w,
                                     in.top, in.left);
    auto it = seen.find(key);
    int32_t gi = 0;
    if (it != seen.end()) {
      gi = it->second;
    } else {
      const Axis ax = axis_taps(f.width, in.resize_w, in.left, crop_w, fma);
      const Axis ay = axis_taps(f.height, in.resize_h, in.top, crop_h, fma);
      FusedGeom g;
      g.x_taps = ax.taps;
      g.y_taps = ay.taps;
      g.wx = static_cast<int64_t>(floats.size());
      floats.insert(floats.end(), ax.w.begin(), ax.w.end());
      g.wy = static_cast<int64_t>(floats.size());
      floats.insert(floats.end(), ay.w.begin(), ay.w.end());
      auto put = [&ints](const std::vector<int32_t>& v) {
        const int64_t at = static_cast<int64_t>(ints.size());
        ints.insert(ints.end(), v.begin(), v.end());
        return at;
      };
      g.x_first = put(ax.first);
      g.x_count = put(ax.count);
      g.y_first = put(ay.first);
      g.y_count = put(ay.count);
      int32_t unused_rows = 0;
      g.x_range = put(tile_ranges(ax, crop_w, kFusedTileW, &max_cols));
      g.y_range = put(tile_ranges(ay, crop_h, kFusedTileH, &unused_rows));
      gi = static_cast<int32_t>(geoms.size());
      geoms.push_back(g);
      seen.emplace(key, gi);
    }
    FusedFrame copy = f;
    copy.geom = gi;
    frames.push_back(copy);
  }

  FusedHeader h;
  h.frames = static_cast<int64_t>(align16(sizeof(FusedHeader)));
  h.geoms = h.frames + static_cast<int64_t>(align16(frames.size() * sizeof(FusedFrame)));
  h.floats = h.geoms + static_cast<int64_t>(align16(geoms.size() * sizeof(FusedGeom)));
  h.ints = h.floats + static_cast<int64_t>(align16(floats.size() * sizeof(float)));
  h.num_frames = static_cast<int32_t>(frames.size());
  h.max_cols = max_cols;
  h.crop_h = crop_h;
  h.crop_w = crop_w;
  FusedPlan plan;
  plan.table.assign(static_cast<size_t>(h.ints) + ints.size() * sizeof(int32_t), 0);
  unsigned char* base = plan.table.data();
  std::memcpy(base, &h, sizeof(h));
  if (!frames.empty())
    std::memcpy(base + h.frames, frames.data(), frames.size() * sizeof(FusedFrame));
  if (!geoms.empty()) std::memcpy(base + h.geoms, geoms.data(), geoms.size() * sizeof(FusedGeom));
  if (!floats.empty()) std::memcpy(base + h.floats, floats.data(), floats.size() * sizeof(float));
  if (!ints.empty()) std::memcpy(base + h.ints, ints.data(), ints.size() * sizeof(int32_t));
  plan.frames = static_cast<int64_t>(frames.size());
  plan.grid_x = (crop_w + kFusedTileW - 1) / kFusedTileW;
  plan.grid_y = (crop_h + kFusedTileH - 1) / kFusedTileH;
  plan.smem_bytes = fused_smem_bytes(max_cols);
  // Hopper and A100 give a block up to 227 / 163 KiB of shared memory; a tile of a horizontal
  // downscale beyond ~25x reads more columns than that holds (e.g. 8K to under 300 wide).
  PVF_CHECK(plan.smem_bytes <= 160 * 1024, "the horizontal downscale is too large for the fused ",
            "kernel: one ", kFusedTileW, "-column output tile reads ", max_cols,
            " input columns (at most ", (160 * 1024 / 4 / 3 - kFusedTileW) / kFusedChunkRows,
            "); resize in two steps");
  return plan;
}

#ifndef PYVIDFAST_WITH_CUDA
void launch_fused_cuda(SourceKind, const void*, int64_t, int64_t, int64_t, size_t, int64_t, int64_t,
                       void*, int64_t, int64_t, int64_t, OutDtype, bool, int, uintptr_t) {
  throw std::runtime_error("CUDA support was not built: pyvidfast was compiled without nvcc");
}
#endif

}  // namespace transform
}  // namespace pvf
