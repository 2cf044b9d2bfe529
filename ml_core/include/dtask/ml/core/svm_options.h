// SVC's and LinearSVC's parameters by scikit-learn's names and with its
// defaults: the options of the client's dtask::ml::SVC and LinearSVC, and
// what the worker's libsvm/liblinear fits read (ml_core/svm.h).
#pragma once

#include <string>

#include "dtask/ml/core/params.h"

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

/// sklearn.svm.LinearSVC's parameters (multi_class='ovr'), with sklearn's defaults.
struct LinearSvcParams {
  double C = 1.0;
  std::string loss = "squared_hinge";  ///< or "hinge"
  std::string penalty = "l2";          ///< or "l1"
  bool dual = true;
  double tol = 1e-4;
  /// Only 1000: Debian's liblinear 2.3 fixes its solvers' limit at 1000.
  int max_iter = 1000;
  bool fit_intercept = true;
  double intercept_scaling = 1.0;
  std::string class_weight;  ///< "" (all 1) or "balanced"
};

}  // namespace dtask::ml_core
