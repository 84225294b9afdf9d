// The fused CUDA kernel's steps run on the CPU (see fused_resize_emulate_cpu in fused_resize.h):
// each block's chunks go through the stage / horizontal / vertical steps of fused_resize_tile.h
// in the order the barriers impose on the GPU, one item at a time.
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "transform/fused_resize.h"
#include "transform/fused_resize_tile.h"

namespace pvf {
namespace transform {
namespace {

struct Scratch {
  std::vector<float> stage;
  std::vector<float> hrow;
  std::vector<FusedThreadState> threads;
};

template <SourceKind K, OutDtype D, bool kFma>
void run_block(const unsigned char* table, int64_t t, int64_t bx, int64_t by, Scratch& sc,
               void* dst, int64_t dst_t, int64_t dst_c, int64_t dst_h) {
  const FusedTile s = fused_tile(table, t, bx, by);
  sc.stage.assign(3 * static_cast<size_t>(kFusedChunkRows) * s.max_cols, 0.0f);
  sc.hrow.assign(3 * kFusedChunkRows * kFusedTileW, 0.0f);
  sc.threads.resize(kFusedThreads);
  for (int ty = 0; ty < kFusedThreadsY; ++ty) {
    for (int tx = 0; tx < kFusedTileW; ++tx) {
      fused_thread_init(s, tx, ty, &sc.threads[ty * kFusedTileW + tx]);
    }
  }
  for (int r0 = s.row_lo; r0 < s.row_hi; r0 += kFusedChunkRows) {
    const int rows = s.row_hi - r0 < kFusedChunkRows ? s.row_hi - r0 : kFusedChunkRows;
    for (int rr = 0; rr < rows; ++rr) {
      for (int cc = 0; cc < s.ncols; ++cc) fused_stage_pixel<K>(s, r0, rr, cc, sc.stage.data());
    }
    for (int i = 0; i < rows * kFusedTileW; ++i) {
      fused_horizontal<kFma>(s, i, sc.stage.data(), sc.hrow.data());
    }
    for (int tid = 0; tid < kFusedThreads; ++tid) {
      fused_vertical<kFma>(r0, rows, tid % kFusedTileW, sc.hrow.data(), &sc.threads[tid]);
    }
  }
  for (int tid = 0; tid < kFusedThreads; ++tid) {
    fused_store<D>(s, sc.threads[tid], dst, dst_t, dst_c, dst_h);
  }
}

template <SourceKind K, OutDtype D, bool kFma>
void run_all(const void* table, int64_t frames, int64_t gx, int64_t gy, void* dst, int64_t dst_t,
             int64_t dst_c, int64_t dst_h, int num_threads) {
  const auto* base = static_cast<const unsigned char*>(table);
  std::vector<Scratch> scratch(static_cast<size_t>(num_threads));
  parallel_for(frames * gy * gx, num_threads, [&](int64_t task, int worker) {
    const int64_t t = task / (gx * gy), rest = task % (gx * gy);
    run_block<K, D, kFma>(base, t, rest % gx, rest / gx, scratch[static_cast<size_t>(worker)], dst,
                          dst_t, dst_c, dst_h);
  });
}

template <SourceKind K, bool kFma>
void by_dtype(OutDtype d, const void* table, int64_t frames, int64_t gx, int64_t gy, void* dst,
              int64_t dst_t, int64_t dst_c, int64_t dst_h, int threads) {
  switch (d) {
    case OutDtype::kUint8:
      return run_all<K, OutDtype::kUint8, kFma>(table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                                threads);
    case OutDtype::kFloat32:
      return run_all<K, OutDtype::kFloat32, kFma>(table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                                  threads);
    case OutDtype::kBFloat16:
      return run_all<K, OutDtype::kBFloat16, kFma>(table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                                   threads);
    case OutDtype::kFloat16:
      return run_all<K, OutDtype::kFloat16, kFma>(table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                                  threads);
  }
  PVF_CHECK(false, "unknown out_dtype code ", static_cast<int>(d));
}

template <bool kFma>
void by_kind(SourceKind k, OutDtype d, const void* table, int64_t frames, int64_t gx, int64_t gy,
             void* dst, int64_t dst_t, int64_t dst_c, int64_t dst_h, int threads) {
  switch (k) {
    case SourceKind::kRGB8:
      return by_dtype<SourceKind::kRGB8, kFma>(d, table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                               threads);
    case SourceKind::kNV12:
      return by_dtype<SourceKind::kNV12, kFma>(d, table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                               threads);
    case SourceKind::kP016:
      return by_dtype<SourceKind::kP016, kFma>(d, table, frames, gx, gy, dst, dst_t, dst_c, dst_h,
                                               threads);
  }
  PVF_CHECK(false, "unknown source kind ", static_cast<int>(k));
}

}  // namespace

void fused_resize_emulate_cpu(SourceKind kind, const void* table, int64_t frames, int64_t grid_x,
                              int64_t grid_y, void* dst, int64_t dst_stride_t, int64_t dst_stride_c,
                              int64_t dst_stride_h, OutDtype out_dtype, bool fma, int num_threads) {
  if (frames == 0) return;
  PVF_CHECK(table != nullptr && dst != nullptr, "table and dst must be set");
  PVF_CHECK(num_threads > 0, "num_threads must be positive, got num_threads=", num_threads);
  const auto* h = static_cast<const FusedHeader*>(table);
  PVF_CHECK(frames == h->num_frames, "frames=", frames, " but the table holds ", h->num_frames);
  PVF_CHECK(grid_x == (h->crop_w + kFusedTileW - 1) / kFusedTileW &&
                grid_y == (h->crop_h + kFusedTileH - 1) / kFusedTileH,
            "grid (", grid_x, ", ", grid_y, ") does not match the table's crop");
  if (fma) {
    by_kind<true>(kind, out_dtype, table, frames, grid_x, grid_y, dst, dst_stride_t, dst_stride_c,
                  dst_stride_h, num_threads);
  } else {
    by_kind<false>(kind, out_dtype, table, frames, grid_x, grid_y, dst, dst_stride_t, dst_stride_c,
                   dst_stride_h, num_threads);
  }
}

}  // namespace transform
}  // namespace pvf
