// What every supervised dtask::ml estimator and transformer shares, so that
// GridSearchCV, cross_validate and Pipeline can take any of them: its name,
// its parameters by name, an unfitted clone, the spec a worker builds the
// same estimator from, and fit / predict / score on chunked arrays.
//
//   std::unique_ptr<dtask::ml::Estimator> e = dtask::ml::LogisticRegression({.C = 0.1}).clone_estimator();
//   e->set_params({{"C", 1.0}});
//   e->fit(client, X, y);
#pragma once

#include <memory>
#include <string>

#include "dtask/array.h"
#include "dtask/ml/params.h"

namespace dtask {
class Client;
}

namespace dtask::ml {

/// Thread-compatible: one thread fits; const methods may run concurrently.
class Estimator {
 public:
  virtual ~Estimator() = default;
  /// scikit-learn's class name: "LogisticRegression", "SVC", "Pipeline", ...
  virtual std::string estimator_name() const = 0;
  /// Classifiers get StratifiedKFold for an integer cv, and accuracy as their score.
  virtual bool is_classifier() const = 0;
  virtual bool is_transformer() const { return false; }
  /// scikit-learn's get_params() (pipelines: "step__param" names).
  virtual Params get_params() const = 0;
  /// Sets parameters by name; throws ArrayError on an unknown name or a
  /// wrong type, listing the estimator's parameters.
  virtual Estimator& set_params(const Params& params) = 0;
  /// An unfitted copy with the same parameters.
  virtual std::unique_ptr<Estimator> clone_estimator() const = 0;
  /// The JSON a worker builds the same estimator from, to fit it in memory
  /// (ml_core/dense_estimator.h).
  virtual std::string spec() const;

  /// Fits on X [n, d] and y [n] (transformers ignore y).
  virtual Estimator& fit(Client& client, const Array& X, const Array& y) = 0;
  /// Predicted labels or values (lazy). Transformers throw.
  virtual Array predict(const Array& X) const;
  /// Transformers: the transformed X (lazy). Others throw.
  virtual Array transform(const Array& X) const;
  /// scikit-learn's score(): accuracy for classifiers, R² (Poisson: D²) for regressors.
  virtual double score(Client& client, const Array& X, const Array& y) const;
};

}  // namespace dtask::ml
