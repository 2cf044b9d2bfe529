// A chain of dependent tasks submitted a few steps ahead, the client
// dropping each future as soon as it has finished (what Incremental and
// ParameterAveraging do): no step may lose its dependency, and a failing
// step fails exactly the steps after it, with its own error.
#include <dtask/client.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "tests/support/local_cluster_suite.h"

namespace dtask {
namespace windowed_chain_test {  // named, not anonymous: the unity build puts a folder's tests in one file

class WindowedChainTest : public testing::LocalClusterSuite {};

// 3000 steps of add(previous, chunk_i) with scattered chunks, 2 steps ahead: the sum comes out right.
TEST_F(WindowedChainTest, NoStepLosesItsDependency) {
  std::vector<Value> values;
  for (int i = 0; i < 100; ++i) values.emplace_back(std::int64_t{i});
  auto chunks = client().scatter(values);
  ASSERT_TRUE(chunks.ok()) << chunks.status().to_string();
  TaskArg tip = Value(std::int64_t{0});
  std::deque<FutureBase> in_flight;
  std::int64_t expected = 0;
  for (int step = 0; step < 3000; ++step) {
    FutureBase next = client().submit("add", tip, (*chunks)[step % 100]);
    expected += step % 100;
    tip = next;
    in_flight.push_back(next);
    while (in_flight.size() > 2) {
      Status status = in_flight.front().wait();
      ASSERT_TRUE(status.ok()) << "step " << step << ": " << status.to_string();
      in_flight.pop_front();
    }
  }
  auto result = Future<std::int64_t>(in_flight.back()).try_result();
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(*result, expected);
}

// Step 50 fails: the first error the client sees is that step's own.
TEST_F(WindowedChainTest, AFailingStepReportsItsOwnError) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    TaskArg tip = Value(std::int64_t{0});
    std::deque<FutureBase> in_flight;
    Status first_error;
    for (int step = 0; step < 100 && first_error.ok(); ++step) {
      FutureBase next = step == 50 ? client().submit("fail", std::string("step 50 fails"))
                                   : client().submit("add", tip, std::int64_t{1});
      tip = next;
      in_flight.push_back(next);
      while (in_flight.size() > 2 && first_error.ok()) {
        first_error = in_flight.front().wait();
        in_flight.pop_front();
      }
    }
    ASSERT_FALSE(first_error.ok());
    EXPECT_NE(first_error.message().find("step 50 fails"), std::string::npos) << first_error.to_string();
  }
}

}  // namespace windowed_chain_test
}  // namespace dtask
