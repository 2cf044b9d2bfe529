// Scheduler restart end to end: a real dtask-scheduler with --journal is
// killed with SIGKILL mid-graph and started again on the same port and
// journal. The workers reconnect with the results they kept, the client
// reconnects and resumes its session, and its futures complete with the
// right values, without recomputing what the workers brought back.
#include <gtest/gtest.h>
#include <signal.h>

#include <dtask/client.h>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "tests/formats/temp_dir.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/reduction_graph.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::wait_until;

class SchedulerRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    start_scheduler("0");
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> args = {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "2", "--name",
                                       "w" + std::to_string(i), "--log-level", "warn"};
      auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
      ASSERT_TRUE(worker.ok()) << worker.status().to_string();
      workers_.push_back(std::move(*worker));
    }
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_until([&] { return info()["workers"].size() == 2; }));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
    }
  }

  /// A scheduler on `port` ("0": any) with the test's journal.
  void start_scheduler(const std::string& port) {
    std::vector<std::string> args = testing::test_scheduler_args();
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--port") args[i + 1] = port;
      if (args[i] == "--log-level") args[i + 1] = "info";  // the replay and compaction lines explain a failure
    }
    // A small compaction threshold: the journal is rewritten many times mid-graph.
    args.insert(args.end(), {"--journal", journal_.path().string(), "--recovery-timeout", "20",
                             "--journal-compact-size", "16KiB"});
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, args);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
  }

  /// kill -9, then a new scheduler on the same port and journal.
  void kill_and_restart_scheduler() {
    const std::string address = scheduler_->address();
    const std::string port = address.substr(address.rfind(':') + 1);
    EXPECT_EQ(scheduler_->stop(SIGKILL), 128 + SIGKILL);
    scheduler_.reset();
    start_scheduler(port);
    ASSERT_EQ(scheduler_->address(), address);
  }

  nlohmann::json info() { return testing::scheduler_info(*client_); }
  std::uint64_t tasks_completed() { return info()["tasks_completed"].get<std::uint64_t>(); }

  formats::testing::TempDir journal_;
  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

/// Kill-and-restart rounds (DTASK_RESTART_RUNS, default 5).
int restart_runs() {
  const char* runs = std::getenv("DTASK_RESTART_RUNS");
  return runs != nullptr ? std::max(1, std::atoi(runs)) : 5;
}

// kill -9 of the scheduler mid-graph, restart on the same journal, several
// times at different points of different graphs: every future completes
// with the right sum, and each restarted scheduler runs only what the
// workers did not bring back.
TEST_F(SchedulerRestartTest, KillSchedulerMidGraphAndRestart) {
  for (int run = 0; run < restart_runs(); ++run) {
    // 2,000 leaves of 1 ms summed by a tree: 2,287 tasks, with keys of their own per run.
    auto [root, expected, total_tasks] = testing::reduction_graph(2000, 0.001, std::int64_t{run} * 1'000'000);
    const std::uint64_t before = tasks_completed();
    Future<std::int64_t> result = client_->compute<std::int64_t>(root);
    const std::uint64_t kill_after = 300 + 250 * static_cast<std::uint64_t>(run % 5);
    ASSERT_TRUE(wait_until([&] { return tasks_completed() >= before + kill_after; })) << "run " << run;
    const std::uint64_t done_before_kill = tasks_completed() - before;
    ASSERT_LT(done_before_kill, total_tasks) << "run " << run << ": the graph finished before the kill";

    kill_and_restart_scheduler();

    ASSERT_TRUE(result.wait(std::chrono::seconds(120)).ok()) << result.wait(std::chrono::seconds(0)).message();
    auto value = result.try_result();
    ASSERT_TRUE(value.ok()) << "run " << run << ": " << value.status().to_string();
    EXPECT_EQ(*value, expected) << "run " << run;
    // Results the workers kept were not computed again: the new scheduler
    // ran at most what was left, plus the few tasks running at the kill.
    const std::uint64_t done_after_restart = tasks_completed();
    std::printf("run %d, graph of %zu tasks: %llu done before the kill, %llu run by the restarted scheduler\n", run,
                total_tasks, static_cast<unsigned long long>(done_before_kill),
                static_cast<unsigned long long>(done_after_restart));
    EXPECT_LE(done_after_restart, total_tasks - done_before_kill + 50) << "run " << run;
    EXPECT_EQ(info()["workers"].size(), 2u) << "run " << run;
  }
}

// A graph submitted while the scheduler is down waits in the client and
// runs once it is back; futures from before the kill that were already done
// still fetch.
TEST_F(SchedulerRestartTest, SubmitWhileSchedulerIsDown) {
  Future<std::int64_t> early = client_->submit<std::int64_t>("add", 20, 22);
  ASSERT_EQ(early.result(), 42);
  const std::string address = scheduler_->address();
  const std::string port = address.substr(address.rfind(':') + 1);
  EXPECT_EQ(scheduler_->stop(SIGKILL), 128 + SIGKILL);
  scheduler_.reset();

  Future<std::int64_t> during = client_->submit<std::int64_t>("add", early, 8);  // queued in the client
  start_scheduler(port);
  EXPECT_EQ(during.result(), 50);
  EXPECT_EQ(early.result(), 42);
}

// Without --journal nothing comes back: a client's pending future fails at
// once with the lost connection instead of waiting for a reconnect.
TEST(SchedulerWithoutJournal, PendingFuturesFailAtOnce) {
  auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
  ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
  auto client = Client::connect(scheduler->address());
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  Future<Value> pending = (*client)->submit<Value>("sleep", 600.0);  // no worker: stays pending
  EXPECT_EQ(scheduler->stop(SIGKILL), 128 + SIGKILL);
  Status status = pending.wait(std::chrono::seconds(30));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("lost connection to scheduler"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace dtask
