// Multinomial LogisticRegression (k >= 3 classes) on a LocalCluster against
// scikit-learn 1.2 run on the same .npy files in the same test: coef_,
// intercepts_, predict_proba, predict and score. Skips when /usr/bin/python3
// cannot import sklearn.
#include <dtask/ml/linear_model.h>
#include <gtest/gtest.h>

#include <cmath>
#include <dtask/client.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/formats/temp_dir.h"
#include "tests/support/local_cluster_suite.h"
#include "tests/support/python_oracle.h"

namespace dtask::ml {
namespace {

using formats::testing::TempDir;
using Json = nlohmann::json;
using Vec = std::vector<double>;

// Writes make_classification(n_samples=600, n_features=6, n_informative=4,
// n_classes=3, random_state=0) as X.npy and y.npy (labels a y + b) in argv[1].
constexpr const char* kMakeMultinomialData = R"PY(
import json, sys
import numpy as np
from sklearn.datasets import make_classification
out, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
X, y = make_classification(n_samples=600, n_features=6, n_informative=4, n_classes=3, random_state=0)
np.save(out + "/X.npy", X.astype(np.float64))
np.save(out + "/y.npy", (a * y + b).astype(np.float64))
print(json.dumps({"rows": int(X.shape[0])}))
)PY";

// Fits scikit-learn's LogisticRegression(**argv[2]) on argv[1]'s files.
constexpr const char* kSklearnFit = R"PY(
import json, sys, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
warnings.simplefilter("ignore")
out = sys.argv[1]
X = np.load(out + "/X.npy"); y = np.load(out + "/y.npy")
m = LogisticRegression(**json.loads(sys.argv[2])).fit(X, y)
print(json.dumps({
    "coef": m.coef_.ravel().tolist(), "coef_shape": list(m.coef_.shape), "intercept": m.intercept_.tolist(),
    "classes": m.classes_.tolist(), "proba": m.predict_proba(X).ravel().tolist(),
    "decision": m.decision_function(X).ravel().tolist(), "predict": m.predict(X).tolist(),
    "score": float(m.score(X, y)), "n_iter": int(m.n_iter_[0]),
}))
)PY";

/// max_j |got_j - want_j| / max(1, max_j |want_j|).
double relative_difference(const Vec& got, const Json& want) {
  double diff = 0, scale = 1;
  EXPECT_EQ(got.size(), want.size());
  for (std::size_t j = 0; j < want.size() && j < got.size(); ++j) {
    diff = std::max(diff, std::abs(got[j] - want[j].get<double>()));
    scale = std::max(scale, std::abs(want[j].get<double>()));
  }
  return diff / scale;
}

Vec values(const NDArray& a) {
  EXPECT_EQ(a.dtype, DType::kFloat64);
  return Vec(a.data<double>(), a.data<double>() + a.size());
}

class MultinomialTest : public testing::LocalClusterSuite {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  }

  /// The 3-class data with labels a y + b, chunked by `chunk_rows`.
  void make_data(double a = 1, double b = 0, std::int64_t chunk_rows = 128) {
    python_oracle::run(kMakeMultinomialData, {dir_.path().string(), std::to_string(a), std::to_string(b)});
    X_ = Array::from_npy(dir_.file("X.npy"), chunk_rows);
    y_ = Array::from_npy(dir_.file("y.npy"), chunk_rows);
  }

  Json sklearn(const Json& kwargs) { return python_oracle::run(kSklearnFit, {dir_.path().string(), kwargs.dump()}); }

  /// coef_, intercepts_ (tol relative), predict_proba (proba_tol), predict and score equal scikit-learn's.
  void expect_same_model(const LogisticRegression& model, const Json& want, double tol, double proba_tol) {
    ASSERT_EQ(model.coef_.shape, want["coef_shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(values(model.classes_), want["classes"].get<Vec>());
    const double coef_diff = relative_difference(values(model.coef_), want["coef"]);
    const double intercept_diff = relative_difference(values(model.intercepts_), want["intercept"]);
    EXPECT_LT(coef_diff, tol);
    EXPECT_LT(intercept_diff, tol);
    const double proba_diff = relative_difference(values(model.predict_proba(X_).compute(client())), want["proba"]);
    EXPECT_LT(proba_diff, proba_tol);
    const double decision_diff =
        relative_difference(values(model.decision_function(X_).compute(client())), want["decision"]);
    EXPECT_LT(decision_diff, 10 * tol);
    EXPECT_EQ(values(model.predict(X_).compute(client())), want["predict"].get<Vec>());
    EXPECT_DOUBLE_EQ(model.score(client(), X_, y_), want["score"].get<double>());
    std::printf("[ measured ] coef %.3g, intercepts %.3g, predict_proba %.3g, decision %.3g relative; "
                "%d iterations here, %d in scikit-learn\n",
                coef_diff, intercept_diff, proba_diff, decision_diff, model.n_iter_, want["n_iter"].get<int>());
  }

  TempDir dir_;
  Array X_, y_;
};

// lbfgs with the l2 penalty meets scikit-learn's multinomial lbfgs (1e-6) at C = 0.1 and 1.
TEST_F(MultinomialTest, L2LbfgsMatchesScikitLearn) {
  make_data();
  for (double C : {0.1, 1.0}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    LogisticRegression model({.C = C, .max_iter = 10000, .tol = 1e-10});
    model.fit(client(), X_, y_);
    EXPECT_EQ(model.solver_, "lbfgs");
    EXPECT_TRUE(model.converged_);
    EXPECT_EQ(model.intercept_, 0.0);
    Json want = sklearn({{"multi_class", "multinomial"}, {"C", C}, {"tol", 1e-10}, {"max_iter", 10000}});
    expect_same_model(model, want, 1e-6, 1e-6);
  }
}

// The l1 penalty: our proximal_grad meets scikit-learn's saga (1e-5).
TEST_F(MultinomialTest, L1ProximalGradMatchesSaga) {
  make_data();
  LogisticRegression model({.penalty = "l1", .C = 0.1, .max_iter = 20000, .tol = 1e-8});
  model.fit(client(), X_, y_);
  EXPECT_EQ(model.solver_, "proximal_grad");
  EXPECT_TRUE(model.converged_);
  Json want = sklearn({{"multi_class", "multinomial"}, {"penalty", "l1"}, {"C", 0.1}, {"solver", "saga"},
                       {"tol", 1e-12}, {"max_iter", 1000000}});
  expect_same_model(model, want, 1e-5, 1e-5);
  // l1 zeroes some weights exactly, as saga does.
  int zeros = 0;
  for (double w : values(model.coef_)) zeros += w == 0.0 ? 1 : 0;
  EXPECT_GT(zeros, 0);
}

// Labels other than 0..k-1 (here 10 y - 3) fit the same model and predict the labels.
TEST_F(MultinomialTest, AnyNumericLabels) {
  make_data(10, -3, 200);
  LogisticRegression model({.max_iter = 10000, .tol = 1e-10});
  model.fit(client(), X_, y_);
  Json want = sklearn({{"tol", 1e-10}, {"max_iter", 10000}});  // multi_class="auto": multinomial
  expect_same_model(model, want, 1e-6, 1e-6);
}

// Binary labels other than {0, 1}: classes_[1] is the positive class, as in scikit-learn.
TEST_F(MultinomialTest, BinaryWithOtherLabels) {
  python_oracle::run(R"PY(
import sys, numpy as np
from sklearn.datasets import make_classification
X, y = make_classification(n_samples=400, n_features=5, random_state=4)
np.save(sys.argv[1] + "/X.npy", X); np.save(sys.argv[1] + "/y.npy", np.where(y == 1, 7.0, -2.0))
print("{}")
)PY",
                     {dir_.path().string()});
  X_ = Array::from_npy(dir_.file("X.npy"), 100);
  y_ = Array::from_npy(dir_.file("y.npy"), 100);
  LogisticRegression model({.max_iter = 10000, .tol = 1e-10});
  model.fit(client(), X_, y_);
  Json want = sklearn({{"tol", 1e-10}, {"max_iter", 10000}});
  ASSERT_EQ(model.coef_.shape, std::vector<std::int64_t>{5});
  EXPECT_EQ(values(model.classes_), want["classes"].get<Vec>());
  // The binary path is the one that fits {0, 1} (unchanged); scikit-learn's
  // lbfgs stops on scipy's relative-decrease rule, a few 1e-6 from ours here.
  const double coef_diff = relative_difference(values(model.coef_), want["coef"]);
  const double intercept_diff = std::abs(model.intercept_ - want["intercept"][0].get<double>());
  EXPECT_LT(coef_diff, 1e-5);
  EXPECT_LT(intercept_diff, 1e-5);
  EXPECT_EQ(values(model.predict(X_).compute(client())), want["predict"].get<Vec>());
  EXPECT_DOUBLE_EQ(model.score(client(), X_, y_), want["score"].get<double>());
  // P(classes_[1]) as today's binary predict_proba: [n].
  NDArray proba = model.predict_proba(X_).compute(client());
  ASSERT_EQ(proba.shape, std::vector<std::int64_t>{400});
  double proba_diff = 0;
  for (std::int64_t i = 0; i < 400; ++i) {
    proba_diff = std::max(proba_diff, std::abs(proba.data<double>()[i] - want["proba"][2 * i + 1].get<double>()));
  }
  EXPECT_LT(proba_diff, 1e-5);
  std::printf("[ measured ] binary: coef %.3g relative, intercept %.3g, predict_proba %.3g; %d iterations here, %d in "
              "scikit-learn\n",
              coef_diff, intercept_diff, proba_diff, model.n_iter_, want["n_iter"].get<int>());
}

// save/load keeps classes_, the [k, d] coef_ and intercepts_; predictions are the same.
TEST_F(MultinomialTest, SaveLoadRoundTrip) {
  make_data(1, 1);
  LogisticRegression model({.C = 0.5});
  model.fit(client(), X_, y_);
  TempDir out;
  model.save(out.file("model.json"));
  LogisticRegression loaded = LogisticRegression::load(out.file("model.json"));
  EXPECT_EQ(loaded.coef_.shape, model.coef_.shape);
  EXPECT_EQ(values(loaded.classes_), values(model.classes_));
  EXPECT_EQ(values(loaded.intercepts_), values(model.intercepts_));
  EXPECT_EQ(values(loaded.predict_proba(X_).compute(client())), values(model.predict_proba(X_).compute(client())));
  EXPECT_EQ(values(loaded.predict(X_).compute(client())), values(model.predict(X_).compute(client())));
}

// newton and admm refuse the multinomial family with a message naming the solvers that work; one class is refused.
TEST_F(MultinomialTest, RefusesHessianSolversAndOneClass) {
  make_data();
  for (std::string solver : {"newton", "admm"}) {
    try {
      LogisticRegression({.solver = solver}).fit(client(), X_, y_);
      ADD_FAILURE() << solver << " fitted a multinomial model";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("\"lbfgs\", \"proximal_grad\""), std::string::npos) << e.what();
    }
  }
  Array one_class = y_ * 0.0;
  try {
    LogisticRegression().fit(client(), X_, one_class);
    ADD_FAILURE() << "fitted on one class";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("at least 2 classes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dtask::ml
