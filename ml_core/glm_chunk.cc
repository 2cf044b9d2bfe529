// The GLM numerics of one block of rows (Eigen; the one translation unit of
// them): a model is η = X β (+ b): logistic (log-loss, μ = σ(η)), linear
// (squared error / 2, μ = η), Poisson (log link, μ = exp(η)) or multinomial
// (η = W x + b per class, softmax, y as class indices). Losses are
// summed over the block's rows; callers divide by n. The worker's GLM ops run
// these on a chunk, a grid-search candidate on the whole training fold.
//
// Input errors name the array, the chunk and the row: y outside {0, 1} for
// logistic, outside 0..k-1 for multinomial, y < 0 for Poisson, NaN or
// infinity in X or y.
#include "ml_core/glm_chunk.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>

#include "common/eigen_view.h"
#include "ml_core/glm_family.h"
#include "ml_core/glm_kernel.h"

namespace dtask::ml_core {

NDArray to_float64(const NDArray& array) {
  if (array.dtype == DType::kFloat64) return array;
  NDArray out = NDArray::uninitialized(DType::kFloat64, array.shape);
  double* o = out.mutable_data<double>();
  const std::int64_t n = array.size();
  auto copy = [&](auto* in) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<double>(in[i]);
  };
  switch (array.dtype) {
    case DType::kFloat32: copy(array.data<float>()); break;
    case DType::kInt32: copy(array.data<std::int32_t>()); break;
    case DType::kInt64: copy(array.data<std::int64_t>()); break;
    case DType::kInt8: copy(array.data<std::int8_t>()); break;
    case DType::kUInt8: copy(array.data<std::uint8_t>()); break;
    case DType::kBool: copy(array.data<std::uint8_t>()); break;
    case DType::kFloat64: break;
  }
  return out;
}

NDArray float64_vector(const std::vector<double>& values) {
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(values.size())});
  std::copy(values.begin(), values.end(), out.mutable_data<double>());
  return out;
}

namespace {

using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;

constexpr std::int64_t kBlockRows = 256;  // rows per block: the block stays in L2 for X β and Xᵀ r

using Family = GlmFamily;

/// A chunk of X and y with the names its errors use.
struct Chunk {
  NDArray x_data, y_data;  // float64
  std::int64_t n = 0, d = 0;
  std::int64_t index = 0;
  std::string x_name, y_name;

  [[noreturn]] void fail_row(const std::string& array, std::int64_t row, const std::string& what) const {
    throw std::invalid_argument(array + " (" + (array == "X" ? x_name : y_name) + "), chunk " +
                                std::to_string(index) + ", row " + std::to_string(row) + ": " + what);
  }
};

Chunk chunk_of(const NDArray& x, const NDArray& y, std::int64_t index, const std::string& x_name,
               const std::string& y_name) {
  Chunk c{.index = index, .x_name = x_name, .y_name = y_name};
  if (x.shape.size() != 2) throw std::invalid_argument("X (" + x_name + ") must be 2-d, got " + x.describe());
  if (y.shape.size() != 1 || y.rows() != x.rows()) {
    throw std::invalid_argument("y (" + y_name + ") chunk " + std::to_string(index) + " is " + y.describe() +
                                ", expected " + std::to_string(x.rows()) + " values to match X (" + x_name + ")");
  }
  c.x_data = to_float64(x);
  c.y_data = to_float64(y);
  c.n = x.rows();
  c.d = x.cols();
  return c;
}

/// Throws, naming the row, on y values the family cannot model (k: the
/// multinomial family's classes).
void check_y(const Chunk& c, Family family, std::int64_t k = 0) {
  const double* y = c.y_data.data<double>();
  for (std::int64_t r = 0; r < c.n; ++r) {
    if (!std::isfinite(y[r])) c.fail_row("y", r, "NaN or infinity");
    if (family == Family::kMultinomial && !(y[r] >= 0 && y[r] < static_cast<double>(k) && y[r] == std::floor(y[r]))) {
      c.fail_row("y", r, "the multinomial family needs class indices 0.." + std::to_string(k - 1) + ", got " +
                             std::to_string(y[r]));
    }
    if (family == Family::kLogistic && y[r] != 0.0 && y[r] != 1.0) {
      c.fail_row("y", r, "LogisticRegression needs y in {0, 1}, got " + std::to_string(y[r]));
    }
    if (family == Family::kPoisson && y[r] < 0.0) {
      c.fail_row("y", r, "PoissonRegression needs y >= 0, got " + std::to_string(y[r]));
    }
  }
}

/// η for a non-finite X row is NaN; an overflowing finite row is left alone
/// (a line search probing too far must see +inf, not an error).
void check_x_row(const Chunk& c, std::int64_t row) {
  const double* x = c.x_data.data<double>() + row * c.d;
  for (std::int64_t f = 0; f < c.d; ++f) {
    if (!std::isfinite(x[f])) c.fail_row("X", row, "NaN or infinity in column " + std::to_string(f));
  }
}

/// The coefficients split into weights and intercept.
struct Coefficients {
  Vector w;
  double b = 0;
  bool intercept = false;
  std::int64_t p() const { return w.size() + (intercept ? 1 : 0); }
};

Coefficients coefficients(const Vector& beta, std::int64_t d, bool fit_intercept, const char* op) {
  if (beta.size() != d + (fit_intercept ? 1 : 0)) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(beta.size()) + " coefficients for " +
                                std::to_string(d) + " features" + (fit_intercept ? " and an intercept" : ""));
  }
  return {beta.head(d), fit_intercept ? beta(d) : 0.0, fit_intercept};
}

/// k for a multinomial β of `size` entries over d features.
std::int64_t multinomial_classes(std::int64_t size, std::int64_t d, bool fit_intercept, const char* op) {
  const std::int64_t per_class = d + (fit_intercept ? 1 : 0);
  if (per_class == 0 || size % per_class != 0 || size / per_class < 2) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(size) +
                                " coefficients are not k (d" + (fit_intercept ? " + 1" : "") + ") for k >= 2 classes and d = " +
                                std::to_string(d) + " features");
  }
  return size / per_class;
}

/// η_c = w_c.x + b_c for one row (W [k, d] row-major), in a fixed order.
void multinomial_eta(const double* row, std::int64_t d, const double* W, const double* b, std::int64_t k,
                     double* eta) {
  for (std::int64_t c = 0; c < k; ++c) {
    double e = 0;
    for (std::int64_t j = 0; j < d; ++j) e += row[j] * W[c * d + j];
    eta[c] = e + (b ? b[c] : 0.0);
  }
}

/// softmax(η) in place; returns log Σ exp η (max-shifted, so no overflow).
double softmax_in_place(double* eta, std::int64_t k) {
  double top = eta[0];
  for (std::int64_t c = 1; c < k; ++c) top = std::max(top, eta[c]);
  double sum = 0;
  for (std::int64_t c = 0; c < k; ++c) {
    eta[c] = std::exp(eta[c] - top);
    sum += eta[c];
  }
  for (std::int64_t c = 0; c < k; ++c) eta[c] /= sum;
  return top + std::log(sum);
}

/// Σ -log softmax(η_i)[y_i] and its gradient in β = [W, b] over a chunk.
/// A finite row whose η overflows (a line search probing too far) makes the
/// loss +inf and adds nothing to the gradient.
std::pair<double, Vector> multinomial_loss_grad(const Chunk& c, const Vector& beta, std::int64_t k,
                                                bool fit_intercept) {
  const std::int64_t d = c.d;
  Vector grad = Vector::Zero(beta.size());
  const double* W = beta.data();
  const double* b = fit_intercept ? beta.data() + k * d : nullptr;
  double* gW = grad.data();
  double* gb = fit_intercept ? grad.data() + k * d : nullptr;
  const double* x = c.x_data.data<double>();
  const double* y = c.y_data.data<double>();
  std::vector<double> eta(static_cast<std::size_t>(k));
  double loss = 0;
  for (std::int64_t r = 0; r < c.n; ++r) {
    const double* row = x + r * d;
    multinomial_eta(row, d, W, b, k, eta.data());
    const auto label = static_cast<std::int64_t>(y[r]);
    const double eta_label = eta[static_cast<std::size_t>(label)];
    bool finite = true;
    for (double e : eta) finite = finite && std::isfinite(e);
    if (!finite) {
      check_x_row(c, r);
      loss = std::numeric_limits<double>::infinity();
      continue;
    }
    loss += softmax_in_place(eta.data(), k) - eta_label;
    eta[static_cast<std::size_t>(label)] -= 1.0;  // now μ - onehot(y)
    for (std::int64_t cl = 0; cl < k; ++cl) {
      const double residual = eta[static_cast<std::size_t>(cl)];
      double* g = gW + cl * d;
      for (std::int64_t j = 0; j < d; ++j) g[j] += residual * row[j];
      if (gb) gb[cl] += residual;
    }
  }
  return {loss, grad};
}

Vector vector_of(const NDArray& a) {
  NDArray v = to_float64(a);
  return Eigen::Map<const Vector>(v.data<double>(), v.size());
}

/// Σ loss, Σ gradient and (if `hessian`) Σ Hessian of one chunk at β, plus
/// ρ/2 ||β - v||² when `proximal` (ADMM's local objective; scaled by 1/n).
struct LocalObjective {
  double loss = 0;
  Vector grad;
  Matrix hess;
};

LocalObjective evaluate(const Chunk& c, Family family, const Coefficients& beta, bool hessian) {
  const std::int64_t d = c.d, p = beta.p();
  LocalObjective out{0, Vector::Zero(p), hessian ? Matrix::Zero(p, p) : Matrix()};
  if (!hessian) {
    // The common case (lbfgs, line searches): one fused pass (glm_kernel.h).
    LossGradSums sums = glm_loss_grad_rows(family, c.x_data.data<double>(), c.y_data.data<double>(), c.n, d,
                                           beta.w.data(), beta.b, out.grad.data());
    if (sums.bad_row >= 0) check_x_row(c, sums.bad_row);
    out.loss = sums.loss;
    if (beta.intercept) out.grad(d) = sums.residual_sum;
    return out;
  }
  auto X = eigen_view<double>(c.x_data);
  const double* y = c.y_data.data<double>();
  Vector eta(kBlockRows), residual(kBlockRows), sqrt_weight(kBlockRows);
  for (std::int64_t begin = 0; begin < c.n; begin += kBlockRows) {
    const std::int64_t rows = std::min(kBlockRows, c.n - begin);
    auto block = X.middleRows(begin, rows);
    eta.head(rows).noalias() = block * beta.w;
    double weight_sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      double e = eta(r) + beta.b;
      if (!std::isfinite(e)) check_x_row(c, begin + r);  // throws only on bad input, not on overflow
      Pointwise pw = pointwise(family, e, y[begin + r]);
      out.loss += pw.loss;
      residual(r) = pw.residual;
      sqrt_weight(r) = std::sqrt(pw.weight);
      weight_sum += pw.weight;
    }
    out.grad.head(d).noalias() += block.transpose() * residual.head(rows);
    if (beta.intercept) out.grad(d) += residual.head(rows).sum();
    if (hessian) {
      // Xᵀ W X as a rank update of (√W X): half the flops of a full product.
      Matrix weighted = sqrt_weight.head(rows).asDiagonal() * block;
      out.hess.topLeftCorner(d, d).selfadjointView<Eigen::Lower>().rankUpdate(weighted.transpose());
      if (beta.intercept) {
        out.hess.block(d, 0, 1, d).noalias() += (sqrt_weight.head(rows).transpose() * weighted);
        out.hess(d, d) += weight_sum;
      }
    }
  }
  if (hessian) {
    out.hess.triangularView<Eigen::StrictlyUpper>() = out.hess.transpose();
  }
  return out;
}

}  // namespace

NDArray glm_loss_grad(const NDArray& x, const NDArray& y, const NDArray& beta_in, const std::string& family_name,
                  bool fit_intercept, bool with_hessian, std::int64_t index, const std::string& x_name,
                  const std::string& y_name) {
  Family family = glm_family(family_name);
  Chunk c = chunk_of(x, y, index, x_name, y_name);
  if (family == Family::kMultinomial) {
    if (with_hessian) {
      throw std::invalid_argument("glm_loss_grad: no Hessian for the multinomial family (use lbfgs, proximal_grad "
                                  "or gradient_descent)");
    }
    const Vector beta = vector_of(beta_in);
    const std::int64_t k = multinomial_classes(beta.size(), c.d, fit_intercept, "glm_loss_grad");
    check_y(c, family, k);
    auto [loss, grad] = multinomial_loss_grad(c, beta, k, fit_intercept);
    NDArray out = NDArray::uninitialized(DType::kFloat64, {1 + beta.size()});
    double* o = out.mutable_data<double>();
    o[0] = loss;
    std::copy(grad.data(), grad.data() + grad.size(), o + 1);
    return out;
  }
  check_y(c, family);
  Coefficients beta = coefficients(vector_of(beta_in), c.d, fit_intercept, "glm_loss_grad");
  LocalObjective local = evaluate(c, family, beta, with_hessian);
  const std::int64_t p = beta.p();
  NDArray out = NDArray::uninitialized(DType::kFloat64, {1 + p + (with_hessian ? p * p : 0)});
  double* o = out.mutable_data<double>();
  o[0] = local.loss;
  std::copy(local.grad.data(), local.grad.data() + p, o + 1);
  if (with_hessian) {
    // Symmetric, so column-major storage reads the same as row-major.
    std::copy(local.hess.data(), local.hess.data() + p * p, o + 1 + p);
  }
  return out;
}

/// argmin_β (1/n) Σ_chunk loss(β) + ρ/2 ||β - v||² by damped Newton from β0.
/// Strictly convex (ρ > 0), so the Cholesky factorisation always succeeds
/// unless the numbers are broken.
NDArray glm_admm_local(const NDArray& x, const NDArray& y, const NDArray& v_in, const NDArray& beta0_in, double rho,
                   double n_total, const std::string& family_name, bool fit_intercept, std::int64_t index,
                   const std::string& x_name, const std::string& y_name) {
  Family family = glm_family(family_name);
  if (family == Family::kMultinomial) {
    throw std::invalid_argument("glm_admm_local: admm's local Newton step is not built for the multinomial family");
  }
  Chunk c = chunk_of(x, y, index, x_name, y_name);
  check_y(c, family);
  if (!(rho > 0) || !(n_total > 0)) throw std::invalid_argument("glm_admm_local: rho and n must be > 0");
  const Vector v = vector_of(v_in);
  Vector beta = vector_of(beta0_in);
  coefficients(v, c.d, fit_intercept, "glm_admm_local");
  const double scale = 1.0 / n_total;
  auto objective = [&](const Vector& b, bool hessian) {
    LocalObjective o = evaluate(c, family, coefficients(b, c.d, fit_intercept, "glm_admm_local"), hessian);
    o.loss = o.loss * scale + 0.5 * rho * (b - v).squaredNorm();
    o.grad = o.grad * scale + rho * (b - v);
    if (hessian) {
      o.hess *= scale;
      o.hess.diagonal().array() += rho;
    }
    return o;
  };
  for (int iteration = 0; iteration < 50; ++iteration) {
    LocalObjective at = objective(beta, true);
    Eigen::LLT<Matrix> llt(at.hess);
    if (llt.info() != Eigen::Success) throw std::runtime_error("glm_admm_local: the local Hessian is not positive");
    Vector step = llt.solve(-at.grad);
    const double decrement = -at.grad.dot(step);  // the Newton decrement squared
    if (decrement < 1e-20 * (1.0 + std::abs(at.loss))) break;
    double t = 1.0;  // Armijo backtracking keeps logistic and Poisson steps stable
    while (t > 1e-10 && !(objective(beta + t * step, false).loss <= at.loss - 0.25 * t * decrement)) t *= 0.5;
    beta += t * step;
  }
  NDArray out = NDArray::uninitialized(DType::kFloat64, {beta.size()});
  std::copy(beta.data(), beta.data() + beta.size(), out.mutable_data<double>());
  return out;
}

NDArray class_labels(const NDArray& y_in, std::int64_t chunk, const std::string& y_name) {
  if (y_in.shape.size() != 1) throw std::invalid_argument("y (" + y_name + ") must be 1-d, got " + y_in.describe());
  NDArray y = to_float64(y_in);
  const double* v = y.data<double>();
  std::vector<double> labels(v, v + y.size());
  for (std::size_t r = 0; r < labels.size(); ++r) {
    if (!std::isfinite(labels[r])) {
      throw std::invalid_argument("y (" + y_name + "), chunk " + std::to_string(chunk) + ", row " + std::to_string(r) +
                                  ": NaN or infinity is not a class label");
    }
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(labels.size())});
  std::copy(labels.begin(), labels.end(), out.mutable_data<double>());
  return out;
}

NDArray class_indices(const NDArray& y_in, const NDArray& classes_in) {
  NDArray y = to_float64(y_in), classes = to_float64(classes_in);
  const double* c = classes.data<double>();
  const double* c_end = c + classes.size();
  NDArray out = NDArray::uninitialized(DType::kFloat64, {y.size()});
  double* o = out.mutable_data<double>();
  const double* v = y.data<double>();
  for (std::int64_t r = 0; r < y.size(); ++r) {
    const double* at = std::lower_bound(c, c_end, v[r]);
    o[r] = at != c_end && *at == v[r] ? static_cast<double>(at - c) : -1.0;
  }
  return out;
}

NDArray glm_apply(const NDArray& x_in, const NDArray& beta_in, const NDArray& classes_in, bool fit_intercept,
                  const std::string& method) {
  if (x_in.shape.size() != 2) throw std::invalid_argument("glm_apply: X must be 2-d, got " + x_in.describe());
  NDArray x = to_float64(x_in), beta = to_float64(beta_in), classes = to_float64(classes_in);
  const std::int64_t n = x.rows(), d = x.cols(), k = classes.size();
  if (k < 2) throw std::invalid_argument("glm_apply: a classifier needs at least 2 classes");
  if (method != "decision_function" && method != "predict_proba" && method != "predict") {
    throw std::invalid_argument("glm_apply: unknown method \"" + method + "\"");
  }
  const bool binary = k == 2;
  const std::int64_t m = binary ? 1 : k;  // linear predictors per row
  if (beta.size() != m * (d + (fit_intercept ? 1 : 0))) {
    throw std::invalid_argument("glm_apply: " + std::to_string(beta.size()) + " coefficients do not fit " +
                                std::to_string(k) + " classes and " + std::to_string(d) + " features");
  }
  const double* W = beta.data<double>();
  const double* b = fit_intercept ? W + m * d : nullptr;
  const double* xs = x.data<double>();
  const double* labels = classes.data<double>();
  const bool decision = method == "decision_function", proba = method == "predict_proba";
  std::vector<std::int64_t> shape = method == "predict" || (decision && binary) ? std::vector<std::int64_t>{n}
                                                                                 : std::vector<std::int64_t>{n, k};
  NDArray out = NDArray::uninitialized(DType::kFloat64, shape);
  double* o = out.mutable_data<double>();
  std::vector<double> eta(static_cast<std::size_t>(m));
  for (std::int64_t r = 0; r < n; ++r) {
    multinomial_eta(xs + r * d, d, W, b, m, eta.data());
    if (binary) {
      const double e = eta[0];
      if (decision) {
        o[r] = e;
      } else if (proba) {
        const double p1 = sigmoid(e);
        o[2 * r] = 1.0 - p1;
        o[2 * r + 1] = p1;
      } else {
        o[r] = e > 0 ? labels[1] : labels[0];
      }
    } else if (decision) {
      std::copy(eta.begin(), eta.end(), o + r * k);
    } else if (proba) {
      softmax_in_place(eta.data(), k);
      std::copy(eta.begin(), eta.end(), o + r * k);
    } else {
      o[r] = labels[std::max_element(eta.begin(), eta.end()) - eta.begin()];
    }
  }
  return out;
}

/// Sums for score(), whatever the family (summed across chunks by "sum"):
/// [n, Σ (predict == y), Σ (y - μ)², Σ y, Σ y², Σ deviance terms, Σ y log y].
NDArray glm_score_parts(const NDArray& x, const NDArray& y_in, const NDArray& beta_in, const std::string& family_name,
                    bool fit_intercept, std::int64_t index, const std::string& x_name, const std::string& y_name) {
  Family family = glm_family(family_name);
  if (family == Family::kMultinomial) {
    throw std::invalid_argument("glm_score_parts: a multinomial model is scored from its predictions");
  }
  Chunk c = chunk_of(x, y_in, index, x_name, y_name);
  check_y(c, family);
  Coefficients beta = coefficients(vector_of(beta_in), c.d, fit_intercept, "glm_score_parts");
  Vector eta = eigen_view<double>(c.x_data) * beta.w;
  const double* y = c.y_data.data<double>();
  double sums[7] = {static_cast<double>(c.n), 0, 0, 0, 0, 0, 0};
  for (std::int64_t r = 0; r < c.n; ++r) {
    double e = eta(r) + beta.b;
    if (!std::isfinite(e)) check_x_row(c, r);
    double mu = family == Family::kLogistic ? sigmoid(e) : family == Family::kPoisson ? std::exp(e) : e;
    double predicted = family == Family::kLogistic ? (e > 0 ? 1.0 : 0.0) : mu;
    sums[1] += predicted == y[r] ? 1.0 : 0.0;
    sums[2] += (y[r] - mu) * (y[r] - mu);
    sums[3] += y[r];
    sums[4] += y[r] * y[r];
    // Poisson unit deviance 2 (y log(y/μ) - y + μ) without its 2 and y log y.
    sums[5] += -y[r] * e + mu;
    sums[6] += y[r] > 0 ? y[r] * std::log(y[r]) : 0.0;
  }
  NDArray out = NDArray::uninitialized(DType::kFloat64, {7});
  std::copy(sums, sums + 7, out.mutable_data<double>());
  return out;
}

}  // namespace dtask::ml_core
