// See glm_kernel.h. Built with -O3 (worker/CMakeLists.txt).
#include "worker/ml_ops/glm_kernel.h"

#include <cmath>
#include <cstring>

// As in nearest_center_kernel.cc: one clone per target, chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define DTASK_KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default"), flatten))
#else
#define DTASK_KERNEL_CLONES
#endif

// The vector-typed helpers are internal and inlined into the clones, so
// GCC's note that AVX arguments change the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dtask::ml_ops {

namespace {

// Four doubles: one AVX register in the x86-64-v3 clone, two SSE2 ones in the baseline.
using Lanes = double __attribute__((vector_size(4 * sizeof(double))));

inline Lanes load(const double* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// x.w in 16 interleaved partial sums (four vectors), so the fused
/// multiply-adds do not wait on one another; the same order for a row
/// wherever it sits.
inline double dot(const double* x, const double* w, std::int64_t d) {
  Lanes a{}, b{}, c{}, e{};
  std::int64_t j = 0;
  for (; j + 16 <= d; j += 16) {
    a += load(x + j) * load(w + j);
    b += load(x + j + 4) * load(w + j + 4);
    c += load(x + j + 8) * load(w + j + 8);
    e += load(x + j + 12) * load(w + j + 12);
  }
  for (; j + 4 <= d; j += 4) a += load(x + j) * load(w + j);
  double tail = 0;
  for (; j < d; ++j) tail += x[j] * w[j];
  Lanes s = (a + b) + (c + e);
  return ((s[0] + s[1]) + (s[2] + s[3])) + tail;
}

inline bool finite_row(const double* x, std::int64_t d) {
  for (std::int64_t j = 0; j < d; ++j) {
    if (!std::isfinite(x[j])) return false;
  }
  return true;
}

}  // namespace

DTASK_KERNEL_CLONES
LossGradSums glm_loss_grad_rows(GlmFamily family, const double* x, const double* y, std::int64_t rows,
                                std::int64_t d, const double* w, double b, double* grad) {
  LossGradSums sums;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* row = x + r * d;
    const double eta = dot(row, w, d) + b;
    // η is NaN or infinite for a bad row, and infinite when a line search
    // probes too far: only the first is an error.
    if (!std::isfinite(eta) && !finite_row(row, d)) {
      sums.bad_row = r;
      return sums;
    }
    const Pointwise pw = pointwise(family, eta, y[r]);
    sums.loss += pw.loss;
    sums.residual_sum += pw.residual;
    for (std::int64_t j = 0; j < d; ++j) grad[j] += pw.residual * row[j];
  }
  return sums;
}

}  // namespace dtask::ml_ops
