// Body of the CPU inner loops; included (deliberately without an include guard) by
// resize_rows_plain.cpp and resize_rows_fma.cpp, which define PVF_ROWS_NS (the namespace) and
// PVF_MADD4(acc, x, w) (acc + x * w, rounded twice or fused). Raw pointers only: nothing here may
// instantiate a template shared with other translation units, since the FMA copy is compiled for
// another target (an out-of-line copy picked by the linker would then run FMA code everywhere).

namespace pvf {
namespace transform {
namespace PVF_ROWS_NS {
namespace {

// Four floats loaded from any float address, and the same type 16-byte aligned.
typedef float v4u __attribute__((vector_size(16), aligned(4)));
typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) { return *reinterpret_cast<const v4u*>(p); }
inline void store4(float* p, v4 v) { *reinterpret_cast<v4u*>(p) = v; }

// One pixel's R, G, B ride in one 4-lane vector (the fourth lane holds a neighbour and is
// ignored); two pixels are interleaved so their dependent add chains overlap. K > 0: the tap
// count, fully unrolled; K == 0: `taps` at run time. Every column has `taps` weights (zero-padded,
// and adding +0 * x leaves a sum unchanged), so all pixels take the same trip count.
template <int K>
void horizontal_taps_k(int taps, const float* __restrict row, const int64_t* first, int64_t lo,
                       const float* splat, int64_t cw, float* __restrict r, float* __restrict g,
                       float* __restrict b) {
  const int k = K > 0 ? K : taps;
  const v4* w = reinterpret_cast<const v4*>(splat);
  int64_t x = 0;
  for (; x + 2 <= cw; x += 2) {
    const float* s0 = row + 3 * (first[x] - lo);
    const float* s1 = row + 3 * (first[x + 1] - lo);
    const v4* w0 = w + x * k;
    const v4* w1 = w0 + k;
    v4 a0 = load4(s0) * w0[0];  // ATen: out = src_0 * w_0
    v4 a1 = load4(s1) * w1[0];
#pragma GCC unroll 16
    for (int j = 1; j < k; ++j) {
      a0 = PVF_MADD4(a0, load4(s0 + 3 * j), w0[j]);  // out += src_j * w_j
      a1 = PVF_MADD4(a1, load4(s1 + 3 * j), w1[j]);
    }
    r[x] = a0[0];
    g[x] = a0[1];
    b[x] = a0[2];
    r[x + 1] = a1[0];
    g[x + 1] = a1[1];
    b[x + 1] = a1[2];
  }
  for (; x < cw; ++x) {
    const float* s0 = row + 3 * (first[x] - lo);
    const v4* w0 = w + x * k;
    v4 a0 = load4(s0) * w0[0];
    for (int j = 1; j < k; ++j) a0 = PVF_MADD4(a0, load4(s0 + 3 * j), w0[j]);
    r[x] = a0[0];
    g[x] = a0[1];
    b[x] = a0[2];
  }
}

}  // namespace

void horizontal_taps(int taps, const float* row, const int64_t* first, int64_t lo,
                     const float* splat_weights, int64_t crop_w, float* r, float* g, float* b) {
  switch (taps) {
    case 1:
      return horizontal_taps_k<1>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
    case 5:
      return horizontal_taps_k<5>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
    case 7:
      return horizontal_taps_k<7>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
    case 9:
      return horizontal_taps_k<9>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
    case 11:
      return horizontal_taps_k<11>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
    case 13:
      return horizontal_taps_k<13>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
    default:
      return horizontal_taps_k<0>(taps, row, first, lo, splat_weights, crop_w, r, g, b);
  }
}

// Blocked along the row so the partial sums stay in registers across the taps (per element the
// order is still ATen's: out = src_0 * w_0; out += src_j * w_j).
void vertical_row(const float* const* rows, const float* w, int n, int64_t len,
                  float* __restrict acc) {
  int64_t k = 0;
  for (; k + 16 <= len; k += 16) {
    const float* s = rows[0] + k;
    const v4 w0 = v4{} + w[0];
    v4 a0 = load4(s) * w0, a1 = load4(s + 4) * w0, a2 = load4(s + 8) * w0,
       a3 = load4(s + 12) * w0;
    for (int j = 1; j < n; ++j) {
      const float* sj = rows[j] + k;
      const v4 wj = v4{} + w[j];
      a0 = PVF_MADD4(a0, load4(sj), wj);
      a1 = PVF_MADD4(a1, load4(sj + 4), wj);
      a2 = PVF_MADD4(a2, load4(sj + 8), wj);
      a3 = PVF_MADD4(a3, load4(sj + 12), wj);
    }
    store4(acc + k, a0);
    store4(acc + k + 4, a1);
    store4(acc + k + 8, a2);
    store4(acc + k + 12, a3);
  }
  for (; k < len; ++k) {
    v4 a = v4{} + rows[0][k] * w[0];
    for (int j = 1; j < n; ++j) a = PVF_MADD4(a, v4{} + rows[j][k], v4{} + w[j]);
    acc[k] = a[0];
  }
}

}  // namespace PVF_ROWS_NS
}  // namespace transform
}  // namespace pvf
