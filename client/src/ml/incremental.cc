// Incremental: one chain of sgd_partial_fit tasks (partial_fit_chains with
// one replica), submitted at most max_in_flight ahead of the last finished one.
#include "dtask/ml/incremental.h"

#include "client/src/array_internal.h"
#include "client/src/ml/partial_fit_chains_internal.h"

namespace dtask::ml {

using array_internal::fail;

namespace {


internal::ChainPlan plan_of(const IncrementalOptions& o) {
  return {.what = "Incremental",
          .replicas = 1,
          .sync_every = 0,
          .epochs = o.epochs,
          .shuffle_blocks = o.shuffle_blocks,
          .random_state = o.random_state,
          .max_in_flight = o.max_in_flight,
          .verbose = o.verbose};
}

}  // namespace

Incremental::Incremental(const SGDEstimator& estimator, IncrementalOptions options)
    : estimator_(estimator.clone_sgd()), options_(options) {}

Params Incremental::get_params() const {
  Params out = {{"epochs", static_cast<long long>(options_.epochs)},
                {"shuffle_blocks", options_.shuffle_blocks},
                {"random_state", static_cast<long long>(options_.random_state)},
                {"max_in_flight", static_cast<long long>(options_.max_in_flight)}};
  for (const auto& [name, value] : estimator_->get_params()) out[internal::kEstimatorPrefix + name] = value;
  return out;
}

Incremental& Incremental::set_params(const Params& params_in) {
  Params params = params_in;
  Params inner = internal::take_prefixed(params, internal::kEstimatorPrefix);
  for (const auto& [name, value] : params) {
    if (name == "epochs") {
      options_.epochs = internal::integer_option("Incremental", name, value);
    } else if (name == "random_state") {
      options_.random_state = internal::integer_option("Incremental", name, value);
    } else if (name == "max_in_flight") {
      options_.max_in_flight = internal::integer_option("Incremental", name, value);
    } else if (name == "shuffle_blocks" && value.is<bool>()) {
      options_.shuffle_blocks = value.get<bool>();
    } else {
      fail("Invalid parameter '" + name +
           "' for estimator Incremental. Valid parameters are: ['epochs', 'estimator__<name>', 'max_in_flight', "
           "'random_state', 'shuffle_blocks'].");
    }
  }
  if (!inner.empty()) estimator_->set_params(inner);
  return *this;
}

std::unique_ptr<Estimator> Incremental::clone_estimator() const {
  return std::make_unique<Incremental>(*estimator_, options_);
}

Incremental& Incremental::fit(Client& client, const Array& X, const Array& y) {
  return fit(client, X, y, internal::classes_for(client, estimator_->is_classifier(), y));
}

Incremental& Incremental::fit(Client& client, const Array& X, const Array& y, const std::vector<double>& classes) {
  estimator_ = estimator_->clone_sgd();
  if (estimator_->is_classifier() && classes.size() < 2) {
    fail("Incremental.fit: a classifier needs two or more classes, got " + std::to_string(classes.size()));
  }
  auto result = internal::run_partial_fit_chains(client, plan_of(options_), estimator_->model_state(), false, X, y,
                                                 classes);
  estimator_->set_model_state(result.model);
  n_partial_fit_calls_ = result.partial_fit_calls;
  return *this;
}

Incremental& Incremental::partial_fit(Client& client, const Array& X, const Array& y) {
  if (!estimator_->fitted()) fail("Incremental.partial_fit: call fit first (it finds the classes)");
  auto result = internal::run_partial_fit_chains(client, plan_of(options_), estimator_->model_state(), true, X, y, {});
  estimator_->set_model_state(result.model);
  n_partial_fit_calls_ = result.partial_fit_calls;
  return *this;
}

Array Incremental::predict(const Array& X) const { return estimator_->predict(X); }

}  // namespace dtask::ml
