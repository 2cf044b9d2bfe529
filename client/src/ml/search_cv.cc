// GridSearchCV, RandomizedSearchCV, cross_validate and the public splitter
// and parameter-space functions: the candidates, then the engine
// (search.cc), then scikit-learn's cv_results_ and best_* from its results.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "client/src/array_internal.h"
#include "client/src/ml/search_internal.h"
#include "dtask/client.h"
#include "dtask/ml/model_selection.h"

namespace dtask::ml {

using array_internal::fail;
using internal::FitResult;
using internal::SearchRun;

namespace {

template <typename T>
T or_fail(Result<T> result) {
  if (!result.ok()) fail(result.status().message());
  return std::move(result).value();
}

ml_core::SplitResult split_with(const CvSplitter& cv, std::int64_t n, const std::vector<double>& y, bool classifier) {
  if (const int* folds = std::get_if<int>(&cv)) {
    if (classifier) return or_fail(ml_core::stratified_kfold_split({.n_splits = *folds}, y));
    return or_fail(ml_core::kfold_split({.n_splits = *folds}, n));
  }
  if (const auto* o = std::get_if<KFold>(&cv)) return or_fail(ml_core::kfold_split(*o, n));
  if (const auto* o = std::get_if<StratifiedKFold>(&cv)) return or_fail(ml_core::stratified_kfold_split(*o, y));
  if (const auto* o = std::get_if<ShuffleSplit>(&cv)) return or_fail(ml_core::shuffle_split(*o, n));
  return or_fail(ml_core::stratified_shuffle_split(std::get<StratifiedShuffleSplit>(cv), y));
}

double mean_of(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return total / static_cast<double>(v.size());
}

/// np.std: population standard deviation.
double std_of(const std::vector<double>& v) {
  double m = mean_of(v), total = 0;
  for (double x : v) total += (x - m) * (x - m);
  return std::sqrt(total / static_cast<double>(v.size()));
}

/// scipy's rankdata(-means, method="min"), NaN tied with the worst (scikit-learn 1.2's _store).
std::vector<double> ranks_of(const std::vector<double>& means) {
  double lowest = INFINITY;
  bool any = false;
  for (double m : means) {
    if (!std::isnan(m)) {
      lowest = std::min(lowest, m);
      any = true;
    }
  }
  std::vector<double> ranks(means.size(), 1.0);
  if (!any) return ranks;
  std::vector<double> filled = means;
  for (double& m : filled) {
    if (std::isnan(m)) m = lowest - 1;
  }
  for (std::size_t i = 0; i < filled.size(); ++i) {
    double better = 0;
    for (double other : filled) better += other > filled[i] ? 1.0 : 0.0;
    ranks[i] = better + 1;
  }
  return ranks;
}

/// The columns scikit-learn's _store writes for one key ("test_score", "fit_time", ...).
void store(CvResults& out, const std::string& key, const std::vector<std::vector<double>>& per_candidate,
           bool splits, bool rank) {
  const std::size_t n_splits = per_candidate.empty() ? 0 : per_candidate.front().size();
  auto add = [&](const std::string& column, std::vector<double> values) {
    out.columns.push_back(column);
    out.values[column] = std::move(values);
  };
  if (splits) {
    for (std::size_t s = 0; s < n_splits; ++s) {
      std::vector<double> column;
      for (const auto& c : per_candidate) column.push_back(c[s]);
      add("split" + std::to_string(s) + "_" + key, column);
    }
  }
  std::vector<double> means, stds;
  for (const auto& c : per_candidate) {
    means.push_back(mean_of(c));
    stds.push_back(std_of(c));
  }
  add("mean_" + key, means);
  add("std_" + key, stds);
  if (rank) add("rank_" + key, ranks_of(means));
}

CvResults format_results(const SearchRun& run, const std::vector<Params>& candidates, bool train_scores) {
  CvResults out;
  out.params = candidates;
  for (const Params& p : candidates) {
    for (const auto& [name, unused] : p) {
      if (std::find(out.param_names.begin(), out.param_names.end(), name) == out.param_names.end()) {
        out.param_names.push_back(name);
      }
    }
  }
  std::sort(out.param_names.begin(), out.param_names.end());
  auto collect = [&](auto field) {
    std::vector<std::vector<double>> table;
    for (const auto& c : run.results) {
      std::vector<double> row;
      for (const FitResult& r : c) row.push_back(field(r));
      table.push_back(row);
    }
    return table;
  };
  store(out, "fit_time", collect([](const FitResult& r) { return r.fit_time; }), false, false);
  store(out, "score_time", collect([](const FitResult& r) { return r.score_time; }), false, false);
  const bool single = run.scorers.size() == 1;
  for (std::size_t i = 0; i < run.scorers.size(); ++i) {
    const std::string metric = single ? "score" : run.scorers[i];
    store(out, "test_" + metric, collect([i](const FitResult& r) { return r.test[i]; }), true, true);
    if (train_scores) store(out, "train_" + metric, collect([i](const FitResult& r) { return r.train[i]; }), true, false);
  }
  return out;
}

}  // namespace

std::vector<Split> split(const CvSplitter& cv, std::int64_t n_samples, const std::vector<double>& y, bool classifier) {
  ml_core::SplitResult result = split_with(cv, n_samples, y, classifier);
  for (const std::string& warning : result.warnings) std::fprintf(stderr, "UserWarning: %s\n", warning.c_str());
  return std::move(result.splits);
}

std::vector<Params> parameter_grid(const std::vector<ParamGrid>& grids) {
  return or_fail(ml_core::ParameterGrid::make(grids)).all();
}

std::vector<Params> parameter_sampler(const std::vector<ParamDistributions>& distributions, std::int64_t n_iter,
                                      std::uint32_t random_state) {
  std::vector<std::string> warnings;
  std::vector<Params> out = or_fail(ml_core::sample_parameters(distributions, n_iter, random_state, &warnings));
  for (const std::string& warning : warnings) std::fprintf(stderr, "UserWarning: %s\n", warning.c_str());
  return out;
}

BaseSearchCV::BaseSearchCV(const Estimator& estimator, SearchOptions options)
    : estimator_(estimator.clone_estimator()), options_(std::move(options)) {}

BaseSearchCV& BaseSearchCV::fit(Client& client, const Array& X, const Array& y) {
  SearchRun run = internal::run_search(client, *estimator_, candidates_, X, y, options_);
  n_splits_ = run.n_splits;
  n_fits_run_ = run.fits_run;
  scorers_ = run.scorers;
  cv_results_ = format_results(run, candidates_, options_.return_train_score);
  const std::string metric = run.scorers.size() == 1 ? "score" : run.scorers.front();
  const std::vector<double>& ranks = cv_results_["rank_test_" + metric];
  best_index_ = std::min_element(ranks.begin(), ranks.end()) - ranks.begin();  // the first of ties
  best_score_ = cv_results_["mean_test_" + metric][static_cast<std::size_t>(best_index_)];
  best_params_ = candidates_[static_cast<std::size_t>(best_index_)];
  best_estimator_.reset();
  if (options_.refit) {
    auto start = std::chrono::steady_clock::now();
    best_estimator_ = estimator_->clone_estimator();
    best_estimator_->set_params(best_params_);
    best_estimator_->fit(client, X, y);
    refit_time_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return *this;
}

Array BaseSearchCV::predict(const Array& X) const {
  if (!best_estimator_) fail("the search has no best_estimator_: fit it first, with refit = true");
  return best_estimator_->predict(X);
}

double BaseSearchCV::score(Client& client, const Array& X, const Array& y) const {
  if (!best_estimator_) fail("the search has no best_estimator_: fit it first, with refit = true");
  return best_estimator_->score(client, X, y);
}

GridSearchCV::GridSearchCV(const Estimator& estimator, const ParamGrid& grid, SearchOptions options)
    : BaseSearchCV(estimator, std::move(options)) {
  candidates_ = parameter_grid({grid});
}

GridSearchCV GridSearchCV::from_grids(const Estimator& estimator, const std::vector<ParamGrid>& grids,
                                      SearchOptions options) {
  GridSearchCV search(estimator, std::move(options));
  search.candidates_ = parameter_grid(grids);
  return search;
}

RandomizedSearchCV::RandomizedSearchCV(const Estimator& estimator, const ParamDistributions& distributions,
                                       std::int64_t n_iter, std::uint32_t random_state, SearchOptions options)
    : BaseSearchCV(estimator, std::move(options)) {
  candidates_ = parameter_sampler({distributions}, n_iter, random_state);
}

RandomizedSearchCV RandomizedSearchCV::from_distributions(const Estimator& estimator,
                                                          const std::vector<ParamDistributions>& distributions,
                                                          std::int64_t n_iter, std::uint32_t random_state,
                                                          SearchOptions options) {
  RandomizedSearchCV search(estimator, std::move(options));
  search.candidates_ = parameter_sampler(distributions, n_iter, random_state);
  return search;
}

std::map<std::string, std::vector<double>> cross_validate(Client& client, const Estimator& estimator, const Array& X,
                                                          const Array& y, const SearchOptions& options) {
  SearchRun run = internal::run_search(client, estimator, {Params{}}, X, y, options);
  std::map<std::string, std::vector<double>> out;
  const bool single = run.scorers.size() == 1;
  for (const FitResult& r : run.results.front()) {
    out["fit_time"].push_back(r.fit_time);
    out["score_time"].push_back(r.score_time);
    for (std::size_t i = 0; i < run.scorers.size(); ++i) {
      const std::string metric = single ? "score" : run.scorers[i];
      out["test_" + metric].push_back(r.test[i]);
      if (options.return_train_score) out["train_" + metric].push_back(r.train[i]);
    }
  }
  return out;
}

std::vector<double> cross_val_score(Client& client, const Estimator& estimator, const Array& X, const Array& y,
                                    const SearchOptions& options) {
  auto results = cross_validate(client, estimator, X, y, options);
  const std::string metric = options.scoring.size() > 1 ? options.scoring.front() : "score";
  return results.at("test_" + metric);
}

}  // namespace dtask::ml
