// Metrics and scorers against scikit-learn 1.2.1: each test generates seeded
// random inputs in C++, computes every case here, asks /usr/bin/python3 for
// sklearn's answer to all of them in one call, and compares to 1e-12
// relative. Error cases check that sklearn raises too and that both messages
// carry the same key words.
#include "ml_core/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/support/python_oracle.h"

namespace dtask::ml_core {
namespace {

using nlohmann::json;
using Vec = std::vector<double>;

// Evaluates one case list: metric functions by name, or a named scorer on a
// stand-in estimator whose predict / decision_function / predict_proba
// return the given arrays (no decision_function when none is given).
constexpr const char* kMetricsOracle = R"PY(
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from sklearn import metrics

def arr(v):
    return np.asarray(v, dtype=float)

class Est:
    def __init__(self, c):
        self.c = c
        self.classes_ = arr(c.get("classes", []))
    def predict(self, X):
        return arr(self.c["y_pred"])
    def predict_proba(self, X):
        return arr(self.c["proba"])

class EstWithDecision(Est):
    def decision_function(self, X):
        return arr(self.c["decision"])

def run(c):
    fn = c["fn"]
    if fn == "scorer":
        est = (EstWithDecision if "decision" in c else Est)(c)
        y = arr(c["y_true"])
        return metrics.get_scorer(c["name"])(est, np.zeros((len(y), 1)), y)
    if fn == "log_loss":
        kw = {"labels": arr(c["classes"])} if c["classes"] else {}
        return metrics.log_loss(arr(c["a"]), arr(c["b"]), **kw)
    return getattr(metrics, fn)(arr(c["a"]), arr(c["b"]))

out = []
for c in json.load(open(sys.argv[1])):
    try:
        v = float(run(c))
        out.append({"value": v if np.isfinite(v) else repr(v)})
    except Exception as e:
        out.append({"error": "%s: %s" % (type(e).__name__, e)})
print(json.dumps(out))
)PY";

// Cases computed here, with what sklearn is asked for each.
class CaseList {
 public:
  /// `keys`: words both error messages must contain; empty expects a value.
  void add(json py_case, Result<double> ours, std::vector<std::string> keys = {}) {
    py_.push_back(spell_non_finite(std::move(py_case)));
    ours_.push_back(std::move(ours));
    keys_.push_back(std::move(keys));
  }

  void add_metric(const std::string& fn, const Vec& a, const Vec& b, Result<double> ours,
                  std::vector<std::string> keys = {}) {
    add({{"fn", fn}, {"a", a}, {"b", b}}, std::move(ours), std::move(keys));
  }

  void check_against_sklearn() const {
    auto path = std::filesystem::temp_directory_path() / ("dtask_metrics_" + std::to_string(::getpid()) + ".json");
    std::ofstream(path) << py_.dump();
    json want = python_oracle::run(kMetricsOracle, {path.string()});
    std::filesystem::remove(path);
    ASSERT_EQ(want.size(), py_.size());
    for (std::size_t i = 0; i < py_.size(); ++i) compare(i, want[i]);
  }

 private:
  // JSON has no NaN or infinity (nlohmann writes null); numpy reads the strings back.
  static json spell_non_finite(json j) {
    if (j.is_structured()) {
      for (auto& item : j) item = spell_non_finite(item);
    } else if (j.is_number_float() && !std::isfinite(j.get<double>())) {
      double v = j.get<double>();
      return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    }
    return j;
  }

  void compare(std::size_t i, const json& want) const {
    std::string where = "case " + std::to_string(i) + ": " + py_[i].dump().substr(0, 300);
    const Result<double>& ours = ours_[i];
    if (!keys_[i].empty()) {
      ASSERT_TRUE(want.contains("error")) << where << "\nsklearn returned " << want.dump();
      ASSERT_FALSE(ours.ok()) << where << "\nours returned " << *ours;
      for (const auto& key : keys_[i]) {
        EXPECT_NE(want["error"].get<std::string>().find(key), std::string::npos) << where << "\nsklearn: " << want;
        EXPECT_NE(ours.status().message().find(key), std::string::npos)
            << where << "\nours: " << ours.status().message() << "\nsklearn: " << want;
      }
      return;
    }
    ASSERT_TRUE(want.contains("value")) << where << "\nsklearn: " << want.dump();
    ASSERT_TRUE(ours.ok()) << where << "\nours: " << ours.status().to_string();
    if (want["value"].is_string()) {
      EXPECT_EQ(want["value"].get<std::string>(), "nan") << where;
      EXPECT_TRUE(std::isnan(*ours)) << where << " ours " << *ours;
      return;
    }
    double expected = want["value"].get<double>();
    EXPECT_LE(std::fabs(*ours - expected), 1e-12 * std::fabs(expected))
        << where << "\nours " << *ours << " sklearn " << expected;
  }

  json py_ = json::array();
  std::vector<Result<double>> ours_;
  std::vector<std::vector<std::string>> keys_;
};

Vec random_labels(std::mt19937_64& rng, std::size_t n, int k, double offset = 0.0) {
  std::uniform_int_distribution<int> pick(0, k - 1);
  Vec out(n);
  for (auto& v : out) v = pick(rng) + offset;
  return out;
}

// Scores on a coarse grid (many ties) or continuous.
Vec random_scores(std::mt19937_64& rng, std::size_t n, int grid) {
  std::normal_distribution<double> normal;
  Vec out(n);
  for (auto& v : out) v = grid > 0 ? std::round(normal(rng) * grid) / grid : normal(rng);
  return out;
}

// Rows of k probabilities; `extreme` mixes in exact 0/1 and values within
// float64 eps of them, and rows that do not sum to 1.
Vec random_proba(std::mt19937_64& rng, std::size_t n, int k, bool extreme) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const Vec near = {0.0, 1e-300, 1e-17, 1e-16, 2.2e-16, 1.0 - 1e-16, 1.0 - 1e-17, 1.0};
  Vec out(n * k);
  for (std::size_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += (out[i * k + j] = unit(rng) + 1e-3);
    bool skew = extreme && unit(rng) < 0.5;
    for (int j = 0; j < k; ++j) {
      out[i * k + j] /= sum;
      if (skew) out[i * k + j] = near[static_cast<std::size_t>(unit(rng) * near.size())];
    }
  }
  return out;
}

json rows(const Vec& flat, int k) {
  if (k == 1) return flat;
  json out = json::array();
  for (std::size_t i = 0; i + k <= flat.size(); i += k) out.push_back(Vec(flat.begin() + i, flat.begin() + i + k));
  return out;
}

const std::vector<std::size_t> kSizes = {1, 2, 5, 7, 8, 9, 17, 64, 129, 300, 1000};

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  }
};

// accuracy and balanced accuracy agree with sklearn on binary and 3-class labels.
TEST_F(MetricsTest, AccuracyAndBalancedAccuracyMatchSklearn) {
  std::mt19937_64 rng(1);
  CaseList cases;
  for (std::size_t n : kSizes) {
    for (int k : {2, 3}) {
      Vec t = random_labels(rng, n, k), p = random_labels(rng, n, k);
      cases.add_metric("accuracy_score", t, p, accuracy_score(t, p));
      cases.add_metric("balanced_accuracy_score", t, p, balanced_accuracy_score(t, p));
    }
  }
  // y_pred holds a class y_true lacks (sklearn drops its NaN recall).
  Vec t = {0, 0, 1, 1}, p = {0, 2, 1, 2};
  cases.add_metric("balanced_accuracy_score", t, p, balanced_accuracy_score(t, p));
  cases.add_metric("accuracy_score", {}, {}, accuracy_score({}, {}));
  cases.add_metric("balanced_accuracy_score", {}, {}, balanced_accuracy_score({}, {}));
  cases.add_metric("accuracy_score", {0, 1}, {0}, accuracy_score({0, 1}, {0}), {"inconsistent numbers of samples"});
  cases.add_metric("accuracy_score", {0, 1}, {0.5, 1}, accuracy_score({0, 1}, {0.5, 1}),
                   {"can't handle a mix of binary and continuous targets"});
  cases.add_metric("balanced_accuracy_score", {0.5, 1.5}, {0.5, 1.5}, balanced_accuracy_score({0.5, 1.5}, {0.5, 1.5}),
                   {"continuous is not supported"});
  Vec with_nan = {0, std::numeric_limits<double>::quiet_NaN()};
  cases.add_metric("accuracy_score", with_nan, {0, 1}, accuracy_score(with_nan, {0, 1}), {"y_true contains NaN"});
  cases.check_against_sklearn();
}

// Binary precision, recall and F1 (pos_label 1) agree with sklearn, including zero division.
TEST_F(MetricsTest, PrecisionRecallF1MatchSklearn) {
  std::mt19937_64 rng(2);
  CaseList cases;
  auto add_all = [&](const Vec& t, const Vec& p, std::vector<std::string> keys = {}) {
    cases.add_metric("precision_score", t, p, precision_score(t, p), keys);
    cases.add_metric("recall_score", t, p, recall_score(t, p), keys);
    cases.add_metric("f1_score", t, p, f1_score(t, p), keys);
  };
  for (std::size_t n : kSizes) add_all(random_labels(rng, n, 2), random_labels(rng, n, 2));
  add_all({0, 1, 1, 0}, {0, 0, 0, 0});  // nothing predicted positive
  add_all({0, 0, 0, 0}, {0, 1, 1, 0});  // no positive truth
  add_all({0, 0, 0}, {0, 0, 0});        // neither
  add_all({1, 1}, {1, 1});
  add_all({}, {});
  add_all({0, 1, 2, 1}, {0, 2, 1, 1}, {"Target is multiclass but average='binary'", "'micro', 'macro', 'weighted'"});
  for (std::size_t n : {10, 100}) {
    add_all(random_labels(rng, n, 3), random_labels(rng, n, 3), {"Target is multiclass but average='binary'"});
  }
  add_all({0, 2, 2}, {0, 2, 0}, {"pos_label=1 is not a valid label", "[0.0, 2.0]"});
  add_all({0, 1}, {1}, {"inconsistent numbers of samples"});
  cases.check_against_sklearn();
}

// ROC AUC agrees with sklearn on tied and untied scores and any two labels.
TEST_F(MetricsTest, RocAucMatchesSklearn) {
  std::mt19937_64 rng(3);
  CaseList cases;
  for (std::size_t n : kSizes) {
    for (int grid : {0, 1, 4}) {
      for (double offset : {0.0, -1.0, 1.0}) {
        Vec t = random_labels(rng, n, 2, offset);
        if (offset == -1.0) {
          for (auto& v : t) v = v == -1.0 ? -1.0 : 1.0;  // {-1, 1}
        }
        Vec s = random_scores(rng, n, grid);
        std::vector<std::string> keys;
        if (t.size() < 2 || t == Vec(t.size(), t[0])) keys = {"Only one class present in y_true"};
        cases.add_metric("roc_auc_score", t, s, roc_auc_score(t, s), keys);
      }
    }
  }
  Vec all_tied = {0, 1, 0, 1, 1}, same(5, 0.25);
  cases.add_metric("roc_auc_score", all_tied, same, roc_auc_score(all_tied, same));
  cases.add_metric("roc_auc_score", {1, 1}, {0.1, 0.2}, roc_auc_score({1, 1}, {0.1, 0.2}), {"Only one class present"});
  cases.add_metric("roc_auc_score", {0, 1, 2}, {0.1, 0.2, 0.3}, roc_auc_score({0, 1, 2}, {0.1, 0.2, 0.3}),
                   {"multi_class must be in ('ovo', 'ovr')"});
  cases.add_metric("roc_auc_score", {0, 1.5}, {0.1, 0.2}, roc_auc_score({0, 1.5}, {0.1, 0.2}),
                   {"continuous format is not supported"});
  Vec nan_score = {0.1, std::numeric_limits<double>::quiet_NaN()};
  cases.add_metric("roc_auc_score", {0, 1}, nan_score, roc_auc_score({0, 1}, nan_score), {"Input contains NaN"});
  cases.add_metric("roc_auc_score", {0, 1}, {0.1}, roc_auc_score({0, 1}, {0.1}), {"inconsistent numbers of samples"});
  cases.add_metric("roc_auc_score", {}, {}, roc_auc_score({}, {}), {"Found array with 0 sample(s)"});
  cases.check_against_sklearn();
}

// log_loss agrees with sklearn for 1-, 2- and 3-column probabilities near 0 and 1, with and without labels.
TEST_F(MetricsTest, LogLossMatchesSklearn) {
  std::mt19937_64 rng(4);
  CaseList cases;
  auto add = [&](const Vec& t, const Vec& p, int k, const Vec& classes, std::vector<std::string> keys = {}) {
    cases.add({{"fn", "log_loss"}, {"a", t}, {"b", rows(p, k)}, {"classes", classes}}, log_loss(t, p, classes),
              std::move(keys));
  };
  for (std::size_t n : kSizes) {
    if (n < 3) continue;  // random labels of a tiny sample may hold one class
    for (bool extreme : {false, true}) {
      Vec t2 = random_labels(rng, n, 2), t3 = random_labels(rng, n, 3);
      t2[0] = 0, t2[1] = 1, t3[0] = 0, t3[1] = 1, t3[2] = 2;
      Vec p2 = random_proba(rng, n, 2, extreme), p3 = random_proba(rng, n, 3, extreme);
      add(t2, p2, 2, {});
      add(t3, p3, 3, {});
      Vec p1(n);
      for (std::size_t i = 0; i < p1.size(); ++i) p1[i] = p2[i * 2 + 1];
      add(t2, p1, 1, {});
      add(t2, p3, 3, {0, 1, 2});  // labels name a class y_true lacks
    }
  }
  Vec t = {0, 1, 5};
  add(t, {0.2, 0.8, 0.3, 0.7, 0.5, 0.5}, 2, {0, 1});  // a y_true value outside labels
  add({0, 5}, {0.2, 0.8, 0.3, 0.7}, 2, {0, 1});
  add({1, 1, 1}, {0.2, 0.3, 0.4}, 1, {}, {"y_true contains only one label (1.0)"});
  add({1, 1, 1}, {0.2, 0.3, 0.4}, 1, {1}, {"needs to contain at least two labels"});
  add({0, 1, 2}, {0.2, 0.8, 0.3, 0.7, 0.5, 0.5}, 2, {}, {"y_true and y_pred contain different number of classes 3, 2"});
  add({0, 1, 1}, {0.2, 0.8, 0.3, 0.7, 0.5, 0.5}, 2, {0, 1, 2}, {"number of classes in labels is different"});
  add({0.5, 1, 1}, {0.2, 0.3, 0.4}, 1, {}, {"Unknown label type"});
  add({0, 1}, {0.2, 0.3, 0.4}, 1, {}, {"inconsistent numbers of samples"});
  add({}, {}, 1, {}, {"Found array with 0 sample(s)"});
  cases.check_against_sklearn();
}

// r2, MSE and MAE agree with sklearn, including constant targets and single samples.
TEST_F(MetricsTest, RegressionMetricsMatchSklearn) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(3.0, 10.0);
  CaseList cases;
  auto add_all = [&](const Vec& t, const Vec& p, std::vector<std::string> keys = {}) {
    cases.add_metric("r2_score", t, p, r2_score(t, p), keys);
    cases.add_metric("mean_squared_error", t, p, mean_squared_error(t, p), keys);
    cases.add_metric("mean_absolute_error", t, p, mean_absolute_error(t, p), keys);
  };
  for (std::size_t n : kSizes) {
    Vec t(n), p(n);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = normal(rng), p[i] = t[i] + normal(rng) * 0.1;
    add_all(t, p);
  }
  add_all({2, 2, 2}, {2, 2, 2});         // constant and perfect: r2 1
  add_all({2, 2, 2}, {2, 2, 2 + 1e-8});  // constant, imperfect: r2 0
  add_all({1, 2, 3}, {1, 2, 3});
  Vec nan_pred = {1, std::numeric_limits<double>::quiet_NaN()};
  Vec inf_true = {1, std::numeric_limits<double>::infinity()};
  add_all({1, 2}, nan_pred, {"Input contains NaN"});
  add_all(inf_true, {1, 2}, {"Input contains infinity"});
  add_all({1, 2}, {1}, {"inconsistent numbers of samples"});
  add_all({}, {}, {"Found array with 0 sample(s)"});
  cases.add_metric("r2_score", {1}, {2}, r2_score({1}, {2}));  // NaN below two samples
  cases.check_against_sklearn();
}

json scorer_case(const std::string& name, const ScoringInputs& in) {
  json c = {{"fn", "scorer"}, {"name", name}, {"y_true", *in.y_true}, {"classes", in.classes}};
  if (in.y_pred != nullptr) c["y_pred"] = *in.y_pred;
  if (in.decision != nullptr) c["decision"] = *in.decision;
  if (in.proba != nullptr) c["proba"] = rows(*in.proba, static_cast<int>(in.n_proba_columns));
  return c;
}

// Every named scorer returns what sklearn's get_scorer(name)(estimator, X, y) returns.
TEST_F(MetricsTest, ScorersMatchSklearn) {
  std::mt19937_64 rng(6);
  CaseList cases;
  auto add = [&](const std::string& name, const ScoringInputs& in, std::vector<std::string> keys = {}) {
    auto info = find_scorer(name);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    cases.add(scorer_case(name, in), score(*info, in), std::move(keys));
  };
  for (std::size_t n : {20, 200}) {
    Vec y2 = random_labels(rng, n, 2), p2 = random_labels(rng, n, 2), y3 = random_labels(rng, n, 3),
        p3 = random_labels(rng, n, 3), d = random_scores(rng, n, 2), pr2 = random_proba(rng, n, 2, true),
        pr3 = random_proba(rng, n, 3, true);
    y2[0] = 0, y2[1] = 1, y3[0] = 0, y3[1] = 1, y3[2] = 2;
    for (const char* name : {"accuracy", "balanced_accuracy", "f1", "precision", "recall"}) {
      add(name, {&y2, &p2, nullptr, nullptr, 0, {0, 1}});
    }
    add("accuracy", {&y3, &p3, nullptr, nullptr, 0, {0, 1, 2}});
    add("f1", {&y3, &p3, nullptr, nullptr, 0, {0, 1, 2}}, {"Target is multiclass but average='binary'"});
    add("roc_auc", {&y2, nullptr, &d, &pr2, 2, {0, 1}});       // decision_function wins
    add("roc_auc", {&y2, nullptr, nullptr, &pr2, 2, {0, 1}});  // predict_proba[:, 1]
    add("roc_auc", {&y3, nullptr, nullptr, &pr3, 3, {0, 1, 2}}, {"multiclass format is not supported"});
    add("neg_log_loss", {&y2, nullptr, nullptr, &pr2, 2, {0, 1}});
    add("neg_log_loss", {&y3, nullptr, nullptr, &pr3, 3, {0, 1, 2}});
    Vec y_fold = y2;  // a binary fold of a 3-class classifier
    add("neg_log_loss", {&y_fold, nullptr, nullptr, &pr3, 3, {0, 1, 2}}, {"different number of classes 2, 3"});
    add("roc_auc", {&y_fold, nullptr, nullptr, &pr3, 3, {0, 1, 2}}, {"need classifier with two classes"});
    Vec yr(n), pr(n);
    std::normal_distribution<double> normal;
    for (std::size_t i = 0; i < yr.size(); ++i) yr[i] = normal(rng), pr[i] = yr[i] + 0.3 * normal(rng);
    for (const char* name : {"r2", "neg_mean_squared_error", "neg_mean_absolute_error"}) {
      add(name, {&yr, &pr, nullptr, nullptr, 0, {}});
    }
  }
  cases.check_against_sklearn();
}

// The scorer table says which output each scorer reads, and an unknown name lists the valid ones.
TEST_F(MetricsTest, FindScorerKnowsInputsAndRejectsUnknownNames) {
  EXPECT_EQ(find_scorer("roc_auc")->input, ScorerInput::kThreshold);
  EXPECT_EQ(find_scorer("neg_log_loss")->input, ScorerInput::kProba);
  EXPECT_EQ(find_scorer("accuracy")->input, ScorerInput::kPredict);
  EXPECT_TRUE(find_scorer("f1")->classifier_only);
  EXPECT_FALSE(find_scorer("r2")->classifier_only);
  auto bad = find_scorer("foo");
  ASSERT_FALSE(bad.ok());
  for (const auto& name : scorer_names()) EXPECT_NE(bad.status().message().find(name), std::string::npos) << name;
  CaseList cases;
  cases.add({{"fn", "scorer"}, {"name", "foo"}, {"y_true", Vec{0, 1}}}, Result<double>(bad.status()),
            {"'foo' is not a valid scoring value"});
  cases.check_against_sklearn();
}

// Every name we accept is a scorer sklearn knows.
TEST_F(MetricsTest, ScorerNamesAreSklearnNames) {
  json want = python_oracle::run(R"PY(
import json
from sklearn.metrics import get_scorer_names
print(json.dumps(sorted(get_scorer_names())))
)PY");
  auto known = want.get<std::vector<std::string>>();
  for (const auto& name : scorer_names()) EXPECT_NE(std::find(known.begin(), known.end(), name), known.end()) << name;
}

// A scorer missing the output it reads is an error, not a crash.
TEST(ScoreTest, MissingInputIsInvalid) {
  Vec y = {0, 1};
  auto info = find_scorer("neg_log_loss");
  ASSERT_TRUE(info.ok());
  auto r = score(*info, {&y, &y, nullptr, nullptr, 0, {0, 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("predict_proba"), std::string::npos);
}

}  // namespace
}  // namespace dtask::ml_core
