// The fused CUDA kernel's steps run on the CPU (see fused_resize_emulate_cpu in fused_resize.h):
// each block's setup, chunks (stage / horizontal / vertical) and store go through the steps of
// fused_resize_tile.h in the order the barriers impose on the GPU, one item at a time.
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "transform/fused_resize.h"
#include "transform/fused_resize_tile.h"

namespace pvf {
namespace transform {
namespace {

struct Scratch {
  std::vector<float> smem;
  std::vector<FusedAcc> acc;
};

template <SourceKind K, OutDtype D, bool kFma>
void run_block(const FusedBatch& b, int z, int bx, int by, int64_t t, Scratch& sc, void* dst,
               int64_t dst_t, int64_t dst_c, int64_t dst_h) {
  sc.smem.assign(fused_smem_bytes(b) / 4, 0.0f);
  sc.acc.assign(kFusedThreads, FusedAcc{});
  const FusedTile s = fused_tile(b, z, bx, by);
  const FusedSmem m = fused_smem(sc.smem.data(), b);
  for (int i = 0; i < fused_setup_items(b); ++i) fused_setup(s, b, m, i);
  for (int r0 = s.row_lo; r0 < s.row_hi; r0 += m.chunk) {
    const int rows = s.row_hi - r0 < m.chunk ? s.row_hi - r0 : m.chunk;
    for (int i = 0; i < fused_quads(s, rows); ++i) fused_stage_quad<K>(s, m, r0, i);
    for (int i = 0; i < rows * kFusedQuads; ++i) fused_horizontal<kFma>(s, m, i);
    for (int tid = 0; tid < kFusedThreads; ++tid) {
      fused_vertical<kFma>(m, r0, rows, tid % kFusedTileW, tid / kFusedTileW, &sc.acc[tid]);
    }
  }
  for (int tid = 0; tid < kFusedThreads; ++tid) {
    fused_store<D>(s, tid % kFusedTileW, tid / kFusedTileW, sc.acc[tid], t, dst, dst_t, dst_c,
                   dst_h);
  }
}

template <SourceKind K, OutDtype D, bool kFma>
void run_all(const std::vector<FusedBatch>& batches, int64_t gx, int64_t gy, void* dst,
             int64_t dst_t, int64_t dst_c, int64_t dst_h, int num_threads) {
  std::vector<Scratch> scratch(static_cast<size_t>(num_threads));
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    const FusedBatch& b = batches[bi];
    const int64_t t0 = static_cast<int64_t>(bi) * kFusedBatchFrames;
    parallel_for(b.count * gy * gx, num_threads, [&](int64_t task, int worker) {
      const int64_t z = task / (gx * gy), rest = task % (gx * gy);
      run_block<K, D, kFma>(b, static_cast<int>(z), static_cast<int>(rest % gx),
                            static_cast<int>(rest / gx), t0 + z,
                            scratch[static_cast<size_t>(worker)], dst, dst_t, dst_c, dst_h);
    });
  }
}

template <SourceKind K, bool kFma>
void by_dtype(OutDtype d, const std::vector<FusedBatch>& b, int64_t gx, int64_t gy, void* dst,
              int64_t dst_t, int64_t dst_c, int64_t dst_h, int threads) {
  switch (d) {
    case OutDtype::kUint8:
      return run_all<K, OutDtype::kUint8, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
    case OutDtype::kFloat32:
      return run_all<K, OutDtype::kFloat32, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
    case OutDtype::kBFloat16:
      return run_all<K, OutDtype::kBFloat16, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
    case OutDtype::kFloat16:
      return run_all<K, OutDtype::kFloat16, kFma>(b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
  }
  PVF_CHECK(false, "unknown out_dtype code ", static_cast<int>(d));
}

template <bool kFma>
void by_kind(SourceKind k, OutDtype d, const std::vector<FusedBatch>& b, int64_t gx, int64_t gy,
             void* dst, int64_t dst_t, int64_t dst_c, int64_t dst_h, int threads) {
  switch (k) {
    case SourceKind::kRGB8:
      return by_dtype<SourceKind::kRGB8, kFma>(d, b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
    case SourceKind::kNV12:
      return by_dtype<SourceKind::kNV12, kFma>(d, b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
    case SourceKind::kP016:
      return by_dtype<SourceKind::kP016, kFma>(d, b, gx, gy, dst, dst_t, dst_c, dst_h, threads);
  }
  PVF_CHECK(false, "unknown source kind ", static_cast<int>(k));
}

}  // namespace

void fused_resize_emulate_cpu(SourceKind kind, const std::vector<FusedBatch>& batches,
                              int64_t crop_h, int64_t crop_w, void* dst, int64_t dst_stride_t,
                              int64_t dst_stride_c, int64_t dst_stride_h, OutDtype out_dtype,
                              bool fma, int num_threads) {
  if (batches.empty()) return;
  PVF_CHECK(dst != nullptr, "dst must be set");
  PVF_CHECK(num_threads > 0, "num_threads must be positive, got num_threads=", num_threads);
  for (const FusedBatch& b : batches) {
    for (int z = 0; z < b.count; ++z) {
      const FusedGeom* g = b.frames[z].geom;
      PVF_CHECK(g->crop_h == crop_h && g->crop_w == crop_w, "a plan is for a ", g->crop_h, "x",
                g->crop_w, " crop, the output is ", crop_h, "x", crop_w);
    }
  }
  const int64_t gx = (crop_w + kFusedTileW - 1) / kFusedTileW;
  const int64_t gy = (crop_h + kFusedTileH - 1) / kFusedTileH;
  if (fma) {
    by_kind<true>(kind, out_dtype, batches, gx, gy, dst, dst_stride_t, dst_stride_c, dst_stride_h,
                  num_threads);
  } else {
    by_kind<false>(kind, out_dtype, batches, gx, gy, dst, dst_stride_t, dst_stride_c, dst_stride_h,
                   num_threads);
  }
}

}  // namespace transform
}  // namespace pvf
