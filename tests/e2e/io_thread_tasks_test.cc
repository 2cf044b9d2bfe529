// End-to-end, on real dtask-scheduler and dtask-worker processes: a lone task
// of an op measured tiny runs on the worker's io thread (its
// submit().result() round trip wakes two threads fewer), and an op that
// once ran long there never does again. The worker counts those runs in
// dtask_worker_tasks_run_on_io_thread_total on its /metrics.
//
// The limit is 5 ms here, not the default 50 us, so that a sanitizer build's
// slower `inc` still counts as tiny.
#include <gtest/gtest.h>

#include <cstdint>
#include <dtask/client.h>
#include <string>

#include "tests/support/daemon_process.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_check.h"
#include "tests/support/scheduler_fixture.h"

namespace dtask {
namespace {

using testing::http_get;

class IoThreadTasksTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(start_scheduler());
    ASSERT_NO_FATAL_FAILURE(start_worker({"--host", "127.0.0.1", "--nthreads", "1", "--name", "w0",
                                          "--io-thread-task-limit", "5000", "--dashboard-address", "127.0.0.1:0",
                                          "--log-level", "warn"}));
    ASSERT_NO_FATAL_FAILURE(connect_client());
    ASSERT_TRUE(wait_for_workers(1));
  }

  /// The worker's counter `name`, once its tasks_finished counter (published
  /// with each heartbeat) reaches `finished`; -1 if it never does.
  double worker_counter(const std::string& name, std::uint64_t finished) {
    double value = -1;
    bool caught_up = testing::wait_until([&] {
      auto reply = http_get(workers_.at(0).dashboard_address(), "/metrics");
      testing::PrometheusSamples samples;
      if (!reply.ok() || !testing::check_prometheus_text(reply->body, &samples).ok()) return false;
      double done = -1;
      for (const auto& [series, sample] : samples) {
        if (series.starts_with("dtask_worker_tasks_finished_total")) done = sample;
        if (series.starts_with(name)) value = sample;
      }
      return done == static_cast<double>(finished);
    });
    return caught_up ? value : -1;
  }

  double run_on_io_thread(std::uint64_t finished) {
    return worker_counter("dtask_worker_tasks_run_on_io_thread_total", finished);
  }
};

// Sequential round trips: after the first kIoThreadMinRuns (16) measure the
// op, the rest run on the io thread, and every result is right.
TEST_F(IoThreadTasksTest, SequentialTinyTasksRunOnTheIoThread) {
  constexpr int kCalls = 100;
  for (int i = 0; i < kCalls; ++i) ASSERT_EQ(client_->submit<std::int64_t>("inc", i).result(), i + 1);
  const double here = run_on_io_thread(kCalls);
  EXPECT_GE(here, kCalls / 2) << "of " << kCalls << " sequential incs";
  EXPECT_LE(here, kCalls - 16) << "the first 16 measure the op";

  // A task reading another's result runs there too (a chain's hops).
  Future<std::int64_t> chain = client_->submit<std::int64_t>("inc", std::int64_t{0});
  for (int i = 0; i < 20; ++i) chain = client_->submit<std::int64_t>("inc", chain);
  EXPECT_EQ(chain.result(), 21);
  EXPECT_GE(run_on_io_thread(kCalls + 21), here + 1);
}

// A tiny op that turns slow runs long on the io thread once (its first slow
// run, which nothing could foresee), and from then on on an executor thread.
TEST_F(IoThreadTasksTest, AnOpThatRanLongOnTheIoThreadNeverGoesBack) {
  constexpr int kTiny = 30;
  for (int i = 0; i < kTiny; ++i) client_->submit<Value>("sleep", 0.0).result();
  const double before = run_on_io_thread(kTiny);
  ASSERT_GE(before, 1) << "sleep(0) never ran on the io thread";

  // 20x the 5 ms limit is 100 ms: this run gives the op up.
  client_->submit<Value>("sleep", 0.3).result();
  for (int i = 0; i < kTiny; ++i) client_->submit<Value>("sleep", 0.0).result();
  EXPECT_EQ(run_on_io_thread(2 * kTiny + 1), before + 1) << "only the slow run itself";
}

}  // namespace
}  // namespace dtask
