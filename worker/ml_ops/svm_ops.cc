// SVC and LinearSVC on a worker (ml_core/svm.h): one task fits on the whole
// X, blockwise tasks apply the fitted model, carried as an argument.
//
//   dense_fit(X, y, spec) -> bytes: any estimator make_dense_estimator builds
//       from `spec`, fitted on the whole X [n, d] and y [n] in this task, as
//       its serialised model (SVC, LinearSVC, SGDClassifier, SGDRegressor).
//   svm_apply(X_chunk, estimator, model, method) -> float64 [rows] or
//       [rows, k]: method "predict", "decision_function" or "predict_proba";
//       estimator "SVC" or "LinearSVC".
#include <stdexcept>
#include <string>

#include "ml_core/dense_estimator.h"
#include "ml_core/glm_chunk.h"
#include "ml_core/svm.h"
#include "worker/array_ops/array_ops.h"
#include "worker/ml_ops/ml_ops.h"

namespace dtask::ml_ops {

namespace {

using array_ops::throw_if_error;
using array_ops::value_or_throw;

/// `values` (row-major, `rows` rows) as [rows] or [rows, cols].
NDArray shaped(const std::vector<double>& values, std::int64_t rows) {
  const auto cols = rows > 0 ? static_cast<std::int64_t>(values.size()) / rows : 0;
  NDArray out = cols == 1 ? NDArray::uninitialized(DType::kFloat64, {rows})
                          : NDArray::uninitialized(DType::kFloat64, {rows, cols});
  std::copy(values.begin(), values.end(), out.mutable_data<double>());
  return out;
}

Bytes fit(const NDArray& X, const NDArray& y_in, const std::string& spec) {
  if (X.shape.size() != 2 || y_in.shape.size() != 1 || y_in.rows() != X.rows()) {
    throw std::invalid_argument("dense_fit needs X [n, d] and y [n], got " + X.describe() + " and " + y_in.describe());
  }
  auto estimator = value_or_throw(ml_core::make_dense_estimator(spec));
  NDArray y = ml_core::to_float64(y_in);
  throw_if_error(estimator->fit(X, std::vector<double>(y.data<double>(), y.data<double>() + y.size())));
  return Bytes::from_string(value_or_throw(estimator->serialize()));
}

template <typename Model>
std::vector<double> apply_model(const Model& model, const NDArray& X, const std::string& method) {
  if (X.shape.size() != 2 || X.cols() != model.n_features()) {
    throw std::invalid_argument("X chunk " + X.describe() + " does not have the model's " +
                                std::to_string(model.n_features()) + " features");
  }
  NDArray x = ml_core::to_float64(X);
  if (method == "predict") return model.predict(x.data<double>(), x.rows());
  if (method == "decision_function") return model.decision_function(x.data<double>(), x.rows());
  if constexpr (requires { model.predict_proba(x.data<double>(), x.rows()); }) {
    if (method == "predict_proba") return value_or_throw(model.predict_proba(x.data<double>(), x.rows()));
  }
  throw std::invalid_argument("unknown method '" + method + "'");
}

NDArray apply(const NDArray& X, const std::string& estimator, const Bytes& model, const std::string& method) {
  if (estimator == "SVC") {
    return shaped(apply_model(value_or_throw(ml_core::SvcModel::deserialize(model.view())), X, method), X.rows());
  }
  if (estimator == "LinearSVC") {
    return shaped(apply_model(value_or_throw(ml_core::LinearSvcModel::deserialize(model.view())), X, method),
                  X.rows());
  }
  throw std::invalid_argument("svm_apply: unknown estimator '" + estimator + "'");
}

}  // namespace

void register_svm_ops(OpRegistry& registry) {
  using array_ops::must_register;
  must_register(registry.add(ops::kDenseFit, fit));
  must_register(registry.add(ops::kSvmApply, apply));
}

}  // namespace dtask::ml_ops
