// ParameterAveraging: partial_fit_chains with one replica per worker and an
// sgd_average allreduce every sync_every chunks.
#include "dtask/ml/parameter_averaging.h"

#include "client/src/array_internal.h"
#include "client/src/ml/partial_fit_chains_internal.h"
#include "ml_core/param_binding.h"

namespace dtask::ml {

using array_internal::fail;

ParameterAveraging::ParameterAveraging(const SGDEstimator& estimator, ParameterAveragingOptions options)
    : estimator_(estimator.clone_sgd()), options_(options) {}

namespace {

const ml_core::ParamBinding<ParameterAveragingOptions>& averaging_binding() {
  using O = ParameterAveragingOptions;
  static const ml_core::ParamBinding<O> table("ParameterAveraging",
                                              {{"epochs", &O::epochs},
                                               {"sync_every", &O::sync_every},
                                               {"n_replicas", &O::n_replicas},
                                               {"shuffle_blocks", &O::shuffle_blocks},
                                               {"random_state", &O::random_state},
                                               {"max_in_flight", &O::max_in_flight},
                                               {"fan_in", &O::fan_in}},
                                              {"estimator__<name>"});
  return table;
}

}  // namespace

Params ParameterAveraging::get_params() const {
  return internal::wrapper_params(averaging_binding().get(options_), estimator_->get_params());
}

ParameterAveraging& ParameterAveraging::set_params(const Params& params) {
  internal::set_wrapper_params(averaging_binding(), options_, *estimator_, params);
  return *this;
}

std::unique_ptr<Estimator> ParameterAveraging::clone_estimator() const {
  return std::make_unique<ParameterAveraging>(*estimator_, options_);
}

ParameterAveraging& ParameterAveraging::fit(Client& client, const Array& X, const Array& y) {
  return fit(client, X, y, internal::classes_for(client, estimator_->is_classifier(), y));
}

ParameterAveraging& ParameterAveraging::fit(Client& client, const Array& X, const Array& y,
                                            const std::vector<double>& classes) {
  estimator_ = estimator_->clone_sgd();
  if (estimator_->is_classifier() && classes.size() < 2) {
    fail("ParameterAveraging.fit: a classifier needs two or more classes, got " + std::to_string(classes.size()));
  }
  if (options_.n_replicas < 0) fail("ParameterAveraging: n_replicas must be >= 0, got " + std::to_string(options_.n_replicas));
  if (options_.sync_every < 1) {
    fail("ParameterAveraging: sync_every must be >= 1, got " + std::to_string(options_.sync_every));
  }
  internal::ChainPlan plan{.what = "ParameterAveraging",
                           .replicas = options_.n_replicas > 0 ? options_.n_replicas : internal::worker_count(client),
                           .sync_every = options_.sync_every,
                           .epochs = options_.epochs,
                           .shuffle_blocks = options_.shuffle_blocks,
                           .random_state = options_.random_state,
                           .max_in_flight = options_.max_in_flight,
                           .fan_in = options_.fan_in,
                           .verbose = options_.verbose};
  auto result = internal::run_partial_fit_chains(client, plan, estimator_->model_state(), false, X, y, classes);
  estimator_->set_model_state(result.model);
  n_replicas_ = plan.replicas;
  n_rounds_ = result.rounds;
  n_partial_fit_calls_ = result.partial_fit_calls;
  return *this;
}

Array ParameterAveraging::predict(const Array& X) const { return estimator_->predict(X); }

}  // namespace dtask::ml
