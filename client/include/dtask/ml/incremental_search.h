// Adaptive hyperparameter search for estimators with partial_fit, as
// dask-ml's IncrementalSearchCV: many candidates start training on a few
// chunks, each is scored on a held-out validation set after every round,
// and only the best keep training; the number of models left decays as
// n_initial_parameters / (1 + partial_fit calls) ** decay_rate.
//
//   dtask::ml::IncrementalSearchCV search(dtask::ml::SGDClassifier({.random_state = 0}),
//                                         {{"alpha", dtask::ml::LogUniform{1e-5, 1e-1}}},
//                                         {.n_initial_parameters = 20, .max_iter = 30, .random_state = 0});
//   search.fit(client, X, y);        // X, y: chunked Arrays; the classes are found in one pass over y
//   search.best_params_;             // {"alpha": 0.0003...}
//   search.cv_results_["test_score"];
//
// One "partial_fit call" is one sgd_partial_fit task on one training chunk
// (the model travels, the chunk stays where it is); call j of every model
// trains on the same chunk, in the order of dask-ml's RandomState(random_state)
// shuffles of the chunk indices. The validation set (dask-ml's
// train_test_split of every chunk, test_size) is gathered onto one worker
// once; each score is a small graph there (predict, compare, reduce) and
// only the score comes back. Many models train at once: each model's next
// calls are submitted as soon as its previous ones are, up to max_in_flight
// partial_fit tasks on the cluster, and a round waits only for the models
// of its own search.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dtask/array.h"
#include "dtask/ml/model_selection.h"
#include "dtask/ml/params.h"
#include "dtask/ml/sgd.h"

namespace dtask::ml {

/// One score of one model: an entry of dask-ml's history_.
struct HistoryEntry {
  std::string model_id;
  Params params;
  std::int64_t partial_fit_calls = 0;  ///< calls the model had when it was scored
  double score = std::nan("");
  std::int64_t bracket = -1;           ///< HyperbandSearchCV's bracket; -1 elsewhere
  double elapsed_wall_time = 0;        ///< seconds from the start of fit to this score's arrival
};

/// dask-ml's cv_results_ of an adaptive search: one row per model (every
/// model, whether or not it reached max_iter), with columns "test_score"
/// (its last score), "rank_test_score" (rankdata(-test_score, "min")),
/// "partial_fit_calls" and, for HyperbandSearchCV, "bracket"; plus
/// model_id, params and param_<name>. The partial_fit and score times
/// dask-ml measures inside its tasks are not recorded.
struct IncrementalCvResults {
  std::vector<std::string> model_id;
  std::vector<Params> params;
  std::vector<std::string> param_names;               // sorted
  std::map<std::string, std::vector<double>> values;  // column -> one value per model
  std::size_t size() const { return model_id.size(); }
  /// A numeric column; throws ArrayError naming a missing one.
  const std::vector<double>& operator[](const std::string& column) const;
  /// A parameter of every model (unset where a model lacks it).
  std::vector<std::optional<ParamValue>> param(const std::string& name) const;
  /// A list of records (model_id, params, param_<name>, the numeric
  /// columns) that pandas.read_json reads; NaN as null.
  std::string json() const;
};

/// IncrementalSearchCV's parameters: dask-ml's names and defaults.
struct IncrementalSearchOptions {
  /// Candidates drawn from the distributions (scikit-learn's
  /// ParameterSampler). 0 is dask-ml's "grid": every candidate of the
  /// distributions as a grid (lists only).
  std::int64_t n_initial_parameters = 10;
  /// Models left after t partial_fit calls: int(n_initial_parameters / (1 + t) ** decay_rate).
  double decay_rate = 1.0;
  /// 0 is dask-ml's patience=False. Else (>= 2): a model stops once its
  /// score has not risen by more than tol over its last `patience` calls.
  std::int64_t patience = 0;
  double tol = 1e-3;
  /// With patience: the most partial_fit calls between two scores.
  std::int64_t fits_per_score = 1;
  /// The most partial_fit calls any one model gets (>= 1).
  std::int64_t max_iter = 100;
  /// The share of every chunk held out for validation, in (0, 1); 0 is
  /// dask-ml's None: min(0.2, 1 / X's number of chunks).
  double test_size = 0;
  /// Seeds the candidates, the validation split and the chunk order; < 0:
  /// a fresh random seed per fit (dask-ml's None). At most 2**32 - 1.
  std::int64_t random_state = -1;
  /// "": the estimator's score (accuracy for classifiers, R² for
  /// regressors); or "accuracy", "r2", "neg_mean_squared_error".
  std::string scoring;
  /// A line on stderr when the models are created and after every round.
  bool verbose = false;
  /// partial_fit tasks submitted and not finished, over all models (0:
  /// two per worker thread). The order of results never depends on it.
  std::int64_t max_in_flight = 0;
};

/// What IncrementalSearchCV and HyperbandSearchCV share: fit on chunked
/// data, the best model's predictions, and dask-ml's fitted attributes.
/// Thread-compatible.
class BaseIncrementalSearchCV {
 public:
  BaseIncrementalSearchCV(BaseIncrementalSearchCV&&) = default;
  BaseIncrementalSearchCV& operator=(BaseIncrementalSearchCV&&) = default;
  virtual ~BaseIncrementalSearchCV() = default;

  /// Runs the search on X [n, d] and y [n] (chunk i of X with chunk i of
  /// y). A classifier's classes are found in one pass over y first. Throws
  /// ArrayError on bad input found before any model trains (an estimator
  /// without partial_fit, bad options, an unknown parameter, bad shapes)
  /// and TaskError when a partial_fit or score task fails (its op, key and
  /// message); the search's other tasks are then cancelled.
  BaseIncrementalSearchCV& fit(Client& client, const Array& X, const Array& y);
  /// The same with the classes given (a classifier's partial_fit needs all of them on its first call).
  BaseIncrementalSearchCV& fit(Client& client, const Array& X, const Array& y, const std::vector<double>& classes);
  /// best_estimator_'s predictions (lazy) and score.
  Array predict(const Array& X) const;
  double score(Client& client, const Array& X, const Array& y) const;

  // Results, named as dask-ml's.
  IncrementalCvResults cv_results_;
  Params best_params_;
  double best_score_ = std::nan("");
  std::int64_t best_index_ = -1;                  ///< best_estimator_'s row of cv_results_
  std::unique_ptr<SGDEstimator> best_estimator_;  ///< the best model as trained (not refit)
  std::vector<HistoryEntry> history_;             ///< every score, in the order they arrived
  std::map<std::string, std::vector<HistoryEntry>> model_history_;  ///< history_ by model_id
  std::int64_t n_splits_ = 1;
  /// sgd_partial_fit tasks this fit submitted (each one partial_fit call).
  std::int64_t n_partial_fit_calls_ = 0;

 protected:
  explicit BaseIncrementalSearchCV(const Estimator& estimator);
  /// The search itself, on checked X and y; fills the results.
  virtual void run(Client& client, const SGDEstimator& estimator, const Array& X, const Array& y,
                   const std::vector<double>& classes) = 0;
  /// "IncrementalSearchCV" or "HyperbandSearchCV", for messages.
  virtual std::string name() const = 0;
  std::unique_ptr<Estimator> estimator_;
};

/// dask-ml's IncrementalSearchCV (inverse decay of the models kept, optional patience).
class IncrementalSearchCV : public BaseIncrementalSearchCV {
 public:
  IncrementalSearchCV(const Estimator& estimator, const ParamDistributions& parameters,
                      IncrementalSearchOptions options = {});
  const IncrementalSearchOptions& options() const { return options_; }

 private:
  void run(Client& client, const SGDEstimator& estimator, const Array& X, const Array& y,
           const std::vector<double>& classes) override;
  std::string name() const override { return "IncrementalSearchCV"; }
  ParamDistributions parameters_;
  IncrementalSearchOptions options_;
};

}  // namespace dtask::ml
