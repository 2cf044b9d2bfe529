// The driver Incremental and ParameterAveraging share: replicas of a model,
// each a chain of sgd_partial_fit tasks over its share of the chunks, with
// the replicas averaged by a tree allreduce at the end of every round.
// Incremental is one replica (its "average" is the chain itself).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/array.h"
#include "dtask/ml/incremental.h"
#include "dtask/ml/params.h"
#include "ml_core/param_binding.h"

namespace dtask::ml::internal {

struct ChainPlan {
  std::string what;                ///< "Incremental", "ParameterAveraging": for errors and progress
  std::int64_t replicas = 1;
  std::int64_t sync_every = 0;     ///< chunks per replica per round; 0: the whole epoch
  std::int64_t epochs = 1;
  bool shuffle_blocks = true;
  std::int64_t random_state = -1;  ///< < 0: a fresh seed
  std::int64_t max_in_flight = 2;  ///< per replica
  int fan_in = 2;
  bool verbose = false;
};

struct ChainResult {
  std::string model;  ///< the final (averaged) model, serialised
  std::int64_t rounds = 0;
  std::int64_t partial_fit_calls = 0;
};

/// Runs the plan from `start_model` (serialised; `start_fitted` false: an
/// unfitted model, whose first partial_fit per replica gets `classes`).
/// Validates the plan and the shapes (ArrayError); a failed task throws TaskError.
ChainResult run_partial_fit_chains(Client& client, const ChainPlan& plan, const std::string& start_model,
                                   bool start_fitted, const Array& X, const Array& y,
                                   const std::vector<double>& classes);

/// One pass of a single chain over a client-side stream of chunks, each
/// scattered and fitted with at most plan.max_in_flight on the cluster (the
/// plan's epochs and shuffle do not apply). Same contract otherwise.
ChainResult run_generator_chain(Client& client, const ChainPlan& plan, const std::string& start_model,
                                bool start_fitted, const ChunkGenerator& chunks, const std::vector<double>& classes);

/// The classes a wrapper's fit gives its first partial_fit calls: y's
/// labels (one pass) for a classifier, none for a regressor.
std::vector<double> classes_for(Client& client, bool classifier, const Array& y);

/// The prefix of a wrapped estimator's parameters ("estimator__alpha").
inline constexpr const char* kEstimatorPrefix = "estimator__";

/// Parameters of a wrapped estimator, "estimator__name" -> name: removed from `params` and returned.
Params take_prefixed(Params& params, const std::string& prefix);
/// A wrapper's get_params(): its own options and the estimator's as "estimator__name".
Params wrapper_params(Params own, const Params& estimator);
/// A wrapper's set_params(): "estimator__name" goes to `estimator`, the rest
/// through the wrapper's binding (ArrayError on an unknown name or a wrong type).
template <typename Options, typename Estimator>
void set_wrapper_params(const ml_core::ParamBinding<Options>& binding, Options& options, Estimator& estimator,
                        Params params) {
  Params inner = take_prefixed(params, kEstimatorPrefix);
  Status status = binding.set_all(options, params);
  if (!status.ok()) throw ArrayError(status.message());
  if (!inner.empty()) estimator.set_params(inner);
}
/// How many workers the scheduler has now (at least 1).
std::int64_t worker_count(Client& client);

}  // namespace dtask::ml::internal
