// A GoogleTest fixture whose tests share one LocalCluster (an in-process
// scheduler and 2 workers x 1 thread over loopback TCP), started once per
// suite: the estimator suites fit many models and need no fresh cluster each.
#pragma once

#include <dtask/client.h>
#include <gtest/gtest.h>

namespace dtask::testing {

class LocalClusterSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { client_ = new Client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1}); }
  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
  }
  Client& client() { return *client_; }

 private:
  static inline Client* client_ = nullptr;
};

}  // namespace dtask::testing
