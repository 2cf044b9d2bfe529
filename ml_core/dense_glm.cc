#include "ml_core/dense_glm.h"

#include <cmath>
#include <stdexcept>

#include "ml_core/glm_chunk.h"

namespace dtask::ml_core {

Evaluation evaluation_from_sums(const NDArray& sums, std::int64_t p, std::int64_t n, bool hessian,
                                const Penalty& penalty, const std::vector<double>& beta) {
  const double* s = sums.data<double>();
  const double inv_n = 1.0 / static_cast<double>(n);
  Evaluation e;
  e.value = s[0] * inv_n;
  e.grad.assign(s + 1, s + 1 + p);
  for (double& g : e.grad) g *= inv_n;
  if (hessian) {
    e.hess.assign(s + 1 + p, s + 1 + p + p * p);
    for (double& h : e.hess) h *= inv_n;
  }
  for (std::int64_t j = 0; j < penalty.n_penalized; ++j) {
    e.value += 0.5 * penalty.l2 * beta[j] * beta[j];
    e.grad[j] += penalty.l2 * beta[j];
    if (hessian) e.hess[j * p + j] += penalty.l2;
  }
  return e;
}

DenseGlmObjective::DenseGlmObjective(NDArray X, NDArray y, std::string family, bool fit_intercept, Penalty penalty,
                                     std::int64_t n_outputs)
    : X_(to_float64(X)),
      y_(to_float64(y)),
      family_(std::move(family)),
      fit_intercept_(fit_intercept),
      penalty_(penalty),
      p_(n_outputs * (X_.cols() + (fit_intercept ? 1 : 0))) {}

Evaluation DenseGlmObjective::smooth(const std::vector<double>& beta, bool hessian) const {
  NDArray sums = glm_loss_grad(X_, y_, float64_vector(beta), family_, fit_intercept_, hessian, 0, "X", "y");
  return evaluation_from_sums(sums, p_, n(), hessian, penalty_, beta);
}

std::vector<std::vector<double>> DenseGlmObjective::admm_local(const std::vector<std::vector<double>>& v,
                                                               const std::vector<std::vector<double>>& beta0,
                                                               double rho) const {
  NDArray out = glm_admm_local(X_, y_, float64_vector(v.at(0)), float64_vector(beta0.at(0)), rho,
                               static_cast<double>(n()), family_, fit_intercept_, 0, "X", "y");
  return {std::vector<double>(out.data<double>(), out.data<double>() + out.size())};
}

Result<GlmFit> fit_glm_dense(const GlmConfig& config, const NDArray& X, const NDArray& y) {
  const std::string name = glm_estimator_name(config.family);
  auto resolved = resolve_glm(config);
  if (!resolved.ok()) return Status::invalid(name + ": " + resolved.status().message());
  if (X.shape.size() != 2) return Status::invalid(name + ".fit: X must be 2-d, got " + X.describe());
  if (y.shape.size() != 1 || y.rows() != X.rows()) {
    return Status::invalid(name + ".fit: y " + y.describe() + " does not match X " + X.describe());
  }
  if (X.rows() < 1) return Status::invalid(name + ".fit: X has no rows");
  const std::int64_t n = X.rows(), d = X.cols();
  const std::int64_t m = glm_outputs(config);
  DenseGlmObjective objective(X, y, config.family, config.fit_intercept, glm_penalty(config, *resolved, n, d), m);
  try {
    SolverResult result = find_solver(resolved->solver)(objective, glm_solver_settings(config, *resolved, n));
    GlmFit fit;
    fit.coef.assign(result.beta.begin(), result.beta.begin() + m * d);
    fit.intercepts.assign(static_cast<std::size_t>(m), 0.0);
    if (config.fit_intercept) std::copy(result.beta.begin() + m * d, result.beta.end(), fit.intercepts.begin());
    fit.intercept = m == 1 ? fit.intercepts[0] : 0.0;
    fit.n_iter = result.n_iter;
    fit.converged = result.converged;
    fit.grad_norm = result.grad_norm * static_cast<double>(n);
    fit.penalty = resolved->penalty;
    fit.solver = resolved->solver;
    return fit;
  } catch (const std::exception& e) {
    return Status::invalid(name + ".fit: " + e.what());
  }
}

std::vector<double> glm_decision(const NDArray& X_in, const std::vector<double>& coef, double intercept) {
  NDArray X = to_float64(X_in);
  const std::int64_t n = X.rows(), d = X.cols();
  const double* x = X.data<double>();
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    double eta = 0;
    for (std::int64_t j = 0; j < d; ++j) eta += x[r * d + j] * coef[static_cast<std::size_t>(j)];
    out[static_cast<std::size_t>(r)] = eta + intercept;
  }
  return out;
}

}  // namespace dtask::ml_core
