// KFold, StratifiedKFold, ShuffleSplit and StratifiedShuffleSplit against
// scikit-learn 1.2.1 in the same run: every split's indices, the warnings and
// the error texts.
#include "dtask/ml/core/splitters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "tests/support/python_oracle.h"

namespace dtask::ml_core {
namespace {

using nlohmann::json;

// Runs every case through sklearn: {"splits": [[train, test], ...],
// "warnings": [...]} or {"error": "..."}.
const char* kSplittersOracle = R"PY(
import json, sys, warnings
import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, ShuffleSplit, StratifiedShuffleSplit
out = []
for c in json.load(open(sys.argv[1])):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if c["kind"] == "kfold":
                cv, X, y = KFold(c["n_splits"], shuffle=c["shuffle"], random_state=c["seed"]), np.zeros(c["n"]), None
            elif c["kind"] == "skf":
                cv = StratifiedKFold(c["n_splits"], shuffle=c["shuffle"], random_state=c["seed"])
                y = np.asarray(c["y"], dtype=float)
                X = np.zeros(len(y))
            else:
                cls = ShuffleSplit if c["kind"] == "ss" else StratifiedShuffleSplit
                cv = cls(c["n_splits"], test_size=c["test_size"], train_size=c["train_size"], random_state=c["seed"])
                y = None if c["kind"] == "ss" else np.asarray(c["y"], dtype=float)
                X = np.zeros(c["n"] if y is None else len(y))
            splits = [[tr.tolist(), te.tolist()] for tr, te in cv.split(X, y)]
        out.append({"splits": splits, "warnings": [str(w.message) for w in caught if w.category is UserWarning]})
    except ValueError as e:
        out.append({"error": str(e)})
print(json.dumps(out))
)PY";

// y values are read back as doubles; NaN and infinity travel as strings.
std::vector<double> y_of(const json& c) {
  std::vector<double> y;
  for (const auto& v : c["y"]) {
    if (v.is_string()) {
      y.push_back(v == "nan" ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity());
    } else {
      y.push_back(v.get<double>());
    }
  }
  return y;
}

SplitSize size_of(const json& v) {
  if (v.is_null()) return std::monostate{};
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return v.get<double>();
}

std::optional<std::uint32_t> seed_of(const json& c) {
  if (c["seed"].is_null()) return std::nullopt;
  return c["seed"].get<std::uint32_t>();
}

// The same case through dtask, in the oracle's shape.
json run_case(const json& c) {
  Result<SplitResult> r = Status::internal("unknown kind");
  const std::string kind = c["kind"];
  int n_splits = c["n_splits"];
  if (kind == "kfold") {
    r = kfold_split({n_splits, c["shuffle"].get<bool>(), seed_of(c)}, c["n"].get<std::int64_t>());
  } else if (kind == "skf") {
    r = stratified_kfold_split({n_splits, c["shuffle"].get<bool>(), seed_of(c)}, y_of(c));
  } else if (kind == "ss") {
    r = shuffle_split({n_splits, size_of(c["test_size"]), size_of(c["train_size"]), seed_of(c)},
                      c["n"].get<std::int64_t>());
  } else {
    r = stratified_shuffle_split({n_splits, size_of(c["test_size"]), size_of(c["train_size"]), seed_of(c)}, y_of(c));
  }
  if (!r.ok()) return {{"error", r.status().message()}};
  json splits = json::array();
  for (const auto& s : r->splits) splits.push_back({s.train, s.test});
  return {{"splits", splits}, {"warnings", r->warnings}};
}

// Three classes 60/30/10 per hundred, interleaved so labels first appear
// out of sorted order (2, then 0, then 1).
std::vector<double> uneven_labels(int n) {
  std::vector<double> y;
  for (int i = 0; i < n; ++i) {
    int r = (i * 37) % 100;
    y.push_back(r < 60 ? 2.0 : (r < 90 ? 0.0 : 1.0));
  }
  return y;
}

// Binary labels -1/5 with a minority of one in seven.
std::vector<double> binary_labels(int n) {
  std::vector<double> y;
  for (int i = 0; i < n; ++i) y.push_back(i % 7 == 3 ? -1.0 : 5.0);
  return y;
}

// The cases travel in a file: a thousand labels per case outgrow one argv string.
void expect_cases_match(const json& cases, bool expect_errors = false) {
  auto path = std::filesystem::temp_directory_path() /
              ("dtask_splitters_cases_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << cases.dump();
  json want = python_oracle::run(kSplittersOracle, {path.string()});
  std::filesystem::remove(path);
  ASSERT_EQ(want.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    // Guards against a vacuous pass: both sides refusing a case meant to split.
    if (!expect_errors) {
      ASSERT_FALSE(want[i].contains("error")) << want[i].dump() << " for " << cases[i].dump();
    }
    EXPECT_EQ(run_case(cases[i]), want[i]) << "case " << cases[i].dump().substr(0, 300);
  }
}

class SplittersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  }
};

// KFold with and without shuffle yields sklearn's folds for several n, k, seeds.
TEST_F(SplittersTest, KFoldMatchesSklearn) {
  json cases = json::array();
  for (int n : {7, 10, 101, 1000}) {
    for (int k : {2, 3, 5, 10}) {
      if (k > n) continue;
      cases.push_back({{"kind", "kfold"}, {"n_splits", k}, {"shuffle", false}, {"seed", nullptr}, {"n", n}});
      for (int seed : {0, 1, 42}) {
        cases.push_back({{"kind", "kfold"}, {"n_splits", k}, {"shuffle", true}, {"seed", seed}, {"n", n}});
      }
    }
  }
  expect_cases_match(cases);
}

// StratifiedKFold on uneven, out-of-order classes matches sklearn, warning included.
TEST_F(SplittersTest, StratifiedKFoldMatchesSklearn) {
  json cases = json::array();
  for (int n : {7, 10, 101, 1000}) {
    for (const auto& y : {uneven_labels(n), binary_labels(n)}) {
      std::map<double, int> counts;
      for (double v : y) ++counts[v];
      int largest = 0;
      for (const auto& [label, count] : counts) largest = std::max(largest, count);
      for (int k : {2, 3, 5, 10}) {
        if (k > largest) continue;  // an error, tested below
        cases.push_back({{"kind", "skf"}, {"n_splits", k}, {"shuffle", false}, {"seed", nullptr}, {"y", y}});
        for (int seed : {0, 1, 42}) {
          cases.push_back({{"kind", "skf"}, {"n_splits", k}, {"shuffle", true}, {"seed", seed}, {"y", y}});
        }
      }
    }
  }
  expect_cases_match(cases);
}

// ShuffleSplit with default, fractional and integer sizes matches sklearn.
TEST_F(SplittersTest, ShuffleSplitMatchesSklearn) {
  json sizes = json::array({json::array({nullptr, nullptr}), json::array({0.25, nullptr}), json::array({nullptr, 0.5}),
                            json::array({0.2, 0.3}), json::array({3, nullptr}), json::array({2, 4}),
                            json::array({nullptr, 5}), json::array({0.1, 2})});
  json cases = json::array();
  for (int n : {7, 10, 101, 1000}) {
    for (const auto& s : sizes) {
      for (int seed : {0, 1, 42}) {
        cases.push_back({{"kind", "ss"}, {"n_splits", 3}, {"test_size", s[0]}, {"train_size", s[1]}, {"seed", seed}, {"n", n}});
      }
    }
  }
  expect_cases_match(cases);
}

// StratifiedShuffleSplit (approximate-mode allocation, tie breaking, final
// permutations) matches sklearn on uneven and binary labels.
TEST_F(SplittersTest, StratifiedShuffleSplitMatchesSklearn) {
  json sizes = json::array({json::array({nullptr, nullptr}), json::array({0.25, nullptr}), json::array({0.3, 0.5}),
                            json::array({4, nullptr}), json::array({nullptr, 6}), json::array({0.33, 0.33})});
  json cases = json::array();
  for (int n : {30, 101, 1000}) {  // smaller n leaves a class with one member
    for (const auto& y : {uneven_labels(n), binary_labels(n)}) {
      for (const auto& s : sizes) {
        for (int seed : {0, 1, 42}) {
          cases.push_back({{"kind", "sss"}, {"n_splits", 3}, {"test_size", s[0]}, {"train_size", s[1]}, {"seed", seed},
                           {"y", y}});
        }
      }
    }
  }
  // Equal class counts: every allocation is a tie broken by the rng.
  std::vector<double> tied = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  for (int seed : {0, 1, 42}) {
    cases.push_back({{"kind", "sss"}, {"n_splits", 5}, {"test_size", 5}, {"train_size", 6}, {"seed", seed}, {"y", tied}});
  }
  expect_cases_match(cases);
}

// Each error sklearn raises comes back as Invalid with sklearn's text, and
// the few-members warning as a warning.
TEST_F(SplittersTest, ErrorsAndWarningsMatchSklearn) {
  std::vector<double> continuous = {0.5, 1, 2, 3};
  json nan_y = json::array({"nan", 1.0, 2.0, 3.0});
  json inf_y = json::array({"inf", 1.0, 1.0, 1.0});
  std::vector<double> singleton = {1, 1, 1, 2, 2, 3};
  std::vector<double> lopsided = {1, 1, 1, 1, 2, 2, 2, 3};
  json cases = json::array({
      {{"kind", "kfold"}, {"n_splits", 1}, {"shuffle", false}, {"seed", nullptr}, {"n", 5}},
      {{"kind", "kfold"}, {"n_splits", 6}, {"shuffle", false}, {"seed", nullptr}, {"n", 5}},
      {{"kind", "kfold"}, {"n_splits", 3}, {"shuffle", false}, {"seed", 0}, {"n", 5}},
      {{"kind", "skf"}, {"n_splits", 1}, {"shuffle", true}, {"seed", 0}, {"y", lopsided}},
      {{"kind", "skf"}, {"n_splits", 3}, {"shuffle", false}, {"seed", 1}, {"y", lopsided}},
      {{"kind", "skf"}, {"n_splits", 5}, {"shuffle", false}, {"seed", nullptr}, {"y", lopsided}},
      {{"kind", "skf"}, {"n_splits", 3}, {"shuffle", true}, {"seed", 0}, {"y", lopsided}},
      {{"kind", "skf"}, {"n_splits", 9}, {"shuffle", false}, {"seed", nullptr}, {"y", lopsided}},
      {{"kind", "skf"}, {"n_splits", 2}, {"shuffle", false}, {"seed", nullptr}, {"y", continuous}},
      {{"kind", "skf"}, {"n_splits", 2}, {"shuffle", false}, {"seed", nullptr}, {"y", nan_y}},
      {{"kind", "skf"}, {"n_splits", 2}, {"shuffle", false}, {"seed", nullptr}, {"y", inf_y}},
      {{"kind", "sss"}, {"n_splits", 2}, {"test_size", 3}, {"train_size", nullptr}, {"seed", 0}, {"y", singleton}},
      {{"kind", "sss"}, {"n_splits", 2}, {"test_size", 3}, {"train_size", 2}, {"seed", 0}, {"y", lopsided}},
      {{"kind", "sss"}, {"n_splits", 2}, {"test_size", 2}, {"train_size", nullptr}, {"seed", 0}, {"y", lopsided}},
      {{"kind", "sss"}, {"n_splits", 2}, {"test_size", 2}, {"train_size", nullptr}, {"seed", 0}, {"y", nan_y}},
  });
  json bad_sizes = json::array({json::array({0, nullptr}), json::array({1.5, nullptr}), json::array({10, nullptr}),
                                json::array({nullptr, 0.0}), json::array({0.6, 0.6}), json::array({5, 6}),
                                json::array({nullptr, 10}), json::array({-1, nullptr}), json::array({0.01, nullptr}),
                                json::array({nullptr, 0.05}), json::array({0.95, nullptr})});
  for (const auto& s : bad_sizes) {
    cases.push_back({{"kind", "ss"}, {"n_splits", 2}, {"test_size", s[0]}, {"train_size", s[1]}, {"seed", 0}, {"n", 10}});
  }
  expect_cases_match(cases, /*expect_errors=*/true);
}

// Without a random_state the splits are still valid partitions (seeded from
// std::random_device, as sklearn's None draws fresh entropy).
TEST(SplittersNoSeedTest, UnseededShuffleSplitPartitions) {
  auto r = shuffle_split({5, 0.3, std::monostate{}, std::nullopt}, 20);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  for (const auto& s : r->splits) {
    std::vector<std::int64_t> all = s.train;
    all.insert(all.end(), s.test.begin(), s.test.end());
    std::sort(all.begin(), all.end());
    std::vector<std::int64_t> want(20);
    std::iota(want.begin(), want.end(), std::int64_t{0});
    EXPECT_EQ(all, want);
    EXPECT_EQ(s.test.size(), 6u);
  }
}

}  // namespace
}  // namespace dtask::ml_core
