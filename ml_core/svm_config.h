// SVC's and LinearSVC's parameters by scikit-learn's names, for the
// client's estimators and the worker's in-memory fits alike (see
// param_binding.h), and the in-memory estimators that fit them.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "ml_core/dense_estimator.h"
#include "ml_core/param_binding.h"
#include "ml_core/svm.h"

namespace dtask::ml_core {

/// sklearn.svm.SVC's parameters; gamma is "scale", "auto" or a number.
struct SvcConfig {
  double C = 1.0;
  std::string kernel = "rbf";
  ParamValue gamma = "scale";
  int degree = 3;
  double coef0 = 0.0;
  bool shrinking = true;
  bool probability = false;
  double tol = 1e-3;
  double cache_size = 200;
  std::string class_weight;  // "" or "balanced"
  int max_iter = -1;
};

/// The solver's parameters; Invalid for a gamma that is neither a number nor "scale"/"auto".
Result<SvcParams> svc_params(const SvcConfig& config);

const ParamBinding<SvcConfig>& svc_binding();
const ParamBinding<LinearSvcParams>& linear_svc_binding();

/// In-memory estimators for make_dense_estimator.
Result<std::unique_ptr<DenseEstimator>> make_dense_svc(const SvcConfig& config);
std::unique_ptr<DenseEstimator> make_dense_linear_svc(const LinearSvcParams& params);

}  // namespace dtask::ml_core
