// Hyperband (Li et al. 2016) as dask-ml's HyperbandSearchCV: several
// successive-halving searches ("brackets") run at once, from many models
// trained briefly and culled hard to a few models trained long; every
// bracket gets about the same budget of partial_fit calls. max_iter is the
// most calls any one model gets, aggressiveness (eta) how hard each round
// culls.
//
//   dtask::ml::HyperbandSearchCV search(dtask::ml::SGDClassifier({.random_state = 0}),
//                                       {{"alpha", dtask::ml::LogUniform{1e-5, 1e-1}},
//                                        {"loss", std::vector<dtask::ml::ParamValue>{"hinge", "log_loss"}}},
//                                       {.max_iter = 27, .random_state = 0});
//   search.metadata();                // what will run: 49 models, 357 partial_fit calls
//   search.fit(client, X, y);         // X, y chunked; each call is one task on one training chunk
//   search.best_params_;  search.metadata_;  search.cv_results_["bracket"];
//
// For max_iter R and aggressiveness eta: s_max = floor(log(R) / log(eta))
// (computed in floating point, as dask-ml does: R = 243, eta = 3 gives 4),
// and bracket s in s_max..0 starts n = ceil((s_max + 1) / (s + 1) * eta^s)
// models with r = int(R * eta^-s) calls each; after each round the best
// 1/eta of the models go on for eta times as many calls. Bracket s seeds its
// candidates, validation split and chunk order with
// RandomState(random_state).randint(2**31) + s (bracket 0: random_state).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "dtask/ml/incremental_search.h"

namespace dtask::ml {

struct HyperbandOptions {
  /// The most partial_fit calls any one model gets (>= 1).
  std::int64_t max_iter = 81;
  /// eta: each round keeps the best 1/eta of the models (an integer >= 2).
  std::int64_t aggressiveness = 3;
  /// false: off; true: max(max_iter / aggressiveness, 1); an integer n >= 2:
  /// a model stops once its score has not risen by more than tol over its
  /// last n calls (dask-ml warns below max_iter / aggressiveness).
  std::variant<bool, std::int64_t> patience = false;
  double tol = 1e-3;
  /// As IncrementalSearchOptions: 0 is dask-ml's None, min(0.2, 1 / chunks).
  double test_size = 0;
  /// < 0: dask-ml's None (a fresh seed per fit). At most 2**32 - 1.
  std::int64_t random_state = -1;
  std::string scoring;  ///< "", "accuracy", "r2", "neg_mean_squared_error"
  bool verbose = false;
  std::int64_t max_in_flight = 0;  ///< partial_fit tasks in flight over all brackets (0: two per worker thread)
};

/// A bracket's SuccessiveHalvingSearchCV parameters (dask-ml's
/// "SuccessiveHalvingSearchCV params").
struct SuccessiveHalvingParams {
  std::int64_t n_initial_parameters = 0;
  std::int64_t n_initial_iter = 0;
  std::int64_t aggressiveness = 3;
  std::int64_t max_iter = 0;
  std::int64_t patience = 0;  ///< 0: off
  double tol = 1e-3;
  double test_size = 0;
  std::int64_t random_state = -1;  ///< -1: None
};

struct BracketMetadata {
  std::int64_t bracket = 0;
  std::int64_t n_models = 0;
  std::int64_t partial_fit_calls = 0;
  /// The partial_fit counts at which the bracket decides (sorted).
  std::vector<std::int64_t> decisions;
  SuccessiveHalvingParams params;
};

/// dask-ml's metadata / metadata_: the models and partial_fit calls in all
/// and per bracket (brackets in ascending order).
struct HyperbandMetadata {
  std::int64_t n_models = 0;
  std::int64_t partial_fit_calls = 0;
  std::vector<BracketMetadata> brackets;
};

/// One bracket as dask-ml's _get_hyperband_params gives it.
struct HyperbandBracket {
  std::int64_t bracket = 0;
  std::int64_t n_models = 0;        ///< n
  std::int64_t n_initial_iter = 0;  ///< r
};

/// The brackets for max_iter R and aggressiveness eta, highest bracket
/// first (dask-ml's order). Throws ArrayError when R < 1 or eta < 2.
std::vector<HyperbandBracket> hyperband_brackets(std::int64_t max_iter, std::int64_t aggressiveness);

/// Thread-compatible.
class HyperbandSearchCV : public BaseIncrementalSearchCV {
 public:
  HyperbandSearchCV(const Estimator& estimator, const ParamDistributions& parameters, HyperbandOptions options = {});

  /// What fit will run without patience (dask-ml's metadata: the
  /// Hyperband paper's algorithm 1, simulated). Throws ArrayError on bad options.
  HyperbandMetadata metadata() const;
  /// What the last fit ran, from the models' histories (dask-ml's
  /// metadata_): equal to metadata() unless patience stopped models early.
  HyperbandMetadata metadata_;

  const HyperbandOptions& options() const { return options_; }

 private:
  void run(Client& client, const SGDEstimator& estimator, const Array& X, const Array& y,
           const std::vector<double>& classes) override;
  std::string name() const override { return "HyperbandSearchCV"; }
  /// Each bracket's SuccessiveHalvingSearchCV parameters (random_state from `seed_start`).
  SuccessiveHalvingParams bracket_params(const HyperbandBracket& b, std::int64_t seed_start, std::int64_t patience) const;
  std::int64_t resolved_patience() const;
  ParamDistributions parameters_;
  HyperbandOptions options_;
};

}  // namespace dtask::ml
