// The CPU inner loops with separate multiply and add (ATen's DEFAULT build; Note [FMA mode]).
// Nothing here may be contracted into FMAs: x86-64's baseline has none, and CMakeLists.txt
// passes -ffp-contract=off for the other architectures.
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "transform/cpu/resize_rows.h"

#define PVF_ROWS_NS rows_plain
#define PVF_MADD4(acc, x, w) ((acc) + (x) * (w))
#define PVF_VW 4
#define PVF_MADDW PVF_MADD4
#include "transform/cpu/resize_rows_impl.h"
