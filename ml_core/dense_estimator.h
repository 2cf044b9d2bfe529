// Estimators fitted inside one task, on data in that worker's memory: what a
// grid-search candidate runs for one fold. Each is built from a spec, the
// JSON the client's estimator writes ({"estimator": "LogisticRegression",
// "params": {"C": 0.1, ...}}; a Pipeline lists its steps), and runs the
// same numerics as the client's estimator of that name.
//
// Labels are doubles; classifiers keep their sorted classes and predict
// them (a binary GLM fits classes[1] as 1).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask::ml_core {

/// Thread-compatible: one thread fits; const methods may run concurrently.
class DenseEstimator {
 public:
  virtual ~DenseEstimator() = default;
  /// "LogisticRegression", "SVC", "StandardScaler", ...
  virtual std::string name() const = 0;
  virtual bool is_classifier() const { return false; }
  /// Transformers (StandardScaler) have transform; the rest predict.
  virtual bool is_transformer() const { return false; }

  /// Fits on X [n, d] float64 and y [n] (ignored by transformers).
  virtual Status fit(const NDArray& X, const std::vector<double>& y) = 0;
  virtual Result<NDArray> transform(const NDArray& X) const;
  virtual Result<std::vector<double>> predict(const NDArray& X) const;
  /// Binary: one value per row, positive for classes()[1]; multiclass: n x k row-major.
  virtual bool has_decision_function() const { return false; }
  virtual Result<std::vector<double>> decision_function(const NDArray& X) const;
  /// n x k row-major, columns in classes() order.
  virtual bool has_predict_proba() const { return false; }
  virtual Result<std::vector<double>> predict_proba(const NDArray& X) const;
  /// The fitted model as text (SVC, LinearSVC: their JSON); others: Invalid.
  virtual Result<std::string> serialize() const;
  /// Classifiers: the sorted labels seen in fit.
  virtual const std::vector<double>& classes() const { return classes_; }

 protected:
  std::vector<double> classes_;
};

/// Builds an unfitted estimator from its spec; Invalid for an unknown
/// estimator or parameter (listing the valid ones) or a bad value.
Result<std::unique_ptr<DenseEstimator>> make_dense_estimator(const std::string& spec_json);

/// The JSON of a spec, from the estimator name and its parameters as JSON
/// (what the client's estimators write).
std::string estimator_spec(const std::string& name, const std::string& params_json);

/// The rows `rows` of X [n, d] (and of y [n]) as new arrays.
NDArray take_rows(const NDArray& X, const std::vector<std::int64_t>& rows);
std::vector<double> take_values(const NDArray& y, const std::vector<std::int64_t>& rows);

}  // namespace dtask::ml_core
