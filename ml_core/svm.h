// scikit-learn's SVC and LinearSVC on in-memory dense float64 data, built on
// Debian's libsvm 3.24 and liblinear 2.3 (the two libraries scikit-learn
// wraps in its own patched copies). Follows scikit-learn 1.2.1: parameter
// validation and its error wording, sorted classes_, the sign of
// decision_function/dual_coef_/intercept_ (positive means classes_[1]), the
// one-vs-one -> one-vs-rest transform, and the liblinear solver choice. The
// solvers are the libraries' own; nothing here solves anything.
//
//   SvcParams p;  p.kernel = "rbf";  p.C = 10;
//   DTASK_ASSIGN_OR_RETURN(SvcModel m, SvcModel::fit(p, X, n, d, y));
//   std::vector<double> labels = m.predict(X_test, n_test);
//
// Thread-safety. fit() may run on several threads at once: each fit owns its
// problem and model, and the libraries' print hooks are installed once
// (std::call_once) and write into a per-thread buffer. Two things are shared
// process-wide and make results depend on what else runs: libsvm's
// probability calibration (probability=true) and liblinear's dual coordinate
// descent shuffle their data with the C library's rand(), whose one global
// state every thread draws from. Such fits are safe but not reproducible run
// to run (scikit-learn seeds its own generator instead); with a tight tol the
// liblinear solvers still reach the same optimum. A fitted model is
// immutable: its const methods may be called from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dtask/ml/core/svm_options.h"
#include "dtask/status.h"

namespace dtask::ml_core {

/// sklearn.svm.SVC's parameters (svm_type C_SVC), with sklearn's defaults.
struct SvcParams {
  double C = 1.0;
  std::string kernel = "rbf";  ///< "rbf", "poly", "linear" or "sigmoid"
  /// "scale" (1 / (d * X.var())), "auto" (1 / d) or a number >= 0.
  std::variant<std::string, double> gamma = std::string("scale");
  int degree = 3;
  double coef0 = 0.0;
  bool shrinking = true;
  bool probability = false;
  double tol = 1e-3;
  double cache_size = 200;   ///< MB of kernel cache
  std::string class_weight;  ///< "" (all 1) or "balanced"
  /// Only -1 (no limit): Debian's libsvm 3.24 has no iteration limit parameter.
  int max_iter = -1;
};

/// A fitted SVC. Copyable and movable; const methods are thread-safe.
class SvcModel {
 public:
  /// Fits on row-major X [n x d] and labels y [n] (any doubles; two or more
  /// distinct values). Invalid parameters or data return Status::invalid with
  /// sklearn's message. X and y are copied as needed; they need not outlive
  /// the call. Thread-safe (see the file comment about probability=true).
  static Result<SvcModel> fit(const SvcParams& params, const double* X, std::int64_t n, std::int64_t d,
                              const double* y);

  SvcModel(const SvcModel& other);
  SvcModel& operator=(const SvcModel& other);
  SvcModel(SvcModel&& other) noexcept;
  SvcModel& operator=(SvcModel&& other) noexcept;
  ~SvcModel();

  /// Predicted labels (values of classes()) for row-major X [n x n_features()].
  std::vector<double> predict(const double* X, std::int64_t n) const;
  /// sklearn's decision_function with decision_function_shape='ovr': [n] for
  /// two classes (positive means classes()[1]), else row-major [n x k].
  std::vector<double> decision_function(const double* X, std::int64_t n) const;
  /// decision_function_shape='ovo': row-major [n x k(k-1)/2], pairs (0,1),
  /// (0,2), ..., (1,2), ... in sorted class order; positive favours the first
  /// class of the pair (for two classes, [n] with sklearn's binary sign).
  std::vector<double> decision_function_ovo(const double* X, std::int64_t n) const;
  /// Row-major [n x k], columns in classes() order. An error unless fitted
  /// with probability=true.
  Result<std::vector<double>> predict_proba(const double* X, std::int64_t n) const;

  /// Sorted distinct training labels (sklearn's classes_).
  const std::vector<double>& classes() const;
  /// Number of features the model was fitted on.
  std::int64_t n_features() const;
  /// Training-set row of each support vector, grouped by class (sklearn's support_).
  const std::vector<std::int64_t>& support() const;
  /// Support vectors per class (sklearn's n_support_).
  std::vector<std::int64_t> n_support() const;
  /// Row-major [n_sv x d] (sklearn's support_vectors_).
  std::vector<double> support_vectors() const;
  /// Row-major [(k-1) x n_sv] with sklearn's sign (sklearn's dual_coef_).
  std::vector<double> dual_coef() const;
  /// [k(k-1)/2] with sklearn's sign (sklearn's intercept_).
  std::vector<double> intercept() const;
  /// Row-major [1 x d] for two classes, else [k(k-1)/2 x d] (sklearn's
  /// coef_). An error unless kernel is "linear".
  Result<std::vector<double>> coef() const;
  /// The kernel coefficient used (sklearn's _gamma), after "scale"/"auto".
  double gamma() const;
  /// Solver iterations per one-vs-one problem (sklearn's n_iter_); empty
  /// when fitted with probability=true (calibration runs extra solves).
  const std::vector<std::int64_t>& n_iter() const;
  /// The parameters it was fitted with.
  const SvcParams& params() const;

  /// A JSON document holding the whole model (doubles round-trip exactly).
  std::string serialize() const;
  /// Reads serialize()'s output. Never throws; a malformed or inconsistent
  /// document returns Status::invalid. Thread-safe.
  static Result<SvcModel> deserialize(std::string_view text);

 private:
  struct Impl;
  explicit SvcModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // never null, except in a moved-from model
};

/// The liblinear solver_type sklearn's _get_liblinear_solver_type picks
/// (L2R_L2LOSS_SVC_DUAL, L2R_L1LOSS_SVC_DUAL, L2R_L2LOSS_SVC or
/// L1R_L2LOSS_SVC), or sklearn's "Unsupported set of arguments" error.
Result<int> liblinear_solver_type(const LinearSvcParams& params);

/// A fitted LinearSVC: one weight vector per class (one in total for two
/// classes). Copyable; const methods are thread-safe.
class LinearSvcModel {
 public:
  /// Fits on row-major X [n x d] and labels y [n]. Invalid parameters or
  /// data return Status::invalid with sklearn's message. Thread-safe, but
  /// the dual solvers draw from the global rand() (see the file comment).
  static Result<LinearSvcModel> fit(const LinearSvcParams& params, const double* X, std::int64_t n,
                                    std::int64_t d, const double* y);

  /// Predicted labels for row-major X [n x n_features()].
  std::vector<double> predict(const double* X, std::int64_t n) const;
  /// X coef^T + intercept: [n] for two classes (positive means classes()[1]),
  /// else row-major [n x k].
  std::vector<double> decision_function(const double* X, std::int64_t n) const;

  /// Sorted distinct training labels (sklearn's classes_).
  const std::vector<double>& classes() const { return classes_; }
  /// Number of features the model was fitted on.
  std::int64_t n_features() const { return d_; }
  /// Row-major [1 x d] for two classes, else [k x d] (sklearn's coef_).
  const std::vector<double>& coef() const { return coef_; }
  /// [1] or [k] (sklearn's intercept_); zeros when fit_intercept is false,
  /// where sklearn has the scalar 0.0.
  const std::vector<double>& intercept() const { return intercept_; }
  /// The most iterations any one-vs-rest problem took (sklearn's n_iter_).
  std::int64_t n_iter() const { return n_iter_; }

  /// A JSON document holding the whole model (doubles round-trip exactly).
  std::string serialize() const;
  /// Reads serialize()'s output. Never throws; a malformed document returns
  /// Status::invalid. Thread-safe.
  static Result<LinearSvcModel> deserialize(std::string_view text);

 private:
  LinearSvcModel() = default;
  std::int64_t rows() const { return static_cast<std::int64_t>(intercept_.size()); }

  std::int64_t d_ = 0;
  std::vector<double> classes_;
  std::vector<double> coef_;
  std::vector<double> intercept_;
  std::int64_t n_iter_ = 0;
};

}  // namespace dtask::ml_core
