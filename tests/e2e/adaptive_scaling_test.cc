// End-to-end: dtask-adapt grows and shrinks a pool of real dtask-worker
// processes that its --scale-up command starts (a shell loop standing in for
// sbatch). A burst of work scales the pool up from the minimum; once idle it
// scales back down, the retired workers' results move first, every task ran
// exactly once (no busy worker was closed, nothing was recomputed) and every
// result is still there.
#include <gtest/gtest.h>
#include <signal.h>

#include <dtask/client.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "common/http_client.h"
#include "tests/support/http_get.h"
#include "tests/support/scheduler_fixture.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::wait_until;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AdaptiveScalingTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dtask-adaptive-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    // Half a second of work per thread, so that a small burst asks for more workers.
    ASSERT_NO_FATAL_FAILURE(start_scheduler({"--adaptive-target-duration", "0.5"}, dir_ + "/scheduler.log"));
    ASSERT_NO_FATAL_FAILURE(connect_client());
  }

  void TearDown() override {
    if (adapt_) adapt_->stop();
    // Whatever workers the pool still runs: their pids are in pids.txt.
    std::ifstream pids(dir_ + "/pids.txt");
    for (pid_t pid; pids >> pid;) kill(pid, SIGKILL);
    stop_cluster(testing::ExitCheck::kIgnore);
    std::system(("rm -rf " + dir_).c_str());
  }

  /// dtask-adapt with a pool whose scale-up starts DTASK_ADAPT_COUNT local
  /// workers and whose scale-down records the names it was given.
  void start_adapt(const std::vector<std::string>& extra) {
    const std::string scale_up = "for i in $(seq \"$DTASK_ADAPT_COUNT\"); do " + std::string(DTASK_WORKER_BIN) +
                                 " " + scheduler_->address() +
                                 " --host 127.0.0.1 --nthreads 1 --dashboard-address 127.0.0.1:0"
                                 " --log-level warn >>" + dir_ +
                                 "/workers.log 2>&1 & echo $! >>" + dir_ + "/pids.txt; done";
    const std::string scale_down = "echo \"$DTASK_ADAPT_WORKERS\" >>" + dir_ + "/retired.txt";
    std::vector<std::string> args = {"--dashboard", scheduler_->dashboard_address(), "--scale-up", scale_up,
                                     "--scale-down", scale_down, "--interval", "100ms", "--threads-per-worker", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    // dtask-adapt prints no address line: start() waits for one, so start it through sh with one.
    std::string command = std::string(DTASK_ADAPT_BIN);
    for (const auto& arg : args) command += " '" + arg + "'";
    auto adapt = DaemonProcess::start("/bin/sh", {"-c", "echo 'dtask-adapt listening on tcp://127.0.0.1:1'; exec " +
                                                            command + " 2>>" + dir_ + "/adapt.log"});
    ASSERT_TRUE(adapt.ok()) << adapt.status().to_string();
    adapt_ = std::make_unique<DaemonProcess>(std::move(*adapt));
  }

  std::size_t worker_count() { return testing::scheduler_info(*client_)["workers"].size(); }
  std::uint64_t tasks_completed() {
    return testing::scheduler_info(*client_)["tasks_completed"].get<std::uint64_t>();
  }
  nlohmann::json adaptive_target() {
    auto reply = testing::http_get(scheduler_->dashboard_address(), "/api/v1/adaptive_target");
    EXPECT_TRUE(reply.ok() && reply->status == 200);
    return reply.ok() ? nlohmann::json::parse(reply->body) : nlohmann::json::object();
  }

  std::string dir_;
  std::unique_ptr<DaemonProcess> adapt_;
};

TEST_F(AdaptiveScalingTest, ABurstScalesUpAndIdlenessScalesDownWithoutLosingWork) {
  start_adapt({"--minimum", "1", "--maximum", "4", "--wait-count", "5", "--cooldown", "1s"});
  ASSERT_TRUE(wait_until([&] { return worker_count() == 1; })) << read_text(dir_ + "/adapt.log");
  EXPECT_EQ(adaptive_target()["target"], 0) << "no work: the scheduler wants none (the pool keeps its minimum)";

  // 24 tasks of 0.3 s: 7 s of work, at 0.5 s per thread more workers than
  // the maximum, so the pool grows to it.
  constexpr int kTasks = 24;
  std::vector<Future<std::int64_t>> results;
  for (int i = 0; i < kTasks; ++i) results.push_back(client_->submit<std::int64_t>("sleep", 0.3, std::int64_t{i}));
  std::size_t most = 0;
  ASSERT_TRUE(wait_until([&] {
    most = std::max(most, worker_count());
    return most == 4;
  }, std::chrono::seconds(30))) << read_text(dir_ + "/adapt.log");
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(results[i].result(), i);

  // Idle: back down to the minimum, the results of the workers that go moved first.
  ASSERT_TRUE(wait_until([&] { return worker_count() == 1; }, std::chrono::seconds(30)))
      << read_text(dir_ + "/adapt.log");
  // dtask-adapt runs --scale-down once the scheduler's answer is back, just after the workers left.
  auto retired_names = [&] {
    std::istringstream retired(read_text(dir_ + "/retired.txt"));
    std::size_t names = 0;
    for (std::string name; retired >> name;) ++names;
    return names;
  };
  EXPECT_TRUE(wait_until([&] { return retired_names() + 1 == most; }))
      << retired_names() << " workers named to --scale-down, not all but the minimum:\n"
      << read_text(dir_ + "/adapt.log");
  EXPECT_EQ(tasks_completed(), static_cast<std::uint64_t>(kTasks)) << "a task ran twice: a busy worker was closed";
  // Fetched again, from the worker that stayed: every result moved there.
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(results[i].result(), i);
  EXPECT_EQ(read_text(dir_ + "/scheduler.log").find("recomputed"), std::string::npos) << read_text(dir_ + "/scheduler.log");
  // The retired workers exited (the shell that started them reaps them).
  std::size_t running = 0;
  EXPECT_TRUE(wait_until([&] {
    std::ifstream pids(dir_ + "/pids.txt");
    running = 0;
    for (pid_t pid; pids >> pid;) running += kill(pid, 0) == 0 ? 1 : 0;
    return running == 1;
  })) << running << " workers still running";
}

TEST_F(AdaptiveScalingTest, RetireWorkersApiRefusesBadRequestsAndUnknownWorkers) {
  auto post = [&](const std::string& body) {
    auto http = HttpClient::make(scheduler_->dashboard_address());
    EXPECT_TRUE(http.ok());
    auto reply = http->post("/api/v1/retire_workers", body);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? *reply : HttpReply{};
  };
  EXPECT_EQ(post("not json").status, 400);
  EXPECT_EQ(post("{}").status, 400);
  EXPECT_EQ(post(R"({"n": -1})").status, 400);
  HttpReply unknown = post(R"({"workers": ["nobody"]})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("nobody"), std::string::npos) << unknown.body;
  HttpReply none = post(R"({"n": 2})");  // no workers at all: nothing to retire
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(nlohmann::json::parse(none.body)["retired"].size(), 0u);
}

}  // namespace
}  // namespace dtask
