// StandardScaler's parameters by scikit-learn's names, for the client's
// estimator and the worker's in-memory one (dense_estimator.cc).
#pragma once

#include "ml_core/param_binding.h"

namespace dtask::ml_core {

struct ScalerConfig {
  bool with_mean = true;
  bool with_std = true;
};

const ParamBinding<ScalerConfig>& scaler_binding();

}  // namespace dtask::ml_core
