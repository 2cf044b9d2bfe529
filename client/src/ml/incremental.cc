// Incremental: one chain of sgd_partial_fit tasks (partial_fit_chains with
// one replica), submitted at most max_in_flight ahead of the last finished one.
#include "dtask/ml/incremental.h"

#include "client/src/array_internal.h"
#include "client/src/ml/partial_fit_chains_internal.h"
#include "ml_core/param_binding.h"

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

const ml_core::ParamBinding<IncrementalOptions>& incremental_binding() {
  static const ml_core::ParamBinding<IncrementalOptions> table(
      "Incremental",
      {{"epochs", &IncrementalOptions::epochs},
       {"shuffle_blocks", &IncrementalOptions::shuffle_blocks},
       {"random_state", &IncrementalOptions::random_state},
       {"max_in_flight", &IncrementalOptions::max_in_flight}},
      {"estimator__<name>"});
  return table;
}

Params Incremental::get_params() const {
  return internal::wrapper_params(incremental_binding().get(options_), estimator_->get_params());
}

Incremental& Incremental::set_params(const Params& params) {
  internal::set_wrapper_params(incremental_binding(), options_, *estimator_, params);
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

Incremental& Incremental::fit(Client& client, const ChunkGenerator& chunks, const std::vector<double>& classes) {
  if (options_.epochs != 1) {
    fail("Incremental.fit: a generator is one pass, so epochs must be 1 (got " + std::to_string(options_.epochs) +
         "); call partial_fit with a new generator for each further pass");
  }
  estimator_ = estimator_->clone_sgd();
  if (estimator_->is_classifier() && classes.size() < 2) {
    fail("Incremental.fit: a classifier fitted from a generator needs its classes (two or more), got " +
         std::to_string(classes.size()));
  }
  auto result = internal::run_generator_chain(client, plan_of(options_), estimator_->model_state(), false, chunks,
                                              classes);
  estimator_->set_model_state(result.model);
  n_partial_fit_calls_ = result.partial_fit_calls;
  return *this;
}

Incremental& Incremental::partial_fit(Client& client, const ChunkGenerator& chunks) {
  if (!estimator_->fitted()) fail("Incremental.partial_fit: call fit first");
  auto result = internal::run_generator_chain(client, plan_of(options_), estimator_->model_state(), true, chunks, {});
  estimator_->set_model_state(result.model);
  n_partial_fit_calls_ = result.partial_fit_calls;
  return *this;
}

Array Incremental::predict(const Array& X) const { return estimator_->predict(X); }

}  // namespace dtask::ml
