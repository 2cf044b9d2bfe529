// A GLM fitted on data in one process's memory: the solvers of
// glm_solvers.h on an objective that loops over the whole fold at once
// (glm_chunk.h), so a grid-search candidate fitted inside one task takes
// the same iterations as the distributed estimator on the same rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/status.h"
#include "dtask/value.h"
#include "ml_core/glm_config.h"

namespace dtask::ml_core {

/// F over in-memory X [n, d] and y [n] (any numeric dtype; read as float64).
/// n_outputs: linear predictors per row (k for the multinomial family, whose
/// y holds class indices), so p = n_outputs (d + fit_intercept).
/// Thread-compatible.
class DenseGlmObjective : public GlmObjective {
 public:
  DenseGlmObjective(NDArray X, NDArray y, std::string family, bool fit_intercept, Penalty penalty,
                    std::int64_t n_outputs = 1);
  std::int64_t p() const override { return p_; }
  std::int64_t n() const override { return X_.rows(); }
  std::int64_t n_chunks() const override { return 1; }
  const Penalty& penalty() const override { return penalty_; }
  Evaluation smooth(const std::vector<double>& beta, bool hessian) const override;
  std::vector<std::vector<double>> admm_local(const std::vector<std::vector<double>>& v,
                                              const std::vector<std::vector<double>>& beta0,
                                              double rho) const override;

 private:
  NDArray X_, y_;
  std::string family_;
  bool fit_intercept_;
  Penalty penalty_;
  std::int64_t p_;
};

/// What a fit leaves (scikit-learn's names).
struct GlmFit {
  std::vector<double> coef;  // [d]; multinomial: [k, d] row-major
  double intercept = 0;      // multinomial: 0 (see intercepts)
  std::vector<double> intercepts;  // [1] = {intercept}; multinomial: [k] (0 without fit_intercept)
  int n_iter = 0;
  bool converged = false;
  double grad_norm = 0;  // on scikit-learn's scale (Σ loss + R / C)
  std::string penalty, solver;  // "auto" resolved
};

/// F's smooth part at β from glm_loss_grad's sums over n rows ([Σ loss,
/// Σ gradient (p), Σ Hessian (p x p) when `hessian`]): scaled by 1/n, plus
/// the l2 term. Both objectives (in memory, distributed) use it.
Evaluation evaluation_from_sums(const NDArray& sums, std::int64_t p, std::int64_t n, bool hessian,
                                const Penalty& penalty, const std::vector<double>& beta);

/// Fits on X [n, d], y [n] (multinomial: class indices 0..config.n_classes-1). Invalid for bad options or shapes and for bad
/// values (naming the row), as the distributed estimator reports them.
Result<GlmFit> fit_glm_dense(const GlmConfig& config, const NDArray& X, const NDArray& y);

/// X w + b for each row of X [n, d] (float64 [n]).
std::vector<double> glm_decision(const NDArray& X, const std::vector<double>& coef, double intercept);

}  // namespace dtask::ml_core
