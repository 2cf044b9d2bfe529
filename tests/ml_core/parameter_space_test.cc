// ParameterGrid and sample_parameters against scikit-learn 1.2.1's
// ParameterGrid and ParameterSampler (with scipy 1.10's distributions), asked
// in the same run.
#include "dtask/ml/core/parameter_space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/ml_core/params_json.h"
#include "tests/support/python_oracle.h"

namespace dtask::ml_core {
namespace {

using nlohmann::json;
using testing::to_json;

ParamValue from_json(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) return v.get<double>();
  return v.get<std::string>();
}

std::vector<ParamValue> values_of(const json& list) {
  std::vector<ParamValue> out;
  for (const auto& v : list) out.push_back(from_json(v));
  return out;
}

// A source in the test's JSON form: {"list": [...]}, {"uniform": [loc, scale]},
// {"loguniform": [a, b]} or {"randint": [low, high]}.
Distribution distribution_of(const json& spec) {
  if (spec.contains("list")) return values_of(spec["list"]);
  if (spec.contains("uniform")) return Uniform{spec["uniform"][0].get<double>(), spec["uniform"][1].get<double>()};
  if (spec.contains("loguniform")) {
    return LogUniform{spec["loguniform"][0].get<double>(), spec["loguniform"][1].get<double>()};
  }
  return RandInt{spec["randint"][0].get<std::int64_t>(), spec["randint"][1].get<std::int64_t>()};
}

const char* kSamplerOracle = R"PY(
import json, sys, warnings
import scipy.stats as st
from sklearn.model_selection import ParameterSampler
def source(spec):
    if "list" in spec: return spec["list"]
    if "uniform" in spec: return st.uniform(*spec["uniform"])
    if "loguniform" in spec: return st.loguniform(*spec["loguniform"])
    return st.randint(*spec["randint"])
out = []
for c in json.loads(sys.argv[1]):
    dists = [{k: source(v) for k, v in d.items()} for d in c["dists"]]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            params = list(ParameterSampler(dists, c["n_iter"], random_state=c["seed"]))
        out.append({"params": params, "warnings": [str(w.message) for w in caught if w.category is UserWarning]})
    except ValueError as e:
        out.append({"error": str(e)})
print(json.dumps(out))
)PY";

json run_sampler_case(const json& c) {
  std::vector<ParamDistributions> dists;
  for (const auto& d : c["dists"]) {
    ParamDistributions& dist = dists.emplace_back();
    for (const auto& [k, spec] : d.items()) dist[k] = distribution_of(spec);
  }
  std::vector<std::string> warnings;
  auto r = sample_parameters(dists, c["n_iter"].get<std::int64_t>(), c["seed"].get<std::uint32_t>(), &warnings);
  if (!r.ok()) return {{"error", r.status().message()}};
  json params = json::array();
  for (const auto& p : *r) params.push_back(to_json(p));
  return {{"params", params}, {"warnings", warnings}};
}

// Equal, except that loguniform draws (keys starting "log") may differ in the
// last bits: pow comes from a different libm.
void expect_same_candidates(const json& got, const json& want, const std::string& where) {
  if (!want.contains("params") || !got.contains("params")) {
    EXPECT_EQ(got, want) << where;
    return;
  }
  EXPECT_EQ(got["warnings"], want["warnings"]) << where;
  ASSERT_EQ(got["params"].size(), want["params"].size()) << where;
  for (std::size_t i = 0; i < want["params"].size(); ++i) {
    const json& g = got["params"][i];
    const json& w = want["params"][i];
    ASSERT_EQ(g.size(), w.size()) << where << " candidate " << i;
    for (const auto& [k, wv] : w.items()) {
      ASSERT_TRUE(g.contains(k)) << where << " candidate " << i << " key " << k;
      if (k.rfind("log", 0) == 0 && wv.is_number_float()) {
        double a = g[k].get<double>(), b = wv.get<double>();
        EXPECT_LE(std::abs(a - b), 1e-12 * std::abs(b)) << where << " candidate " << i << " key " << k;
      } else {
        EXPECT_EQ(g[k], wv) << where << " candidate " << i << " key " << k;
      }
    }
  }
}

class ParameterSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn, scipy")) GTEST_SKIP() << python_oracle::skip_reason("sklearn, scipy");
  }
};

// len, list() and every ParameterGrid[i] match sklearn, over several grids
// (an empty one included), and an empty value list is sklearn's error.
TEST_F(ParameterSpaceTest, ParameterGridMatchesSklearn) {
  json grids = json::array({
      json::object({{"penalty", {"l1", "l2"}}, {"C", {0.1, 1.0, 10.0}}, {"fit_intercept", {true, false}}}),
      json::object(),
      json::object({{"max_iter", {100, 200, 300, 400}}, {"b", {"x"}}, {"a", {1.5, 2.5}}}),
  });
  json want = python_oracle::run(R"PY(
import json, sys
from sklearn.model_selection import ParameterGrid
pg = ParameterGrid(json.loads(sys.argv[1]))
out = {"len": len(pg), "list": list(pg), "items": [pg[i] for i in range(len(pg))]}
try:
    ParameterGrid([{"a": [1]}, {"C": []}])
except ValueError as e:
    out["error"] = str(e)
print(json.dumps(out))
)PY",
                                 {grids.dump()});
  std::vector<ParamGrid> mine;
  for (const auto& g : grids) {
    ParamGrid& grid = mine.emplace_back();
    for (const auto& [k, v] : g.items()) grid[k] = values_of(v);
  }
  auto pg = ParameterGrid::make(mine);
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  EXPECT_EQ(pg->size(), want["len"].get<std::int64_t>());
  json all = json::array(), items = json::array();
  for (const auto& p : pg->all()) all.push_back(to_json(p));
  for (std::int64_t i = 0; i < pg->size(); ++i) items.push_back(to_json((*pg)[i]));
  EXPECT_EQ(all, want["list"]);
  EXPECT_EQ(items, want["items"]);
  EXPECT_FALSE(pg->at(pg->size()).ok());
  auto bad = ParameterGrid::make({{{"a", {1}}}, {{"C", {}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), want["error"].get<std::string>());
}

// ParameterSampler over lists only (grid sampling without replacement, with
// the small-grid warning) and over distributions (uniform, loguniform,
// randint, lists, several dicts) gives sklearn's candidates for each seed.
TEST_F(ParameterSpaceTest, ParameterSamplerMatchesSklearn) {
  json lists = json::array({json::object({{"C", {{"list", {0.1, 1.0, 10.0, 100.0}}}},
                                          {"kernel", {{"list", {"rbf", "linear", "poly"}}}},
                                          {"shrinking", {{"list", {true, false}}}}})});
  json big_grid = json::array({json::object({{"a", {{"list", json::array()}}}})});
  big_grid[0]["a"]["list"] = json::array();
  for (int i = 0; i < 500; ++i) big_grid[0]["a"]["list"].push_back(i);
  big_grid[0]["b"] = {{"list", {"x", "y", "z"}}};
  json mixed = json::array({json::object({{"alpha", {{"uniform", {0.5, 2.0}}}},
                                          {"log_C", {{"loguniform", {1e-3, 1e3}}}},
                                          {"n", {{"randint", {1, 100}}}},
                                          {"solver", {{"list", {"a", "b", "c"}}}},
                                          {"single", {{"list", {7}}}},
                                          {"big", {{"randint", {-5, 5000000000LL}}}}})});
  json several = json::array({json::object({{"log_gamma", {{"loguniform", {1e-4, 1.0}}}}, {"k", {{"list", {"rbf"}}}}}),
                              json::object({{"degree", {{"randint", {2, 5}}}}, {"k", {{"list", {"poly"}}}}}),
                              json::object({{"u", {{"uniform", {}}}}})});
  several[2]["u"]["uniform"] = {0.0, 1.0};
  json cases = json::array();
  for (int seed : {0, 1, 42}) {
    for (int n_iter : {1, 5, 10, 30}) cases.push_back({{"dists", lists}, {"n_iter", n_iter}, {"seed", seed}});
    for (int n_iter : {3, 20, 1490}) cases.push_back({{"dists", big_grid}, {"n_iter", n_iter}, {"seed", seed}});
    cases.push_back({{"dists", mixed}, {"n_iter", 25}, {"seed", seed}});
    cases.push_back({{"dists", several}, {"n_iter", 30}, {"seed", seed}});
  }
  cases.push_back({{"dists", mixed}, {"n_iter", 5}, {"seed", 4294967295u}});
  json want = python_oracle::run(kSamplerOracle, {cases.dump()});
  ASSERT_EQ(want.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(want[i].contains("params")) << "sklearn refused case " << i << ": " << want[i].dump();
    expect_same_candidates(run_sampler_case(cases[i]), want[i], "case " + std::to_string(i));
  }
}

// Bad spaces are errors with sklearn's, numpy's or scipy's text, and a
// zero-width uniform gives loc without drawing.
TEST_F(ParameterSpaceTest, SamplerErrorsMatchSklearn) {
  auto with = [](json dist) { return json{{"dists", json::array({dist})}, {"n_iter", 3}, {"seed", 0}}; };
  json cases = json::array({
      with({{"a", {{"list", json::array()}}}}),
      with({{"a", {{"list", json::array()}}}, {"b", {{"uniform", {0.0, 1.0}}}}}),
      with({{"a", {{"uniform", {0.0, -1.0}}}}}),
      with({{"a", {{"loguniform", {2.0, 1.0}}}}}),
      with({{"a", {{"loguniform", {0.0, 1.0}}}}}),
      with({{"a", {{"randint", {3, 3}}}}}),
      with({{"a", {{"uniform", {3.0, 0.0}}}}, {"b", {{"randint", {0, 10}}}}}),
  });
  json want = python_oracle::run(kSamplerOracle, {cases.dump()});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(run_sampler_case(cases[i]), want[i]) << cases[i].dump();
  }
}

}  // namespace
}  // namespace dtask::ml_core
