// Kernel and linear support vector machines, shaped like scikit-learn's SVC
// and LinearSVC, on Debian's libsvm 3.24 and liblinear 2.3 (the two
// libraries scikit-learn wraps in its own copies). The data must fit one
// worker: fit() runs one task there on X gathered into one chunk, and the
// predictions are blockwise tasks that carry the fitted model.
//
//   dtask::ml::SVC svc({.C = 2.5, .gamma = "auto"});
//   svc.fit(client, X, y);                      // X [n, d] float, y [n] labels
//   dtask::Array labels = svc.predict(X_test);  // lazy, one task per chunk
//   double accuracy = svc.score(client, X_test, y_test);
//
// More than two classes: one-vs-one in SVC (decision_function reports
// scikit-learn's default 'ovr' shape), one-vs-rest in LinearSVC.
#pragma once

#include <memory>
#include <string>

#include "dtask/value.h"
#include "dtask/array.h"
#include "dtask/ml/estimator.h"
#include "dtask/ml/core/svm_options.h"

namespace dtask::ml {

/// SVC's parameters (C, kernel, gamma = "scale" | "auto" | value, degree,
/// coef0, shrinking, probability, tol, cache_size, class_weight, max_iter).
using SVCOptions = ml_core::SvcConfig;
/// LinearSVC's parameters (C, loss, penalty, dual, tol, max_iter,
/// fit_intercept, intercept_scaling, class_weight).
using LinearSVCOptions = ml_core::LinearSvcParams;

/// What SVC and LinearSVC share: fitting on one worker, blockwise predictions,
/// the model kept as its JSON. Thread-compatible.
class SupportVectorMachine : public Estimator {
 public:
  bool is_classifier() const override { return true; }
  /// Fits on X [n, d] and y [n] (two or more labels) in one task. Throws
  /// ArrayError on bad shapes and TaskError when the fit fails (the
  /// library's message, as scikit-learn words it).
  SupportVectorMachine& fit(Client& client, const Array& X, const Array& y) override;
  /// The predicted labels, float64 [n] (lazy).
  Array predict(const Array& X) const override;
  /// float64 [n] for two classes (positive means classes_[1]), else [n, k] (lazy).
  Array decision_function(const Array& X) const;
  /// Writes the fitted model (JSON).
  void save(const std::string& path) const;

  NDArray classes_;  // float64 [k], sorted
  NDArray coef_;     // float64 [1 or rows, d]; SVC: kernel "linear" only

 protected:
  /// Applies `method` ("predict", "decision_function", "predict_proba") blockwise.
  Array apply(const Array& X, const std::string& method, std::int64_t out_cols) const;
  void require_fitted(const char* what) const;
  /// Reads the fitted attributes from the model JSON.
  virtual void load_model(const std::string& model) = 0;
  std::string model_;  // the fitted model, as ml_core serialises it
};

class SVC : public SupportVectorMachine {
 public:
  explicit SVC(SVCOptions options = {});
  /// Probabilities [n, k] (lazy); needs probability = true. libsvm draws
  /// its calibration folds from rand(), so they differ from scikit-learn's
  /// by a few hundredths.
  Array predict_proba(const Array& X) const;
  static SVC load(const std::string& path);

  std::string estimator_name() const override { return "SVC"; }
  Params get_params() const override;
  SVC& set_params(const Params& params) override;
  SVC clone() const { return SVC(options_); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<SVC>(options_); }
  const SVCOptions& options() const { return options_; }

  // Fitted attributes, named as scikit-learn's.
  NDArray support_;          // int64 [n_sv]: training rows
  NDArray support_vectors_;  // float64 [n_sv, d]
  NDArray n_support_;        // int64 [k]
  NDArray dual_coef_;        // float64 [k - 1, n_sv]
  NDArray intercept_;        // float64 [k (k - 1) / 2]

 private:
  void load_model(const std::string& model) override;
  SVCOptions options_;
};

class LinearSVC : public SupportVectorMachine {
 public:
  explicit LinearSVC(LinearSVCOptions options = {});
  static LinearSVC load(const std::string& path);

  std::string estimator_name() const override { return "LinearSVC"; }
  Params get_params() const override;
  LinearSVC& set_params(const Params& params) override;
  LinearSVC clone() const { return LinearSVC(options_); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<LinearSVC>(options_); }
  const LinearSVCOptions& options() const { return options_; }

  NDArray intercept_;  // float64 [1 or k]
  int n_iter_ = 0;

 private:
  void load_model(const std::string& model) override;
  LinearSVCOptions options_;
};

}  // namespace dtask::ml
