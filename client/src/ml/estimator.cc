// Estimator's defaults: the spec from get_params(), and the methods a kind
// of estimator lacks (a transformer's predict, a predictor's transform).
#include "dtask/ml/estimator.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "client/src/array_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"

namespace dtask::ml {

namespace internal {

nlohmann::json params_json(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : params) {
    std::visit([&, n = name](const auto& v) { out[n] = v; }, value.variant());
  }
  return out;
}

}  // namespace internal

std::string Estimator::spec() const {
  return nlohmann::json{{"estimator", estimator_name()}, {"params", internal::params_json(get_params())}}.dump();
}

Array Estimator::predict(const Array&) const { array_internal::fail(estimator_name() + " has no predict"); }

Array Estimator::transform(const Array&) const { array_internal::fail(estimator_name() + " has no transform"); }

double Estimator::score(Client& client, const Array& X, const Array& y) const {
  NDArray predicted = ml_core_cast_float64(predict(X).compute(client));
  NDArray truth = ml_core_cast_float64(y.compute(client));
  const double* p = predicted.data<double>();
  const double* t = truth.data<double>();
  const std::int64_t n = truth.size();
  if (is_classifier()) {
    double correct = 0;
    for (std::int64_t i = 0; i < n; ++i) correct += p[i] == t[i] ? 1.0 : 0.0;
    return correct / static_cast<double>(n);
  }
  double mean = 0, residual = 0, total = 0;
  for (std::int64_t i = 0; i < n; ++i) mean += t[i];
  mean /= static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i) {
    residual += (t[i] - p[i]) * (t[i] - p[i]);
    total += (t[i] - mean) * (t[i] - mean);
  }
  return 1.0 - residual / total;
}

}  // namespace dtask::ml
