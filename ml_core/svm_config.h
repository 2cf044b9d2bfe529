// SVC's and LinearSVC's parameters by scikit-learn's names, for the
// client's estimators and the worker's in-memory fits alike (see
// param_binding.h), and the in-memory estimators that fit them.
#pragma once

#include <memory>
#include <string>

#include "dtask/status.h"
#include "ml_core/dense_estimator.h"
#include "ml_core/param_binding.h"
#include "ml_core/svm.h"

namespace dtask::ml_core {

/// The solver's parameters; Invalid for a gamma that is neither a number nor "scale"/"auto".
Result<SvcParams> svc_params(const SvcConfig& config);

const ParamBinding<SvcConfig>& svc_binding();
const ParamBinding<LinearSvcParams>& linear_svc_binding();

/// In-memory estimators for make_dense_estimator.
Result<std::unique_ptr<DenseEstimator>> make_dense_svc(const SvcConfig& config);
std::unique_ptr<DenseEstimator> make_dense_linear_svc(const LinearSvcParams& params);

}  // namespace dtask::ml_core
