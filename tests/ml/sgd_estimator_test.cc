// SGDClassifier, SGDRegressor and Incremental on a LocalCluster (an
// in-process scheduler and 2 workers over loopback TCP), against
// scikit-learn 1.2.1 run on the same .npy files in the same test: fit,
// partial_fit over the same chunks in the same order, GridSearchCV, and the
// errors a bad chunk gets. Skips when /usr/bin/python3 cannot import sklearn.
#include <dtask/client.h>
#include <dtask/ml/incremental.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/sgd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/formats/temp_dir.h"
#include "tests/support/local_cluster_suite.h"
#include "tests/support/python_oracle.h"

namespace dtask::ml {
namespace sgd_estimator_test {  // named, not anonymous: the unity build puts a folder's tests in one file

using formats::testing::TempDir;
using Json = nlohmann::json;

// argv[1]: the folder, argv[2]: the request. Writes X.npy / y.npy (and, for
// "reg", Xr.npy / yr.npy), fits what the request asks and prints the answers.
constexpr const char* kOracle = R"PY(
import json, sys, warnings
import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.model_selection import GridSearchCV
warnings.simplefilter("ignore")
folder, req = sys.argv[1], json.loads(sys.argv[2])
X, y = make_classification(n_samples=600, n_features=8, n_informative=4, n_classes=3, random_state=2)
np.save(folder + "/X.npy", X); np.save(folder + "/y.npy", y.astype(np.float64))
Xr, yr = make_regression(n_samples=600, n_features=8, noise=3.0, random_state=2)
yr = yr / yr.std()
np.save(folder + "/Xr.npy", Xr); np.save(folder + "/yr.npy", yr)
def fitted(m, X):
    r = {"coef": np.ravel(m.coef_).tolist(), "intercept": np.ravel(m.intercept_).tolist(),
         "n_iter": int(m.n_iter_), "t": float(m.t_), "predict": m.predict(X).tolist()}
    if hasattr(m, "predict_proba") and m.loss in ("log_loss", "modified_huber"):
        r["proba"] = np.ravel(m.predict_proba(X)).tolist()
    return r
out = {}
out["fit"] = fitted(SGDClassifier(loss="log_loss", random_state=0).fit(X, y), X)
out["fit_reg"] = fitted(SGDRegressor(penalty="elasticnet", random_state=1).fit(Xr, yr), Xr)
# partial_fit over chunks of CHUNK rows: in order, and in RandomState(0)'s per-epoch permutations.
CHUNK, EPOCHS = req["chunk"], req["epochs"]
n_chunks = (len(y) + CHUNK - 1) // CHUNK
for name, shuffle in (("inc_ordered", False), ("inc_shuffled", True)):
    m = SGDClassifier(average=True, random_state=5)
    rng = np.random.RandomState(0)
    classes = np.unique(y)
    for epoch in range(EPOCHS):
        order = rng.permutation(n_chunks) if shuffle else range(n_chunks)
        for i in order:
            m.partial_fit(X[i * CHUNK:(i + 1) * CHUNK], y[i * CHUNK:(i + 1) * CHUNK], classes=classes)
    out[name] = fitted(m, X)
m = SGDRegressor(random_state=3)
for i in range(n_chunks):
    m.partial_fit(Xr[i * CHUNK:(i + 1) * CHUNK], yr[i * CHUNK:(i + 1) * CHUNK])
out["inc_reg"] = fitted(m, Xr)
grid = {"alpha": [1e-4, 1e-2, 1.0], "loss": ["hinge", "log_loss"]}
search = GridSearchCV(SGDClassifier(random_state=0), grid, cv=3).fit(X, y)
out["search"] = {"mean_test_score": search.cv_results_["mean_test_score"].tolist(),
                 "best_index": int(search.best_index_)}
print(json.dumps(out))
)PY";

/// Rows [begin, end) and the first `cols` columns (all: -1) of a float64 array, as a new array.
NDArray rows_of(const NDArray& a, std::int64_t begin, std::int64_t end, std::int64_t cols = -1) {
  const std::int64_t width = a.shape.size() == 2 ? a.cols() : 1;
  const std::int64_t keep = cols < 0 ? width : cols;
  std::vector<std::int64_t> shape = {end - begin};
  if (a.shape.size() == 2) shape.push_back(keep);
  NDArray out = NDArray::uninitialized(DType::kFloat64, shape);
  for (std::int64_t i = begin; i < end; ++i) {
    for (std::int64_t j = 0; j < keep; ++j) out.mutable_data<double>()[(i - begin) * keep + j] = a.data<double>()[i * width + j];
  }
  return out;
}

constexpr std::int64_t kChunk = 128;
constexpr std::int64_t kEpochs = 2;

class SgdEstimatorTest : public testing::LocalClusterSuite {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
    want_ = python_oracle::run(kOracle, {dir_.path().string(), Json{{"chunk", kChunk}, {"epochs", kEpochs}}.dump()});
    X_ = Array::from_npy(dir_.file("X.npy"), kChunk);
    y_ = Array::from_npy(dir_.file("y.npy"), kChunk);
    Xr_ = Array::from_npy(dir_.file("Xr.npy"), kChunk);
    yr_ = Array::from_npy(dir_.file("yr.npy"), kChunk);
  }

  static std::vector<double> values(const NDArray& a) {
    EXPECT_EQ(a.dtype, DType::kFloat64);
    return {a.data<double>(), a.data<double>() + a.size()};
  }

  static double relative_diff(const std::vector<double>& got, const Json& want_json) {
    auto want = want_json.get<std::vector<double>>();
    EXPECT_EQ(got.size(), want.size());
    double scale = 0, diff = 0;
    for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      scale = std::max(scale, std::abs(want[i]));
      diff = std::max(diff, std::abs(got[i] - want[i]));
    }
    return diff / std::max(scale, 1e-300);
  }

  /// coef_, intercept_, n_iter_, t_ and predictions equal scikit-learn's.
  void expect_same_model(const SGDEstimator& m, const Json& want, const Array& X) {
    EXPECT_LE(relative_diff(values(m.coef_), want["coef"]), 1e-10);
    EXPECT_LE(relative_diff(values(m.intercept_), want["intercept"]), 1e-10);
    EXPECT_EQ(m.n_iter_, want["n_iter"].get<std::int64_t>());
    EXPECT_EQ(m.t_, want["t"].get<double>());
    EXPECT_LE(relative_diff(values(m.predict(X).compute(client())), want["predict"]), 1e-10);
  }

  TempDir dir_;
  Json want_;
  Array X_, y_, Xr_, yr_;
};

// fit on the cluster (one task over the gathered chunks) equals scikit-learn's fit.
TEST_F(SgdEstimatorTest, FitMatchesScikitLearn) {
  SGDClassifier clf({.loss = "log_loss", .random_state = 0});
  clf.fit(client(), X_, y_);
  expect_same_model(clf, want_["fit"], X_);
  EXPECT_LE(relative_diff(values(clf.predict_proba(X_).compute(client())), want_["fit"]["proba"]), 1e-10);
  EXPECT_EQ(clf.classes_.size(), 3);

  SGDRegressor reg({.penalty = "elasticnet", .random_state = 1});
  reg.fit(client(), Xr_, yr_);
  expect_same_model(reg, want_["fit_reg"], Xr_);
  EXPECT_EQ(reg.coef_.shape, (std::vector<std::int64_t>{8}));
}

// Incremental over the chunks in order, and in numpy's per-epoch
// permutations, equals scikit-learn's partial_fit loop over the same chunks
// (averaging on, three classes); each chunk is one partial_fit task.
TEST_F(SgdEstimatorTest, IncrementalMatchesScikitLearnPartialFitLoop) {
  for (const bool shuffle : {false, true}) {
    SCOPED_TRACE(shuffle ? "shuffled blocks" : "ordered blocks");
    Incremental inc(SGDClassifier({.random_state = 5, .average = true}),
                    {.epochs = kEpochs, .shuffle_blocks = shuffle, .random_state = 0});
    inc.fit(client(), X_, y_);
    expect_same_model(inc.estimator(), want_[shuffle ? "inc_shuffled" : "inc_ordered"], X_);
    EXPECT_EQ(inc.n_partial_fit_calls_, kEpochs * X_.n_chunks());
  }
  Incremental reg(SGDRegressor({.random_state = 3}), {.shuffle_blocks = false, .max_in_flight = 1});
  reg.fit(client(), Xr_, yr_);
  expect_same_model(reg.estimator(), want_["inc_reg"], Xr_);
}

/// A generator over `X`/`y` in chunks of kChunk rows, in file order, that
/// counts how many chunks it has made.
ChunkGenerator chunks_of(const NDArray& X, const NDArray& y, std::int64_t& made) {
  made = 0;
  return [&X, &y, &made]() -> std::optional<XyChunk> {
    const std::int64_t begin = made * kChunk;
    if (begin >= X.rows()) return std::nullopt;
    const std::int64_t end = std::min(X.rows(), begin + kChunk);
    ++made;
    return XyChunk{rows_of(X, begin, end), rows_of(y, begin, end)};
  };
}

// Incremental over a client-side generator (fit, then partial_fit for the
// second pass) equals scikit-learn's partial_fit loop over the same chunks
// in the same order, as the Array path does.
TEST_F(SgdEstimatorTest, GeneratorMatchesScikitLearnPartialFitLoop) {
  const NDArray X = X_.compute(client());
  const NDArray y = y_.compute(client());
  std::int64_t made = 0;
  Incremental inc(SGDClassifier({.random_state = 5, .average = true}), {.shuffle_blocks = false});
  inc.fit(client(), chunks_of(X, y, made), {0, 1, 2});
  EXPECT_EQ(made, X_.n_chunks());
  EXPECT_EQ(inc.n_partial_fit_calls_, X_.n_chunks());
  for (std::int64_t epoch = 1; epoch < kEpochs; ++epoch) inc.partial_fit(client(), chunks_of(X, y, made));
  expect_same_model(inc.estimator(), want_["inc_ordered"], X_);
}

// A generator's bad chunk is named: a shape mismatch before anything is
// sent, a NaN by the failed fit; an empty stream, missing classes and
// epochs > 1 are refused.
TEST_F(SgdEstimatorTest, GeneratorErrorsNameTheChunk) {
  NDArray X = rows_of(X_.compute(client()), 0, X_.rows());  // a copy this test may write
  const NDArray y = y_.compute(client());
  X.mutable_data<double>()[2 * kChunk * 8 + 5] = std::nan("");
  std::int64_t made = 0;
  Incremental inc(SGDClassifier({.random_state = 0}), {.shuffle_blocks = false});
  try {
    inc.fit(client(), chunks_of(X, y, made), {0, 1, 2});
    FAIL() << "expected a TaskError";
  } catch (const TaskError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("generator chunk 2: "), std::string::npos) << message;
    EXPECT_NE(message.find("Input X contains NaN."), std::string::npos) << message;
  }
  const NDArray short_y = rows_of(y, 0, kChunk - 1);
  try {
    inc.fit(client(), [&, n = 0]() mutable -> std::optional<XyChunk> {
      if (n++ > 1) return std::nullopt;
      return XyChunk{rows_of(X, 0, kChunk), n == 2 ? short_y : rows_of(y, 0, kChunk)};
    }, {0, 1, 2});
    FAIL() << "expected an ArrayError";
  } catch (const ArrayError& e) {
    EXPECT_NE(std::string(e.what()).find("generator chunk 1: y float64[" + std::to_string(kChunk - 1) + "]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(inc.fit(client(), [] { return std::optional<XyChunk>(); }, {0, 1, 2}), ArrayError);
  EXPECT_THROW(inc.fit(client(), chunks_of(X, y, made), {}), ArrayError);  // a classifier needs classes
  EXPECT_THROW(Incremental(SGDClassifier(), {.epochs = 2}).fit(client(), chunks_of(X, y, made), {0, 1, 2}),
               ArrayError);
}

// partial_fit on the estimator itself continues from the model: two calls
// over the first two chunks equal Incremental's first two steps.
TEST_F(SgdEstimatorTest, PartialFitContinuesTheModel) {
  NDArray X = X_.compute(client());
  NDArray y = y_.compute(client());
  SGDClassifier a({.random_state = 5});
  std::vector<double> classes = {0, 1, 2};
  a.partial_fit(client(), Array::from_ndarray(client(), rows_of(X, 0, kChunk)),
                Array::from_ndarray(client(), rows_of(y, 0, kChunk)), classes);
  a.partial_fit(client(), Array::from_ndarray(client(), rows_of(X, kChunk, 2 * kChunk)),
                Array::from_ndarray(client(), rows_of(y, kChunk, 2 * kChunk)));
  Incremental b(SGDClassifier({.random_state = 5}), {.shuffle_blocks = false});
  b.fit(client(), Array::from_ndarray(client(), rows_of(X, 0, 2 * kChunk), kChunk),
        Array::from_ndarray(client(), rows_of(y, 0, 2 * kChunk), kChunk));
  EXPECT_EQ(values(a.coef_), values(b.estimator().coef_));
  EXPECT_EQ(a.t_, 2 * kChunk + 1);
  // A mismatched feature count is refused with scikit-learn's message.
  NDArray narrow = rows_of(X, 0, 10, 3);
  try {
    a.partial_fit(client(), Array::from_ndarray(client(), narrow), Array::from_ndarray(client(), rows_of(y, 0, 10)));
    FAIL() << "expected a TaskError";
  } catch (const TaskError& e) {
    EXPECT_NE(std::string(e.what()).find("Number of features 3 does not match previous data 8."), std::string::npos)
        << e.what();
  }
}

// GridSearchCV over SGDClassifier's alpha x loss: scikit-learn's mean scores and best candidate.
TEST_F(SgdEstimatorTest, GridSearchMatchesScikitLearn) {
  ParamGrid grid = {{"alpha", {1e-4, 1e-2, 1.0}}, {"loss", {"hinge", "log_loss"}}};
  GridSearchCV search(SGDClassifier({.random_state = 0}), grid, {.cv = 3});
  search.fit(client(), X_, y_);
  const auto& mean = search.cv_results_["mean_test_score"];
  ASSERT_EQ(mean.size(), want_["search"]["mean_test_score"].size());
  for (std::size_t i = 0; i < mean.size(); ++i) {
    EXPECT_NEAR(mean[i], want_["search"]["mean_test_score"][i].get<double>(), 1e-12) << "candidate " << i;
  }
  EXPECT_EQ(search.best_index_, want_["search"]["best_index"].get<std::int64_t>());
}

// A chunk with NaN, and a label outside the classes given, fail the fit
// with the op, the chunk's key and the reason.
TEST_F(SgdEstimatorTest, BadChunksAreNamed) {
  NDArray X = rows_of(X_.compute(client()), 0, X_.rows());  // a copy this test may write
  NDArray y = y_.compute(client());
  X.mutable_data<double>()[3 * kChunk * 8 + 5] = std::nan("");
  Incremental inc(SGDClassifier({.random_state = 0}), {.shuffle_blocks = false});
  try {
    inc.fit(client(), Array::from_ndarray(client(), X, kChunk), Array::from_ndarray(client(), y, kChunk));
    FAIL() << "expected a TaskError";
  } catch (const TaskError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("sgd_partial_fit"), std::string::npos) << message;
    EXPECT_NE(message.find("Input X contains NaN."), std::string::npos) << message;
  }
  try {
    inc.fit(client(), X_, y_, {0, 1});
    FAIL() << "expected a TaskError";
  } catch (const TaskError& e) {
    EXPECT_NE(std::string(e.what()).find("label 2, which is not in classes [0 1]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Incremental(SGDClassifier(), {.epochs = 0}).fit(client(), X_, y_), ArrayError);
  EXPECT_THROW(SGDClassifier({.learning_rate = "constant"}).fit(client(), X_, y_), ArrayError);  // eta0 must be > 0
}

// save() and load() give back the same model, parameters included.
TEST_F(SgdEstimatorTest, SaveAndLoadRoundTrip) {
  SGDClassifier clf({.loss = "modified_huber", .alpha = 1e-3, .random_state = 2});
  clf.fit(client(), X_, y_);
  clf.save(dir_.file("model.json"));
  SGDClassifier back = SGDClassifier::load(dir_.file("model.json"));
  EXPECT_EQ(back.get_params(), clf.get_params());
  EXPECT_EQ(values(back.coef_), values(clf.coef_));
  EXPECT_EQ(values(back.predict(X_).compute(client())), values(clf.predict(X_).compute(client())));
  EXPECT_THROW(SGDRegressor::load(dir_.file("model.json")), TaskError);
}

}  // namespace sgd_estimator_test
}  // namespace dtask::ml
