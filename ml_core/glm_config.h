// A GLM's hyperparameters, their checks and defaults, in one place for the
// client's distributed estimator and a worker's in-memory fit: the option
// names are scikit-learn's, and "auto" resolves the same on both sides.
#pragma once

#include <cstdint>
#include <string>

#include "dtask/status.h"
#include "ml_core/glm_solvers.h"
#include "ml_core/param_binding.h"

namespace dtask::ml_core {

struct GlmConfig {
  std::string family = "logistic";  // "logistic", "linear", "poisson" or "multinomial"
  std::string penalty = "auto";     // none | l1 | l2 | elastic_net | auto
  double C = 1.0;
  double l1_ratio = 0.5;
  bool fit_intercept = true;
  std::string solver = "auto";  // lbfgs | newton | admm | proximal_grad | gradient_descent | auto
  int max_iter = 100;
  double tol = 1e-4;
  std::int64_t random_state = 0;
  /// The multinomial family's k >= 3 classes (β is [W (k*d), b (k)]); not a
  /// user parameter: LogisticRegression sets it from y's labels.
  std::int64_t n_classes = 0;
};

/// How many linear predictors a row has: k for the multinomial family, else 1.
std::int64_t glm_outputs(const GlmConfig& config);

/// "auto" resolved, after the option checks.
struct ResolvedGlm {
  std::string penalty, solver;
};

/// Checks the options (C > 0, l1_ratio in [0, 1], ...) and resolves "auto":
/// penalty l2 for logistic and Poisson, none for linear; solver newton for
/// linear, lbfgs otherwise, proximal_grad for l1 and elastic_net. Invalid
/// with a message naming the option otherwise. The multinomial family
/// refuses newton and admm: both need the Hessian, (k (d + 1))² numbers
/// per row, which dtask does not build for it.
Result<ResolvedGlm> resolve_glm(const GlmConfig& config);

/// The penalty on the solvers' 1/n scale for n rows and d features (it
/// covers all k d weights of the multinomial family, never the intercepts).
Penalty glm_penalty(const GlmConfig& config, const ResolvedGlm& resolved, std::int64_t n, std::int64_t d);

/// The solver's settings (tol on F's scale) for n rows.
SolverSettings glm_solver_settings(const GlmConfig& config, const ResolvedGlm& resolved, std::int64_t n);

/// "LogisticRegression" (logistic and multinomial), "LinearRegression" or "PoissonRegression".
std::string glm_estimator_name(const std::string& family);

/// get_params / set_params by scikit-learn's names (C, penalty, l1_ratio,
/// fit_intercept, solver, max_iter, tol, random_state) for a family.
const ParamBinding<GlmConfig>& glm_binding(const std::string& family);

}  // namespace dtask::ml_core
