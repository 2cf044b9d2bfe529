// GridSearchCV, RandomizedSearchCV and cross_validate on a LocalCluster (an
// in-process scheduler and 2 workers over loopback TCP), against
// scikit-learn 1.2 run on the same .npy files in the same test: the same
// best_params_, best_index_, ranks and mean scores. Skips when
// /usr/bin/python3 cannot import sklearn.
#include <dtask/ml/model_selection.h>
#include <dtask/ml/pipeline.h>
#include <dtask/ml/preprocessing.h>
#include <dtask/ml/svm.h>
#include <dtask/ml/linear_model.h>
#include <gtest/gtest.h>

#include <cmath>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/formats/temp_dir.h"
#include "tests/support/daemon_process.h"
#include "tests/support/local_cluster_suite.h"
#include "tests/support/python_oracle.h"
#include "worker/op_registry.h"  // the user scorer op, registered on the in-process workers

namespace dtask::ml {
namespace {

using formats::testing::TempDir;
using Json = nlohmann::json;

// Writes make_classification data as X.npy / y.npy in argv[1]: argv[2] its kwargs as JSON.
constexpr const char* kMakeSearchData = R"PY(
import json, sys
import numpy as np
from sklearn.datasets import make_classification
out = sys.argv[1]
X, y = make_classification(**json.loads(sys.argv[2]))
np.save(out + "/X.npy", X.astype(np.float64))
np.save(out + "/y.npy", y.astype(np.float64))
print(json.dumps({"rows": int(X.shape[0])}))
)PY";

// Runs a scikit-learn search on argv[1]'s X.npy / y.npy and prints its results.
// argv[2]: {"estimator": python expression, "grid": ..., "cv": ..., "scoring": ...}.
constexpr const char* kSklearnSearch = R"PY(
import json, sys, warnings
import numpy as np
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC, LinearSVC
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
from scipy.stats import loguniform, uniform
warnings.simplefilter("ignore")
out = sys.argv[1]
spec = json.loads(sys.argv[2])
X = np.load(out + "/X.npy"); y = np.load(out + "/y.npy")
est = eval(spec["estimator"])
kind = spec.get("kind", "grid")
if kind == "cross_validate":
    r = cross_validate(est, X, y, cv=spec["cv"], scoring=spec.get("scoring"))
    print(json.dumps({"test_score": r["test_score"].tolist()}))
    sys.exit(0)
if kind == "random":
    dists = {k: eval(v) for k, v in spec["grid"].items()}
    search = RandomizedSearchCV(est, dists, n_iter=spec["n_iter"], random_state=spec["random_state"], cv=spec["cv"],
                                scoring=spec.get("scoring"))
else:
    search = GridSearchCV(est, spec["grid"], cv=spec["cv"], scoring=spec.get("scoring"))
search.fit(X, y)
r = search.cv_results_
def plain(v):
    return v.item() if hasattr(v, "item") else v
print(json.dumps({
    "best_params": {k: plain(v) for k, v in search.best_params_.items()},
    "best_index": int(search.best_index_),
    "best_score": float(search.best_score_),
    "mean_test_score": r["mean_test_score"].tolist(),
    "rank_test_score": r["rank_test_score"].tolist(),
    "params": [{k: plain(v) for k, v in p.items()} for p in r["params"]],
}))
)PY";

class GridSearchTest : public testing::LocalClusterSuite {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn, scipy")) GTEST_SKIP() << python_oracle::skip_reason("sklearn, scipy");
  }

  /// make_classification(**kwargs) written by Python, read back as chunked arrays.
  void make_data(const Json& kwargs, std::int64_t chunk_rows = 0) {
    python_oracle::run(kMakeSearchData, {dir_.path().string(), kwargs.dump()});
    X_ = Array::from_npy(dir_.file("X.npy"), chunk_rows);
    y_ = Array::from_npy(dir_.file("y.npy"), chunk_rows);
  }

  Json sklearn(const Json& spec) { return python_oracle::run(kSklearnSearch, {dir_.path().string(), spec.dump()}); }

  /// best_params_, best_index_, ranks and mean scores equal scikit-learn's.
  void expect_same_search(const BaseSearchCV& search, const Json& want, double tol) {
    ASSERT_EQ(search.candidates().size(), want["params"].size());
    for (std::size_t i = 0; i < search.candidates().size(); ++i) {
      for (const auto& [name, value] : want["params"][i].items()) {
        const ParamValue& got = search.candidates()[i].at(name);
        if (value.is_string()) {
          EXPECT_EQ(got.get<std::string>(), value.get<std::string>());
        } else {
          EXPECT_DOUBLE_EQ(got.number(), value.get<double>()) << name;
        }
      }
    }
    const auto& mean = search.cv_results_["mean_test_score"];
    const auto& rank = search.cv_results_["rank_test_score"];
    for (std::size_t i = 0; i < mean.size(); ++i) {
      EXPECT_NEAR(mean[i], want["mean_test_score"][i].get<double>(), tol)
          << "candidate " << i << ": " << describe(search.candidates()[i]);
      EXPECT_EQ(rank[i], want["rank_test_score"][i].get<double>()) << "candidate " << i;
    }
    EXPECT_EQ(search.best_index_, want["best_index"].get<std::int64_t>());
    EXPECT_NEAR(search.best_score_, want["best_score"].get<double>(), tol);
    for (const auto& [name, value] : want["best_params"].items()) {
      const ParamValue& got = search.best_params_.at(name);
      if (value.is_string()) {
        EXPECT_EQ(got.get<std::string>(), value.get<std::string>());
      } else {
        EXPECT_DOUBLE_EQ(got.number(), value.get<double>()) << name;
      }
    }
  }

  /// The number of tasks of op `op` the scheduler holds, in any state.
  std::int64_t scheduler_tasks_of(const std::string& op) {
    auto info = client().scheduler_info();
    if (!info.ok()) return -1;
    Json groups = Json::parse(*info)["groups"];
    std::int64_t n = 0;
    if (groups.contains(op)) {
      for (const auto& [state, count] : groups[op].items()) n += count.get<std::int64_t>();
    }
    return n;
  }

  /// Nothing left on the cluster: every task the searches made is forgotten.
  bool wait_until_idle() {
    return testing::wait_until([&] { return scheduler_tasks() == 0; }, std::chrono::seconds(20));
  }

  std::int64_t scheduler_tasks() {
    auto info = client().scheduler_info();
    return info.ok() ? Json::parse(*info)["tasks"].get<std::int64_t>() : -1;
  }

  TempDir dir_;
  Array X_, y_;
};

// LogisticRegression over C x penalty: scikit-learn's ranks, best candidate and mean scores (to 1e-6).
TEST_F(GridSearchTest, LogisticRegressionGridMatchesScikitLearn) {
  make_data({{"n_samples", 400}, {"n_features", 6}, {"n_informative", 3}, {"flip_y", 0.1}, {"random_state", 1}}, 128);
  ParamGrid grid = {{"C", {0.01, 0.1, 1.0, 10.0}}, {"penalty", {"l1", "l2"}}};
  GridSearchCV search(LogisticRegression({.max_iter = 5000, .tol = 1e-10}), grid, {.cv = 5});
  search.fit(client(), X_, y_);
  Json want = sklearn({{"estimator", "LogisticRegression(solver='saga', tol=1e-12, max_iter=1000000)"},
                       {"grid", {{"C", {0.01, 0.1, 1.0, 10.0}}, {"penalty", {"l1", "l2"}}}},
                       {"cv", 5}});
  expect_same_search(search, want, 1e-6);
  ASSERT_NE(search.best_estimator_, nullptr);
  EXPECT_EQ(search.best_estimator_->get_params().at("C"), search.best_params_.at("C"));
  EXPECT_EQ(search.n_fits_run_, 40);
}

// The same grid with the data left chunked (each candidate a distributed fit on its fold) gives the same results.
TEST_F(GridSearchTest, DistributedExecutionMatchesScikitLearn) {
  make_data({{"n_samples", 400}, {"n_features", 6}, {"n_informative", 3}, {"flip_y", 0.1}, {"random_state", 1}}, 128);
  ParamGrid grid = {{"C", {0.01, 1.0}}, {"penalty", {"l1", "l2"}}};
  SearchOptions options{.cv = 5, .scoring = {"accuracy", "f1"}, .return_train_score = true,
                        .execution = SearchExecution::kDistributed};
  GridSearchCV search(LogisticRegression({.max_iter = 5000, .tol = 1e-10}), grid, options);
  search.fit(client(), X_, y_);
  EXPECT_EQ(search.execution_, SearchExecution::kDistributed);
  options.execution = SearchExecution::kInMemory;
  GridSearchCV in_memory(LogisticRegression({.max_iter = 5000, .tol = 1e-10}), grid, options);
  in_memory.fit(client(), X_, y_);
  EXPECT_EQ(in_memory.execution_, SearchExecution::kInMemory);
  for (const char* column : {"mean_test_accuracy", "mean_test_f1", "mean_train_accuracy", "rank_test_accuracy"}) {
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(search.cv_results_[column][i], in_memory.cv_results_[column][i], 1e-9) << column << " " << i;
    }
  }
  Json want = sklearn({{"estimator", "LogisticRegression(solver='saga', tol=1e-12, max_iter=1000000)"},
                       {"grid", {{"C", {0.01, 1.0}}, {"penalty", {"l1", "l2"}}}},
                       {"cv", 5},
                       {"scoring", "accuracy"}});
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(search.cv_results_["mean_test_accuracy"][i], want["mean_test_score"][i].get<double>(), 1e-6);
  }
  EXPECT_EQ(search.best_index_, want["best_index"].get<std::int64_t>());
  EXPECT_TRUE(wait_until_idle());
}

// Three classes: each candidate fits multinomial logistic regression (scikit-learn's
// multi_class="auto" with lbfgs); the same ranks, best C and mean accuracies, and
// the refit model predicts the three labels.
TEST_F(GridSearchTest, MultinomialLogisticGridMatchesScikitLearn) {
  make_data({{"n_samples", 600}, {"n_features", 6}, {"n_informative", 4}, {"n_classes", 3}, {"random_state", 0}}, 128);
  GridSearchCV search(LogisticRegression({.max_iter = 10000, .tol = 1e-10}), {{"C", {0.001, 0.01, 0.1, 1.0, 10.0}}},
                      {.cv = 5});
  search.fit(client(), X_, y_);
  Json want = sklearn({{"estimator", "LogisticRegression(tol=1e-10, max_iter=10000)"},
                       {"grid", {{"C", {0.001, 0.01, 0.1, 1.0, 10.0}}}},
                       {"cv", 5}});
  expect_same_search(search, want, 1e-12);
  ASSERT_NE(search.best_estimator_, nullptr);
  EXPECT_GT(search.score(client(), X_, y_), 0.7);
}

// SVC over C x kernel: libsvm on both sides gives the same scores.
TEST_F(GridSearchTest, SvcGridMatchesScikitLearn) {
  make_data({{"n_samples", 300}, {"n_features", 5}, {"random_state", 0}});
  GridSearchCV search(SVC(), {{"C", {0.1, 1.0, 10.0}}, {"kernel", {"linear", "poly", "rbf", "sigmoid"}}}, {.cv = 5});
  search.fit(client(), X_, y_);
  Json want = sklearn({{"estimator", "SVC()"},
                       {"grid", {{"C", {0.1, 1.0, 10.0}}, {"kernel", {"linear", "poly", "rbf", "sigmoid"}}}},
                       {"cv", 5}});
  expect_same_search(search, want, 1e-12);
}

// The Dask-ML tutorial's grid: SVC(gamma="auto"), C in [0.001, 0.1, 1, 2.5, 10], cv=5, on 1000 x 4.
TEST_F(GridSearchTest, DaskMlTutorialGrid) {
  make_data({{"n_samples", 1000}, {"n_features", 4}, {"random_state", 0}}, 250);
  GridSearchCV search(SVC({.gamma = "auto"}), {{"C", {0.001, 0.1, 1.0, 2.5, 10.0}}}, {.cv = 5});
  search.fit(client(), X_, y_);
  Json want = sklearn({{"estimator", "SVC(gamma='auto')"}, {"grid", {{"C", {0.001, 0.1, 1.0, 2.5, 10.0}}}}, {"cv", 5}});
  expect_same_search(search, want, 1e-12);
  EXPECT_DOUBLE_EQ(search.best_score_, want["best_score"].get<double>());
  // The refit model predicts on the cluster like any estimator.
  EXPECT_GT(search.score(client(), X_, y_), 0.9);
}

// A 2-step pipeline over 6 candidates x 3 folds fits its first step 3 times, not 18, and scores as scikit-learn's.
TEST_F(GridSearchTest, PipelinePrefixFittedOncePerFold) {
  make_data({{"n_samples", 300}, {"n_features", 5}, {"random_state", 2}});
  std::int64_t prefix_tasks = -1, score_tasks = -1;
  SearchOptions options{.cv = 3};
  options.on_fit = [&](const FitReport& r) {
    if (r.done == r.total) {  // the search still holds every task it made
      prefix_tasks = scheduler_tasks_of("cv_fit_transform");
      score_tasks = scheduler_tasks_of("cv_fit_score_prepared");
    }
  };
  auto pipeline = make_pipeline(StandardScaler(), SVC());
  GridSearchCV search(pipeline, {{"svc__C", {0.1, 1.0, 10.0}}, {"svc__kernel", {"linear", "rbf"}}}, options);
  search.fit(client(), X_, y_);
  EXPECT_EQ(prefix_tasks, 3);
  EXPECT_GE(score_tasks, 1);
  Json want = sklearn({{"estimator", "make_pipeline(StandardScaler(), SVC())"},
                       {"grid", {{"svc__C", {0.1, 1.0, 10.0}}, {"svc__kernel", {"linear", "rbf"}}}},
                       {"cv", 3}});
  expect_same_search(search, want, 1e-9);
  EXPECT_TRUE(wait_until_idle());
}

// RandomizedSearchCV draws scikit-learn's candidates (loguniform C) and scores them as scikit-learn does.
TEST_F(GridSearchTest, RandomizedSearchMatchesScikitLearn) {
  make_data({{"n_samples", 300}, {"n_features", 5}, {"random_state", 4}});
  RandomizedSearchCV search(SVC(), {{"C", LogUniform{0.01, 100.0}}, {"kernel", std::vector<ParamValue>{"rbf", "linear"}}},
                            8, 7, {.cv = 4});
  search.fit(client(), X_, y_);
  Json want = sklearn({{"kind", "random"},
                       {"estimator", "SVC()"},
                       {"grid", {{"C", "loguniform(0.01, 100.0)"}, {"kernel", "['rbf', 'linear']"}}},
                       {"n_iter", 8},
                       {"random_state", 7},
                       {"cv", 4}});
  expect_same_search(search, want, 1e-9);
}

// cross_val_score equals scikit-learn's cross_validate test scores, split by split.
TEST_F(GridSearchTest, CrossValScoreMatchesScikitLearn) {
  make_data({{"n_samples", 250}, {"n_features", 4}, {"random_state", 5}});
  std::vector<double> scores = cross_val_score(client(), SVC({.C = 3.0}), X_, y_, {.cv = 5, .scoring = {"roc_auc"}});
  Json want = sklearn({{"kind", "cross_validate"}, {"estimator", "SVC(C=3.0)"}, {"cv", 5}, {"scoring", "roc_auc"}});
  ASSERT_EQ(scores.size(), want["test_score"].size());
  for (std::size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(scores[i], want["test_score"][i].get<double>(), 1e-12);
}

// A scorer given as "op:NAME" runs the op registered on the workers on (y_true, y_pred).
TEST(GridSearchUserScorerTest, RegisteredOpScores) {
  Client client(LocalClusterOptions{.n_workers = 1, .threads_per_worker = 1, .register_ops = [](OpRegistry& r) {
    // The share of rows predicted exactly: accuracy, written as a user would.
    (void)r.add_function("match_share", [](const NDArray& truth, const NDArray& predicted) {
      double same = 0;
      for (std::int64_t i = 0; i < truth.size(); ++i) same += truth.data<double>()[i] == predicted.data<double>()[i];
      return same / static_cast<double>(truth.size());
    });
  }});
  auto data = datasets::make_classification({.n_samples = 200, .n_features = 4, .random_state = 0});
  GridSearchCV search(SVC(), {{"C", {0.1, 1.0}}}, {.cv = 3, .scoring = {"op:match_share", "accuracy"}});
  search.fit(client, data.X, data.y);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(search.cv_results_["mean_test_op:match_share"][i], search.cv_results_["mean_test_accuracy"][i]);
  }
  GridSearchCV missing(SVC(), {{"C", {1.0}}}, {.cv = 3, .scoring = {"op:no_such_op"}});
  try {
    missing.fit(client, data.X, data.y);
    FAIL() << "a scorer op no worker has did not fail the search";
  } catch (const TaskError& e) {
    EXPECT_NE(std::string(e.what()).find("scoring op 'no_such_op' is not registered"), std::string::npos) << e.what();
  }
}

// A candidate that fails records error_score and the search goes on; "raise" stops it; all failing is an error.
TEST_F(GridSearchTest, FailingCandidates) {
  make_data({{"n_samples", 120}, {"n_features", 4}, {"random_state", 6}});
  GridSearchCV search(SVC(), {{"C", {1.0, -1.0}}}, {.cv = 3});
  search.fit(client(), X_, y_);
  EXPECT_TRUE(std::isnan(search.cv_results_["mean_test_score"][1]));
  EXPECT_FALSE(std::isnan(search.cv_results_["mean_test_score"][0]));
  EXPECT_EQ(search.best_index_, 0);
  EXPECT_EQ(search.cv_results_["rank_test_score"][1], 2);

  GridSearchCV raising(SVC(), {{"C", {1.0, -1.0}}}, {.cv = 3, .error_score = "raise"});
  EXPECT_THROW(raising.fit(client(), X_, y_), TaskError);

  GridSearchCV all_fail(SVC(), {{"C", {-1.0, -2.0}}}, {.cv = 3});
  try {
    all_fail.fit(client(), X_, y_);
    FAIL() << "every fit failed, and fit() did not throw";
  } catch (const TaskError& e) {
    EXPECT_NE(std::string(e.what()).find("All the 6 fits failed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("C"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(wait_until_idle());
}

// Bad input is a clear error before anything runs, and leaves nothing on the cluster.
TEST_F(GridSearchTest, BadInputIsAClearError) {
  make_data({{"n_samples", 40}, {"n_features", 3}, {"n_informative", 2}, {"n_redundant", 0}, {"weights", {0.9}}, {"random_state", 0}});
  auto message_of = [&](auto&& make_and_fit) {
    try {
      make_and_fit();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  std::string unknown = message_of([&] { GridSearchCV(SVC(), {{"Cee", {1.0}}}).fit(client(), X_, y_); });
  EXPECT_NE(unknown.find("Invalid parameter 'Cee' for estimator SVC"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("'gamma'"), std::string::npos) << unknown;
  std::string wrong_type = message_of([&] { GridSearchCV(SVC(), {{"C", {"big"}}}).fit(client(), X_, y_); });
  EXPECT_NE(wrong_type.find("'C' must be float, got str 'big'"), std::string::npos) << wrong_type;
  std::string empty_values = message_of([&] { GridSearchCV(SVC(), {{"C", {}}}).fit(client(), X_, y_); });
  EXPECT_NE(empty_values.find("'C'"), std::string::npos) << empty_values;
  std::string no_grids =
      message_of([&] { GridSearchCV::from_grids(SVC(), {}).fit(client(), X_, y_); });
  EXPECT_NE(no_grids.find("no candidates"), std::string::npos) << no_grids;
  std::string too_many_folds =
      message_of([&] { GridSearchCV(SVC(), {{"C", {1.0}}}, {.cv = KFold{.n_splits = 41}}).fit(client(), X_, y_); });
  EXPECT_NE(too_many_folds.find("Cannot have number of splits n_splits=41 greater than the number of samples"),
            std::string::npos)
      << too_many_folds;
  // 40 rows at 90/10: 38 stratified folds exceed the members of both classes (scikit-learn's error; more
  // folds than the smaller class alone is its warning).
  std::string stratified = message_of([&] { GridSearchCV(SVC(), {{"C", {1.0}}}, {.cv = 38}).fit(client(), X_, y_); });
  EXPECT_NE(stratified.find("cannot be greater than the number of members in each class"), std::string::npos)
      << stratified;
  EXPECT_TRUE(wait_until_idle());
}

// cv_results_ written as CSV and JSON reads back in pandas with scikit-learn's column names.
TEST_F(GridSearchTest, CvResultsExportReadsInPandas) {
  if (!python_oracle::available("pandas")) GTEST_SKIP() << python_oracle::skip_reason("pandas");
  make_data({{"n_samples", 150}, {"n_features", 4}, {"random_state", 8}});
  GridSearchCV search(SVC(), {{"C", {0.5, 2.0}}, {"kernel", {"rbf", "linear"}}}, {.cv = 3, .return_train_score = true});
  search.fit(client(), X_, y_);
  search.cv_results_.to_csv(dir_.file("cv.csv"));
  search.cv_results_.to_json(dir_.file("cv.json"));
  Json got = python_oracle::run(R"PY(
import json, sys
import pandas as pd
d = sys.argv[1]
csv = pd.read_csv(d + "/cv.csv")
js = pd.read_json(d + "/cv.json")
print(json.dumps({"csv_columns": list(csv.columns), "json_columns": list(js.columns),
                  "csv_mean": csv["mean_test_score"].tolist(), "json_mean": js["mean_test_score"].tolist(),
                  "csv_kernel": csv["param_kernel"].tolist(), "json_rank": js["rank_test_score"].tolist()}))
)PY",
                                 {dir_.path().string()});
  std::vector<std::string> want_columns = {"mean_fit_time",   "std_fit_time",    "mean_score_time", "std_score_time",
                                           "param_C",         "param_kernel",    "params",          "split0_test_score",
                                           "split1_test_score", "split2_test_score", "mean_test_score", "std_test_score",
                                           "rank_test_score", "split0_train_score", "split1_train_score",
                                           "split2_train_score", "mean_train_score", "std_train_score"};
  EXPECT_EQ(got["csv_columns"].get<std::vector<std::string>>(), want_columns);
  EXPECT_EQ(got["json_columns"].get<std::vector<std::string>>(), want_columns);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(got["csv_mean"][i].get<double>(), search.cv_results_["mean_test_score"][i]);
    // pandas.read_json parses floats with its own fast parser (precise_float=False): the last bits differ.
    EXPECT_NEAR(got["json_mean"][i].get<double>(), search.cv_results_["mean_test_score"][i], 1e-14);
    EXPECT_EQ(got["json_rank"][i].get<double>(), search.cv_results_["rank_test_score"][i]);
    EXPECT_EQ(got["csv_kernel"][i].get<std::string>(), search.candidates()[i].at("kernel").get<std::string>());
  }
}

}  // namespace
}  // namespace dtask::ml
