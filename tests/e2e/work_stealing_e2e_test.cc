// Work stealing end to end: a LocalCluster (scheduler and two workers
// in-process, talking TCP over 127.0.0.1 on ephemeral ports) where placement
// piles long tasks onto the worker holding their input. With stealing on,
// the other worker takes some; on or off, every task runs exactly once.
// Timing is measured by bench/work_stealing.sh, not asserted here.
#include <gtest/gtest.h>

#include <chrono>
#include <dtask/client.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "dtask/ops.h"

namespace dtask {
namespace {

/// How many times each probe ran, across every worker of the process.
struct ProbeRuns {
  std::mutex mutex;
  std::map<std::int64_t, int> runs;
};

ProbeRuns& probe_runs() {
  static ProbeRuns runs;  // the workers are in this process; one test at a time
  return runs;
}

/// steal_probe(input, i, seconds): counts a run of probe i, then works for
/// `seconds` (the long task placement guessed wrong about).
void register_probe(OpRegistry& registry) {
  (void)registry.add("steal_probe", [](const std::vector<Value>& args) {
    const std::int64_t i = args.at(1).get<std::int64_t>();
    {
      ProbeRuns& probes = probe_runs();
      std::lock_guard<std::mutex> lock(probes.mutex);
      ++probes.runs[i];
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(args.at(2).get<double>()));
    return Value(i);
  });
}

class WorkStealingE2eTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::lock_guard<std::mutex> lock(probe_runs().mutex);
    probe_runs().runs.clear();
  }

  static nlohmann::json info(Client& client) {
    auto text = client.scheduler_info();
    EXPECT_TRUE(text.ok()) << text.status().to_string();
    return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json{};
  }
};

// Twelve 0.2 s tasks all read data made on worker A, so placement puts them
// all on A. With stealing on, B runs some of them once their duration is
// measured; either way each runs exactly once and every result comes back.
TEST_P(WorkStealingE2eTest, PiledUpTasksSpreadAndEachRunsOnce) {
  const bool stealing = GetParam();
  Client client(LocalClusterOptions{.n_workers = 2, .register_ops = register_probe, .work_stealing = stealing});
  const std::vector<std::string> names = client.cluster()->worker_names();
  ASSERT_EQ(names.size(), 2u);
  const std::string& a = names[0];
  auto data = client.submit<Value>(SubmitOptions{.workers = {a}}, "arange", std::int64_t{1000});
  ASSERT_TRUE(data.wait().ok());

  constexpr int kTasks = 12;
  std::vector<Future<std::int64_t>> probes;
  for (int i = 0; i < kTasks; ++i) probes.push_back(client.submit<std::int64_t>("steal_probe", data, std::int64_t{i}, 0.2));
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(probes[i].result(std::chrono::seconds(60)), i);

  {
    std::lock_guard<std::mutex> lock(probe_runs().mutex);
    EXPECT_EQ(probe_runs().runs.size(), static_cast<std::size_t>(kTasks));
    for (const auto& [i, n] : probe_runs().runs) EXPECT_EQ(n, 1) << "probe " << i << " ran " << n << " times";
  }
  nlohmann::json state = info(client);
  int done_on_b = -1;
  for (const auto& worker : state["workers"]) {
    if (worker["name"] != a) done_on_b = worker["tasks_done"].get<int>();
  }
  if (stealing) {
    EXPECT_GT(done_on_b, 0) << "the idle worker stole nothing: " << state.dump();
    EXPECT_GT(state["stealing"]["confirmed"].get<int>(), 0) << state.dump();
  } else {
    EXPECT_EQ(done_on_b, 0) << "placement should pile every probe onto the data: " << state.dump();
    EXPECT_EQ(state["stealing"]["requested"].get<int>(), 0);
  }
  EXPECT_EQ(state["states"]["stealing"].get<int>(), 0);
}

INSTANTIATE_TEST_SUITE_P(StealingOnAndOff, WorkStealingE2eTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "on" : "off"; });

}  // namespace
}  // namespace dtask
