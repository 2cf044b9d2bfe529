// Estimator hyperparameters by name, as scikit-learn's get_params() and
// set_params(): every dtask::ml estimator has both, and a clone() that
// copies its parameters without its fitted state.
//
//   dtask::ml::LogisticRegression model;
//   model.set_params({{"C", 0.1}, {"penalty", "l1"}});
//   dtask::ml::Params p = model.get_params();   // {"C": 0.1, "fit_intercept": true, ...}
//   auto fresh = model.clone();                  // unfitted, same parameters
//
// An unknown name or a value of the wrong type throws ArrayError listing the
// estimator's parameters.
#pragma once

#include "dtask/ml/core/params.h"

namespace dtask::ml {

using ml_core::describe;
using ml_core::Params;
using ml_core::ParamValue;

}  // namespace dtask::ml
