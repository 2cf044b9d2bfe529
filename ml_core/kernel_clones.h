// What the ML kernels (nearest_center_kernel.cc, glm_kernel.cc) share to be
// vectorised in a portable binary: a function-cloning attribute and a
// four-double vector type.
//
// DTASK_KERNEL_CLONES compiles a function once per listed target and picks
// one when the program loads (an ifunc), so the build stays portable and
// still runs AVX2+FMA code where the CPU has it. GCC on x86-64 only; under
// ThreadSanitizer (whose runtime is not ready when ifuncs resolve) and
// elsewhere there is only the baseline. `flatten` inlines the helpers into
// each clone so that they get its instructions.
#pragma once

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define DTASK_KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default"), flatten))
#else
#define DTASK_KERNEL_CLONES
#endif

// Vector-typed helpers are internal and inlined into the clones, so GCC's
// note that AVX arguments change the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dtask::ml_core::kernels {

constexpr int kLanes = 4;

/// Four doubles: one AVX register in the x86-64-v3 clone, two SSE2 ones in
/// the baseline. Written out because the auto-vectoriser, left to itself,
/// shuffled register tiles through the stack.
using Lanes = double __attribute__((vector_size(kLanes * sizeof(double))));

/// Four doubles from `p` (no alignment needed).
inline Lanes load(const double* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace dtask::ml_core::kernels
