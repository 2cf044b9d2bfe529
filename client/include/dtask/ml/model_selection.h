// Model selection on the cluster, shaped like scikit-learn's
// sklearn.model_selection: splitters that give scikit-learn's folds index
// for index (seeded shuffles included), GridSearchCV, RandomizedSearchCV,
// cross_validate and cross_val_score; and dask-ml's blockwise
// train_test_split for chunked data.
//
//   dtask::ml::GridSearchCV search(dtask::ml::SVC({.gamma = "auto"}),
//                                  {{"C", {0.001, 0.1, 1.0, 2.5, 10.0}}}, {.cv = 5});
//   search.fit(client, X, y);
//   search.best_params_;            // {"C": 2.5}
//   search.cv_results_.to_csv("cv_results.csv");   // pandas.read_csv reads it
//
// The data goes to the workers once (one copy per worker); every candidate
// x fold is one task that fits and scores in memory on the worker holding
// the copy, with the estimator's own numerics (ml_core/), and results come
// back as they finish. Pipelines fit each distinct prefix once per fold.
// With `.checkpoint = path` finished fits are appended to a file, and a
// rerun of the same search skips them.
//
// Data larger than one worker's memory stays chunked instead: each
// candidate then runs the distributed estimator on its fold
// (SearchExecution::kDistributed), several candidates at once.
//
// Splitting chunked data for validation without moving it, as dask-ml's
// train_test_split: each row chunk is split on its own (ceil(test_size x
// rows) test rows, at least one row left for training), the rows picked by a
// (random_state, chunk) stream, so X and y split alike and the split does
// not depend on the workers.
//
//   auto split = dtask::ml::train_test_split(X, y, {.test_size = 0.2, .random_state = 0});
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dtask/array.h"
#include "dtask/ml/estimator.h"
#include "dtask/ml/params.h"
#include "dtask/ml/core/parameter_space.h"
#include "dtask/ml/core/splitters.h"

namespace dtask::ml {

struct TrainTestSplitOptions {
  double test_size = 0.25;  // the share of each chunk's rows in the test set, in (0, 1)
  std::int64_t random_state = 0;
  bool shuffle = true;  // false: the last rows of each chunk are the test set
};

struct TrainTestSplit {
  Array X_train, X_test, y_train, y_test;
};

/// Splits X [n, ...] and y [n] (rechunked to X's chunks if they differ)
/// into train and test parts; lazy. Throws ArrayError on mismatched rows or
/// a test_size outside (0, 1).
TrainTestSplit train_test_split(const Array& X, const Array& y, const TrainTestSplitOptions& options = {});

// ---- splitters ---------------------------------------------------------------

/// scikit-learn's splitters (options as theirs; random_state a 32-bit seed,
/// unset: a fresh random seed). Folds equal scikit-learn 1.2's index for index.
using KFold = ml_core::KFoldOptions;
using StratifiedKFold = ml_core::StratifiedKFoldOptions;
using ShuffleSplit = ml_core::ShuffleSplitOptions;
using StratifiedShuffleSplit = ml_core::StratifiedShuffleSplitOptions;
using Split = ml_core::Split;
/// An int n means StratifiedKFold(n) for classifiers and KFold(n) otherwise, as scikit-learn's cv=n.
using CvSplitter = std::variant<int, KFold, StratifiedKFold, ShuffleSplit, StratifiedShuffleSplit>;

/// The (train, test) row indices of `cv` on n rows with labels y (needed by
/// the stratified splitters; may be empty otherwise). Throws ArrayError
/// with scikit-learn's message on bad settings (more folds than rows, a
/// class with fewer members than folds...); scikit-learn's warnings go to
/// stderr.
std::vector<Split> split(const CvSplitter& cv, std::int64_t n_samples, const std::vector<double>& y = {},
                         bool classifier = false);

// ---- parameter spaces ------------------------------------------------------------

/// A grid: parameter name -> the values to try (keys sorted, last key fastest).
using ParamGrid = ml_core::ParamGrid;
using ml_core::LogUniform;
using ml_core::RandInt;
using ml_core::Uniform;
/// A distribution to sample (scipy.stats' uniform, loguniform, randint) or a list to choose from.
using Distribution = ml_core::Distribution;
using ParamDistributions = ml_core::ParamDistributions;

/// Every candidate of the grids, in scikit-learn's order.
std::vector<Params> parameter_grid(const std::vector<ParamGrid>& grids);
/// n_iter candidates drawn as scikit-learn's ParameterSampler(random_state) draws them.
std::vector<Params> parameter_sampler(const std::vector<ParamDistributions>& distributions, std::int64_t n_iter,
                                      std::uint32_t random_state);

// ---- searches ----------------------------------------------------------------------

/// cv_results_, with scikit-learn's keys: "params", "param_<name>",
/// "split<i>_test_<metric>", "mean_test_<metric>", "std_test_<metric>",
/// "rank_test_<metric>", train scores when asked, "mean_fit_time",
/// "std_fit_time", "mean_score_time", "std_score_time" (metric "score" for
/// a single scorer).
struct CvResults {
  std::vector<Params> params;
  std::vector<std::string> param_names;                     // sorted
  std::vector<std::string> columns;                         // the numeric columns, in scikit-learn's order
  std::map<std::string, std::vector<double>> values;        // column -> one value per candidate
  std::size_t size() const { return params.size(); }
  const std::vector<double>& operator[](const std::string& column) const;
  /// A parameter of every candidate (unset where a candidate lacks it).
  std::vector<std::optional<ParamValue>> param(const std::string& name) const;
  /// pandas.read_csv reads it; params as Python dict reprs.
  void to_csv(const std::string& path) const;
  /// A list of records pandas.read_json(path) reads; NaN as null.
  void to_json(const std::string& path) const;
  /// The same JSON as a string.
  std::string json() const;
};

/// What one finished fit did, for SearchOptions::on_fit (and verbose lines).
struct FitReport {
  std::size_t candidate = 0, split = 0;
  const Params* params = nullptr;
  std::vector<double> test_scores;  // one per scorer
  double fit_seconds = 0, score_seconds = 0;
  std::string error;                // empty unless the fit failed
  bool from_checkpoint = false;
  std::size_t done = 0, total = 0;
};

/// Where a search's fits run.
enum class SearchExecution {
  /// kInMemory when X, its copy per worker and the folds of the fits in
  /// flight fit in 60% of the smallest worker's memory limit; else kDistributed.
  kAuto,
  /// X gathered onto every worker once; each fit is one task there, in memory.
  kInMemory,
  /// X stays chunked: each candidate runs the distributed estimator on its
  /// fold's chunks (GLMs and pipelines of them; scorers on predict), n_jobs
  /// candidates at once. For data larger than one worker.
  kDistributed,
};

struct SearchOptions {
  CvSplitter cv = 5;
  /// Scorer names (scikit-learn's: accuracy, balanced_accuracy, f1,
  /// precision, recall, roc_auc, neg_log_loss, r2, neg_mean_squared_error,
  /// neg_mean_absolute_error; or "op:NAME" for a registered op NAME(y_true,
  /// y_pred) -> float). Empty: the estimator's score. The first one chooses
  /// the best candidate.
  std::vector<std::string> scoring;
  /// Refit the best candidate on all of X, y (best_estimator_).
  bool refit = true;
  /// The score a failing fit records, or "raise" to stop the search on the
  /// first failure (scikit-learn's error_score).
  std::variant<double, std::string> error_score = std::nan("");
  bool return_train_score = false;
  /// 0: a progress bar (fits done / total, ETA) on stderr; 1: one line per
  /// finished fit, as scikit-learn's verbose=2 ("[CV] END .....C=0.1; total
  /// time=   0.2s"); 2: with the split and scores, as its verbose=3
  /// ("[CV 1/5] END ...C=0.1;, score=0.900 total time=   0.2s").
  int verbose = 0;
  /// When set, each finished (candidate, split) result is appended to this
  /// file, and a rerun of the same search skips what it holds. A file from
  /// a different search (estimator, candidates, data or folds) is refused.
  std::string checkpoint;
  /// Fits in flight per worker thread (more hides the scheduler round trip).
  int tasks_per_thread = 2;
  SearchExecution execution = SearchExecution::kAuto;
  /// kDistributed: candidates fitted at once (0: two per worker).
  int n_jobs = 0;
  /// Called after every finished fit, from the fitting thread.
  std::function<void(const FitReport&)> on_fit;
};

/// The search both GridSearchCV and RandomizedSearchCV run over their candidates.
class BaseSearchCV {
 public:
  /// Fits every candidate on every split, then (refit) the best on all of
  /// X [n, d] and y [n]. Throws ArrayError on bad input found before
  /// anything runs (an unknown parameter or a value of the wrong type, no
  /// candidates, more folds than rows), and TaskError when every fit fails
  /// (naming the first failure) or error_score is "raise" and one fails.
  BaseSearchCV& fit(Client& client, const Array& X, const Array& y);
  /// best_estimator_'s predictions and score (needs refit).
  Array predict(const Array& X) const;
  double score(Client& client, const Array& X, const Array& y) const;

  const std::vector<Params>& candidates() const { return candidates_; }

  // Results, named as scikit-learn's.
  CvResults cv_results_;
  Params best_params_;
  double best_score_ = std::nan("");
  std::int64_t best_index_ = -1;
  std::unique_ptr<Estimator> best_estimator_;  // refit on all data; null without refit
  double refit_time_ = 0;
  std::int64_t n_splits_ = 0;
  std::vector<std::string> scorers_;  // the scorer names used ("score" when scoring was empty)
  /// Fits run in this call (those read back from a checkpoint not included).
  std::int64_t n_fits_run_ = 0;
  /// Where they ran (kAuto resolved).
  SearchExecution execution_ = SearchExecution::kAuto;

  BaseSearchCV(BaseSearchCV&&) = default;
  BaseSearchCV& operator=(BaseSearchCV&&) = default;
  virtual ~BaseSearchCV() = default;

 protected:
  BaseSearchCV(const Estimator& estimator, SearchOptions options);
  std::unique_ptr<Estimator> estimator_;
  SearchOptions options_;
  std::vector<Params> candidates_;
};

/// Every combination of the grid's values, as sklearn.model_selection.GridSearchCV.
class GridSearchCV : public BaseSearchCV {
 public:
  GridSearchCV(const Estimator& estimator, const ParamGrid& grid, SearchOptions options = {});
  /// Several grids, searched one after the other (scikit-learn's list of dicts).
  static GridSearchCV from_grids(const Estimator& estimator, const std::vector<ParamGrid>& grids,
                                 SearchOptions options = {});

 private:
  GridSearchCV(const Estimator& estimator, SearchOptions options) : BaseSearchCV(estimator, std::move(options)) {}
};

/// n_iter candidates drawn from the distributions (scikit-learn's draws for
/// the same random_state), as sklearn.model_selection.RandomizedSearchCV.
class RandomizedSearchCV : public BaseSearchCV {
 public:
  RandomizedSearchCV(const Estimator& estimator, const ParamDistributions& distributions, std::int64_t n_iter = 10,
                     std::uint32_t random_state = 0, SearchOptions options = {});
  /// Several dictionaries of distributions (scikit-learn's list of dicts: each draw picks one).
  static RandomizedSearchCV from_distributions(const Estimator& estimator,
                                               const std::vector<ParamDistributions>& distributions,
                                               std::int64_t n_iter = 10, std::uint32_t random_state = 0,
                                               SearchOptions options = {});

 private:
  RandomizedSearchCV(const Estimator& estimator, SearchOptions options) : BaseSearchCV(estimator, std::move(options)) {}
};

/// scikit-learn's cross_validate: "test_<metric>" (and "train_<metric>"),
/// "fit_time", "score_time", one value per split ("test_score" for a single
/// scorer). Uses SearchOptions' cv, scoring, error_score, return_train_score,
/// verbose and checkpoint.
std::map<std::string, std::vector<double>> cross_validate(Client& client, const Estimator& estimator, const Array& X,
                                                          const Array& y, const SearchOptions& options = {});
/// The test scores of the first scorer, one per split.
std::vector<double> cross_val_score(Client& client, const Estimator& estimator, const Array& X, const Array& y,
                                    const SearchOptions& options = {});


}  // namespace dtask::ml
