// Body of the CPU inner loops; included (deliberately without an include guard) by
// resize_rows_plain.cpp and resize_rows_fma.cpp, which define PVF_ROWS_NS (the namespace) and
// PVF_MADD4(acc, x, w) (acc + x * w on 4 floats, rounded twice or fused), PVF_VW (floats per vector
// in the vertical pass) and PVF_MADDW (PVF_MADD4 on PVF_VW floats). Raw pointers only: nothing here
// may instantiate a template shared with other translation units, since the FMA copy is compiled
// for another target (an out-of-line copy picked by the linker would then run FMA code everywhere).

namespace pvf {
namespace transform {
namespace PVF_ROWS_NS {
namespace {

// Four floats loaded from any float address, and the same type 16-byte aligned.
typedef float v4u __attribute__((vector_size(16), aligned(4)));
typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) { return *reinterpret_cast<const v4u*>(p); }
inline void store4(float* p, v4 v) { *reinterpret_cast<v4u*>(p) = v; }

// Input rows [r0, r0 + 4) as floats transposed so that one 4-lane vector holds the four rows'
// value of one byte position: t[3 * col + c] = {row0[col][c], row1[col][c], row2[..], row3[..]}
// for columns [lo, lo + ncols). Then each tap of the horizontal pass is one vector multiply-add
// for four rows with every lane in use, and the weight of a column is loaded once for three
// channels and four rows.
void unpack_rows4(const uint8_t* const* rows, int64_t stride_w, int64_t stride_c, int64_t lo,
                  int64_t ncols, v4* __restrict t) {
  int64_t p = 0;
  if (stride_c == 1 && stride_w == 3) {
    const int64_t nbytes = 3 * ncols;
    const uint8_t* r0 = rows[0] + 3 * lo;
    const uint8_t* r1 = rows[1] + 3 * lo;
    const uint8_t* r2 = rows[2] + 3 * lo;
    const uint8_t* r3 = rows[3] + 3 * lo;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    for (; p + 16 <= nbytes; p += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + p));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + p));
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r2 + p));
      const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r3 + p));
      const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
      const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
      const __m128i q[4] = {_mm_unpacklo_epi16(ab_lo, cd_lo), _mm_unpackhi_epi16(ab_lo, cd_lo),
                            _mm_unpacklo_epi16(ab_hi, cd_hi), _mm_unpackhi_epi16(ab_hi, cd_hi)};
      for (int i = 0; i < 4; ++i) {  // q[i]: byte positions p + 4i .. p + 4i + 3, rows 0..3
        const __m128i lo16 = _mm_unpacklo_epi8(q[i], zero), hi16 = _mm_unpackhi_epi8(q[i], zero);
        t[p + 4 * i] = (v4)_mm_cvtepi32_ps(_mm_unpacklo_epi16(lo16, zero));
        t[p + 4 * i + 1] = (v4)_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo16, zero));
        t[p + 4 * i + 2] = (v4)_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi16, zero));
        t[p + 4 * i + 3] = (v4)_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi16, zero));
      }
    }
#endif
    for (; p < nbytes; ++p) {
      t[p] = v4{static_cast<float>(r0[p]), static_cast<float>(r1[p]), static_cast<float>(r2[p]),
                static_cast<float>(r3[p])};
    }
    return;
  }
  for (int64_t col = 0; col < ncols; ++col) {
    const int64_t o = (lo + col) * stride_w;
    for (int c = 0; c < 3; ++c) {
      const int64_t q = o + c * stride_c;
      t[3 * col + c] = v4{static_cast<float>(rows[0][q]), static_cast<float>(rows[1][q]),
                          static_cast<float>(rows[2][q]), static_cast<float>(rows[3][q])};
    }
  }
}

// 4x4 transpose: in[i] lane l -> out[l] lane i.
inline void transpose4(const v4* in, v4* out) {
#if defined(__SSE__)
  const __m128 t0 = _mm_unpacklo_ps((__m128)in[0], (__m128)in[1]);
  const __m128 t1 = _mm_unpacklo_ps((__m128)in[2], (__m128)in[3]);
  const __m128 t2 = _mm_unpackhi_ps((__m128)in[0], (__m128)in[1]);
  const __m128 t3 = _mm_unpackhi_ps((__m128)in[2], (__m128)in[3]);
  out[0] = (v4)_mm_movelh_ps(t0, t1);
  out[1] = (v4)_mm_movehl_ps(t1, t0);
  out[2] = (v4)_mm_movelh_ps(t2, t3);
  out[3] = (v4)_mm_movehl_ps(t3, t2);
#else
  for (int l = 0; l < 4; ++l) out[l] = v4{in[0][l], in[1][l], in[2][l], in[3][l]};
#endif
}

// The taps of one cropped column x for four rows and three channels: a[c] lane l = row l.
template <int K>
inline void column_taps(int k, const v4* __restrict t, const int64_t* first, int64_t lo,
                        const v4* __restrict w, int64_t x, v4* a) {
  const int kk = K > 0 ? K : k;
  const v4* s = t + 3 * (first[x] - lo);
  const v4* wx = w + x * kk;
  a[0] = s[0] * wx[0];  // ATen: out = src_0 * w_0
  a[1] = s[1] * wx[0];
  a[2] = s[2] * wx[0];
#pragma GCC unroll 16
  for (int j = 1; j < kk; ++j) {
    const v4 wj = wx[j];
    a[0] = PVF_MADD4(a[0], s[3 * j], wj);  // out += src_j * w_j
    a[1] = PVF_MADD4(a[1], s[3 * j + 1], wj);
    a[2] = PVF_MADD4(a[2], s[3 * j + 2], wj);
  }
}

// The taps for every cropped column: out[l] (planar [3][cw]) receives lane l. K > 0: the tap
// count, fully unrolled; K == 0: `taps` at run time. Every column has `taps` weights (zero-padded:
// adding +0 * x, x finite, leaves a sum unchanged), so all columns take the same trip count.
// Four columns at a time: their per-channel results are transposed (lanes = columns) and stored
// as one vector per row and channel.
template <int K>
void taps_rows4(int taps, const v4* __restrict t, const int64_t* first, int64_t lo,
                const v4* __restrict w, int64_t cw, float* const* out) {
  const int k = K > 0 ? K : taps;
  int64_t x = 0;
  for (; x + 4 <= cw; x += 4) {
    const v4* s[4];
    const v4* wx[4];
    v4 a[4][3];
    for (int i = 0; i < 4; ++i) {
      s[i] = t + 3 * (first[x + i] - lo);
      wx[i] = w + (x + i) * k;
      for (int c = 0; c < 3; ++c) a[i][c] = s[i][c] * wx[i][0];  // ATen: out = src_0 * w_0
    }
#pragma GCC unroll 16
    for (int j = 1; j < k; ++j) {
      for (int i = 0; i < 4; ++i) {  // twelve independent sums keep the FMA units busy
        const v4 wj = wx[i][j];
        for (int c = 0; c < 3; ++c) a[i][c] = PVF_MADD4(a[i][c], s[i][3 * j + c], wj);
      }
    }
    for (int c = 0; c < 3; ++c) {
      const v4 in[4] = {a[0][c], a[1][c], a[2][c], a[3][c]};
      v4 rows[4];
      transpose4(in, rows);
      for (int l = 0; l < 4; ++l) store4(out[l] + c * cw + x, rows[l]);
    }
  }
  for (; x < cw; ++x) {
    v4 a[3];
    column_taps<K>(taps, t, first, lo, w, x, a);
    for (int l = 0; l < 4; ++l) {
      for (int c = 0; c < 3; ++c) out[l][c * cw + x] = a[c][l];
    }
  }
}

}  // namespace

void horizontal_rows4(int taps, const uint8_t* const* rows, int64_t stride_w, int64_t stride_c,
                      int64_t lo, int64_t ncols, float* tbuf, const int64_t* first,
                      const float* splat_weights, int64_t crop_w, float* const* out) {
  v4* t = reinterpret_cast<v4*>(tbuf);
  unpack_rows4(rows, stride_w, stride_c, lo, ncols, t);
  const v4* w = reinterpret_cast<const v4*>(splat_weights);
  switch (taps) {
    case 1:
      return taps_rows4<1>(taps, t, first, lo, w, crop_w, out);
    case 2:
      return taps_rows4<2>(taps, t, first, lo, w, crop_w, out);
    case 3:
      return taps_rows4<3>(taps, t, first, lo, w, crop_w, out);
    case 4:
      return taps_rows4<4>(taps, t, first, lo, w, crop_w, out);
    case 5:
      return taps_rows4<5>(taps, t, first, lo, w, crop_w, out);
    case 6:
      return taps_rows4<6>(taps, t, first, lo, w, crop_w, out);
    case 7:
      return taps_rows4<7>(taps, t, first, lo, w, crop_w, out);
    case 8:
      return taps_rows4<8>(taps, t, first, lo, w, crop_w, out);
    case 9:
      return taps_rows4<9>(taps, t, first, lo, w, crop_w, out);
    case 10:
      return taps_rows4<10>(taps, t, first, lo, w, crop_w, out);
    case 11:
      return taps_rows4<11>(taps, t, first, lo, w, crop_w, out);
    case 12:
      return taps_rows4<12>(taps, t, first, lo, w, crop_w, out);
    case 13:
      return taps_rows4<13>(taps, t, first, lo, w, crop_w, out);
    case 14:
      return taps_rows4<14>(taps, t, first, lo, w, crop_w, out);
    default:
      return taps_rows4<0>(taps, t, first, lo, w, crop_w, out);
  }
}

// Blocked along the row so the partial sums stay in registers across the taps (per element the
// order is still ATen's: out = src_0 * w_0; out += src_j * w_j). PVF_VW floats per vector: 4, or 8
// in the FMA build (its target has AVX).
void vertical_row(const float* const* rows, const float* w, int n, int64_t len,
                  float* __restrict acc) {
  typedef float vw __attribute__((vector_size(4 * PVF_VW)));
  typedef float vwu __attribute__((vector_size(4 * PVF_VW), aligned(4)));
  int64_t k = 0;
  for (; k + 4 * PVF_VW <= len; k += 4 * PVF_VW) {
    const float* s = rows[0] + k;
    const vw w0 = vw{} + w[0];
    vw a0 = *reinterpret_cast<const vwu*>(s) * w0,
       a1 = *reinterpret_cast<const vwu*>(s + PVF_VW) * w0,
       a2 = *reinterpret_cast<const vwu*>(s + 2 * PVF_VW) * w0,
       a3 = *reinterpret_cast<const vwu*>(s + 3 * PVF_VW) * w0;
    for (int j = 1; j < n; ++j) {
      const float* sj = rows[j] + k;
      const vw wj = vw{} + w[j];
      a0 = PVF_MADDW(a0, *reinterpret_cast<const vwu*>(sj), wj);
      a1 = PVF_MADDW(a1, *reinterpret_cast<const vwu*>(sj + PVF_VW), wj);
      a2 = PVF_MADDW(a2, *reinterpret_cast<const vwu*>(sj + 2 * PVF_VW), wj);
      a3 = PVF_MADDW(a3, *reinterpret_cast<const vwu*>(sj + 3 * PVF_VW), wj);
    }
    *reinterpret_cast<vwu*>(acc + k) = a0;
    *reinterpret_cast<vwu*>(acc + k + PVF_VW) = a1;
    *reinterpret_cast<vwu*>(acc + k + 2 * PVF_VW) = a2;
    *reinterpret_cast<vwu*>(acc + k + 3 * PVF_VW) = a3;
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
