// The GLM solvers (see glm_solvers.h), run by the client on the distributed
// objective and by a worker on an in-memory one. Every objective evaluation
// is one call to GlmObjective (a distributed pass, or one loop over a fold).
//   lbfgs             L-BFGS (10 pairs) with a strong Wolfe line search (Nocedal & Wright, alg. 3.5/3.6)
//   newton            Newton with the reduced Hessian, Cholesky (LDLT, then ridge, as fallbacks), Armijo backtracking
//   gradient_descent  steepest descent with Armijo backtracking and a growing step
//   proximal_grad     FISTA with backtracking and adaptive restart (l1, elastic net)
// Only lbfgs and newton also stop on a small relative decrease (as scipy's
// L-BFGS-B): first-order methods can crawl far from the optimum. These two
// stop (converged) when no decrease is representable any more.
//   admm              consensus ADMM (Boyd et al. 2011, section 7.1) with residual balancing
#include "ml_core/glm_solvers.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>


namespace dtask::ml_core {

namespace {

using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;

// L-BFGS-B's default stopping rule on the relative decrease (factr 1e7 x machine epsilon).
constexpr double kFtol = 2.220446049250313e-09;
constexpr double kArmijo = 1e-4;     // sufficient decrease (c1)
constexpr double kCurvature = 0.9;   // strong Wolfe curvature (c2), for quasi-Newton directions
constexpr int kLbfgsPairs = 10;
constexpr int kMaxLineSearch = 30;
constexpr double kInf = std::numeric_limits<double>::infinity();

Vector to_vector(const std::vector<double>& v) { return Eigen::Map<const Vector>(v.data(), static_cast<Eigen::Index>(v.size())); }
std::vector<double> to_std(const Vector& v) { return {v.data(), v.data() + v.size()}; }

double max_abs(const Vector& v) { return v.size() > 0 ? v.cwiseAbs().maxCoeff() : 0.0; }

/// A point with F's smooth part and gradient there; a non-finite value
/// (an overflowing trial step) reads as +inf.
struct Point {
  Vector x;
  double f = kInf;
  Vector g;
};

Point evaluate(const GlmObjective& objective, const Vector& x) {
  Evaluation e = objective.smooth(to_std(x), false);
  return {x, std::isfinite(e.value) ? e.value : kInf, to_vector(e.grad)};
}

/// An iteration improved F by less than kFtol relative. F is a mean, so 1/n
/// plays the role of L-BFGS-B's floor of 1 on the sum-scaled objective.
bool small_decrease(const GlmObjective& objective, double before, double after) {
  double floor = 1.0 / static_cast<double>(objective.n());
  return before - after <= kFtol * std::max({std::abs(before), std::abs(after), floor});
}

void report(const SolverSettings& s, int iteration, double f, double measure) {
  if (s.on_iteration) s.on_iteration(iteration, f, measure);
}

/// The minimiser of the cubic through (a, fa, da) and (b, fb, db), or the
/// midpoint when it does not exist; kept 10% inside [a, b].
double cubic_step(double a, double fa, double da, double b, double fb, double db) {
  double lo = std::min(a, b), hi = std::max(a, b), margin = 0.1 * (hi - lo);
  double mid = 0.5 * (a + b);
  if (!std::isfinite(fa) || !std::isfinite(fb)) return mid;
  double d1 = da + db - 3.0 * (fa - fb) / (a - b);
  double disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return mid;
  double d2 = (b > a ? 1.0 : -1.0) * std::sqrt(disc);
  double t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
  if (!std::isfinite(t) || t < lo + margin || t > hi - margin) return mid;
  return t;
}

/// A step along `dir` satisfying the strong Wolfe conditions, or nothing.
class StrongWolfe {
 public:
  StrongWolfe(const GlmObjective& objective, const Point& start, const Vector& dir)
      : objective_(objective), start_(start), dir_(dir), f0_(start.f), d0_(start.g.dot(dir)) {}

  std::optional<Point> search(double alpha) {
    Trial prev{0.0, f0_, d0_, start_};
    for (int i = 0; i < kMaxLineSearch; ++i) {
      Trial t = trial(alpha);
      if (t.f > f0_ + kArmijo * alpha * d0_ || (i > 0 && t.f >= prev.f)) return zoom(prev, t);
      if (std::abs(t.d) <= -kCurvature * d0_) return t.point;
      if (t.d >= 0) return zoom(t, prev);
      prev = t;
      alpha *= 2.0;
    }
    return std::nullopt;
  }

 private:
  struct Trial {
    double alpha, f, d;
    Point point;
  };

  Trial trial(double alpha) {
    Point p = evaluate(objective_, start_.x + alpha * dir_);
    double d = std::isfinite(p.f) ? p.g.dot(dir_) : kInf;
    return {alpha, p.f, d, std::move(p)};
  }

  /// lo satisfies sufficient decrease and has the lower F; the minimiser lies between lo and hi.
  std::optional<Point> zoom(Trial lo, Trial hi) {
    for (int i = 0; i < kMaxLineSearch; ++i) {
      double alpha = cubic_step(lo.alpha, lo.f, lo.d, hi.alpha, hi.f, hi.d);
      Trial t = trial(alpha);
      if (t.f > f0_ + kArmijo * alpha * d0_ || t.f >= lo.f) {
        hi = std::move(t);
        continue;
      }
      if (std::abs(t.d) <= -kCurvature * d0_) return t.point;
      if (t.d * (hi.alpha - lo.alpha) >= 0) hi = lo;
      lo = std::move(t);
    }
    // No strong Wolfe point: a sufficient decrease is still progress.
    if (lo.alpha > 0) return lo.point;
    return std::nullopt;
  }

  const GlmObjective& objective_;
  const Point& start_;
  const Vector& dir_;
  double f0_, d0_;
};

/// -H g by the L-BFGS two-loop recursion over the stored (s, y) pairs.
Vector lbfgs_direction(const Vector& g, const std::deque<std::pair<Vector, Vector>>& pairs) {
  Vector q = g;
  std::vector<double> a(pairs.size());
  for (std::size_t i = pairs.size(); i-- > 0;) {
    const auto& [s, y] = pairs[i];
    a[i] = s.dot(q) / y.dot(s);
    q -= a[i] * y;
  }
  if (!pairs.empty()) {
    const auto& [s, y] = pairs.back();
    q *= s.dot(y) / y.dot(y);
  }
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [s, y] = pairs[i];
    double b = y.dot(q) / y.dot(s);
    q += (a[i] - b) * s;
  }
  return -q;
}

/// argmin_z t λ1 ||z||₁ + t λ2/2 ||z||² + ||z - v||²/2 on the penalised
/// entries; the rest (the intercept) stay v.
Vector prox(const Vector& v, double t, const Penalty& penalty, bool with_l2) {
  Vector z = v;
  for (std::int64_t j = 0; j < penalty.n_penalized; ++j) {
    double shrunk = std::max(std::abs(v(j)) - t * penalty.l1, 0.0);
    z(j) = std::copysign(shrunk, v(j)) / (with_l2 ? 1.0 + t * penalty.l2 : 1.0);
  }
  return z;
}

/// The proximal gradient step's size at x (the gradient when l1 = 0).
double prox_gradient_norm(const Point& at, const Penalty& penalty) {
  return max_abs(at.x - prox(at.x - at.g, 1.0, penalty, false));
}

SolverResult finish(const Point& at, int n_iter, bool converged, const SolverSettings& s, const Penalty& penalty) {
  double norm = penalty.smooth() ? max_abs(at.g) : prox_gradient_norm(at, penalty);
  return {to_std(at.x), n_iter, converged || norm <= s.tol, norm};
}

}  // namespace

SolverResult solve_lbfgs(const GlmObjective& f, const SolverSettings& s) {
  Point at = evaluate(f, Vector::Zero(f.p()));
  std::deque<std::pair<Vector, Vector>> pairs;
  int n_iter = 0;
  bool converged = false;
  while (n_iter < s.max_iter && !(converged = max_abs(at.g) <= s.tol)) {
    Vector dir = lbfgs_direction(at.g, pairs);
    if (at.g.dot(dir) >= 0) {  // not a descent direction: forget the curvature pairs
      pairs.clear();
      dir = -at.g;
    }
    double alpha = pairs.empty() ? std::min(1.0, 1.0 / at.g.norm()) : 1.0;
    std::optional<Point> next = StrongWolfe(f, at, dir).search(alpha);
    if (!next) break;
    Vector step = next->x - at.x, change = next->g - at.g;
    if (step.dot(change) > 1e-10 * change.squaredNorm()) {
      pairs.emplace_back(step, change);
      if (static_cast<int>(pairs.size()) > kLbfgsPairs) pairs.pop_front();
    }
    bool stalled = small_decrease(f, at.f, next->f);
    at = std::move(*next);
    report(s, ++n_iter, at.f, max_abs(at.g));
    if (stalled) {
      converged = true;
      break;
    }
  }
  return finish(at, n_iter, converged, s, f.penalty());
}

SolverResult solve_newton(const GlmObjective& f, const SolverSettings& s) {
  Vector x = Vector::Zero(f.p());
  Point at;
  int n_iter = 0;
  bool converged = false;
  while (n_iter < s.max_iter) {
    Evaluation e = f.smooth(to_std(x), true);
    at = {x, e.value, to_vector(e.grad)};
    if ((converged = max_abs(at.g) <= s.tol)) break;
    Matrix hessian = Eigen::Map<const Matrix>(e.hess.data(), f.p(), f.p());
    Vector dir;
    Eigen::LLT<Matrix> llt(hessian);
    if (llt.info() == Eigen::Success) {
      dir = llt.solve(-at.g);
    } else {
      // Singular (collinear features, no penalty): LDLT, then a small ridge.
      Eigen::LDLT<Matrix> ldlt(hessian);
      dir = ldlt.solve(-at.g);
      if (ldlt.info() != Eigen::Success || !dir.allFinite() || at.g.dot(dir) >= 0) {
        double ridge = 1e-8 * std::max(1.0, hessian.diagonal().cwiseAbs().maxCoeff());
        dir = (hessian + ridge * Matrix::Identity(f.p(), f.p())).ldlt().solve(-at.g);
      }
    }
    double t = 1.0, slope = at.g.dot(dir);
    Point next = evaluate(f, x + dir);
    for (int i = 0; i < kMaxLineSearch && !(next.f <= at.f + kArmijo * t * slope); ++i) {
      t *= 0.5;
      next = evaluate(f, x + t * dir);
    }
    if (!(next.f <= at.f)) break;  // no progress possible
    bool stalled = small_decrease(f, at.f, next.f);
    x = next.x;
    at = std::move(next);
    report(s, ++n_iter, at.f, max_abs(at.g));
    if (stalled || max_abs(at.g) <= s.tol) {
      converged = true;
      break;
    }
  }
  return finish(at, n_iter, converged, s, f.penalty());
}

SolverResult solve_gradient_descent(const GlmObjective& f, const SolverSettings& s) {
  Point at = evaluate(f, Vector::Zero(f.p()));
  double t = 1.0;
  int n_iter = 0;
  bool converged = false;
  while (n_iter < s.max_iter && !(converged = max_abs(at.g) <= s.tol)) {
    const double g2 = at.g.squaredNorm();
    Point next = evaluate(f, at.x - t * at.g);
    for (int i = 0; i < kMaxLineSearch && !(next.f <= at.f - kArmijo * t * g2); ++i) {
      t *= 0.5;
      next = evaluate(f, at.x - t * at.g);
    }
    if (!(next.f < at.f)) {
      converged = true;  // no decrease is representable any more: as close as rounding allows
      break;
    }
    at = std::move(next);
    t *= 2.0;  // try a longer step next time; backtracking brings it back
    report(s, ++n_iter, at.f, max_abs(at.g));
  }
  return finish(at, n_iter, converged, s, f.penalty());
}

SolverResult solve_proximal_grad(const GlmObjective& f, const SolverSettings& s) {
  const Penalty& penalty = f.penalty();
  auto total = [&](const Point& p) { return p.f + f.nonsmooth(to_std(p.x)); };
  Point x = evaluate(f, Vector::Zero(f.p()));
  Point y = x;  // the extrapolated point the step is taken from
  double theta = 1.0, t = 1.0;
  int n_iter = 0;
  bool converged = false;
  while (n_iter < s.max_iter && !(converged = prox_gradient_norm(x, penalty) <= s.tol)) {
    Point next;
    for (int i = 0; i < kMaxLineSearch; ++i) {
      next = evaluate(f, prox(y.x - t * y.g, t, penalty, false));
      Vector d = next.x - y.x;
      if (next.f <= y.f + y.g.dot(d) + d.squaredNorm() / (2.0 * t)) break;
      t *= 0.5;
    }
    double before = total(x), after = total(next);
    if (!(after < before)) {
      if (y.x == x.x) {
        converged = true;  // even a plain step does not descend: as close as rounding allows
        break;
      }
      // Momentum overshot: restart from x without it (O'Donoghue & Candes 2015).
      theta = 1.0;
      y = x;
      continue;
    }
    double theta_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * theta * theta));
    Vector extrapolated = next.x + ((theta - 1.0) / theta_next) * (next.x - x.x);
    theta = theta_next;
    x = std::move(next);
    y = extrapolated.isApprox(x.x) ? x : evaluate(f, extrapolated);
    t *= 1.25;  // let the step grow back after a cautious stretch
    report(s, ++n_iter, after, prox_gradient_norm(x, penalty));
  }
  return finish(x, n_iter, converged, s, penalty);
}

SolverResult solve_admm(const GlmObjective& f, const SolverSettings& s) {
  const std::int64_t p = f.p(), chunks = f.n_chunks();
  const double n_blocks = static_cast<double>(chunks);
  const Penalty& penalty = f.penalty();
  std::vector<std::vector<double>> beta(static_cast<std::size_t>(chunks), std::vector<double>(p, 0.0));
  std::vector<Vector> u(static_cast<std::size_t>(chunks), Vector::Zero(p));
  Vector z = Vector::Zero(p);
  // Each chunk's loss carries about 1/chunks of the curvature; residual
  // balancing adapts rho from there.
  double rho = 1.0 / n_blocks;
  const double root_np = std::sqrt(n_blocks * static_cast<double>(p));
  int n_iter = 0;
  bool converged = false;
  while (n_iter < s.max_iter) {
    std::vector<std::vector<double>> v;
    for (const Vector& ui : u) v.push_back(to_std(z - ui));
    beta = f.admm_local(v, beta, rho);
    Vector mean = Vector::Zero(p);
    for (std::size_t i = 0; i < beta.size(); ++i) mean += to_vector(beta[i]) + u[i];
    mean /= n_blocks;
    Vector z_old = z;
    z = prox(mean, 1.0 / (n_blocks * rho), penalty, true);
    double primal2 = 0, beta2 = 0, u2 = 0;
    for (std::size_t i = 0; i < beta.size(); ++i) {
      Vector bi = to_vector(beta[i]);
      u[i] += bi - z;
      primal2 += (bi - z).squaredNorm();
      beta2 += bi.squaredNorm();
      u2 += u[i].squaredNorm();
    }
    const double primal = std::sqrt(primal2), dual = rho * std::sqrt(n_blocks) * (z - z_old).norm();
    const double eps_primal = root_np * s.tol + s.tol * std::max(std::sqrt(beta2), std::sqrt(n_blocks) * z.norm());
    const double eps_dual = root_np * s.tol + s.tol * rho * std::sqrt(u2);
    report(s, ++n_iter, std::numeric_limits<double>::quiet_NaN(), primal);
    if (primal <= eps_primal && dual <= eps_dual) {
      converged = true;
      break;
    }
    // Residual balancing (Boyd et al. 2011, section 3.4.1); u is scaled by 1/rho.
    if (primal > 10.0 * dual) {
      rho *= 2.0;
      for (Vector& ui : u) ui /= 2.0;
    } else if (dual > 10.0 * primal) {
      rho /= 2.0;
      for (Vector& ui : u) ui *= 2.0;
    }
  }
  Point at = evaluate(f, z);  // the consensus point, and its gradient for the report
  SolverResult result = finish(at, n_iter, converged, s, penalty);
  result.converged = converged;  // admm's own rule, not the gradient's
  return result;
}

double GlmObjective::nonsmooth(const std::vector<double>& beta) const {
  double total = 0;
  for (std::int64_t j = 0; j < penalty().n_penalized; ++j) total += std::abs(beta[j]);
  return penalty().l1 * total;
}

Solver find_solver(const std::string& name) {
  if (name == "lbfgs") return solve_lbfgs;
  if (name == "newton") return solve_newton;
  if (name == "admm") return solve_admm;
  if (name == "proximal_grad") return solve_proximal_grad;
  if (name == "gradient_descent") return solve_gradient_descent;
  return nullptr;
}

}  // namespace dtask::ml_core
