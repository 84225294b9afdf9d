// The CPU inner loops with fused multiply-adds (ATen's AVX2/AVX512 builds; Note [FMA mode]).
// On x86 only this file is compiled for the FMA target, and only called when cpu_has_fma().
#include <cstdint>

#include "transform/cpu/resize_rows.h"

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#include <immintrin.h>

namespace pvf {
namespace transform {
bool cpu_has_fma() { return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma"); }
}  // namespace transform
}  // namespace pvf

#pragma GCC push_options
#pragma GCC target("avx,fma")
#define PVF_ROWS_NS rows_fma
#define PVF_MADD4(acc, x, w) ((v4)_mm_fmadd_ps((__m128)(x), (__m128)(w), (__m128)(acc)))
#define PVF_VW 8
#define PVF_MADDW(acc, x, w) ((vw)_mm256_fmadd_ps((__m256)(x), (__m256)(w), (__m256)(acc)))
#include "transform/cpu/resize_rows_impl.h"
#pragma GCC pop_options

#else
#include <cmath>

namespace pvf {
namespace transform {
bool cpu_has_fma() { return true; }
namespace rows_fma_detail {
typedef float v4 __attribute__((vector_size(16)));
inline v4 fma4(v4 acc, v4 x, v4 w) {
  return v4{std::fma(x[0], w[0], acc[0]), std::fma(x[1], w[1], acc[1]),
            std::fma(x[2], w[2], acc[2]), std::fma(x[3], w[3], acc[3])};
}
}  // namespace rows_fma_detail
}  // namespace transform
}  // namespace pvf

#define PVF_ROWS_NS rows_fma
#define PVF_MADD4(acc, x, w) (::pvf::transform::rows_fma_detail::fma4((acc), (x), (w)))
#define PVF_VW 4
#define PVF_MADDW PVF_MADD4
#include "transform/cpu/resize_rows_impl.h"
#endif
