// CPU kernel: separable antialiased bicubic (horizontal pass, then vertical), clamp, round,
// normalise, for the cropped window only. The weights are computed once per call by the shared
// resize_weights.h; the arithmetic follows ATen (Note [matching ATen's AA bicubic]).
//
// Work is split into (frame, band of output rows) tasks on all threads (common/parallel.h). Within
// a band, input rows go through the horizontal pass once, in increasing order and four at a time,
// into a ring of rows that the vertical pass reads; only the crop's columns and the input rows its
// output rows read are computed. The inner loops (cpu/resize_rows_impl.h) are vectorised across
// four input rows (horizontal) and along the row (vertical); every output value is still summed
// in ATen's tap order, with separate or fused multiply-adds as torch's own kernels do here
// (Note [FMA mode]). The output is written once, clamped, rounded and converted per row.
#include <algorithm>
#include <vector>

#include "common/check.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "transform/cpu/resize_rows.h"
#include "transform/resize_crop_normalize.h"

namespace pvf {
namespace transform {
namespace {

// Four floats, loaded from any float address.
typedef float v4f __attribute__((vector_size(16), aligned(4)));
typedef float v4a __attribute__((vector_size(16)));  // the same, 16-byte aligned

inline v4a load4(const float* p) { return *reinterpret_cast<const v4f*>(p); }

// Taps of the cropped output indices [start, start + n) of one axis. Every index gets max_taps
// weights (the longest window used): the real ones followed by zeros. Adding +0 * x (x finite)
// leaves a sum unchanged, so the padded loop gives ATen's result with one trip count for all
// pixels (no mispredicted loop exits in the horizontal pass).
struct AxisTaps {
  int max_taps = 1;
  std::vector<float> weights;  // n * max_taps, zero-padded
  std::vector<int64_t> first;  // first input index of each output index
  std::vector<int> count;      // taps with weights (>= 1; a zero-tap window reads one tap of 0)
  int64_t lo = 0, hi = 0;      // input indices read, padded taps included: [lo, hi)
  std::vector<v4a> splat;      // weights broadcast to 4 lanes (horizontal pass)
};

AxisTaps make_taps(int64_t in_size, int64_t out_size, int64_t start, int64_t n, bool fma) {
  const AxisFilter f = make_axis_filter(in_size, out_size);
  std::vector<float> all(static_cast<size_t>(n * f.max_taps));
  AxisTaps t;
  t.first.resize(static_cast<size_t>(n));
  t.count.resize(static_cast<size_t>(n));
  t.max_taps = 1;
  for (int64_t i = 0; i < n; ++i) {
    int64_t first = 0;
    float* w = &all[static_cast<size_t>(i * f.max_taps)];
    const int c = fma ? compute_axis_taps<true>(f, start + i, w, &first)
                      : compute_axis_taps<false>(f, start + i, w, &first);
    t.first[i] = first;
    t.count[i] = std::max(c, 1);
    t.max_taps = std::max(t.max_taps, t.count[i]);
  }
  // Pad every window to the longest one actually used (ATen's bound is often one tap more).
  t.weights.assign(static_cast<size_t>(n * t.max_taps), 0.0f);
  t.lo = in_size;
  t.hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(&all[static_cast<size_t>(i * f.max_taps)], t.count[i],
                &t.weights[static_cast<size_t>(i * t.max_taps)]);
    t.lo = std::min(t.lo, t.first[i]);
    t.hi = std::max(t.hi, t.first[i] + t.max_taps);
  }
  t.splat.resize(t.weights.size());
  for (size_t i = 0; i < t.weights.size(); ++i) t.splat[i] = v4a{} + t.weights[i];
  return t;
}

// Input rows go through the horizontal pass four at a time (see horizontal_rows4).
constexpr int kRowGroup = 4;

struct Scratch {
  std::vector<float> tbuf;         // four input rows' needed columns, transposed (unpack_rows4)
  std::vector<float> ring;         // ring_rows horizontally resized rows, planar [3][crop_w]
  std::vector<float> spare;        // where lanes for rows past the image go
  std::vector<float> acc;          // one output row, planar [3][crop_w]
  std::vector<const float*> rows;  // the ring rows one output row reads
};

// Clamps, rounds and converts one planar output row (3 channels, rounded in place in acc) into
// the destination. Written with vector operations because gcc does not vectorise the clamp's
// compare-and-select here.
template <OutDtype D>
void store_row(const ResizeCropParams& p, float* __restrict acc, int64_t t, int64_t y,
               const uint16_t* lut16) {
  const int64_t cw = p.crop_w;
  const int64_t len = 3 * cw;
  const v4a zero{}, top = zero + 255.0f, magic = zero + 12582912.0f;
  int64_t k = 0;
  for (; k + 4 <= len; k += 4) {
    v4a v = load4(acc + k);
    v = v < zero ? zero : v;  // torch.clamp(0, 255), then torch.round (clamp_round_255)
    v = v > top ? top : v;
    v = (v + magic) - magic;
    *reinterpret_cast<v4f*>(acc + k) = v;
  }
  for (; k < len; ++k) acc[k] = clamp_round_255(acc[k]);
  for (int c = 0; c < 3; ++c) {
    const float* __restrict a = acc + c * cw;
    const int64_t offset = t * p.dst_stride_t + c * p.dst_stride_c + y * p.dst_stride_h;
    if constexpr (D == OutDtype::kUint8) {
      uint8_t* __restrict d = static_cast<uint8_t*>(p.dst) + offset;
      for (int64_t x = 0; x < cw; ++x) d[x] = static_cast<uint8_t>(static_cast<int>(a[x]));
    } else if constexpr (D == OutDtype::kFloat32) {
      float* __restrict d = static_cast<float*>(p.dst) + offset;
      const v4a half = zero + 127.5f;
      int64_t x = 0;
      for (; x + 4 <= cw; x += 4) {
        *reinterpret_cast<v4f*>(d + x) = (load4(a + x) - half) / half;  // normalize_255
      }
      for (; x < cw; ++x) d[x] = normalize_255(a[x]);
    } else {
      uint16_t* __restrict d = static_cast<uint16_t*>(p.dst) + offset;
      for (int64_t x = 0; x < cw; ++x) d[x] = lut16[static_cast<int>(a[x])];
    }
  }
}

template <OutDtype D>
void run_band(const ResizeCropParams& p, const AxisTaps& tx, const AxisTaps& ty, int64_t t,
              int64_t y0, int64_t y1, Scratch& s, const uint16_t* lut16) {
  const int64_t cw = p.crop_w;
  const int64_t plane = 3 * cw;
  // Ring of horizontally resized rows, slot = row % ring_rows. Rows are computed in increasing
  // order, in groups of kRowGroup from the first row an output row needs but lacks, and a window
  // never starts before the previous one; while group [g, g + 4) is written, the rows still needed
  // are [first, g) with g < first + n, so ring_rows >= max taps + 4 keeps all of them distinct.
  const int64_t ring_rows = ty.max_taps + kRowGroup;
  const uint8_t* frame = p.src + t * p.src_stride_t;
  const int64_t ncols = std::min(tx.hi, p.width) - tx.lo;  // padded taps past the image read 0
  const auto horizontal = p.fma ? rows_fma::horizontal_rows4 : rows_plain::horizontal_rows4;
  const auto vertical = p.fma ? rows_fma::vertical_row : rows_plain::vertical_row;
  int64_t next_row = 0;
  float* __restrict acc = s.acc.data();
  for (int64_t y = y0; y < y1; ++y) {
    const int64_t first = ty.first[y];
    const int n = ty.count[y];
    while (std::max(next_row, first) < first + n) {
      const int64_t g = std::max(next_row, first);
      const uint8_t* rows[kRowGroup];
      float* out[kRowGroup];
      for (int l = 0; l < kRowGroup; ++l) {
        const bool valid = g + l < p.height;
        rows[l] = frame + (valid ? g + l : g) * p.src_stride_h;
        out[l] = valid ? s.ring.data() + ((g + l) % ring_rows) * plane : s.spare.data();
      }
      horizontal(tx.max_taps, rows, p.src_stride_w, p.src_stride_c, tx.lo, ncols, s.tbuf.data(),
                 tx.first.data(), reinterpret_cast<const float*>(tx.splat.data()), cw, out);
      next_row = g + kRowGroup;
    }
    const float* w = ty.weights.data() + y * ty.max_taps;
    const float** rows = s.rows.data();
    for (int j = 0; j < n; ++j) rows[j] = s.ring.data() + ((first + j) % ring_rows) * plane;
    vertical(rows, w, n, plane, acc);
    store_row<D>(p, acc, t, y, lut16);
  }
}

template <OutDtype D>
void run(const ResizeCropParams& p, int num_threads) {
  // Weights for the crop's output columns and rows only, shared by all frames and threads.
  const AxisTaps tx = make_taps(p.width, p.resize_w, p.left, p.crop_w, p.fma);
  const AxisTaps ty = make_taps(p.height, p.resize_h, p.top, p.crop_h, p.fma);
  uint16_t lut16[256] = {};
  if constexpr (D == OutDtype::kBFloat16 || D == OutDtype::kFloat16) {
    for (int u = 0; u < 256; ++u) lut16[u] = normalized_bits16(D, u);
  }
  // Enough tasks to balance the threads; bands of one frame recompute the few input rows their
  // windows share, so split frames only when there are fewer frames than ~4 tasks per thread.
  const int64_t want = 4 * static_cast<int64_t>(num_threads);
  int64_t bands = (want + p.frames - 1) / p.frames;
  bands = std::max<int64_t>(1, std::min<int64_t>(bands, p.crop_h / 16));
  const int64_t rows_per_band = (p.crop_h + bands - 1) / bands;
  bands = (p.crop_h + rows_per_band - 1) / rows_per_band;

  // The destination's byte extent (strides are >= 0, checked by validate()).
  const int64_t elem = D == OutDtype::kUint8 ? 1 : (D == OutDtype::kFloat32 ? 4 : 2);
  const int64_t last = (p.frames - 1) * p.dst_stride_t + 2 * p.dst_stride_c +
                       (p.crop_h - 1) * p.dst_stride_h + p.crop_w;
  advise_huge_pages(p.dst, static_cast<size_t>(last * elem));

  std::vector<Scratch> scratch(static_cast<size_t>(std::max(num_threads, 1)));
  parallel_for(p.frames * bands, num_threads, [&](int64_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    if (s.acc.empty()) {
      s.tbuf.assign(static_cast<size_t>(kRowGroup * 3 * (tx.hi - tx.lo)), 0.0f);
      s.ring.resize(static_cast<size_t>((ty.max_taps + kRowGroup) * 3 * p.crop_w));
      s.spare.resize(static_cast<size_t>(3 * p.crop_w));
      s.acc.resize(static_cast<size_t>(3 * p.crop_w));
      s.rows.resize(static_cast<size_t>(ty.max_taps));
    }
    const int64_t t = task / bands;
    const int64_t y0 = (task % bands) * rows_per_band;
    const int64_t y1 = std::min(p.crop_h, y0 + rows_per_band);
    run_band<D>(p, tx, ty, t, y0, y1, s, lut16);
  });
}

}  // namespace

void resize_crop_normalize_cpu(const ResizeCropParams& p, int num_threads) {
  validate(p);
  PVF_CHECK(num_threads > 0, "num_threads must be positive, got num_threads=", num_threads);
  PVF_CHECK(!p.fma || cpu_has_fma(), "fma=true but this CPU has no FMA instructions");
  if (p.frames == 0) return;
  switch (p.out_dtype) {
    case OutDtype::kUint8:
      return run<OutDtype::kUint8>(p, num_threads);
    case OutDtype::kFloat32:
      return run<OutDtype::kFloat32>(p, num_threads);
    case OutDtype::kBFloat16:
      return run<OutDtype::kBFloat16>(p, num_threads);
    case OutDtype::kFloat16:
      return run<OutDtype::kFloat16>(p, num_threads);
  }
  PVF_CHECK(false, "unknown out_dtype code ", static_cast<int>(p.out_dtype));
}

}  // namespace transform
}  // namespace pvf
