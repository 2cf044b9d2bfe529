// Linear models fitted by stochastic gradient descent, shaped like
// scikit-learn's SGDClassifier and SGDRegressor and giving the same numbers:
// on the same float64 rows in the same order, coef_, intercept_, n_iter_ and
// t_ equal scikit-learn 1.2.1's (ml_core/sgd.h follows its per-sample loop).
//
//   dtask::ml::SGDClassifier sgd({.loss = "log_loss", .random_state = 0});
//   sgd.fit(client, X, y);                      // X must fit one worker: one task
//   sgd.partial_fit(client, X2, y2, classes);   // one more epoch, over X2's rows
//   dtask::Array labels = sgd.predict(X_test);  // lazy, one task per chunk
//
// fit() and partial_fit() gather their rows into one task, as scikit-learn
// sees one array. For data larger than a worker, Incremental (incremental.h)
// runs partial_fit over the chunks where they are read; ParameterAveraging
// trains one model per worker and averages them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dtask/value.h"
#include "dtask/array.h"
#include "dtask/ml/estimator.h"
#include "dtask/ml/core/sgd_options.h"

namespace dtask::ml_core {
class SgdModel;  // ml_core/sgd.h: the model the worker fits (internal)
}

namespace dtask::ml {

/// SGDClassifier's parameters, scikit-learn's names and defaults (loss
/// "hinge", learning_rate "optimal"). tol < 0 is tol=None; random_state < 0
/// is random_state=None; penalty "none" is penalty=None.
using SGDClassifierOptions = ml_core::SgdClassifierOptions;
/// SGDRegressor's (loss "squared_error", learning_rate "invscaling", eta0 0.01, power_t 0.25).
using SGDRegressorOptions = ml_core::SgdRegressorOptions;

/// What SGDClassifier and SGDRegressor share. Thread-compatible.
class SGDEstimator : public Estimator {
 public:
  /// scikit-learn's fit: forgets the model (unless warm_start) and runs up
  /// to max_iter epochs over X [n, d], y [n], in one task. Throws
  /// ArrayError on bad shapes, TaskError when the fit fails (scikit-learn's
  /// message, e.g. a floating-point overflow).
  SGDEstimator& fit(Client& client, const Array& X, const Array& y) override;
  /// scikit-learn's partial_fit: one epoch over X's rows (in one task),
  /// continuing from the present model. A classifier's first call needs
  /// `classes` (all labels it will ever see); later calls may omit them.
  SGDEstimator& partial_fit(Client& client, const Array& X, const Array& y, const std::vector<double>& classes = {});
  /// Predicted labels or values, float64 [n] (lazy).
  Array predict(const Array& X) const override;
  /// Writes the model (JSON, with its parameters and learning-rate clock).
  void save(const std::string& path) const;

  /// The serialised model the next partial_fit continues from (an unfitted
  /// one before any fit): what Incremental passes from task to task.
  std::string model_state() const;
  /// Takes a serialised model (a partial_fit task's result) and reads the
  /// fitted attributes from it. Throws TaskError when it is malformed.
  void set_model_state(const std::string& model);
  bool fitted() const { return !model_.empty(); }
  /// An unfitted copy with the same parameters, as an SGDEstimator.
  std::unique_ptr<SGDEstimator> clone_sgd() const;

  // Fitted attributes, named as scikit-learn's.
  NDArray coef_;       // float64 [1 or k, d]; a regressor's is [d]
  NDArray intercept_;  // float64 [1 or k]
  std::int64_t n_iter_ = 0;
  double t_ = 1.0;
  std::int64_t n_features_in_ = 0;

 protected:
  /// The estimator's model before any fit, from its options.
  virtual ml_core::SgdModel unfitted_model() const = 0;
  Array apply(const Array& X, const std::string& method, std::int64_t out_cols) const;
  void require_fitted(const char* what) const;
  virtual void read_attributes(const ml_core::SgdModel& model);
  std::string model_;  // the fitted model, as ml_core serialises it
};

class SGDClassifier : public SGDEstimator {
 public:
  explicit SGDClassifier(SGDClassifierOptions options = {});
  static SGDClassifier load(const std::string& path);

  /// float64 [n] for two classes (positive means classes_[1]), else [n, k] (lazy).
  Array decision_function(const Array& X) const;
  /// [n, k] (lazy); loss "log_loss" or "modified_huber" only (else ArrayError).
  Array predict_proba(const Array& X) const;

  std::string estimator_name() const override { return "SGDClassifier"; }
  bool is_classifier() const override { return true; }
  Params get_params() const override;
  SGDClassifier& set_params(const Params& params) override;
  SGDClassifier clone() const { return SGDClassifier(options_); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<SGDClassifier>(options_); }
  const SGDClassifierOptions& options() const { return options_; }

  NDArray classes_;  // float64 [k], sorted

 private:
  ml_core::SgdModel unfitted_model() const override;
  void read_attributes(const ml_core::SgdModel& model) override;
  SGDClassifierOptions options_;
};

class SGDRegressor : public SGDEstimator {
 public:
  explicit SGDRegressor(SGDRegressorOptions options = {});
  static SGDRegressor load(const std::string& path);

  std::string estimator_name() const override { return "SGDRegressor"; }
  bool is_classifier() const override { return false; }
  Params get_params() const override;
  SGDRegressor& set_params(const Params& params) override;
  SGDRegressor clone() const { return SGDRegressor(options_); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<SGDRegressor>(options_); }
  const SGDRegressorOptions& options() const { return options_; }

 private:
  ml_core::SgdModel unfitted_model() const override;
  void read_attributes(const ml_core::SgdModel& model) override;
  SGDRegressorOptions options_;
};

}  // namespace dtask::ml
