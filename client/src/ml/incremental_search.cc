// IncrementalSearchCV and what the adaptive searches share: input checks,
// the classes, cv_results_ as JSON, the best model's predictions.
#include "dtask/ml/incremental_search.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "client/src/array_internal.h"
#include "client/src/ml/adaptive_search_internal.h"
#include "client/src/ml/chunk_passes_internal.h"
#include "dtask/client.h"

namespace dtask::ml {

using array_internal::fail;

// ---- IncrementalCvResults ------------------------------------------------------------

const std::vector<double>& IncrementalCvResults::operator[](const std::string& column) const {
  auto it = values.find(column);
  if (it == values.end()) fail("cv_results_ has no column '" + column + "'");
  return it->second;
}

std::vector<std::optional<ParamValue>> IncrementalCvResults::param(const std::string& name) const {
  std::vector<std::optional<ParamValue>> out;
  for (const Params& p : params) {
    auto it = p.find(name);
    out.push_back(it == p.end() ? std::nullopt : std::optional<ParamValue>(it->second));
  }
  return out;
}

std::string IncrementalCvResults::json() const {
  using Json = nlohmann::ordered_json;
  auto param_json = [](const ParamValue& v) { return std::visit([](const auto& x) { return Json(x); }, v.variant()); };
  Json records = Json::array();
  for (std::size_t i = 0; i < size(); ++i) {
    Json record = Json::object();
    record["model_id"] = model_id[i];
    Json p = Json::object();
    for (const auto& [name, value] : params[i]) p[name] = param_json(value);
    record["params"] = p;
    for (const std::string& name : param_names) {
      auto it = params[i].find(name);
      record["param_" + name] = it == params[i].end() ? Json(nullptr) : param_json(it->second);
    }
    for (const auto& [column, v] : values) {
      const double x = v[i];
      record[column] = std::isnan(x) ? Json(nullptr)
                       : column == "test_score" ? Json(x)
                                                : Json(static_cast<long long>(x));
    }
    records.push_back(record);
  }
  return records.dump(1);
}

// ---- BaseIncrementalSearchCV -------------------------------------------------------

BaseIncrementalSearchCV::BaseIncrementalSearchCV(const Estimator& estimator)
    : estimator_(estimator.clone_estimator()) {}

BaseIncrementalSearchCV& BaseIncrementalSearchCV::fit(Client& client, const Array& X, const Array& y) {
  const SGDEstimator& sgd = internal::partial_fit_estimator(*estimator_, name());
  std::vector<double> classes;
  if (sgd.is_classifier() && y.valid()) {
    NDArray found = internal::find_classes(client, y);
    classes.assign(found.data<double>(), found.data<double>() + found.size());
  }
  return fit(client, X, y, classes);
}

BaseIncrementalSearchCV& BaseIncrementalSearchCV::fit(Client& client, const Array& X, const Array& y,
                                                      const std::vector<double>& classes) {
  const std::string what = name() + ".fit: ";
  const SGDEstimator& sgd = internal::partial_fit_estimator(*estimator_, name());
  if (!X.valid() || !y.valid()) fail(what + "X and y must be non-empty Arrays");
  if (X.ndim() != 2) fail(what + "X must be 2-d, got " + X.describe());
  if (y.ndim() != 1 || y.rows() != X.rows()) fail(what + "y " + y.describe() + " does not match X " + X.describe());
  if (sgd.is_classifier() && classes.size() < 2) {
    fail(what + "a classifier needs two or more classes, got " + std::to_string(classes.size()));
  }
  n_partial_fit_calls_ = 0;
  run(client, sgd, X, y, classes);
  return *this;
}

Array BaseIncrementalSearchCV::predict(const Array& X) const {
  if (!best_estimator_) fail(name() + ".predict: call fit first");
  return best_estimator_->predict(X);
}

double BaseIncrementalSearchCV::score(Client& client, const Array& X, const Array& y) const {
  if (!best_estimator_) fail(name() + ".score: call fit first");
  return best_estimator_->score(client, X, y);
}

// ---- IncrementalSearchCV ---------------------------------------------------------------

IncrementalSearchCV::IncrementalSearchCV(const Estimator& estimator, const ParamDistributions& parameters,
                                         IncrementalSearchOptions options)
    : BaseIncrementalSearchCV(estimator), parameters_(parameters), options_(std::move(options)) {}

void IncrementalSearchCV::run(Client& client, const SGDEstimator& estimator, const Array& X, const Array& y,
                              const std::vector<double>& classes) {
  const std::string what = "IncrementalSearchCV: ";
  const IncrementalSearchOptions& o = options_;
  if (o.max_iter < 1) fail(what + "Received max_iter=" + std::to_string(o.max_iter) + ". max_iter < 1 is not supported");
  if (o.n_initial_parameters < 0) fail(what + "n_initial_parameters must be >= 1 (or 0 for \"grid\")");
  if (o.patience == 1 || o.patience < 0) {
    fail(what + "patience=" + std::to_string(o.patience) +
         "<=1 will always detect a plateau. To resolve this, set patience >= 2 (or 0 for patience=False)");
  }
  if (o.fits_per_score < 1) fail(what + "fits_per_score must be >= 1");
  if (!(o.decay_rate >= 0) || !std::isfinite(o.decay_rate)) fail(what + "decay_rate must be >= 0");
  if (o.random_state > 0xFFFFFFFFLL) fail(what + "random_state must be < 2**32");
  std::random_device entropy;
  const std::uint32_t seed = o.random_state >= 0 ? static_cast<std::uint32_t>(o.random_state) : entropy();

  internal::AdaptiveRun run;
  if (o.n_initial_parameters == 0) {
    ParamGrid grid;
    for (const auto& [name, source] : parameters_) {
      const auto* values = std::get_if<std::vector<ParamValue>>(&source);
      if (values == nullptr) fail(what + "n_initial_parameters=\"grid\" needs lists of values; '" + name + "' is a distribution");
      grid[name] = *values;
    }
    run.candidates = parameter_grid({grid});
  } else {
    run.candidates = parameter_sampler({parameters_}, o.n_initial_parameters, seed);
  }
  run.seed = seed;
  run.test_size = internal::resolve_test_size(o.test_size, X.n_chunks(), "IncrementalSearchCV");
  internal::IncrementalPolicy::Config config{
      .n_initial_parameters = o.n_initial_parameters == 0 ? static_cast<std::int64_t>(run.candidates.size())
                                                          : o.n_initial_parameters,
      .decay_rate = o.decay_rate,
      .patience = o.patience,
      .tol = o.tol,
      .fits_per_score = o.fits_per_score,
      .max_iter = o.max_iter};
  run.policy = std::make_unique<internal::IncrementalPolicy>(config);

  std::vector<internal::AdaptiveRun> runs;
  runs.push_back(std::move(run));
  std::vector<std::pair<std::size_t, std::int64_t>> arrivals;
  auto results = internal::run_adaptive(client, estimator, X, y, classes, runs,
                                        {.scoring = o.scoring, .verbose = o.verbose, .max_in_flight = o.max_in_flight},
                                        &n_partial_fit_calls_, &arrivals);
  internal::store_results(*this, estimator, runs, results, arrivals, {});
}

}  // namespace dtask::ml
