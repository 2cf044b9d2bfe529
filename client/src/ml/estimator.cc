// Estimator's defaults: the spec from get_params(), and the methods a kind
// of estimator lacks (a transformer's predict, a predictor's transform).
#include "dtask/ml/estimator.h"

#include <nlohmann/json.hpp>

#include "client/src/array_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"
#include "ml_core/metrics.h"

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
  std::vector<double> p(predicted.data<double>(), predicted.data<double>() + predicted.size());
  std::vector<double> t(truth.data<double>(), truth.data<double>() + truth.size());
  auto score = is_classifier() ? ml_core::accuracy_score(t, p) : ml_core::r2_score(t, p);
  if (!score.ok()) throw TaskError(Status::invalid(estimator_name() + ".score: " + score.status().message()));
  return *score;
}

}  // namespace dtask::ml
