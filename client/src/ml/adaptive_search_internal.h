// The engine under IncrementalSearchCV and HyperbandSearchCV: dask-ml's
// _incremental._fit for several searches at once (Hyperband's brackets),
// and the decision rule (dask-ml's _additional_calls) they plug into it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dtask/ml/incremental_search.h"

namespace dtask::ml::internal {

/// One score of one model (dask-ml's meta dict).
struct ScoreRecord {
  std::int64_t partial_fit_calls = 0;
  double score = 0;
  double elapsed_wall_time = 0;
  /// dask-ml's "_adapt": the calls the last decision gave this model (patience only).
  std::optional<std::int64_t> adapt;
};

/// The live models' scores so far, oldest first, by model id. Iterating it
/// in id order is iterating dask-ml's info dict in insertion order.
using ModelInfo = std::map<std::int64_t, std::vector<ScoreRecord>>;
/// Model id -> further partial_fit calls. A live model left out is stopped.
using Instructions = std::map<std::int64_t, std::int64_t>;

/// The k ids with the highest last score, best first; equal scores keep id
/// order (toolz.topk, i.e. heapq.nlargest, does the same).
std::vector<std::int64_t> top_k(const ModelInfo& info, std::int64_t k);

/// dask-ml's _IncrementalSearchCV._additional_calls with its inverse-decay
/// _adapt and _stop_on_plateau; SuccessiveHalving overrides adapt().
/// Options are checked before the search starts. Thread-compatible.
class IncrementalPolicy {
 public:
  struct Config {
    std::int64_t n_initial_parameters = 10;
    double decay_rate = 1.0;  ///< unused by successive halving
    std::int64_t patience = 0;
    double tol = 1e-3;
    std::int64_t fits_per_score = 1;
    std::int64_t max_iter = 100;  ///< 0: no limit (dask-ml's None)
  };
  explicit IncrementalPolicy(Config config) : config_(config) {}
  virtual ~IncrementalPolicy() = default;

  /// Called after every round with every live model's scores (may set
  /// their last record's `adapt`, as dask-ml does).
  Instructions additional_calls(ModelInfo& info);

 protected:
  virtual Instructions adapt(const ModelInfo& info);
  Instructions stop_on_plateau(const Instructions& instructions, const ModelInfo& info) const;
  Config config_;
};

/// One search over a fixed list of candidates (a bracket of Hyperband).
struct AdaptiveRun {
  std::vector<Params> candidates;
  std::uint32_t seed = 0;  ///< the validation split's and the chunk order's random_state
  double test_size = 0.2;
  std::unique_ptr<IncrementalPolicy> policy;
  std::string prefix;  ///< in verbose lines: "[CV, bracket=3] ..."
};

/// What one run left: every model's scores (by id, all models, stopped or
/// not), and its best live model.
struct AdaptiveRunResult {
  std::vector<std::vector<ScoreRecord>> records;  ///< by model id
  std::int64_t best_id = -1;
  double best_score = 0;
  std::string best_model;  ///< the serialised SgdModel
};

struct AdaptiveOptions {
  std::string scoring;  ///< "", "accuracy", "r2" or "neg_mean_squared_error"
  bool verbose = false;
  std::int64_t max_in_flight = 0;  ///< 0: two per worker thread
};

/// Runs every run at once on the cluster until each run's policy stops it.
/// A "round" of a run waits only for that run's models; a model never waits
/// for another model of its round to submit its next partial_fit. Adds the
/// partial_fit tasks submitted to *n_partial_fit_calls and appends every
/// score, in arrival order, to *arrivals as (run, model id). Throws
/// ArrayError on bad parameters (before anything runs), TaskError when a
/// task fails (after cancelling the rest).
std::vector<AdaptiveRunResult> run_adaptive(Client& client, const SGDEstimator& estimator, const Array& X,
                                            const Array& y, const std::vector<double>& classes,
                                            std::vector<AdaptiveRun>& runs, const AdaptiveOptions& options,
                                            std::int64_t* n_partial_fit_calls,
                                            std::vector<std::pair<std::size_t, std::int64_t>>* arrivals);

/// Fills cv_results_, history_, model_history_ and the best_* attributes
/// of `search` from finished runs: model ids are "<i>" for one run, and
/// "bracket=<b>-<i>" when `brackets` names each run's bracket; rows go run
/// by run in the given order, models by id. The best is the run with the
/// highest best score (the first one on ties), as dask-ml's max().
void store_results(BaseIncrementalSearchCV& search, const SGDEstimator& estimator,
                   const std::vector<AdaptiveRun>& runs, const std::vector<AdaptiveRunResult>& results,
                   const std::vector<std::pair<std::size_t, std::int64_t>>& arrivals,
                   const std::vector<std::int64_t>& brackets);

/// The unfitted SGD estimator behind `estimator`, or ArrayError naming
/// `search` when it has no partial_fit.
const SGDEstimator& partial_fit_estimator(const Estimator& estimator, const std::string& search);

/// dask-ml's default test_size: min(0.2, 1 / n_chunks); else checks (0, 1).
double resolve_test_size(double test_size, std::int64_t n_chunks, const std::string& search);

}  // namespace dtask::ml::internal
