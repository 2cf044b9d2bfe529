// scikit-learn 1.2.1's SGDClassifier and SGDRegressor on in-memory dense
// float64 rows: fit, partial_fit, predictions and the fitted attributes,
// following BaseSGDClassifier / BaseSGDRegressor step for step around the
// per-sample loop of sgd_loop.h: one-vs-rest over sorted classes (the
// largest label is the positive class of a binary problem), the seed chain
// of an integer random_state, class weights, the learning-rate clock t_ that
// carries from call to call, and which of the plain and averaged weights
// coef_ and intercept_ report. With the same rows in the same order the
// weights agree with scikit-learn's to rounding (see sgd_loop.h).
//
//   DTASK_ASSIGN_OR_RETURN(SgdModel m, SgdModel::make(SgdClassifierOptions{.loss = "log_loss", .random_state = 0}));
//   DTASK_RETURN_NOT_OK(m.partial_fit(X, n, d, y, &classes));   // one epoch over these rows
//   std::vector<double> labels = m.predict(X_test, n_test);
//
// Thread-compatible: one thread fits; const methods may run concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dtask/status.h"
#include "dtask/ml/core/params.h"
#include "dtask/ml/core/sgd_options.h"
#include "ml_core/sgd_loop.h"

namespace dtask::ml_core {

/// A fitted (or fitting) SGD model. Copyable.
class SgdModel {
 public:
  /// Validates the options as scikit-learn's _validate_params and
  /// _more_validate_params do (its messages); Invalid on a bad value.
  static Result<SgdModel> make(const SgdClassifierOptions& options) { return make(options, true); }
  static Result<SgdModel> make(const SgdRegressorOptions& options) {
    return make(convert_sgd_options<true>(options), false);
  }
  /// `config` for a classifier or (with classifier false) a regressor.
  static Result<SgdModel> make(const SgdConfig& config, bool classifier);

  /// scikit-learn's fit(X, y): forgets what was learnt (unless warm_start),
  /// resets t_ to 1, and runs up to max_iter epochs. X row-major [n x d], y [n].
  Status fit(const double* X, std::int64_t n, std::int64_t d, const double* y);
  /// scikit-learn's partial_fit(X, y, classes): one epoch over these rows,
  /// continuing from the present weights and t_. `classes` is required on a
  /// classifier's first call (and must not change afterwards); null later.
  /// Beyond scikit-learn: a label not in classes_ is an error (scikit-learn
  /// silently treats it as negative in every binary problem), as are NaN
  /// and infinity in X or y, and a feature count that differs from before.
  Status partial_fit(const double* X, std::int64_t n, std::int64_t d, const double* y,
                     const std::vector<double>* classes);

  bool is_classifier() const { return classifier_; }
  bool fitted() const { return !coef_.empty(); }
  /// X coef_^T + intercept_: [n] for a binary classifier or a regressor
  /// (positive means classes()[1]), else row-major [n x k].
  std::vector<double> decision_function(const double* X, std::int64_t n) const;
  /// Labels (classifiers) or values (regressors), [n].
  std::vector<double> predict(const double* X, std::int64_t n) const;
  bool has_predict_proba() const;
  /// Row-major [n x k]; log_loss and modified_huber only (else Invalid, as
  /// scikit-learn's "probability estimates are not available for loss=...").
  Result<std::vector<double>> predict_proba(const double* X, std::int64_t n) const;

  const SgdConfig& config() const { return config_; }
  /// Sorted labels (classifiers).
  const std::vector<double>& classes() const { return classes_; }
  std::int64_t n_features() const { return d_; }
  /// Rows of coef_: 1 for a binary classifier or a regressor, else k.
  std::int64_t rows() const { return rows_; }
  /// scikit-learn's coef_ (row-major [rows x d]) and intercept_ ([rows]).
  const std::vector<double>& coef() const { return averaged_ ? average_coef_ : coef_; }
  const std::vector<double>& intercept() const;
  /// Epochs of the last fit or partial_fit (the most over the one-vs-rest problems).
  std::int64_t n_iter() const { return n_iter_; }
  /// The learning-rate clock: 1 + the samples seen (scikit-learn's t_).
  double t() const { return t_; }

  /// The weighted mean of replicas of one model (model averaging): every
  /// weight vector and intercept, plain and averaged, and the learning-rate
  /// clock t_ are averaged with `weights`; n_iter_ is the largest. Invalid
  /// unless all were fitted on the same classes and features. Thread-safe.
  static Result<SgdModel> average(const std::vector<SgdModel>& models, const std::vector<double>& weights);

  /// JSON holding the configuration and the whole state (doubles round-trip).
  std::string serialize() const;
  /// Reads serialize()'s output; Invalid on a malformed document. Never throws.
  static Result<SgdModel> deserialize(std::string_view text);

 private:
  SgdModel(SgdConfig config, bool classifier, std::int64_t average)
      : config_(std::move(config)), classifier_(classifier), average_(average) {}

  Status check_rows(const double* X, std::int64_t n, std::int64_t d, const double* y) const;
  Status start_classes(const double* y, std::int64_t n, const std::vector<double>* classes);
  Result<std::vector<double>> class_weights(const double* y, std::int64_t n, bool for_partial_fit) const;
  void allocate(std::int64_t rows, std::int64_t d);
  SgdLoopSettings loop_settings(std::int64_t max_iter) const;
  Status run_classifier(const double* X, std::int64_t n, const double* y, std::int64_t max_iter,
                        const std::vector<double>& weights);
  Status run_regressor(const double* X, std::int64_t n, const double* y, std::int64_t max_iter);
  Status run(const double* X, std::int64_t n, std::int64_t d, const double* y, std::int64_t max_iter,
             bool for_partial_fit, const std::vector<double>* classes);

  SgdConfig config_;
  bool classifier_ = true;
  std::int64_t average_ = 0;  // config_.average as an integer

  std::vector<double> classes_;
  std::int64_t d_ = 0;
  std::int64_t rows_ = 0;
  // scikit-learn's coef_ / _standard_coef, _average_coef, _standard_intercept
  // and _average_intercept. Which of them coef_ and intercept_ report, and
  // which array a multiclass fit writes its intercepts into, follow
  // scikit-learn's attribute aliasing (sgd.cc, "Averaging").
  std::vector<double> coef_;
  std::vector<double> average_coef_;
  std::vector<double> standard_intercept_;
  std::vector<double> average_intercept_;
  bool intercept_is_average_ = false;
  bool averaged_ = false;
  double t_ = 1.0;
  std::int64_t n_iter_ = 0;
};

/// sgd_loop's loss for scikit-learn's name; Invalid for an unknown one or
/// one of the other kind of estimator.
Result<SgdLoss> sgd_loss(const std::string& name, double epsilon, bool classifier);

}  // namespace dtask::ml_core
