// SGDClassifier's and SGDRegressor's parameters by scikit-learn's names:
// the options of the client's dtask::ml::SGDClassifier / SGDRegressor, and
// what the worker's SgdModel (ml_core/sgd.h) fits with.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dtask/ml/core/params.h"

namespace dtask::ml_core {

/// SGDClassifier's (kClassifier) and SGDRegressor's parameters, by
/// scikit-learn's names and with each one's defaults (they differ in loss,
/// learning_rate, eta0 and power_t).
template <bool kClassifier>
struct SgdOptions {
  std::string loss = kClassifier ? "hinge" : "squared_error";
  std::string penalty = "l2";  ///< "l2", "l1", "elasticnet" or "none" (scikit-learn's None)
  double alpha = 1e-4;
  double l1_ratio = 0.15;
  bool fit_intercept = true;
  std::int64_t max_iter = 1000;
  /// The stopping rule's tolerance; negative means scikit-learn's tol=None (never stop early).
  double tol = 1e-3;
  bool shuffle = true;
  /// The seed of scikit-learn's seed chain; negative means random_state=None (a fresh seed per fit).
  std::int64_t random_state = -1;
  double epsilon = 0.1;  ///< huber and the epsilon-insensitive losses
  std::string learning_rate = kClassifier ? "optimal" : "invscaling";  ///< or "constant", "adaptive"
  double eta0 = kClassifier ? 0.0 : 0.01;
  double power_t = kClassifier ? 0.5 : 0.25;
  /// Not yet: true is refused with a clear error.
  bool early_stopping = false;
  double validation_fraction = 0.1;
  std::int64_t n_iter_no_change = 5;
  /// "" (None) or "balanced" (fit only, as in scikit-learn); classifiers only.
  std::string class_weight;
  /// Explicit per-class weights (scikit-learn's dict class_weight), label -> weight;
  /// used when class_weight is "". Not a get_params() parameter.
  std::vector<std::pair<double, double>> class_weight_map;
  bool warm_start = false;
  /// false/0: no averaging; true: average from the first sample; n: from sample n.
  ParamValue average = false;
};

using SgdClassifierOptions = SgdOptions<true>;
using SgdRegressorOptions = SgdOptions<false>;
/// The form SgdModel keeps its parameters in, for both kinds of estimator.
using SgdConfig = SgdOptions<true>;

/// The same parameters in the other struct (defaults play no part).
template <bool kTo, bool kFrom>
SgdOptions<kTo> convert_sgd_options(const SgdOptions<kFrom>& o) {
  return {o.loss,  o.penalty, o.alpha, o.l1_ratio, o.fit_intercept, o.max_iter, o.tol,  o.shuffle,
          o.random_state, o.epsilon, o.learning_rate, o.eta0, o.power_t, o.early_stopping,
          o.validation_fraction, o.n_iter_no_change, o.class_weight, o.class_weight_map, o.warm_start,
          o.average};
}

}  // namespace dtask::ml_core
