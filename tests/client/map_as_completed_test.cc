// Client::map, typed compute of several graphs and as_completed, on an
// in-process LocalCluster (a scheduler and workers over loopback TCP).
#include <gtest/gtest.h>

#include <algorithm>
#include <dtask/client.h>
#include <set>
#include <string>
#include <vector>

#include "tests/support/local_cluster_suite.h"

namespace dtask {
namespace {

using std::chrono::seconds;

class ClientMapTest : public testing::LocalClusterSuite {};

// map zips its lists into one call per position, in order, mixing values and futures.
TEST_F(ClientMapTest, RunsOneCallPerPositionInOrder) {
  std::vector<std::int64_t> xs;
  for (std::int64_t i = 0; i < 1000; ++i) xs.push_back(i);
  std::vector<Future<std::int64_t>> incremented = client().map<std::int64_t>("inc", xs);
  ASSERT_EQ(incremented.size(), xs.size());
  std::vector<std::int64_t> ys(xs.size(), 10);
  std::vector<Future<std::int64_t>> added = client().map<std::int64_t>("add", incremented, ys);
  std::vector<std::int64_t> got = client().gather(added, seconds(60));
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(got[i], xs[i] + 11) << i;
  std::set<std::string> keys;
  for (const auto& f : added) keys.insert(f.key());
  EXPECT_EQ(keys.size(), added.size());
}

// Lists of different lengths, or one key for every call, are refused before anything is sent.
TEST_F(ClientMapTest, RefusesUnevenListsAndAFixedKey) {
  EXPECT_THROW(client().map("add", std::vector<int>{1, 2}, std::vector<int>{1}), TaskError);
  SubmitOptions keyed;
  keyed.key = "same";
  EXPECT_THROW(client().map(keyed, "inc", std::vector<int>{1, 2}), TaskError);
  EXPECT_TRUE(client().map("inc", std::vector<int>{}).empty());
}

// compute<T> of several graphs gives typed futures, one per graph, sharing common tasks.
TEST_F(ClientMapTest, TypedComputeOfSeveralGraphs) {
  Delayed shared = delayed("inc")(1);
  std::vector<Delayed> graphs = {delayed("add")(shared, 1), delayed("add")(shared, 2), shared};
  std::vector<Future<std::int64_t>> futures = client().compute<std::int64_t>(graphs);
  ASSERT_EQ(futures.size(), 3u);
  EXPECT_EQ(client().gather(futures, seconds(60)), (std::vector<std::int64_t>{3, 4, 2}));
  EXPECT_EQ(futures[2].key(), shared.key());
}

class AsCompletedTest : public testing::LocalClusterSuite {};

// Each of 20,000 futures (some given twice) is yielded exactly once.
TEST_F(AsCompletedTest, YieldsEveryFutureExactlyOnce) {
  std::vector<std::int64_t> xs(20000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<std::int64_t>(i);
  std::vector<Future<std::int64_t>> futures = client().map<std::int64_t>("inc", xs);
  futures.push_back(futures[0]);
  futures.push_back(futures[7]);
  std::multiset<std::string> seen;
  std::size_t count = 0;
  for (const auto& f : as_completed(client(), futures)) {
    ASSERT_TRUE(f.done());
    seen.insert(f.key());
    ++count;
  }
  EXPECT_EQ(count, futures.size());
  EXPECT_EQ(seen.count(futures[0].key()), 2u);
  EXPECT_EQ(seen.count(futures[7].key()), 2u);
  EXPECT_EQ(seen.count(futures[1].key()), 1u);
  std::set<std::string> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), xs.size());
}

// A failed task's future is yielded like any other; its result throws.
TEST_F(AsCompletedTest, YieldsFailedFutures) {
  std::vector<Future<Value>> futures = {client().submit("fail", "boom"), client().submit("inc", 1)};
  std::size_t failed = 0;
  for (const auto& f : as_completed(client(), futures)) failed += f.try_result(seconds(60)).ok() ? 0 : 1;
  EXPECT_EQ(failed, 1u);
}

}  // namespace
}  // namespace dtask
