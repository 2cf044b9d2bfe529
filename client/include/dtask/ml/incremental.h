// Out-of-core training, as dask-ml's Incremental: an SGD estimator's
// partial_fit run over the chunks of X and y one after the other, in one
// chain of tasks. Each task takes the previous task's model and one chunk,
// and runs where the chunk is (the model is a few KiB, the chunk MiBs), so
// nothing but the model moves. Only `max_in_flight` tasks are submitted
// ahead of the model, so at most that many chunks are read and held at a
// time: a file many times the cluster's memory trains with flat worker memory.
//
//   dtask::ml::Incremental inc(dtask::ml::SGDClassifier({.random_state = 0}),
//                              {.epochs = 3, .random_state = 0});
//   inc.fit(client, dtask::Array::from_npy("X.npy", 100'000), dtask::Array::from_npy("y.npy", 100'000));
//   dtask::Array labels = inc.predict(X_test);     // the fitted estimator_'s predictions
//
// Chunk i of X pairs with chunk i of y; the chunk order of each epoch is
// numpy's RandomState(random_state).permutation, drawn once per epoch.
//
// Data that is not in a file (a database cursor, a simulator, a decoder) comes
// through a ChunkGenerator instead, as a Python generator feeds scikit-learn's
// partial_fit loop: each chunk it returns is sent to a worker and fitted there.
//
//   std::int64_t next = 0;
//   inc.fit(client, [&]() -> std::optional<dtask::ml::XyChunk> {
//     if (next == 10) return std::nullopt;
//     return make_chunk(next++);                   // X float64[n, d], y float64[n]
//   }, {0.0, 1.0});
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dtask/ml/sgd.h"

namespace dtask::ml {

struct IncrementalOptions {
  std::int64_t epochs = 1;         ///< passes over the chunks (dask-ml's Incremental makes one)
  bool shuffle_blocks = true;      ///< visit the chunks in a random order each epoch
  std::int64_t random_state = -1;  ///< seed of that order; < 0: a fresh one per fit
  std::int64_t max_in_flight = 2;  ///< partial_fit tasks (so chunk reads) ahead of the model, >= 1
  bool verbose = false;            ///< a progress line per epoch on stderr
};

/// One chunk of a stream made on the client: X (2-d) and y (1-d, as many rows).
struct XyChunk {
  NDArray X;
  NDArray y;
};

/// Returns the next chunk, or std::nullopt when the stream is over. Called
/// on the thread that called fit, one chunk at a time.
using ChunkGenerator = std::function<std::optional<XyChunk>()>;

/// Thread-compatible.
class Incremental : public Estimator {
 public:
  /// Trains a clone of `estimator` (its parameters; not its fitted state).
  explicit Incremental(const SGDEstimator& estimator, IncrementalOptions options = {});

  /// Starts from an unfitted clone and runs `epochs` passes of partial_fit
  /// over the chunks. A classifier's classes are found in one pass over y
  /// (or give them to the overload below). Throws ArrayError on bad shapes
  /// or options, TaskError when a chunk's fit fails (the op, the chunk's key
  /// and scikit-learn's message: NaN in X, a label not in classes, ...).
  Incremental& fit(Client& client, const Array& X, const Array& y) override;
  Incremental& fit(Client& client, const Array& X, const Array& y, const std::vector<double>& classes);
  /// More epochs continuing from the fitted model (fit first).
  Incremental& partial_fit(Client& client, const Array& X, const Array& y);

  /// One pass over `chunks`, in the generator's order, from an unfitted
  /// clone: each chunk is scattered to a worker and fitted there, with at
  /// most max_in_flight chunks on the cluster at a time. A generator is one
  /// pass, so `epochs` must be 1 (call partial_fit with a fresh generator for
  /// more) and `shuffle_blocks` does not apply. A classifier needs `classes`
  /// (the stream cannot be read twice to find them). Errors name the chunk:
  /// ArrayError for a bad shape, TaskError for a failed fit ("generator
  /// chunk 3: ... Input X contains NaN."); an exception from the generator
  /// propagates. An empty stream is an error.
  Incremental& fit(Client& client, const ChunkGenerator& chunks, const std::vector<double>& classes = {});
  /// One more pass over `chunks`, continuing the fitted model (fit first).
  Incremental& partial_fit(Client& client, const ChunkGenerator& chunks);

  Array predict(const Array& X) const override;
  std::string estimator_name() const override { return "Incremental"; }
  bool is_classifier() const override { return estimator_->is_classifier(); }
  /// "epochs", "shuffle_blocks", "random_state", "max_in_flight" and the
  /// estimator's parameters as "estimator__name".
  Params get_params() const override;
  Incremental& set_params(const Params& params) override;
  std::unique_ptr<Estimator> clone_estimator() const override;
  const IncrementalOptions& options() const { return options_; }

  /// The estimator being trained (fitted after fit()).
  const SGDEstimator& estimator() const { return *estimator_; }
  /// partial_fit tasks the last fit or partial_fit ran.
  std::int64_t n_partial_fit_calls_ = 0;

 private:
  std::unique_ptr<SGDEstimator> estimator_;
  IncrementalOptions options_;
};

}  // namespace dtask::ml
