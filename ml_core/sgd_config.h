// SGDClassifier's and SGDRegressor's parameters by scikit-learn's names,
// for the client's estimators and the worker's in-memory fits alike (see
// param_binding.h), and the in-memory estimators that fit them.
#pragma once

#include <memory>

#include "ml_core/dense_estimator.h"
#include "ml_core/param_binding.h"
#include "ml_core/sgd.h"

namespace dtask::ml_core {

const ParamBinding<SgdClassifierOptions>& sgd_classifier_binding();
const ParamBinding<SgdRegressorOptions>& sgd_regressor_binding();

/// An in-memory SGDClassifier / SGDRegressor for make_dense_estimator, from
/// its parameters by name; Invalid for a bad one (scikit-learn's message).
Result<std::unique_ptr<DenseEstimator>> make_dense_sgd(const Params& params, bool classifier);

}  // namespace dtask::ml_core
