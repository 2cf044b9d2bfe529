// Data-parallel SGD by model averaging (Zinkevich et al.'s parallel SGD,
// Grisel's "in-loop averaged models"): n_replicas copies of an SGD
// estimator train side by side, each on its own share of the chunks, and
// every `sync_every` chunks the copies are averaged with a tree allreduce
// among the workers (dtask/collective.h) and all continue from the average.
// Like Incremental, each partial_fit task runs where its chunk is read and
// only the models move; at most `max_in_flight` tasks per replica are
// submitted ahead, so memory stays flat however large X is.
//
//   dtask::ml::ParameterAveraging avg(dtask::ml::SGDClassifier({.random_state = 0}),
//                                     {.epochs = 1, .sync_every = 4});
//   avg.fit(client, X, y);                    // one replica per worker
//   double accuracy = avg.score(client, X_test, y_test);
//
// Round k gives chunk j of its p * sync_every chunks (in the epoch's chunk
// order) to replica j mod p. A worker lost mid-round costs that round's
// lost tasks, which the scheduler reruns elsewhere; the round completes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dtask/ml/sgd.h"

namespace dtask::ml {

struct ParameterAveragingOptions {
  std::int64_t epochs = 1;         ///< passes over the chunks
  std::int64_t sync_every = 4;     ///< chunks each replica fits between two averages, >= 1
  std::int64_t n_replicas = 0;     ///< models trained side by side; 0: one per worker
  bool shuffle_blocks = true;      ///< a random chunk order each epoch
  std::int64_t random_state = -1;  ///< its seed; < 0: a fresh one per fit
  std::int64_t max_in_flight = 2;  ///< partial_fit tasks per replica ahead of its model, >= 1
  int fan_in = 2;                  ///< the allreduce tree's fan-in, >= 2
  bool verbose = false;            ///< a progress line per epoch on stderr
};

/// Thread-compatible.
class ParameterAveraging : public Estimator {
 public:
  /// Trains copies of `estimator`'s parameters (not its fitted state).
  explicit ParameterAveraging(const SGDEstimator& estimator, ParameterAveragingOptions options = {});

  /// Fits from scratch; a classifier's classes come from one pass over y
  /// (or the overload). Throws ArrayError on bad shapes or options,
  /// TaskError when a chunk's fit fails (op, chunk key, scikit-learn's message).
  ParameterAveraging& fit(Client& client, const Array& X, const Array& y) override;
  ParameterAveraging& fit(Client& client, const Array& X, const Array& y, const std::vector<double>& classes);

  Array predict(const Array& X) const override;
  std::string estimator_name() const override { return "ParameterAveraging"; }
  bool is_classifier() const override { return estimator_->is_classifier(); }
  /// epochs, sync_every, n_replicas, shuffle_blocks, random_state,
  /// max_in_flight, fan_in, and the estimator's as "estimator__name".
  Params get_params() const override;
  ParameterAveraging& set_params(const Params& params) override;
  std::unique_ptr<Estimator> clone_estimator() const override;
  const ParameterAveragingOptions& options() const { return options_; }

  /// The averaged model (fitted after fit()).
  const SGDEstimator& estimator() const { return *estimator_; }
  std::int64_t n_replicas_ = 0;           ///< replicas the last fit trained
  std::int64_t n_rounds_ = 0;             ///< averages it took
  std::int64_t n_partial_fit_calls_ = 0;  ///< partial_fit tasks it ran

 private:
  std::unique_ptr<SGDEstimator> estimator_;
  ParameterAveragingOptions options_;
};

}  // namespace dtask::ml
