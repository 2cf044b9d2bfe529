// HyperbandSearchCV and IncrementalSearchCV on a LocalCluster (an
// in-process scheduler and 2 workers over loopback TCP): the bracket
// arithmetic against dask-ml's definitions (and dask-ml itself when
// /usr/bin/python3 can import it), a real search making exactly the
// partial_fit calls its metadata predicts, the same search twice, the
// inverse decay and patience rules, the scores computed on the cluster, and
// bad input.
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/hyperband.h>
#include <dtask/ml/incremental_search.h>
#include <dtask/ml/linear_model.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/sgd.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/local_cluster_suite.h"
#include "tests/support/python_oracle.h"

namespace dtask::ml {
namespace {

using Json = nlohmann::json;

/// Hyperband's brackets, written out from the paper and dask-ml's
/// _get_hyperband_params / _hyperband_paper_alg: s_max = floor(log(R) /
/// log(eta)) in doubles (as Python's math.log(R, eta)); bracket s starts
/// ceil((s_max + 1) / (s + 1) * eta^s) models with int(R eta^-s) calls; round
/// i trains floor(n eta^-i) of them to r eta^i calls.
struct ExpectedBracket {
  std::int64_t bracket, n, r, calls;
  std::set<std::int64_t> decisions;
};

std::vector<ExpectedBracket> expected_brackets(std::int64_t R, std::int64_t eta) {
  const double e = static_cast<double>(eta);
  const auto s_max = static_cast<std::int64_t>(std::floor(std::log(static_cast<double>(R)) / std::log(e)));
  std::vector<ExpectedBracket> out;
  for (std::int64_t s = s_max; s >= 0; --s) {
    ExpectedBracket b;
    b.bracket = s;
    b.n = static_cast<std::int64_t>(std::ceil(static_cast<double>(s_max + 1) / static_cast<double>(s + 1) * std::pow(e, s)));
    b.r = static_cast<std::int64_t>(static_cast<double>(R) * std::pow(e, -static_cast<double>(s)));
    // Models still training in round i: floor(n / eta^i); each round's survivors are a subset of the last's.
    std::int64_t calls = 0;
    for (std::int64_t i = 0; i <= s; ++i) {
      const auto trained = static_cast<std::int64_t>(std::floor(static_cast<double>(b.n) * std::pow(e, -static_cast<double>(i))));
      const auto next = i == s ? 0 : static_cast<std::int64_t>(std::floor(static_cast<double>(trained) / e));
      const auto r_i = static_cast<std::int64_t>(std::llround(static_cast<double>(b.r) * std::pow(e, i)));
      // (trained - next) models stop at r_i calls (all of them in the last round).
      calls += (trained - next) * r_i;
      b.decisions.insert(r_i);
    }
    b.calls = calls;
    out.push_back(b);
  }
  return out;
}

constexpr const char* kDaskMlOracle = R"PY(
import json, sys, warnings
warnings.simplefilter("ignore")
from dask_ml.model_selection import HyperbandSearchCV
from sklearn.linear_model import SGDClassifier
out = []
for R, eta in json.loads(sys.argv[1]):
    m = HyperbandSearchCV(SGDClassifier(), {"alpha": [1e-4, 1e-3]}, max_iter=R, aggressiveness=eta).metadata
    out.append({"n_models": int(m["n_models"]), "partial_fit_calls": int(m["partial_fit_calls"]),
                "brackets": [{"bracket": int(b["bracket"]), "n_models": int(b["n_models"]),
                              "partial_fit_calls": int(b["partial_fit_calls"]),
                              "decisions": [int(d) for d in b["decisions"]]} for b in m["brackets"]]})
print(json.dumps(out))
)PY";

class HyperbandTest : public testing::LocalClusterSuite {
 protected:
  void SetUp() override {
    // 10 chunks of 60 rows; test_size defaults to min(0.2, 1/10): 6 validation rows per chunk.
    auto data = datasets::make_classification(
        {.n_samples = 600, .n_features = 6, .n_informative = 3, .random_state = 3, .chunk_rows = 60});
    X_ = data.X.persist(client());
    y_ = data.y.persist(client());
  }

  static ParamDistributions space() {
    return {{"alpha", LogUniform{1e-5, 1.0}}, {"loss", std::vector<ParamValue>{"hinge", "log_loss", "modified_huber"}}};
  }

  /// The number of sgd_partial_fit tasks the scheduler holds, in any state.
  std::int64_t partial_fit_tasks_held() {
    auto info = client().scheduler_info();
    if (!info.ok()) return -1;
    Json groups = Json::parse(*info)["groups"];
    std::int64_t n = 0;
    if (groups.contains("sgd_partial_fit")) {
      for (const auto& [state, count] : groups["sgd_partial_fit"].items()) n += count.get<std::int64_t>();
    }
    return n;
  }

  /// How many models were scored at each partial_fit count.
  static std::map<std::int64_t, std::int64_t> scored_at(const std::vector<HistoryEntry>& history) {
    std::map<std::int64_t, std::int64_t> out;
    for (const HistoryEntry& h : history) ++out[h.partial_fit_calls];
    return out;
  }

  Array X_, y_;
};

// The brackets of max_iter = 81, aggressiveness = 3 (81, 34, 15, 8 and 5
// models; 143 models and 1581 calls in all), and metadata() for other
// settings, equal the formulas above; and dask-ml's metadata when it can be imported.
TEST_F(HyperbandTest, MetadataFollowsDaskMlDefinitions) {
  std::vector<HyperbandBracket> b81 = hyperband_brackets(81, 3);
  ASSERT_EQ(b81.size(), 5u);
  const std::vector<std::int64_t> n81 = {81, 34, 15, 8, 5}, r81 = {1, 3, 9, 27, 81};
  for (std::size_t i = 0; i < b81.size(); ++i) {
    EXPECT_EQ(b81[i].bracket, static_cast<std::int64_t>(4 - i));
    EXPECT_EQ(b81[i].n_models, n81[i]);
    EXPECT_EQ(b81[i].n_initial_iter, r81[i]);
  }
  HyperbandSearchCV search81(SGDClassifier(), space(), {.max_iter = 81, .aggressiveness = 3});
  EXPECT_EQ(search81.metadata().n_models, 143);
  EXPECT_EQ(search81.metadata().partial_fit_calls, 1581);
  // log(243) / log(3) is 4.999... in doubles: dask-ml runs 5 brackets, not 6.
  EXPECT_EQ(hyperband_brackets(243, 3).size(), 5u);

  const std::vector<std::pair<std::int64_t, std::int64_t>> settings = {
      {81, 3}, {1, 3}, {2, 3}, {3, 3}, {9, 3}, {27, 3}, {100, 3}, {243, 3}, {16, 2}, {64, 4}, {50, 5}};
  Json asked = Json::array();
  for (const auto& [R, eta] : settings) {
    SCOPED_TRACE("max_iter " + std::to_string(R) + ", aggressiveness " + std::to_string(eta));
    asked.push_back({R, eta});
    HyperbandMetadata meta = HyperbandSearchCV(SGDClassifier(), space(), {.max_iter = R, .aggressiveness = eta}).metadata();
    std::vector<ExpectedBracket> want = expected_brackets(R, eta);
    ASSERT_EQ(meta.brackets.size(), want.size());
    std::int64_t models = 0, calls = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const BracketMetadata& got = meta.brackets[want.size() - 1 - i];  // metadata lists brackets ascending
      EXPECT_EQ(got.bracket, want[i].bracket);
      EXPECT_EQ(got.n_models, want[i].n);
      EXPECT_EQ(got.params.n_initial_parameters, want[i].n);
      EXPECT_EQ(got.params.n_initial_iter, want[i].r);
      EXPECT_EQ(got.partial_fit_calls, want[i].calls);
      EXPECT_EQ(std::set<std::int64_t>(got.decisions.begin(), got.decisions.end()), want[i].decisions);
      models += want[i].n;
      calls += want[i].calls;
    }
    EXPECT_EQ(meta.n_models, models);
    EXPECT_EQ(meta.partial_fit_calls, calls);
  }

  if (!python_oracle::available("dask_ml")) {
    GTEST_LOG_(INFO) << "dask_ml is not importable by " << python_oracle::kPython
                     << ": checked against the formulas above only";
    return;
  }
  Json dask = python_oracle::run(kDaskMlOracle, {asked.dump()});
  for (std::size_t k = 0; k < settings.size(); ++k) {
    HyperbandMetadata meta =
        HyperbandSearchCV(SGDClassifier(), space(), {.max_iter = settings[k].first, .aggressiveness = settings[k].second})
            .metadata();
    EXPECT_EQ(meta.n_models, dask[k]["n_models"].get<std::int64_t>());
    EXPECT_EQ(meta.partial_fit_calls, dask[k]["partial_fit_calls"].get<std::int64_t>());
    ASSERT_EQ(meta.brackets.size(), dask[k]["brackets"].size());
    for (std::size_t i = 0; i < meta.brackets.size(); ++i) {
      EXPECT_EQ(meta.brackets[i].bracket, dask[k]["brackets"][i]["bracket"].get<std::int64_t>());
      EXPECT_EQ(meta.brackets[i].partial_fit_calls, dask[k]["brackets"][i]["partial_fit_calls"].get<std::int64_t>());
      EXPECT_EQ(meta.brackets[i].decisions, dask[k]["brackets"][i]["decisions"].get<std::vector<std::int64_t>>());
    }
  }
}

// A real search with max_iter = 9 makes exactly the partial_fit calls its
// metadata predicts (17 models, 69 calls), bracket by bracket, trains every
// model as successive halving says, and leaves no task behind.
TEST_F(HyperbandTest, FitMakesThePartialFitCallsItsMetadataPredicts) {
  HyperbandSearchCV search(SGDClassifier({.random_state = 0}), space(), {.max_iter = 9, .random_state = 0});
  const HyperbandMetadata before = search.metadata();
  search.fit(client(), X_, y_);
  EXPECT_EQ(search.n_partial_fit_calls_, before.partial_fit_calls);
  EXPECT_EQ(search.metadata_.partial_fit_calls, before.partial_fit_calls);
  EXPECT_EQ(search.metadata_.n_models, before.n_models);
  ASSERT_EQ(search.metadata_.brackets.size(), before.brackets.size());
  for (std::size_t i = 0; i < before.brackets.size(); ++i) {
    SCOPED_TRACE("bracket " + std::to_string(before.brackets[i].bracket));
    EXPECT_EQ(search.metadata_.brackets[i].bracket, before.brackets[i].bracket);
    EXPECT_EQ(search.metadata_.brackets[i].n_models, before.brackets[i].n_models);
    EXPECT_EQ(search.metadata_.brackets[i].partial_fit_calls, before.brackets[i].partial_fit_calls);
    EXPECT_EQ(search.metadata_.brackets[i].decisions, before.brackets[i].decisions);
  }

  // cv_results_: one row per model, brackets highest first, dask-ml's model ids.
  const IncrementalCvResults& cv = search.cv_results_;
  ASSERT_EQ(static_cast<std::int64_t>(cv.size()), before.n_models);
  EXPECT_EQ(cv.model_id.front(), "bracket=2-0");
  EXPECT_EQ(cv.model_id.back(), "bracket=0-2");
  double calls = 0;
  for (double c : cv["partial_fit_calls"]) calls += c;
  EXPECT_EQ(calls, static_cast<double>(before.partial_fit_calls));
  EXPECT_EQ(cv.param_names, (std::vector<std::string>{"alpha", "loss"}));
  for (std::size_t i = 0; i < cv.size(); ++i) {
    double better = 0;
    for (double s : cv["test_score"]) better += s > cv["test_score"][i] ? 1 : 0;
    EXPECT_EQ(cv["rank_test_score"][i], better + 1);
  }
  // Bracket 2 (9 models, 1 call): 9 scored after 1 call, 3 after 3, 1 after 9.
  std::vector<HistoryEntry> bracket2;
  for (const HistoryEntry& h : search.history_) {
    if (h.bracket == 2) bracket2.push_back(h);
  }
  EXPECT_EQ(scored_at(bracket2), (std::map<std::int64_t, std::int64_t>{{1, 9}, {3, 3}, {9, 1}}));
  std::size_t entries = 0;
  for (const auto& [id, hist] : search.model_history_) entries += hist.size();
  EXPECT_EQ(entries, search.history_.size());

  // The best model: its row, its score, and it predicts.
  ASSERT_GE(search.best_index_, 0);
  EXPECT_EQ(search.best_score_, cv["test_score"][static_cast<std::size_t>(search.best_index_)]);
  EXPECT_EQ(search.best_params_, cv.params[static_cast<std::size_t>(search.best_index_)]);
  ASSERT_TRUE(search.best_estimator_);
  EXPECT_EQ(search.best_estimator_->get_params().at("loss"), search.best_params_.at("loss"));
  EXPECT_EQ(search.predict(X_).compute(client()).size(), 600);
  EXPECT_GT(search.score(client(), X_, y_), 0.5);
  // Every partial_fit task is released once the search returns.
  EXPECT_EQ(partial_fit_tasks_held(), 0);
}

// The same random_state finds the same best model with the same scores,
// whatever the number of tasks in flight (so whatever order they finish in).
TEST_F(HyperbandTest, SameRandomStateFindsTheSameBestModel) {
  HyperbandSearchCV a(SGDClassifier({.random_state = 1}), space(), {.max_iter = 9, .random_state = 7});
  HyperbandSearchCV b(SGDClassifier({.random_state = 1}), space(),
                      {.max_iter = 9, .random_state = 7, .max_in_flight = 1});
  a.fit(client(), X_, y_);
  b.fit(client(), X_, y_);
  EXPECT_EQ(a.best_params_, b.best_params_);
  EXPECT_EQ(a.best_score_, b.best_score_);
  EXPECT_EQ(a.best_index_, b.best_index_);
  EXPECT_EQ(a.cv_results_.model_id, b.cv_results_.model_id);
  EXPECT_EQ(a.cv_results_["test_score"], b.cv_results_["test_score"]);
  EXPECT_EQ(a.cv_results_.params, b.cv_results_.params);
  ASSERT_EQ(a.model_history_.size(), b.model_history_.size());
  for (const auto& [id, hist] : a.model_history_) {
    ASSERT_EQ(hist.size(), b.model_history_.at(id).size()) << id;
    for (std::size_t i = 0; i < hist.size(); ++i) {
      EXPECT_EQ(hist[i].partial_fit_calls, b.model_history_.at(id)[i].partial_fit_calls) << id;
      EXPECT_EQ(hist[i].score, b.model_history_.at(id)[i].score) << id;
    }
  }
  EXPECT_EQ(a.best_estimator_->coef_.size(), b.best_estimator_->coef_.size());
  for (std::int64_t i = 0; i < a.best_estimator_->coef_.size(); ++i) {
    EXPECT_EQ(a.best_estimator_->coef_.data<double>()[i], b.best_estimator_->coef_.data<double>()[i]);
  }
  // Another seed draws other candidates.
  HyperbandSearchCV c(SGDClassifier({.random_state = 1}), space(), {.max_iter = 9, .random_state = 8});
  c.fit(client(), X_, y_);
  EXPECT_NE(a.cv_results_.params, c.cv_results_.params);
}

// IncrementalSearchCV keeps int(n / (1 + t) ** decay_rate) models after t
// calls (dask-ml's _adapt), one more call each round until one is left.
TEST_F(HyperbandTest, IncrementalSearchDecaysAsDefined) {
  const std::int64_t n = 12;
  const double decay = 0.5;
  IncrementalSearchCV search(SGDClassifier({.random_state = 0}), space(),
                             {.n_initial_parameters = n, .decay_rate = decay, .max_iter = 50, .random_state = 0});
  search.fit(client(), X_, y_);
  // The rule, written out: after a round at t calls, the next target is the
  // first change of inverse(t') = int(n / (1 + t') ** decay) after t + 1.
  auto inverse = [&](std::int64_t t) { return static_cast<std::int64_t>(n / std::pow(1.0 + t, decay)); };
  std::map<std::int64_t, std::int64_t> want = {{1, n}};
  std::int64_t calls = 1, models = n;
  while (true) {
    const std::int64_t current = calls + 1;
    std::int64_t next = current;
    while (inverse(next) == inverse(current)) ++next;
    models = std::min(models, std::max<std::int64_t>(1, inverse(next)));
    if (models == 1) break;
    calls += next - current;
    want[calls] = models;
  }
  EXPECT_EQ(scored_at(search.history_), want);
  std::int64_t total = 0;
  for (const auto& [id, hist] : search.model_history_) total += hist.back().partial_fit_calls;
  EXPECT_EQ(search.n_partial_fit_calls_, total);
  EXPECT_EQ(static_cast<std::int64_t>(search.cv_results_.size()), n);
  EXPECT_EQ(search.cv_results_.model_id.front(), "0");

  // The score computed on the cluster is the best model's accuracy on the
  // validation rows (dask-ml's train_test_split with the same seed and test_size).
  auto split = train_test_split(X_, y_, {.test_size = 0.1, .random_state = 0});
  EXPECT_EQ(search.best_score_, search.best_estimator_->score(client(), split.X_test, split.y_test));
}

// With patience (decay_rate 0, so no model is culled): a model stops once
// its last `patience` calls raised its score by tol or less, or at max_iter.
TEST_F(HyperbandTest, IncrementalSearchStopsOnPlateau) {
  const std::int64_t n = 4, patience = 2;
  // Any change is within tol = 1e9: every model stops at its first check, after `patience` calls.
  IncrementalSearchCV flat(SGDClassifier({.random_state = 0}), space(),
                           {.n_initial_parameters = n, .decay_rate = 0, .patience = patience, .tol = 1e9,
                            .max_iter = 6, .random_state = 0});
  flat.fit(client(), X_, y_);
  EXPECT_EQ(flat.n_partial_fit_calls_, n * patience);
  // No change is within tol = -1e9: every model trains to max_iter.
  IncrementalSearchCV rising(SGDClassifier({.random_state = 0}), space(),
                             {.n_initial_parameters = n, .decay_rate = 0, .patience = patience, .tol = -1e9,
                              .max_iter = 6, .random_state = 0});
  rising.fit(client(), X_, y_);
  EXPECT_EQ(rising.n_partial_fit_calls_, n * 6);

  // tol = 0 on real scores. A check at c calls finds a model flat when none
  // of its scores since c - patience calls beat the first of them. dask-ml's
  // rule then stops the flat models at once, and the others one round later
  // (the next decision first finishes the calls the flat ones were given, and
  // a flat model never gets them).
  const std::int64_t max_iter = 8, wait = 3;
  IncrementalSearchCV real(SGDClassifier({.random_state = 0}), space(),
                           {.n_initial_parameters = n, .decay_rate = 0, .patience = wait, .tol = 0,
                            .max_iter = max_iter, .random_state = 0});
  real.fit(client(), X_, y_);
  auto flat_at = [&](const std::vector<HistoryEntry>& hist, std::size_t k) {
    const std::int64_t calls = hist[k].partial_fit_calls;
    if (calls < wait) return false;
    std::size_t first = 0;
    while (calls - hist[first].partial_fit_calls > wait) ++first;
    for (std::size_t j = first + 1; j <= k; ++j) {
      if (hist[j].score - hist[first].score > 0) return false;
    }
    return true;
  };
  std::int64_t first_stop = max_iter;
  for (const auto& [id, hist] : real.model_history_) {
    for (std::size_t k = 0; k < hist.size(); ++k) {
      EXPECT_EQ(hist[k].partial_fit_calls, static_cast<std::int64_t>(k) + 1) << "model " << id;  // one call per round
      if (flat_at(hist, k)) first_stop = std::min(first_stop, hist[k].partial_fit_calls);
    }
  }
  for (const auto& [id, hist] : real.model_history_) {
    const bool flat = first_stop < max_iter && hist.size() >= static_cast<std::size_t>(first_stop) &&
                      flat_at(hist, static_cast<std::size_t>(first_stop - 1));
    EXPECT_EQ(hist.back().partial_fit_calls, first_stop == max_iter || flat ? first_stop : first_stop + 1)
        << "model " << id;
  }
}

// A regressor is scored by R² on the cluster, equal to its score on the validation rows.
TEST_F(HyperbandTest, RegressorIsScoredByR2) {
  auto data = datasets::make_regression({.n_samples = 400, .n_features = 5, .noise = 1.0, .random_state = 2,
                                         .chunk_rows = 50});
  Array y = (data.y / 100.0).persist(client());
  HyperbandSearchCV search(SGDRegressor({.random_state = 0}), {{"alpha", LogUniform{1e-6, 1e-1}}},
                           {.max_iter = 3, .test_size = 0.25, .random_state = 4});
  search.fit(client(), data.X, y);
  EXPECT_EQ(search.n_partial_fit_calls_, search.metadata().partial_fit_calls);
  // The best bracket's validation rows: its seed is in metadata_.
  std::int64_t seed = -1;
  for (const BracketMetadata& b : search.metadata_.brackets) {
    if (b.bracket == static_cast<std::int64_t>(search.cv_results_["bracket"][static_cast<std::size_t>(search.best_index_)])) {
      seed = b.params.random_state;
    }
  }
  ASSERT_GE(seed, 0);
  auto split = train_test_split(data.X, y, {.test_size = 0.25, .random_state = seed});
  EXPECT_NEAR(search.best_score_, search.best_estimator_->score(client(), split.X_test, split.y_test), 1e-12);
}

// Bad options and an estimator without partial_fit are refused before any model trains.
TEST_F(HyperbandTest, BadInputIsRefused) {
  auto expect_error = [](const std::function<void()>& f, const std::string& text) {
    try {
      f();
      ADD_FAILURE() << "expected an ArrayError with '" << text << "'";
    } catch (const ArrayError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error([&] { HyperbandSearchCV(SGDClassifier(), space(), {.aggressiveness = 1}).fit(client(), X_, y_); },
               "aggressiveness must be an integer >= 2");
  expect_error([&] { HyperbandSearchCV(SGDClassifier(), space(), {.aggressiveness = 0}).metadata(); },
               "aggressiveness must be an integer >= 2");
  expect_error([&] { HyperbandSearchCV(SGDClassifier(), space(), {.max_iter = 0}).fit(client(), X_, y_); },
               "Received max_iter=0. max_iter < 1 is not supported");
  expect_error([&] { hyperband_brackets(-3, 3); }, "max_iter < 1 is not supported");
  expect_error([&] { IncrementalSearchCV(SGDClassifier(), space(), {.max_iter = 0}).fit(client(), X_, y_); },
               "max_iter < 1 is not supported");
  expect_error([&] { HyperbandSearchCV(LogisticRegression(), space(), {.max_iter = 9}).fit(client(), X_, y_); },
               "the estimator LogisticRegression has no partial_fit");
  expect_error([&] { IncrementalSearchCV(LogisticRegression(), space()).fit(client(), X_, y_); },
               "has no partial_fit");
  expect_error([&] {
    HyperbandSearchCV(SGDClassifier(), space(), {.max_iter = 9, .patience = std::int64_t{1}}).fit(client(), X_, y_);
  }, "will always detect a plateau");
  expect_error([&] { IncrementalSearchCV(SGDClassifier(), space(), {.patience = 1}).fit(client(), X_, y_); },
               "will always detect a plateau");
  expect_error([&] {
    HyperbandSearchCV(SGDClassifier(), {{"alhpa", std::vector<ParamValue>{0.1}}}, {.max_iter = 3}).fit(client(), X_, y_);
  }, "alhpa");
  expect_error([&] {
    HyperbandSearchCV(SGDClassifier(), space(), {.max_iter = 3, .scoring = "roc_auc"}).fit(client(), X_, y_);
  }, "scoring 'roc_auc' is not supported");
  expect_error([&] { IncrementalSearchCV(SGDClassifier(), space(), {.test_size = 1.5}).fit(client(), X_, y_); },
               "test_size must be in (0, 1)");
  EXPECT_EQ(partial_fit_tasks_held(), 0);
}

}  // namespace
}  // namespace dtask::ml
