// See glm_kernel.h. Built with -O3 (ml_core/CMakeLists.txt).
#include "ml_core/glm_kernel.h"

#include "ml_core/kernel_clones.h"

#include <cmath>

namespace dtask::ml_core {

namespace {

using kernels::Lanes;
using kernels::load;

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

}  // namespace dtask::ml_core
