// RandomState against numpy 1.24's legacy numpy.random.RandomState, and
// sample_without_replacement against scikit-learn 1.2.1, asked in the same run.
#include "ml_core/random_state.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/python_oracle.h"

namespace dtask::ml_core {
namespace {

const std::vector<std::uint32_t> kSeeds = {0, 1, 42, 4294967295u};

nlohmann::json seeds_json() { return nlohmann::json(kSeeds); }

// Raw 32- and 64-bit outputs, doubles and uniforms match numpy's stream.
TEST(RandomStateTest, RawDrawsMatchNumpy) {
  if (!python_oracle::available("numpy")) GTEST_SKIP() << python_oracle::skip_reason("numpy");
  nlohmann::json want = python_oracle::run(R"PY(
import json, sys, numpy as np
out = []
for seed in json.loads(sys.argv[1]):
    rs = np.random.RandomState(seed)
    # rng == 2**32-1 and 2**64-1 take the raw next_uint32 / next_uint64 paths.
    u32 = [int(rs.randint(0, 2**32, dtype=np.uint64)) for _ in range(8)]
    u64 = [int(rs.randint(0, 2**64, dtype=np.uint64)) for _ in range(8)]
    d = [float(rs.random_sample()) for _ in range(8)]
    u = [float(rs.uniform(-3.5, 7.25)) for _ in range(8)]
    out.append({"u32": u32, "u64": u64, "d": d, "u": u})
print(json.dumps(out))
)PY",
                                           {seeds_json().dump()});
  for (std::size_t s = 0; s < kSeeds.size(); ++s) {
    RandomState rng(kSeeds[s]);
    for (auto v : want[s]["u32"]) EXPECT_EQ(rng.next_uint32(), v.get<std::uint64_t>()) << "seed " << kSeeds[s];
    for (auto v : want[s]["u64"]) EXPECT_EQ(rng.next_uint64(), v.get<std::uint64_t>()) << "seed " << kSeeds[s];
    for (auto v : want[s]["d"]) EXPECT_EQ(rng.random_sample(), v.get<double>()) << "seed " << kSeeds[s];
    for (auto v : want[s]["u"]) EXPECT_EQ(rng.uniform(-3.5, 7.25), v.get<double>()) << "seed " << kSeeds[s];
  }
}

// randint over ranges that take each of numpy's paths (no draw, 32-bit mask,
// full 32 bits, 64-bit mask) gives numpy's integers in numpy's order.
TEST(RandomStateTest, RandintMatchesNumpy) {
  if (!python_oracle::available("numpy")) GTEST_SKIP() << python_oracle::skip_reason("numpy");
  const std::vector<std::pair<std::int64_t, std::int64_t>> ranges = {
      {0, 1},          {0, 2},         {0, 7},           {-5, 100},         {3, 4},
      {0, 4294967296}, {0, 4294967297}, {-1, 1099511627776}, {-(1LL << 62), 1LL << 62}, {10, 1000003}};
  nlohmann::json input = ranges;
  nlohmann::json want = python_oracle::run(R"PY(
import json, sys, numpy as np
ranges = json.loads(sys.argv[2])
out = []
for seed in json.loads(sys.argv[1]):
    rs = np.random.RandomState(seed)
    out.append([[int(rs.randint(lo, hi)) for _ in range(6)] for lo, hi in ranges])
print(json.dumps(out))
)PY",
                                           {seeds_json().dump(), input.dump()});
  for (std::size_t s = 0; s < kSeeds.size(); ++s) {
    RandomState rng(kSeeds[s]);
    for (std::size_t r = 0; r < ranges.size(); ++r) {
      for (auto v : want[s][r]) {
        EXPECT_EQ(rng.randint(ranges[r].first, ranges[r].second), v.get<std::int64_t>())
            << "seed " << kSeeds[s] << " range " << ranges[r].first << ".." << ranges[r].second;
      }
    }
  }
}

// shuffle, permutation (of n and of an array) and choice(replace=False)
// reorder exactly as numpy's legacy Fisher-Yates does.
TEST(RandomStateTest, ShufflePermutationChoiceMatchNumpy) {
  if (!python_oracle::available("numpy")) GTEST_SKIP() << python_oracle::skip_reason("numpy");
  const std::vector<std::int64_t> sizes = {0, 1, 2, 3, 10, 1000};
  nlohmann::json want = python_oracle::run(R"PY(
import json, sys, numpy as np
sizes = json.loads(sys.argv[2])
out = []
for seed in json.loads(sys.argv[1]):
    rs = np.random.RandomState(seed)
    rec = {"shuffle": [], "perm": [], "perm_arr": [], "choice": []}
    for n in sizes:
        a = np.arange(n)
        rs.shuffle(a)
        rec["shuffle"].append(a.tolist())
        rec["perm"].append(rs.permutation(n).tolist())
        rec["perm_arr"].append(rs.permutation(np.arange(n) * 0.5).tolist())
        rec["choice"].append(rs.choice(n, n // 2, replace=False).tolist())
    out.append(rec)
print(json.dumps(out))
)PY",
                                           {seeds_json().dump(), nlohmann::json(sizes).dump()});
  for (std::size_t s = 0; s < kSeeds.size(); ++s) {
    RandomState rng(kSeeds[s]);
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      std::int64_t n = sizes[k];
      std::vector<std::int64_t> a(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) a[static_cast<std::size_t>(i)] = i;
      rng.shuffle(a);
      EXPECT_EQ(a, want[s]["shuffle"][k].get<std::vector<std::int64_t>>()) << "seed " << kSeeds[s] << " n " << n;
      EXPECT_EQ(rng.permutation(n), want[s]["perm"][k].get<std::vector<std::int64_t>>());
      std::vector<double> halves(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) halves[static_cast<std::size_t>(i)] = 0.5 * static_cast<double>(i);
      EXPECT_EQ(rng.permutation(halves), want[s]["perm_arr"][k].get<std::vector<double>>());
      EXPECT_EQ(rng.choice_without_replacement(n, n / 2), want[s]["choice"][k].get<std::vector<std::int64_t>>());
    }
  }
}

// sample_without_replacement picks sklearn's method (permutation, tracking
// selection, reservoir) by ratio and returns sklearn's samples.
TEST(RandomStateTest, SampleWithoutReplacementMatchesSklearn) {
  if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  const std::vector<std::pair<std::int64_t, std::int64_t>> cases = {
      {0, 0},     {1, 1},      {10, 5},     {100, 30},  {1000, 5},   {1000, 10}, {10000, 50},
      {1000, 995}, {100, 100}, {1000, 300}, {100, 99},  {5000, 4990}, {7, 0},     {20, 1}};
  nlohmann::json want = python_oracle::run(R"PY(
import json, sys, numpy as np
from sklearn.utils.random import sample_without_replacement
cases = json.loads(sys.argv[2])
out = []
for seed in json.loads(sys.argv[1]):
    rs = np.random.RandomState(seed)
    # One stream across all cases: the state each call leaves matters too.
    out.append([np.asarray(sample_without_replacement(n, k, random_state=rs)).tolist() for n, k in cases])
print(json.dumps(out))
)PY",
                                           {seeds_json().dump(), nlohmann::json(cases).dump()});
  for (std::size_t s = 0; s < kSeeds.size(); ++s) {
    RandomState rng(kSeeds[s]);
    for (std::size_t c = 0; c < cases.size(); ++c) {
      auto got = sample_without_replacement(cases[c].first, cases[c].second, rng);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      EXPECT_EQ(*got, want[s][c].get<std::vector<std::int64_t>>())
          << "seed " << kSeeds[s] << " n_population " << cases[c].first << " n_samples " << cases[c].second;
    }
  }
}

// Bad sizes are errors with sklearn's (and numpy's) wording.
TEST(RandomStateTest, SampleWithoutReplacementErrorsMatchSklearn) {
  if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  const std::vector<std::pair<std::int64_t, std::int64_t>> cases = {{-1, 0}, {3, 5}, {5, -1}};
  nlohmann::json want = python_oracle::run(R"PY(
import json, sys
from sklearn.utils.random import sample_without_replacement
out = []
for n, k in json.loads(sys.argv[1]):
    try:
        sample_without_replacement(n, k, random_state=0)
        out.append(None)
    except ValueError as e:
        out.append(str(e))
print(json.dumps(out))
)PY",
                                           {nlohmann::json(cases).dump()});
  for (std::size_t c = 0; c < cases.size(); ++c) {
    RandomState rng(0);
    auto got = sample_without_replacement(cases[c].first, cases[c].second, rng);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kInvalid);
    EXPECT_EQ(got.status().message(), want[c].get<std::string>());
  }
}

}  // namespace
}  // namespace dtask::ml_core
