// Generalized linear models on chunked arrays, shaped like scikit-learn's
// and dask-ml's: LogisticRegression, LinearRegression, PoissonRegression.
// The per-chunk loss, gradient and Hessian are computed on the workers (only
// p or p x p numbers travel per chunk, p = features + intercept) and summed
// by a tree; the optimiser runs in the client, one distributed pass per
// evaluation. X may be persisted or streamed from disk at every pass.
//
//   dtask::ml::LogisticRegression model({.C = 1.0});
//   model.fit(client, X, y);                   // X [n, d] float, y [n] class labels
//   dtask::NDArray w = model.coef_;            // float64 [d] (two classes) or [k, d]
//   dtask::Array p = model.predict_proba(X);   // lazy, one task per chunk
//
// LogisticRegression is binary for two labels and multinomial (softmax, as
// scikit-learn's default multi_class="auto" with lbfgs) for k >= 3: the loss
// is -Σ_i log softmax(W x_i + b)[y_i] with W [k, d] and b [k], and R sums
// over all k rows of W (no reduced k - 1 parameterisation), so the optimum
// is scikit-learn's.
//
// The objective is scikit-learn's: Σ_i loss_i + R(w) / C, with
// R = ||w||² / 2 ("l2"), ||w||₁ ("l1"), or l1_ratio ||w||₁ + (1 - l1_ratio) ||w||² / 2
// ("elastic_net"); the intercept is not penalised. The losses are the
// log-loss (logistic), half the squared error (linear) and the Poisson
// deviance / 2 with a log link (Poisson).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dtask/value.h"
#include "dtask/array.h"
#include "dtask/ml/estimator.h"
#include "dtask/ml/params.h"

namespace dtask {
class Client;
}

namespace dtask::ml {

/// What one solver iteration did, for GlmOptions::on_iteration.
struct GlmIteration {
  int iteration = 0;     // 1-based
  double objective = 0;  // Σ loss + R(w) / C at the iterate (admm: at the consensus z)
  double grad_norm = 0;  // the largest |gradient| component (l1: of the proximal gradient step); admm: primal residual
  double seconds = 0;    // since fit() started
};

struct GlmOptions {
  /// "none", "l1", "l2", "elastic_net", or "auto": "l2" for logistic and
  /// Poisson regression, "none" for linear regression (scikit-learn's defaults).
  std::string penalty = "auto";
  double C = 1.0;         // inverse regularisation strength, > 0
  double l1_ratio = 0.5;  // elastic_net: the l1 share, in [0, 1]
  bool fit_intercept = true;
  /// "lbfgs", "newton", "admm", "proximal_grad", "gradient_descent", or
  /// "auto": "newton" for linear regression, "lbfgs" otherwise, and
  /// "proximal_grad" for the l1 and elastic_net penalties. lbfgs, newton and
  /// gradient_descent need a smooth penalty (none, l2).
  std::string solver = "auto";
  int max_iter = 100;
  /// lbfgs, newton and gradient_descent stop when the largest gradient
  /// component of the objective is <= tol (scikit-learn's lbfgs rule);
  /// lbfgs and newton also when an iteration improves the objective by less
  /// than 2.2e-9 relative (L-BFGS-B's default). proximal_grad uses the
  /// proximal gradient step instead of the gradient; it and
  /// gradient_descent also stop when rounding leaves no decrease to find
  /// (near 1e-8 relative gradient). admm stops when its
  /// primal and dual residuals are below tol (absolute and relative, Boyd et
  /// al. 2011, section 3.3.1).
  double tol = 1e-4;
  /// Kept for scikit-learn parity; every solver here is deterministic
  /// (starts from zero coefficients), so it changes nothing.
  std::int64_t random_state = 0;
  bool verbose = false;  // one line per iteration on stderr
  /// Called after every solver iteration (for progress bars).
  std::function<void(const GlmIteration&)> on_iteration;
};

/// What LogisticRegression, LinearRegression and PoissonRegression share.
/// Thread-compatible: one thread fits; const methods may run concurrently.
class GeneralizedLinearModel : public Estimator {
 public:
  /// Fits on X [n, d] (float32 or float64, chunked along rows) and y [n].
  /// Logistic: one small pass first finds the classes (y's sorted distinct
  /// values, any numbers); two classes fit binary with classes_[1] as 1,
  /// more fit multinomial (newton and admm refuse it: they need a Hessian of
  /// (k (d + 1))² numbers, which is not built). Throws ArrayError on bad
  /// shapes or options found up front (fewer than two classes), and
  /// TaskError on bad values found by the workers (y < 0 for Poisson, NaN or
  /// infinity), naming the array, the chunk and the row. y is rechunked to
  /// X's chunks if they differ.
  GeneralizedLinearModel& fit(Client& client, const Array& X, const Array& y) override;

  /// X w + b, float64 [n]; multinomial: X Wᵀ + b, float64 [n, k] (lazy).
  Array decision_function(const Array& X) const;
  /// Logistic: the predicted class (int64 0 or 1 when classes_ are {0, 1},
  /// as before; otherwise the labels as float64, argmax for multinomial);
  /// linear: X w + b; Poisson: exp(X w + b) (lazy).
  Array predict(const Array& X) const override = 0;
  /// Logistic: accuracy; linear: R²; Poisson: D² (the fraction of Poisson
  /// deviance explained), as scikit-learn's score().
  double score(Client& client, const Array& X, const Array& y) const override;

  /// Writes the fitted model as JSON (Python: json.load(open(path))).
  void save(const std::string& path) const;

  const GlmOptions& options() const { return options_; }
  /// scikit-learn's parameters: C, penalty, l1_ratio, fit_intercept, solver,
  /// max_iter, tol, random_state.
  Params get_params() const override;
  /// Sets parameters by name (a fitted model keeps its fitted attributes
  /// until the next fit). Throws ArrayError on an unknown name or a wrong
  /// type, listing the parameters.
  GeneralizedLinearModel& set_params(const Params& params) override;
  std::string estimator_name() const override { return name(); }
  bool is_classifier() const override { return family_ == "logistic"; }
  /// "logistic", "linear" or "poisson".
  const std::string& family() const { return family_; }

  // Fitted attributes, named as scikit-learn's.
  NDArray coef_;              // float64 [d]; multinomial: [k, d]
  double intercept_ = 0;      // 0 without fit_intercept; multinomial: 0 (see intercepts_)
  NDArray intercepts_;        // float64 [1] = {intercept_}; multinomial: [k] (scikit-learn's intercept_)
  NDArray classes_;           // logistic: float64 [k], the sorted labels (empty for other families)
  int n_iter_ = 0;            // solver iterations run
  bool converged_ = false;    // stopped by tol before max_iter
  double grad_norm_ = 0;      // the final largest |gradient| component of the objective (see GlmOptions::tol)
  std::string solver_;        // the solver used ("auto" resolved)
  std::string penalty_;       // the penalty used ("auto" resolved)

  virtual ~GeneralizedLinearModel() = default;

 protected:
  GeneralizedLinearModel(std::string family, GlmOptions options);
  /// Reads a model `save` wrote; throws TaskError unless it is of this family.
  void load_into(const std::string& path);
  void require_fitted(const char* what) const;
  std::string name() const;  // "LogisticRegression", ...
  /// A multinomial logistic model (coef_ is [k, d]).
  bool multinomial() const { return coef_.shape.size() == 2; }
  /// Logistic with classes_ {0, 1} (or a model saved before classes_ existed).
  bool zero_one_classes() const;
  /// [coef_ flattened, intercepts_ (with fit_intercept)], as the GLM ops take β.
  NDArray fitted_beta() const;

 private:
  std::string family_;
  GlmOptions options_;
};

/// Logistic regression over any numeric labels: binary for two classes
/// (classes_[1] is the positive one), multinomial for three or more.
class LogisticRegression : public GeneralizedLinearModel {
 public:
  explicit LogisticRegression(GlmOptions options = {});
  Array predict(const Array& X) const override;
  /// Binary: P(y = classes_[1] | x), float64 [n]; multinomial: the softmax,
  /// float64 [n, k], columns in classes_ order (lazy).
  Array predict_proba(const Array& X) const;
  static LogisticRegression load(const std::string& path);
  /// An unfitted copy with the same parameters.
  LogisticRegression clone() const { return LogisticRegression(options()); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<LogisticRegression>(options()); }
};

/// Least squares (ordinary with penalty "none", ridge with "l2", lasso with "l1").
class LinearRegression : public GeneralizedLinearModel {
 public:
  explicit LinearRegression(GlmOptions options = {});
  Array predict(const Array& X) const override;
  static LinearRegression load(const std::string& path);
  /// An unfitted copy with the same parameters.
  LinearRegression clone() const { return LinearRegression(options()); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<LinearRegression>(options()); }
};

/// Poisson regression with a log link, y >= 0 (counts).
class PoissonRegression : public GeneralizedLinearModel {
 public:
  explicit PoissonRegression(GlmOptions options = {});
  Array predict(const Array& X) const override;
  static PoissonRegression load(const std::string& path);
  /// An unfitted copy with the same parameters.
  PoissonRegression clone() const { return PoissonRegression(options()); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<PoissonRegression>(options()); }
};

}  // namespace dtask::ml
