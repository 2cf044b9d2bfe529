// The engine behind GridSearchCV, RandomizedSearchCV and cross_validate:
// every (candidate, split) fitted and scored as one task on a worker that
// holds a copy of the data (worker/ml_ops/model_selection_ops.cc), results
// collected as they finish, checkpointed when asked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/ml/model_selection.h"

namespace dtask::ml::internal {

/// One (candidate, split): scores per scorer, times, or the error.
struct FitResult {
  std::vector<double> test, train;  // train: NaN unless return_train_score
  double fit_time = 0, score_time = 0;
  std::string error;  // empty: the fit succeeded
};

struct SearchRun {
  std::vector<std::vector<FitResult>> results;  // [candidate][split]
  std::vector<std::string> scorers;
  std::int64_t n_splits = 0;
  std::int64_t fits_run = 0;  // not read back from a checkpoint
};

/// Fits `estimator` with each candidate's parameters on every split of
/// `options.cv`. Throws ArrayError on bad input before anything runs, and
/// TaskError when every fit fails or error_score is "raise" and one does.
SearchRun run_search(Client& client, const Estimator& estimator, const std::vector<Params>& candidates,
                     const Array& X, const Array& y, const SearchOptions& options);

/// Python's str() of a value: strings without quotes (scikit-learn's verbose lines).
std::string python_str(const ParamValue& value);

}  // namespace dtask::ml::internal
