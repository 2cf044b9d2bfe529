// The GLM solvers and the objective they minimise, shared by the client's
// distributed fit (each evaluation one pass over the chunks) and a worker's
// in-memory fit of one grid-search candidate (dense_glm.h), so that both
// run the same iterations.
//
// Solvers see the objective scaled by 1/n, which keeps its curvature near 1
// whatever the data size:
//   F(β) = (1/n) Σ loss_i(β) + l2/2 ||w||² + l1 ||w||₁
// with l1 and l2 from the user's penalty and C (l1 = ratio / (C n), ...).
// β = [w, b]: the intercept, if any, is last and never penalised.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dtask::ml_core {

struct Penalty {
  double l1 = 0, l2 = 0;         // on F's scale
  std::int64_t n_penalized = 0;  // β's first n_penalized entries (w); the intercept is free
  bool smooth() const { return l1 == 0; }
};

/// F's smooth part (mean loss + l2 term) at one point.
struct Evaluation {
  double value = 0;
  std::vector<double> grad;  // [p]
  std::vector<double> hess;  // [p * p] row-major, when asked for
};

/// F for one (X, y, family). Implementations: the client's distributed
/// objective (one pass over the chunks per call) and DenseGlmObjective.
class GlmObjective {
 public:
  virtual ~GlmObjective() = default;
  virtual std::int64_t p() const = 0;
  virtual std::int64_t n() const = 0;
  /// The blocks consensus ADMM splits the data into.
  virtual std::int64_t n_chunks() const = 0;
  virtual const Penalty& penalty() const = 0;
  /// F's smooth part, its gradient and (if `hessian`) Hessian at β.
  virtual Evaluation smooth(const std::vector<double>& beta, bool hessian) const = 0;
  /// Consensus ADMM's local step on every block i: argmin_β (1/n) Σ_block loss(β) + ρ/2 ||β - v_i||²,
  /// started from beta0[i].
  virtual std::vector<std::vector<double>> admm_local(const std::vector<std::vector<double>>& v,
                                                      const std::vector<std::vector<double>>& beta0,
                                                      double rho) const = 0;
  /// F's l1 term at β.
  double nonsmooth(const std::vector<double>& beta) const;
};

struct SolverSettings {
  int max_iter = 100;
  double tol = 1e-4;  // on F's scale (the user's tol / n); admm: absolute and relative residual tolerance
  /// After each iteration: (iteration, F at the iterate, the stopping measure).
  std::function<void(int, double, double)> on_iteration;
};

struct SolverResult {
  std::vector<double> beta;
  int n_iter = 0;
  bool converged = false;
  double grad_norm = 0;  // F's scale: the largest |gradient| (l1: proximal gradient) component at beta
};

SolverResult solve_lbfgs(const GlmObjective& f, const SolverSettings& s);
SolverResult solve_newton(const GlmObjective& f, const SolverSettings& s);
SolverResult solve_gradient_descent(const GlmObjective& f, const SolverSettings& s);
SolverResult solve_proximal_grad(const GlmObjective& f, const SolverSettings& s);
SolverResult solve_admm(const GlmObjective& f, const SolverSettings& s);

/// The solver called `name` (one of those above, "auto" resolved), or nullptr.
using Solver = SolverResult (*)(const GlmObjective&, const SolverSettings&);
Solver find_solver(const std::string& name);

}  // namespace dtask::ml_core
