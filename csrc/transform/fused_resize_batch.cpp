// Per-call host work of the fused GPU path (fused_resize.h): the frame groups Python hands over,
// validated once here and expanded into the FusedBatch kernel parameters.
#include <algorithm>
#include <climits>

#include "common/check.h"
#include "transform/fused_resize.h"

namespace pvf {
namespace transform {
namespace {

bool fits_int32(int64_t v) { return v >= 0 && v <= INT32_MAX; }

void check_group(SourceKind kind, const FrameGroup& g, int64_t i) {
  const bool yuv = kind != SourceKind::kRGB8;
  PVF_CHECK(g.count >= 0, "group ", i, ": count must be >= 0, got ", g.count);
  PVF_CHECK(g.height > 0 && g.width > 0 && g.height < (1 << 24) && g.width < (1 << 24), "group ", i,
            ": frame size must be positive and < 2^24, got ", g.height, "x", g.width);
  PVF_CHECK(g.luma != 0 && (!yuv || g.chroma != 0), "group ", i, ": a plane pointer is null");
  PVF_CHECK(
      fits_int32(g.luma_sh) && fits_int32(g.luma_sw) && fits_int32(g.luma_sc) && g.luma_sn >= 0,
      "group ", i, ": luma strides must be >= 0 and < 2^31, got (", g.luma_sn, ", ", g.luma_sh,
      ", ", g.luma_sw, ", ", g.luma_sc, ")");
  PVF_CHECK(g.plan != 0 && g.plan_src_h == g.height && g.plan_src_w == g.width, "group ", i,
            ": its plan is for ", g.plan_src_h, "x", g.plan_src_w, ", the frames are ", g.height,
            "x", g.width);
  PVF_CHECK(g.plan_max_cols > 0 && g.plan_x_union > 0 && g.plan_y_union > 0, "group ", i,
            ": plan summary must be positive");
  if (!yuv) return;
  PVF_CHECK(g.chroma_h == (g.height + 1) / 2 && g.chroma_w == (g.width + 1) / 2 && g.chroma_c == 2,
            "group ", i, ": chroma must be [ceil(H/2), ceil(W/2), 2] = [", (g.height + 1) / 2, ", ",
            (g.width + 1) / 2, ", 2] for luma of ", g.height, "x", g.width, ", got [", g.chroma_h,
            ", ", g.chroma_w, ", ", g.chroma_c, "]");
  PVF_CHECK(fits_int32(g.chroma_sh) && fits_int32(g.chroma_sw) && fits_int32(g.chroma_sc) &&
                g.chroma_sn >= 0,
            "group ", i, ": chroma strides must be >= 0 and < 2^31");
  PVF_CHECK(g.matrix >= 0 && g.matrix <= 2, "group ", i, ": unknown matrix code ", g.matrix);
}

// Whether 4 pixels at any x multiple of 4 load with aligned 4- (8-bit) or 8-byte (16-bit) accesses.
bool vector_ok(SourceKind kind, const FusedFrame& f) {
  const auto a0 = reinterpret_cast<uintptr_t>(f.plane0);
  const auto a1 = reinterpret_cast<uintptr_t>(f.plane1);
  if (kind == SourceKind::kRGB8) {
    return f.s0w == 3 && f.s0c == 1 && a0 % 4 == 0 && f.s0h % 4 == 0;
  }
  const int bytes = kind == SourceKind::kNV12 ? 4 : 8;  // one vector of 4 samples
  const int per = kind == SourceKind::kNV12 ? 1 : 2;    // bytes per sample
  return f.s0w == 1 && f.s1w == 2 && f.s1c == 1 && a0 % bytes == 0 && a1 % bytes == 0 &&
         (int64_t{f.s0h} * per) % bytes == 0 && (int64_t{f.s1h} * per) % bytes == 0;
}

}  // namespace

std::vector<FusedBatch> make_batches(SourceKind kind, const FrameGroup* groups, int64_t n) {
  PVF_CHECK(n >= 0 && (n == 0 || groups != nullptr), "bad group array");
  const int64_t sample = kind == SourceKind::kP016 ? 2 : 1;
  std::vector<FusedBatch> out;
  for (int64_t i = 0; i < n; ++i) {
    const FrameGroup& g = groups[i];
    check_group(kind, g, i);
    FusedFrame f;
    f.geom = reinterpret_cast<const FusedGeom*>(static_cast<uintptr_t>(g.plan));
    f.s0h = static_cast<int32_t>(g.luma_sh);
    f.s0w = static_cast<int32_t>(g.luma_sw);
    f.s0c = static_cast<int32_t>(g.luma_sc);
    f.s1h = static_cast<int32_t>(g.chroma_sh);
    f.s1w = static_cast<int32_t>(g.chroma_sw);
    f.s1c = static_cast<int32_t>(g.chroma_sc);
    f.height = static_cast<int32_t>(g.height);
    f.width = static_cast<int32_t>(g.width);
    f.coeffs = color::make_yuv_coeffs(static_cast<color::Matrix>(g.matrix), g.full_range != 0);
    for (int64_t k = 0; k < g.count; ++k) {
      f.plane0 = reinterpret_cast<const void*>(g.luma + k * g.luma_sn * sample);
      f.plane1 = reinterpret_cast<const void*>(g.chroma + k * g.chroma_sn * sample);
      f.vec = vector_ok(kind, f) ? 1 : 0;
      if (out.empty() || out.back().count == kFusedBatchFrames) out.emplace_back();
      FusedBatch& b = out.back();
      b.frames[b.count++] = f;
      b.max_cols = std::max<int32_t>(b.max_cols, static_cast<int32_t>(g.plan_max_cols));
      b.x_union = std::max<int32_t>(b.x_union, static_cast<int32_t>(g.plan_x_union));
      b.y_union = std::max<int32_t>(b.y_union, static_cast<int32_t>(g.plan_y_union));
    }
  }
  for (FusedBatch& b : out) {
    // Fewer rows per chunk until the block fits beside others (4 per SM at ~50 KiB on Hopper).
    while (b.chunk > 1 && fused_smem_bytes(b) > kFusedSmemTarget) b.chunk /= 2;
    PVF_CHECK(fused_smem_bytes(b) <= kFusedSmemLimit, "the batch's plans need ",
              fused_smem_bytes(b), " bytes of shared memory (at most ", kFusedSmemLimit,
              "): resize in two steps");
  }
  return out;
}

#ifndef PYVIDFAST_WITH_CUDA
void launch_fused_cuda(SourceKind, const std::vector<FusedBatch>&, int64_t, int64_t, void*, int64_t,
                       int64_t, int64_t, OutDtype, bool, int, uintptr_t) {
  throw std::runtime_error("CUDA support was not built: pyvidfast was compiled without nvcc");
}
#endif

}  // namespace transform
}  // namespace pvf
