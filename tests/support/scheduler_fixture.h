// A GoogleTest fixture base for the end-to-end suites that run a real
// dtask-scheduler, real dtask-worker processes and a Client on it. It holds
// the start-up and shut-down every such suite wrote again: start the
// scheduler, connect, start workers, wait until the scheduler lists them,
// and stop it all in the order that keeps each exit clean.
//
// Only for targets that define DTASK_SCHEDULER_BIN and DTASK_WORKER_BIN
// (tests/e2e/CMakeLists.txt's dtask_add_daemon_test does).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <dtask/client.h>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"

namespace dtask::testing {

/// Whether stop_cluster() checks that each daemon exited 0 on SIGTERM.
enum class ExitCheck { kExpectZero, kIgnore };

/// Each start helper fails the test fatally when its daemon does not start;
/// gtest returns from the helper only, so call it through
/// ASSERT_NO_FATAL_FAILURE (a later step would use what is missing).
/// The default TearDown() is stop_cluster(ExitCheck::kExpectZero); a suite
/// that frees more (files, other processes) overrides it and calls
/// stop_cluster() itself. Not thread-safe: the test thread uses it.
class SchedulerFixture : public ::testing::Test {
 protected:
  void TearDown() override { stop_cluster(ExitCheck::kExpectZero); }

  /// Starts dtask-scheduler on test_scheduler_args() and then `extra_args`
  /// (later flags win); its log goes to `stderr_path` if not empty.
  void start_scheduler(const std::vector<std::string>& extra_args = {}, const std::string& stderr_path = {}) {
    std::vector<std::string> args = test_scheduler_args();
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, args, std::chrono::seconds(20), stderr_path);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
  }

  /// Connects client_ to the scheduler.
  void connect_client() {
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
  }

  /// Starts a dtask-worker of the scheduler (`args` follow its address) and
  /// appends it to workers_. Returns once it listens, which may be before
  /// the scheduler lists it: see wait_for_workers().
  void start_worker(const std::vector<std::string>& args) {
    std::vector<std::string> all = {scheduler_->address()};
    all.insert(all.end(), args.begin(), args.end());
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, all);
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    workers_.push_back(std::move(*worker));
  }

  /// Whether the scheduler lists `count` workers within `timeout` (asked
  /// through client_).
  [[nodiscard]] bool wait_for_workers(std::size_t count,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return wait_until([&] { return scheduler_info(*client_)["workers"].size() == count; }, timeout);
  }

  /// Disconnects the client, then stops (SIGTERM) the workers, then the
  /// scheduler they report to: the order the suites used before this helper,
  /// so that no daemon is asked to stop while a peer it serves still talks
  /// to it. With kExpectZero each must exit 0.
  void stop_cluster(ExitCheck check) {
    client_.reset();
    for (auto& worker : workers_) {
      int code = worker.stop();
      if (check == ExitCheck::kExpectZero) {
        EXPECT_EQ(code, 0) << "worker did not stop cleanly on SIGTERM";
      }
    }
    if (scheduler_) {
      int code = scheduler_->stop();
      if (check == ExitCheck::kExpectZero) {
        EXPECT_EQ(code, 0) << "scheduler did not stop cleanly on SIGTERM";
      }
    }
  }

  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

}  // namespace dtask::testing
