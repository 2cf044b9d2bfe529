// SGDClassifier and SGDRegressor on a worker (ml_core/sgd.h). The model
// travels between tasks as its JSON (a few KiB for 100 features), so the
// chunks stay where they were read and the model goes to them.
//
//   sgd_partial_fit(model, X_chunk, y_chunk, classes) -> bytes: one epoch
//       over this chunk (scikit-learn's partial_fit); `model` is a
//       serialised SgdModel (the client's unfitted one for the first call),
//       `classes` float64 [k] for a classifier's first call, else empty.
//   sgd_apply(X_chunk, model, method) -> float64 [rows] or [rows, k]:
//       "predict", "decision_function" or "predict_proba".
//   sgd_average([models], weights) -> bytes: the weighted mean of replicas
//       (ParameterAveraging's combine step; weights float64 [len(models)]).
// A whole-data fit is the generic dense_fit (svm_ops.cc).
#include <stdexcept>
#include <string>
#include <vector>

#include "ml_core/glm_chunk.h"
#include "ml_core/sgd.h"
#include "worker/array_ops/array_ops.h"
#include "worker/ml_ops/ml_ops.h"

namespace dtask::ml_ops {

namespace {

using array_ops::throw_if_error;
using array_ops::value_or_throw;

std::vector<double> sgd_values(const NDArray& a) {
  NDArray f = ml_core::to_float64(a);
  return std::vector<double>(f.data<double>(), f.data<double>() + f.size());
}

Bytes sgd_partial_fit(const Bytes& model_in, const NDArray& X_in, const NDArray& y_in, const NDArray& classes) {
  if (X_in.shape.size() != 2 || y_in.shape.size() != 1 || y_in.rows() != X_in.rows()) {
    throw std::invalid_argument("sgd_partial_fit needs X [n, d] and y [n], got " + X_in.describe() + " and " +
                                y_in.describe());
  }
  auto model = value_or_throw(ml_core::SgdModel::deserialize(model_in.view()));
  NDArray X = ml_core::to_float64(X_in);
  std::vector<double> y = sgd_values(y_in);
  std::vector<double> labels = sgd_values(classes);
  throw_if_error(model.partial_fit(X.data<double>(), X.rows(), X.cols(), y.data(), labels.empty() ? nullptr : &labels));
  return Bytes::from_string(model.serialize());
}

NDArray sgd_apply(const NDArray& X_in, const Bytes& model_in, const std::string& method) {
  auto model = value_or_throw(ml_core::SgdModel::deserialize(model_in.view()));
  if (X_in.shape.size() != 2 || X_in.cols() != model.n_features()) {
    throw std::invalid_argument("X chunk " + X_in.describe() + " does not have the model's " +
                                std::to_string(model.n_features()) + " features");
  }
  NDArray X = ml_core::to_float64(X_in);
  std::vector<double> out;
  if (method == "predict") {
    out = model.predict(X.data<double>(), X.rows());
  } else if (method == "decision_function") {
    out = model.decision_function(X.data<double>(), X.rows());
  } else if (method == "predict_proba") {
    out = value_or_throw(model.predict_proba(X.data<double>(), X.rows()));
  } else {
    throw std::invalid_argument("sgd_apply: unknown method '" + method + "'");
  }
  const std::int64_t rows = X.rows();
  const std::int64_t cols = rows > 0 ? static_cast<std::int64_t>(out.size()) / rows : 0;
  NDArray result = method != "predict_proba" && cols == 1 ? NDArray::uninitialized(DType::kFloat64, {rows})
                                                          : NDArray::uninitialized(DType::kFloat64, {rows, cols});
  std::copy(out.begin(), out.end(), result.mutable_data<double>());
  return result;
}

Bytes sgd_average(const ValueList& models, const NDArray& weights) {
  if (static_cast<std::int64_t>(models.size()) != weights.size()) {
    throw std::invalid_argument("sgd_average: " + std::to_string(models.size()) + " models but " +
                                std::to_string(weights.size()) + " weights");
  }
  std::vector<ml_core::SgdModel> replicas;
  for (const Value& m : models) {
    replicas.push_back(value_or_throw(ml_core::SgdModel::deserialize(value_or_throw(value_as<Bytes>(m)).view())));
  }
  return Bytes::from_string(value_or_throw(ml_core::SgdModel::average(replicas, sgd_values(weights))).serialize());
}

}  // namespace

void register_sgd_ops(OpRegistry& registry) {
  using array_ops::must_register;
  must_register(registry.add(ops::kSgdPartialFit, sgd_partial_fit));
  must_register(registry.add(ops::kSgdApply, sgd_apply));
  must_register(registry.add(ops::kSgdAverage, sgd_average));
}

}  // namespace dtask::ml_ops
