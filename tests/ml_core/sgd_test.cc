// SgdModel against scikit-learn 1.2.1's SGDClassifier / SGDRegressor in the
// same run. Python makes the data sets and writes them as .npy files, fits
// every configuration with scikit-learn (fit, and partial_fit over fixed
// chunks), and prints coef_, intercept_, n_iter_, t_ and predictions; the
// tests read the same .npy files, fit the same configurations here and
// compare.
//
// Tolerances are the issue's: 1e-10 relative for the hinge-family losses
// with constant or optimal rates, 1e-8 for everything else (log_loss's exp,
// pow in invscaling and the BLAS axpy of averaging may round differently
// from libm/OpenBLAS); n_iter_ and t_ must be equal. The largest relative
// differences are printed as "[measured]".
#include "ml_core/sgd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "formats/npy_format.h"
#include "ml_core/sgd_config.h"
#include "tests/support/python_oracle.h"

namespace dtask::ml_core {
namespace sgd_test {  // named, not anonymous: the unity build puts a folder's tests in one file

struct Config {
  std::string name;
  std::string data;  // "bin", "multi" or "reg"
  std::string mode;  // "fit" or "partial" (partial_fit over 4 chunks of 50 rows, 3 passes)
  Params params;
};

bool is_regression(const Config& c) { return c.data == "reg"; }

std::vector<Config> classifier_configs() {
  std::vector<Config> out;
  for (const char* data : {"bin", "multi"}) {
    for (const char* loss : {"hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"}) {
      for (const char* penalty : {"l2", "l1", "elasticnet", "none"}) {
        for (const char* rate : {"optimal", "constant", "invscaling", "adaptive"}) {
          for (bool shuffle : {true, false}) {
            Params p = {{"loss", loss}, {"penalty", penalty}, {"learning_rate", rate}, {"shuffle", shuffle},
                        {"random_state", 0}};
            if (std::string(rate) != "optimal") p["eta0"] = 0.01;
            out.push_back({std::string(data) + " " + loss + " " + penalty + " " + rate + (shuffle ? " shuffled" : ""),
                           data, "fit", p});
          }
        }
      }
    }
    const std::string d = data;
    out.push_back({d + " average", d, "fit", {{"average", true}, {"random_state", 3}}});
    out.push_back({d + " average=50 log_loss", d, "fit", {{"average", 50}, {"loss", "log_loss"}, {"random_state", 1}}});
    out.push_back({d + " balanced", d, "fit", {{"class_weight", "balanced"}, {"random_state", 2}}});
    out.push_back({d + " no intercept", d, "fit", {{"fit_intercept", false}, {"random_state", 4}}});
    out.push_back({d + " tol=None max_iter=7", d, "fit", {{"tol", -1.0}, {"max_iter", 7}, {"random_state", 5}}});
    out.push_back({d + " alpha=0.01 l1_ratio=0.5", d, "fit",
                   {{"alpha", 0.01}, {"penalty", "elasticnet"}, {"l1_ratio", 0.5}, {"random_state", 6}}});
    out.push_back({d + " partial hinge", d, "partial", {{"random_state", 0}}});
    out.push_back({d + " partial log_loss unshuffled", d, "partial", {{"loss", "log_loss"}, {"shuffle", false}}});
    out.push_back({d + " partial average", d, "partial", {{"average", true}, {"random_state", 7}}});
    out.push_back({d + " partial average=120", d, "partial", {{"average", 120}, {"random_state", 8}}});
    out.push_back({d + " partial l1 invscaling", d, "partial",
                   {{"penalty", "l1"}, {"learning_rate", "invscaling"}, {"eta0", 0.05}, {"random_state", 9}}});
  }
  return out;
}

std::vector<Config> regressor_configs() {
  std::vector<Config> out;
  for (const char* loss : {"squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}) {
    for (const char* penalty : {"l2", "l1", "elasticnet", "none"}) {
      for (const char* rate : {"invscaling", "constant", "optimal", "adaptive"}) {
        for (bool shuffle : {true, false}) {
          Params p = {{"loss", loss}, {"penalty", penalty}, {"learning_rate", rate}, {"shuffle", shuffle},
                      {"random_state", 0}};
          out.push_back({std::string("reg ") + loss + " " + penalty + " " + rate + (shuffle ? " shuffled" : ""), "reg",
                         "fit", p});
        }
      }
    }
  }
  out.push_back({"reg average", "reg", "fit", {{"average", true}, {"random_state", 3}}});
  out.push_back({"reg average=100", "reg", "fit", {{"average", 100}, {"random_state", 4}}});
  out.push_back({"reg epsilon=0.5 huber", "reg", "fit", {{"loss", "huber"}, {"epsilon", 0.5}, {"random_state", 5}}});
  out.push_back({"reg eta0=1e3 diverging", "reg", "fit", {{"learning_rate", "constant"}, {"eta0", 1e3}, {"random_state", 0}}});
  out.push_back({"reg partial", "reg", "partial", {{"random_state", 0}}});
  out.push_back({"reg partial average", "reg", "partial", {{"average", 30}, {"random_state", 1}}});
  return out;
}

nlohmann::json to_json(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : params) {
    std::visit([&](const auto& v) { out[name] = v; }, value.variant());
  }
  return out;
}

constexpr const char* kOracle = R"PY(
import json, sys, warnings
import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import SGDClassifier, SGDRegressor
warnings.simplefilter("ignore")
req = json.loads(open(sys.argv[1]).read())
folder = sys.argv[2]
N_TRAIN, CHUNK, PASSES = 200, 50, 3

X, y = make_classification(n_samples=300, n_features=6, random_state=0)
data = {"bin": (X, y * 5.0 - 2.0)}  # labels -2 and 3
X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=1)
data["multi"] = (X, y.astype(float))
X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
data["reg"] = (X, y / y.std())
for name, (X, y) in data.items():
    np.save(f"{folder}/{name}_X.npy", X)
    np.save(f"{folder}/{name}_y.npy", y)

out = {"n_train": N_TRAIN, "chunk": CHUNK, "passes": PASSES, "results": {}}
for c in req:
    X, y = data[c["data"]]
    params = dict(c["params"])
    if params.get("tol", 0) < 0:
        params["tol"] = None
    if params.get("penalty") == "none":  # dtask's spelling of penalty=None
        params["penalty"] = None
    est = (SGDRegressor if c["data"] == "reg" else SGDClassifier)(**params)
    try:
        if c["mode"] == "fit":
            est.fit(X[:N_TRAIN], y[:N_TRAIN])
        else:
            classes = np.unique(y)
            for _ in range(PASSES):
                for start in range(0, N_TRAIN, CHUNK):
                    if c["data"] == "reg":
                        est.partial_fit(X[start:start + CHUNK], y[start:start + CHUNK])
                    else:
                        est.partial_fit(X[start:start + CHUNK], y[start:start + CHUNK], classes=classes)
    except ValueError as e:
        out["results"][c["name"]] = {"error": str(e)}
        continue
    r = {"coef": np.ravel(est.coef_).tolist(), "intercept": np.ravel(est.intercept_).tolist(),
         "n_iter": int(est.n_iter_), "t": float(est.t_), "predict": est.predict(X).tolist()}
    if c["data"] != "reg":
        r["decision"] = np.ravel(est.decision_function(X)).tolist()
        if params.get("loss") in ("log_loss", "modified_huber"):
            r["proba"] = np.ravel(est.predict_proba(X)).tolist()
    out["results"][c["name"]] = r
print(json.dumps(out))
)PY";

/// What fitting a configuration gave: a model, or the error.
struct Fitted {
  std::optional<SgdModel> model;
  std::string error;
};

/// Fitted results and the data, computed once for the whole suite.
class SgdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!python_oracle::available("sklearn")) return;
    folder_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                        ("dtask_sgd_test_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*folder_);
    nlohmann::json request = nlohmann::json::array();
    for (const auto& configs : {classifier_configs(), regressor_configs()}) {
      for (const auto& c : configs) {
        request.push_back({{"name", c.name}, {"data", c.data}, {"mode", c.mode}, {"params", to_json(c.params)}});
      }
    }
    auto request_path = *folder_ / "request.json";
    std::ofstream(request_path) << request.dump();
    oracle_ = new nlohmann::json(python_oracle::run(kOracle, {request_path.string(), folder_->string()}));
  }
  static void TearDownTestSuite() {
    if (folder_ != nullptr) std::filesystem::remove_all(*folder_);
    delete folder_;
    delete oracle_;
    folder_ = nullptr;
    oracle_ = nullptr;
  }
  void SetUp() override {
    if (oracle_ == nullptr) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  }

  static NDArray load(const std::string& name) {
    auto path = (*folder_ / (name + ".npy")).string();
    auto header = formats::read_npy_header(path);
    EXPECT_TRUE(header.ok()) << header.status().message();
    auto array = formats::read_npy_rows(path, *header, 0, header->shape[0]);
    EXPECT_TRUE(array.ok()) << array.status().message();
    return *array;
  }

  static Result<SgdModel> make_model(const Config& c) {
    auto make = [&](auto options, const auto& binding) {
      Status status = binding.set_all(options, c.params);
      EXPECT_TRUE(status.ok()) << status.message();
      return SgdModel::make(options);
    };
    return is_regression(c) ? make(SgdRegressorOptions{}, sgd_regressor_binding())
                            : make(SgdClassifierOptions{}, sgd_classifier_binding());
  }

  /// Fits `c` as the oracle did.
  static Fitted fit(const Config& c) {
    NDArray X = load(c.data + "_X");
    NDArray y = load(c.data + "_y");
    const auto n_train = (*oracle_)["n_train"].get<std::int64_t>();
    const std::int64_t d = X.cols();
    auto model = make_model(c);
    EXPECT_TRUE(model.ok()) << model.status().message();
    if (c.mode == "fit") {
      Status s = model->fit(X.data<double>(), n_train, d, y.data<double>());
      if (!s.ok()) return {std::nullopt, s.message()};
      return {*model, ""};
    }
    std::vector<double> classes(y.data<double>(), y.data<double>() + y.size());
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    const auto chunk = (*oracle_)["chunk"].get<std::int64_t>();
    for (int pass = 0; pass < (*oracle_)["passes"].get<int>(); ++pass) {
      for (std::int64_t start = 0; start < n_train; start += chunk) {
        // Round trip through the serialised form, as a model travelling between tasks does.
        auto reread = SgdModel::deserialize(model->serialize());
        EXPECT_TRUE(reread.ok()) << reread.status().message();
        model = std::move(reread);
        Status s = model->partial_fit(X.data<double>() + start * d, std::min(chunk, n_train - start), d,
                                      y.data<double>() + start, is_regression(c) ? nullptr : &classes);
        if (!s.ok()) return {std::nullopt, s.message()};
      }
    }
    return {*model, ""};
  }

  static nlohmann::json* oracle_;
  static std::filesystem::path* folder_;
};

nlohmann::json* SgdTest::oracle_ = nullptr;
std::filesystem::path* SgdTest::folder_ = nullptr;

double relative_diff(const std::vector<double>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double scale = 0, diff = 0;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    diff = std::max(diff, std::abs(got[i] - want[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/// The issue's tolerance for a configuration.
double tolerance(const Config& c) {
  auto text = [&](const char* name, const char* fallback) {
    auto it = c.params.find(name);
    return it == c.params.end() ? std::string(fallback) : it->second.get<std::string>();
  };
  const std::string loss = text("loss", is_regression(c) ? "squared_error" : "hinge");
  const std::string rate = text("learning_rate", is_regression(c) ? "invscaling" : "optimal");
  const bool averaging = c.params.count("average") > 0;
  const bool hinge_family = loss == "hinge" || loss == "squared_hinge" || loss == "perceptron" ||
                            loss == "modified_huber" || loss == "epsilon_insensitive" ||
                            loss == "squared_epsilon_insensitive" || loss == "squared_error" || loss == "huber";
  return hinge_family && (rate == "constant" || rate == "optimal") && !averaging ? 1e-10 : 1e-8;
}

/// Compares a fit with scikit-learn's; both may have failed (overflow), with the same message.
/// How many fits were compared, and how many failed on both sides.
struct Tally {
  int compared = 0;
  int both_failed = 0;
  double worst = 0;
  std::string report() const {
    return std::to_string(compared) + " compared (worst relative difference " + python_float_repr(worst) + "), " +
           std::to_string(both_failed) + " failed on both sides with the same error";
  }
};

void compare(const Config& c, const Fitted& fitted, const nlohmann::json& want, Tally& tally) {
  SCOPED_TRACE(c.name);
  if (want.contains("error") || !fitted.model) {
    EXPECT_EQ(fitted.error, want.value("error", std::string("(scikit-learn fitted)")));
    tally.both_failed += fitted.error == want.value("error", std::string());
    return;
  }
  ASSERT_FALSE(want["coef"].empty());
  const SgdModel& m = *fitted.model;
  const double tol = tolerance(c);
  const double coef = relative_diff(m.coef(), want["coef"].get<std::vector<double>>());
  const double intercept = relative_diff(m.intercept(), want["intercept"].get<std::vector<double>>());
  EXPECT_LE(coef, tol) << "coef_";
  EXPECT_LE(intercept, tol) << "intercept_";
  EXPECT_EQ(m.n_iter(), want["n_iter"].get<std::int64_t>());
  EXPECT_EQ(m.t(), want["t"].get<double>());
  tally.worst = std::max({tally.worst, coef, intercept});
  tally.compared += 1;
}

// Every loss x penalty x learning rate scikit-learn's SGDClassifier takes,
// shuffled and not, binary and 3-class, plus averaging, class weights, no
// intercept and tol=None: coef_, intercept_, n_iter_ and t_ agree.
TEST_F(SgdTest, ClassifierFitMatchesScikitLearn) {
  Tally tally;
  for (const auto& c : classifier_configs()) {
    if (c.mode == "fit") compare(c, fit(c), (*oracle_)["results"][c.name], tally);
  }
  std::cout << "[measured] classifier fits: " << tally.report() << "\n";
}

// The same for SGDRegressor's losses, penalties and rates.
TEST_F(SgdTest, RegressorFitMatchesScikitLearn) {
  Tally tally;
  for (const auto& c : regressor_configs()) {
    if (c.mode == "fit") compare(c, fit(c), (*oracle_)["results"][c.name], tally);
  }
  std::cout << "[measured] regressor fits: " << tally.report() << "\n";
}

// partial_fit over fixed chunks in a fixed order (three passes), the model
// serialised between calls, equals scikit-learn's partial_fit loop,
// averaging included.
TEST_F(SgdTest, PartialFitOverChunksMatchesScikitLearn) {
  Tally tally;
  for (const auto& configs : {classifier_configs(), regressor_configs()}) {
    for (const auto& c : configs) {
      if (c.mode == "partial") compare(c, fit(c), (*oracle_)["results"][c.name], tally);
    }
  }
  std::cout << "[measured] partial_fit runs: " << tally.report() << "\n";
}

// predict, decision_function and predict_proba on all 300 rows agree.
TEST_F(SgdTest, PredictionsMatchScikitLearn) {
  for (const auto& configs : {classifier_configs(), regressor_configs()}) {
    for (const auto& c : configs) {
      if (c.name.find("shuffled") == std::string::npos && c.mode == "fit") continue;
      SCOPED_TRACE(c.name);
      const auto& want = (*oracle_)["results"][c.name];
      Fitted fitted = fit(c);
      if (want.contains("error") || !fitted.model) continue;  // compared by the fit tests
      const SgdModel& m = *fitted.model;
      NDArray X = load(c.data + "_X");
      std::vector<double> predicted = m.predict(X.data<double>(), X.rows());
      if (is_regression(c)) {
        EXPECT_LE(relative_diff(predicted, want["predict"].get<std::vector<double>>()), 1e-8);
        continue;
      }
      EXPECT_EQ(predicted, want["predict"].get<std::vector<double>>());
      EXPECT_LE(relative_diff(m.decision_function(X.data<double>(), X.rows()), want["decision"].get<std::vector<double>>()),
                1e-8);
      if (want.contains("proba")) {
        auto proba = m.predict_proba(X.data<double>(), X.rows());
        ASSERT_TRUE(proba.ok());
        EXPECT_LE(relative_diff(*proba, want["proba"].get<std::vector<double>>()), 1e-8);
      } else if (!m.has_predict_proba()) {
        EXPECT_FALSE(m.predict_proba(X.data<double>(), X.rows()).ok());
      }
    }
  }
}

// Bad input gets scikit-learn's error (or a clear one where scikit-learn is silent).
TEST_F(SgdTest, BadInputIsRefusedClearly) {
  auto make = [](Params p, bool classifier = true) {
    return make_model(Config{"bad", classifier ? "bin" : "reg", "fit", std::move(p)});
  };
  EXPECT_NE(make({{"loss", "foo"}}).status().message().find("'loss' parameter of SGDClassifier"), std::string::npos);
  EXPECT_NE(make({{"loss", "hinge"}}, false).status().message().find("SGDRegressor"), std::string::npos);
  EXPECT_EQ(make({{"learning_rate", "constant"}}).status().message(), "eta0 must be > 0");
  EXPECT_NE(make({{"alpha", 0.0}}).status().message().find("alpha must be > 0"), std::string::npos);
  EXPECT_NE(make({{"early_stopping", true}}).status().message().find("not supported yet"), std::string::npos);

  auto model = make({});
  ASSERT_TRUE(model.ok());
  const std::vector<double> X = {1, 2, 3, 4, 5, 6};
  const std::vector<double> y = {0, 1, 0};
  // partial_fit's first call needs classes.
  EXPECT_EQ(model->partial_fit(X.data(), 3, 2, y.data(), nullptr).message(),
            "classes must be passed on the first call to partial_fit.");
  const std::vector<double> classes = {0, 1};
  ASSERT_TRUE(model->partial_fit(X.data(), 3, 2, y.data(), &classes).ok());
  // A label outside classes, a different feature count, NaN, changed classes.
  const std::vector<double> y_new = {0, 2, 1};
  EXPECT_NE(model->partial_fit(X.data(), 3, 2, y_new.data(), nullptr).message().find("label 2, which is not in classes"),
            std::string::npos);
  EXPECT_EQ(model->partial_fit(X.data(), 2, 3, y.data(), nullptr).message(),
            "Number of features 3 does not match previous data 2.");
  std::vector<double> X_nan = X;
  X_nan[3] = std::nan("");
  EXPECT_EQ(model->partial_fit(X_nan.data(), 3, 2, y.data(), nullptr).message(), "Input X contains NaN.");
  const std::vector<double> other = {0, 1, 2};
  EXPECT_NE(model->partial_fit(X.data(), 3, 2, y.data(), &other).message().find("is not the same as on last call"),
            std::string::npos);
  // balanced class weights are for fit only.
  auto balanced = make({{"class_weight", "balanced"}});
  ASSERT_TRUE(balanced.ok());
  EXPECT_NE(balanced->partial_fit(X.data(), 3, 2, y.data(), &classes).message().find("not supported for partial_fit"),
            std::string::npos);
  // A corrupt serialised model is refused, not trusted.
  EXPECT_FALSE(SgdModel::deserialize("{\"format\": \"dtask.ml_core.SgdModel\"}").ok());
  EXPECT_FALSE(SgdModel::deserialize("not json").ok());
}

// The in-memory estimator a grid-search task builds from a spec fits the same model.
TEST_F(SgdTest, DenseEstimatorFromSpecFitsTheSameModel) {
  auto estimator = make_dense_estimator(R"({"estimator": "SGDClassifier", "params": {"random_state": 0, "loss": "log_loss"}})");
  ASSERT_TRUE(estimator.ok()) << estimator.status().message();
  NDArray X = load("bin_X");
  NDArray y = load("bin_y");
  NDArray X_train = take_rows(X, [] {
    std::vector<std::int64_t> rows(200);
    for (int i = 0; i < 200; ++i) rows[i] = i;
    return rows;
  }());
  ASSERT_TRUE((*estimator)->fit(X_train, std::vector<double>(y.data<double>(), y.data<double>() + 200)).ok());
  auto predicted = (*estimator)->predict(X);
  ASSERT_TRUE(predicted.ok());
  Config c{"spec", "bin", "fit", {{"random_state", 0}, {"loss", "log_loss"}}};
  Fitted direct = fit(c);
  ASSERT_TRUE(direct.model) << direct.error;
  EXPECT_EQ(*predicted, direct.model->predict(X.data<double>(), X.rows()));
  EXPECT_FALSE(make_dense_estimator(R"({"estimator": "SGDRegressor", "params": {"class_weight": "balanced"}})").ok());
}

}  // namespace sgd_test
}  // namespace dtask::ml_core
