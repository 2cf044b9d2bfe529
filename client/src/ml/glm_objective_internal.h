// The objective a GLM fit minimises (ml_core/glm_solvers.h), evaluated by
// distributed passes over the chunks (worker/ml_ops/glm_ops.cc): each call
// is one graph, and only p (+ p x p) numbers travel per chunk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/array.h"
#include "ml_core/glm_solvers.h"

namespace dtask::ml::internal {

/// F for one (X, y, family). Each method call is one pass over the data.
/// n_outputs: linear predictors per row (k for "multinomial", whose y holds
/// class indices), so p = n_outputs (d + fit_intercept).
class DistributedGlmObjective : public ml_core::GlmObjective {
 public:
  DistributedGlmObjective(Client& client, Array X, Array y, std::string family, bool fit_intercept,
                          ml_core::Penalty penalty, std::int64_t n_outputs = 1);

  std::int64_t p() const override { return p_; }
  std::int64_t n() const override { return X_.rows(); }
  std::int64_t n_chunks() const override { return X_.n_chunks(); }
  const ml_core::Penalty& penalty() const override { return penalty_; }
  ml_core::Evaluation smooth(const std::vector<double>& beta, bool hessian) const override;
  /// Each chunk's local step runs on the worker holding the chunk.
  std::vector<std::vector<double>> admm_local(const std::vector<std::vector<double>>& v,
                                              const std::vector<std::vector<double>>& beta0,
                                              double rho) const override;

 private:
  Client& client_;
  Array X_, y_;
  std::string family_;
  bool fit_intercept_;
  ml_core::Penalty penalty_;
  std::int64_t p_;
};

}  // namespace dtask::ml::internal
