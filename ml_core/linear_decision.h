// X W^T + b for a linear model of `rows` weight vectors (row-major W [rows x d]),
// shared by the linear classifiers' decision functions (LinearSVC, SGD).
#pragma once

#include <cstdint>
#include <vector>

namespace dtask::ml_core {

/// Row-major [n x rows]: out[i, r] = X[i, :] . W[r, :] + b[r]. X row-major [n x d]. Thread-safe.
inline std::vector<double> linear_decision(const double* X, std::int64_t n, std::int64_t d,
                                           const std::vector<double>& W, const std::vector<double>& b) {
  const auto rows = static_cast<std::int64_t>(b.size());
  std::vector<double> out(static_cast<std::size_t>(n * rows));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t r = 0; r < rows; ++r) {
      double s = 0.0;
      for (std::int64_t j = 0; j < d; ++j) s += X[i * d + j] * W[r * d + j];
      out[i * rows + r] = s + b[r];
    }
  }
  return out;
}

}  // namespace dtask::ml_core
