// The GLM inner loop every loss/gradient pass runs: for each row, η = x.w + b,
// the family's loss and residual, and grad += residual * x, reading the row
// once (it is still in L1 for the second use).
//
// Why not two Eigen matrix-vector products: they read each block twice and,
// in our portable build, use SSE2 only; this kernel is compiled twice
// (AVX2+FMA and baseline x86-64, picked when the program loads), as the
// KMeans kernel (nearest_center_kernel.h).
#pragma once

#include <cstdint>

#include "ml_core/glm_family.h"

namespace dtask::ml_core {

struct LossGradSums {
  double loss = 0;
  double residual_sum = 0;  // the intercept's gradient
  std::int64_t bad_row = -1;  // the first row of x with NaN or infinity, if any (nothing after it is summed)
};

/// Σ loss and grad[j] += Σ residual x_j over `rows` rows of x (row-major,
/// d columns) with targets y, at weights w [d] and intercept b.
LossGradSums glm_loss_grad_rows(GlmFamily family, const double* x, const double* y, std::int64_t rows,
                                std::int64_t d, const double* w, double b, double* grad);

}  // namespace dtask::ml_core
