// End-to-end: the scheduler's dashboard and the workers' /metrics, served by
// real dtask-scheduler and dtask-worker processes on 127.0.0.1 (ephemeral
// ports), read over HTTP while a known graph sits in known states.
#include <gtest/gtest.h>

#include <dtask/client.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_check.h"
#include "tests/support/scheduler_fixture.h"

namespace dtask {
namespace {

using nlohmann::json;
using testing::DaemonProcess;
using testing::http_get;
using testing::wait_until;

class DashboardTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(start_scheduler());
    ASSERT_FALSE(scheduler_->dashboard_address().empty()) << "the scheduler printed no dashboard address";
    for (const char* name : {"w1", "w2"}) {
      ASSERT_NO_FATAL_FAILURE(start_worker({"--host", "127.0.0.1", "--nthreads", "1", "--name", name, "--memory-limit",
                                            "1GiB", "--dashboard-address", "127.0.0.1:0", "--log-level", "warn"}));
    }
    ASSERT_NO_FATAL_FAILURE(connect_client());
    ASSERT_TRUE(wait_for_workers(2));
  }

  /// GET from the scheduler's dashboard, parsed as JSON; a failed request fails the test.
  json get_json(const std::string& path) {
    auto reply = http_get(scheduler_->dashboard_address(), path);
    EXPECT_TRUE(reply.ok()) << reply.status().to_string();
    if (!reply.ok()) return json::object();
    EXPECT_EQ(reply->status, 200) << path << ": " << reply->body;
    EXPECT_NE(reply->content_type.find("application/json"), std::string::npos) << path;
    return json::parse(reply->body);
  }

  /// A graph that stops in known states: 20 results in memory, 3 erred,
  /// 2 needing a GPU no worker has (no-worker), 4 waiting on those.
  void submit_known_graph() {
    for (int i = 0; i < 20; ++i) held_.push_back(client_->submit("inc", i));
    for (int i = 0; i < 3; ++i) held_.push_back(client_->submit("fail", "boom " + std::to_string(i)));
    for (int i = 0; i < 2; ++i) {
      auto gpu = client_->submit(SubmitOptions{.resources = {{"GPU", 1}}}, "noop");
      no_worker_keys_.insert(gpu.key());
      for (int j = 0; j < 2; ++j) held_.push_back(client_->submit("identity", gpu));
      held_.push_back(gpu);
    }
  }

  std::vector<Future<Value>> held_;
  std::set<std::string> no_worker_keys_;
};

// /api/status and /api/workers agree with the scheduler's own counts (scheduler_info) for a graph in known states.
TEST_F(DashboardTest, JsonCountsMatchTheScheduler) {
  submit_known_graph();
  json info;
  ASSERT_TRUE(wait_until([&] {
    info = testing::scheduler_info(*client_);
    const json& s = info["states"];
    return s["memory"] == 20 && s["erred"] == 3 && s["no-worker"] == 2 && s["waiting"] == 4;
  })) << info.dump();
  // The dashboard reads snapshots published a few times a second: wait for one taken after the graph settled.
  json status;
  ASSERT_TRUE(wait_until([&] {
    status = get_json("/api/status");
    return status["states"] == info["states"];
  })) << status.dump() << "\nvs\n" << info.dump();
  EXPECT_EQ(status["tasks"], info["tasks"]);
  EXPECT_EQ(status["workers"], 2);
  EXPECT_EQ(status["threads"], 2);
  EXPECT_EQ(status["tasks_completed"], info["tasks_completed"]);
  EXPECT_EQ(status["tasks_erred"], 3);

  // Task groups: the same per-op counts as the scheduler's.
  std::map<std::string, json> groups;
  for (const json& group : status["groups"]) groups[group["name"]] = group;
  ASSERT_EQ(groups.size(), info["groups"].size()) << status["groups"].dump();
  for (const auto& [name, counts] : info["groups"].items()) {
    for (const auto& [state, n] : counts.items()) EXPECT_EQ(groups[name]["states"][state], n) << name << " " << state;
  }
  EXPECT_EQ(groups["inc"]["states"]["memory"], 20);
  EXPECT_EQ(groups["inc"]["completed"], 20);
  EXPECT_EQ(groups["fail"]["states"]["erred"], 3);
  EXPECT_EQ(groups["noop"]["states"]["no-worker"], 2);
  EXPECT_EQ(groups["identity"]["states"]["waiting"], 4);

  // The last errors name op, key, worker and message.
  ASSERT_EQ(status["errors"].size(), 3u);
  for (const json& error : status["errors"]) {
    EXPECT_EQ(error["op"], "fail");
    EXPECT_TRUE(error["worker"] == "w1" || error["worker"] == "w2") << error.dump();
    EXPECT_NE(error["message"].get<std::string>().find("boom"), std::string::npos) << error.dump();
  }

  json workers = get_json("/api/workers")["workers"];
  ASSERT_EQ(workers.size(), 2u);
  std::uint64_t done = 0;
  for (const json& worker : workers) {
    EXPECT_TRUE(worker["name"] == "w1" || worker["name"] == "w2");
    EXPECT_EQ(worker["memory_limit"], 1ull << 30);
    EXPECT_GT(worker["last_seen"].get<double>(), 0);
    done += worker["tasks_done"].get<std::uint64_t>();
  }
  EXPECT_EQ(done, 20u);
}

// /api/tasks pages through the tasks in one state; /api/task/<key> describes one, errors included.
TEST_F(DashboardTest, TasksAndTaskDetail) {
  submit_known_graph();
  json page;
  ASSERT_TRUE(wait_until([&] {
    page = get_json("/api/tasks?state=no-worker");
    return page["total"] == 2;
  })) << page.dump();
  std::set<std::string> keys;
  for (const json& task : page["tasks"]) keys.insert(task["key"]);
  EXPECT_EQ(keys, no_worker_keys_);
  EXPECT_EQ(page["truncated"], false);

  ASSERT_TRUE(wait_until([&] { return get_json("/api/tasks?state=memory")["total"] == 20; }));
  json first = get_json("/api/tasks?state=memory&limit=5");
  json second = get_json("/api/tasks?state=memory&limit=5&offset=5");
  ASSERT_EQ(first["tasks"].size(), 5u);
  ASSERT_EQ(second["tasks"].size(), 5u);
  EXPECT_NE(first["tasks"][0]["key"], second["tasks"][0]["key"]);
  for (const json& task : first["tasks"]) EXPECT_EQ(task["op"], "inc");

  auto bad = http_get(scheduler_->dashboard_address(), "/api/tasks?state=bogus");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);

  const std::string erred_key = held_[20].key();
  json detail = get_json("/api/task/" + erred_key);
  EXPECT_EQ(detail["key"], erred_key);
  EXPECT_EQ(detail["state"], "erred");
  EXPECT_EQ(detail["error"]["op"], "fail");
  EXPECT_EQ(detail["error"]["message"], "boom 0");
  json waiting = get_json("/api/task/" + held_[23].key());
  EXPECT_EQ(waiting["state"], "waiting");
  EXPECT_EQ(waiting["dependencies"].size(), 1u);

  auto missing = http_get(scheduler_->dashboard_address(), "/api/task/no-such-key");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

// The scheduler's and the workers' /metrics parse as Prometheus text and carry the counts.
TEST_F(DashboardTest, MetricsAreValidPrometheusText) {
  submit_known_graph();
  testing::PrometheusSamples samples;
  ASSERT_TRUE(wait_until([&] {
    auto reply = http_get(scheduler_->dashboard_address(), "/metrics");
    if (!reply.ok() || reply->status != 200) return false;
    Status valid = testing::check_prometheus_text(reply->body, &samples);
    EXPECT_TRUE(valid.ok()) << valid.to_string();
    return samples["dtask_scheduler_tasks{state=\"memory\"}"] == 20;
  }));
  EXPECT_EQ(samples["dtask_scheduler_tasks{state=\"erred\"}"], 3);
  EXPECT_EQ(samples["dtask_scheduler_tasks{state=\"no-worker\"}"], 2);
  EXPECT_EQ(samples["dtask_scheduler_workers"], 2);
  EXPECT_EQ(samples["dtask_scheduler_tasks_completed_total"], 20);
  EXPECT_EQ(samples["dtask_scheduler_group_tasks{group=\"inc\",state=\"memory\"}"], 20);
  EXPECT_EQ(samples["dtask_scheduler_worker_memory_limit_bytes{worker=\"w1\"}"], 1ull << 30);
  EXPECT_TRUE(samples.count("dtask_scheduler_worker_memory_bytes{worker=\"w2\",kind=\"process\"}"));
  EXPECT_TRUE(samples.count("dtask_scheduler_transfer_bytes_total"));
  EXPECT_TRUE(samples.count("dtask_scheduler_event_loop_latency_seconds"));

  std::uint64_t finished = 0;
  for (const DaemonProcess& worker : workers_) {
    ASSERT_FALSE(worker.dashboard_address().empty());
    auto reply = http_get(worker.dashboard_address(), "/metrics");
    ASSERT_TRUE(reply.ok()) << reply.status().to_string();
    ASSERT_EQ(reply->status, 200);
    testing::PrometheusSamples worker_samples;
    Status valid = testing::check_prometheus_text(reply->body, &worker_samples);
    ASSERT_TRUE(valid.ok()) << valid.to_string() << "\n" << reply->body;
    for (const auto& [series, value] : worker_samples) {
      if (series.starts_with("dtask_worker_tasks_finished_total")) finished += static_cast<std::uint64_t>(value);
    }
  }
  // Published with each heartbeat: it catches up with the 23 tasks the workers ran.
  EXPECT_TRUE(wait_until([&] {
    std::uint64_t total = 0;
    for (const DaemonProcess& worker : workers_) {
      auto reply = http_get(worker.dashboard_address(), "/metrics");
      testing::PrometheusSamples s;
      if (!reply.ok() || !testing::check_prometheus_text(reply->body, &s).ok()) return false;
      for (const auto& [series, value] : s) {
        if (series.starts_with("dtask_worker_tasks_finished_total")) total += static_cast<std::uint64_t>(value);
      }
    }
    return total == 23;
  }));
}

// The task stream shows the runs of the graph, one lane per worker thread, and transfers between workers.
TEST_F(DashboardTest, TaskStreamShowsRunsAndTransfers) {
  // A sum over results spread on both workers makes one of them fetch from the other.
  std::vector<Delayed> parts;
  for (int i = 0; i < 40; ++i) parts.push_back(delayed("inc")(i));
  auto total = client_->compute<std::int64_t>(delayed("sum")(parts));
  ASSERT_EQ(total.result(), 40 * 39 / 2 + 40);
  json stream;
  ASSERT_TRUE(wait_until([&] {
    stream = get_json("/api/stream");
    std::size_t inc = 0, sum = 0;
    for (const json& event : stream["events"]) {
      if (event[2] != "compute") continue;
      const std::string op = stream["ops"][event[3].get<std::size_t>()];
      inc += op == "inc";
      sum += op == "sum";
    }
    return inc == 40 && sum == 1;
  })) << stream.dump();
  EXPECT_EQ(stream["threads"]["w1"], 1);
  bool transfer = false;
  for (const json& event : stream["events"]) {
    EXPECT_LE(event[4].get<double>(), event[5].get<double>()) << event.dump();
    if (event[2] == "compute") {
      EXPECT_EQ(event[1], 0) << "one thread per worker: lane 0";
    }
    transfer = transfer || event[2] == "transfer";
  }
  json status = get_json("/api/status");
  if (transfer) {
    EXPECT_GT(status["transfer_bytes"].get<std::uint64_t>(), 0u);
  }
}

// /graph draws single tasks for a small graph and task groups once it is large.
TEST_F(DashboardTest, GraphAggregatesLargeGraphs) {
  auto page = http_get(scheduler_->dashboard_address(), "/graph");
  ASSERT_TRUE(page.ok());
  EXPECT_NE(page->body.find("<svg"), std::string::npos);
  auto small = client_->submit("inc", 1);
  ASSERT_TRUE(small.wait().ok());
  ASSERT_TRUE(wait_until([&] { return get_json("/api/graph")["nodes"].size() == 1; }));
  EXPECT_EQ(get_json("/api/graph")["mode"], "tasks");

  std::vector<Delayed> parts;
  for (int i = 0; i < 2000; ++i) parts.push_back(delayed("inc")(i));
  std::vector<FutureBase> big = client_->compute(parts);  // held, so the 2000 tasks stay
  ASSERT_TRUE(client_->wait(big).ok());
  json graph;
  ASSERT_TRUE(wait_until([&] {
    graph = get_json("/api/graph");
    return graph["mode"] == "groups";
  })) << graph.dump();
  EXPECT_EQ(graph["nodes"].size(), 1u) << "one node per op, not per task";
  EXPECT_EQ(graph["nodes"][0]["label"], "inc");
}

// Client::dashboard_link() is the address the scheduler printed; without a dashboard it is empty.
TEST_F(DashboardTest, DashboardLink) {
  EXPECT_EQ(client_->dashboard_link(), scheduler_->dashboard_address());
  EXPECT_EQ(testing::scheduler_info(*client_)["dashboard_address"], scheduler_->dashboard_address());
  auto plain = DaemonProcess::start(DTASK_SCHEDULER_BIN, {"--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                                          "none", "--log-level", "warn"});
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_TRUE(plain->dashboard_address().empty());
  auto client = Client::connect(plain->address());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->dashboard_link(), "");
  client->reset();
  EXPECT_EQ(plain->stop(), 0);
}

}  // namespace
}  // namespace dtask
