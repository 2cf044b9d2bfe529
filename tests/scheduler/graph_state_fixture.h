// The fixture the GraphState suites share (graph_state_test.cc,
// graph_transitions_test.cc, work_stealing_test.cc): it plays clients and
// workers with msg:: structs, reads what the state machine wants sent from
// take_outbox(), and checks the invariants after every drain.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "scheduler/graph_state.h"

namespace dtask::scheduler::graph_test {

constexpr double kNoQueuing = std::numeric_limits<double>::infinity();

/// Root tasks queue once a worker runs ceil(nthreads * saturation) tasks and
/// holds `latency` seconds of estimated work per thread (0: the count alone).
inline SchedulerConfig config_with_saturation(double saturation, double latency = 0.0) {
  SchedulerConfig config;
  config.worker_saturation = saturation;
  config.saturation_latency = latency;
  return config;
}

/// A task running `op` on the results of `deps`, passed as TaskRef arguments.
inline msg::TaskDef task_def(std::string key, std::vector<std::string> deps = {}, std::string op = "inc") {
  msg::TaskDef def;
  def.key = std::move(key);
  def.op = std::move(op);
  for (const std::string& dep : deps) def.args.emplace_back(TaskRef{dep});
  def.args.emplace_back(1);
  def.dependencies = std::move(deps);
  return def;
}

inline std::vector<std::string> keys_of(const std::vector<msg::ComputeTask>& tasks) {
  std::vector<std::string> keys;
  for (const msg::ComputeTask& task : tasks) keys.push_back(task.key);
  return keys;
}

inline std::set<std::string> as_set(const std::vector<std::string>& keys) { return {keys.begin(), keys.end()}; }

/// What one or more outboxes asked to send, keyed by worker name / client.
struct Sent {
  std::map<std::string, std::vector<msg::ComputeTask>> compute;
  /// Each worker's batch's addresses, which its tasks' dependencies name by index.
  std::map<std::string, std::vector<std::string>> holders;
  std::map<std::string, std::vector<std::string>> freed;
  std::map<const ClientState*, std::vector<msg::KeyStatus>> statuses;
  std::map<std::string, std::vector<msg::StealItem>> steals;  // by victim

  std::vector<std::string> computed_keys(const std::string& worker) const {
    auto it = compute.find(worker);
    return it == compute.end() ? std::vector<std::string>{} : keys_of(it->second);
  }
  std::vector<std::string> freed_keys(const std::string& worker) const {
    auto it = freed.find(worker);
    return it == freed.end() ? std::vector<std::string>{} : it->second;
  }
  const std::vector<msg::KeyStatus>& statuses_for(const ClientState* client) const {
    static const std::vector<msg::KeyStatus> kNone;
    auto it = statuses.find(client);
    return it == statuses.end() ? kNone : it->second;
  }
  /// The addresses `worker` was told to fetch `dependency` from.
  std::vector<std::string> holders_of(const std::string& worker, const msg::DependencyLocation& dependency) const {
    std::vector<std::string> out;
    for (std::uint32_t index : dependency.who_has) out.push_back(holders.at(worker).at(index));
    return out;
  }
  std::size_t compute_count() const {
    std::size_t n = 0;
    for (const auto& [worker, tasks] : compute) n += tasks.size();
    return n;
  }
};

class GraphStateTest : public ::testing::Test {
 protected:
  GraphStateTest() : GraphStateTest(SchedulerConfig{}) {}
  explicit GraphStateTest(SchedulerConfig config)
      : graph(config, test_logger()), client(graph.add_client("client")) {}

  static std::shared_ptr<spdlog::logger> test_logger() {
    auto logger = make_logger("test", "warn");
    EXPECT_TRUE(logger.ok()) << logger.status().to_string();
    return *logger;
  }

  static std::string address_of(const std::string& name) { return "tcp://" + name + ":9000"; }

  WorkerState* add_worker(const std::string& name, std::uint32_t nthreads = 1, ResourceList resources = {}) {
    msg::RegisterWorker registration;
    registration.name = name;
    registration.data_address = address_of(name);
    registration.nthreads = nthreads;
    registration.memory_limit = 1ull << 30;
    registration.resources = std::move(resources);
    auto worker = graph.add_worker(registration);
    EXPECT_TRUE(worker.ok()) << worker.status().to_string();
    return worker.ok() ? *worker : nullptr;
  }

  void submit(std::vector<msg::TaskDef> tasks, std::vector<std::string> wanted, ClientState* who = nullptr) {
    msg::UpdateGraph update;
    update.tasks = std::move(tasks);
    update.wanted_keys = std::move(wanted);
    graph.update_graph(who ? *who : *client, std::move(update));
  }

  void finish(WorkerState* worker, const std::string& key, std::uint64_t nbytes = 8, double seconds = 0.5) {
    held[worker->name].insert(key);
    msg::WorkerReport report;
    report.finished.push_back({key, nbytes, "int64", 1.0, 1.0 + seconds});
    graph.worker_report(*worker, report);
  }

  void fail(WorkerState* worker, const std::string& key, const std::string& op = "inc",
            const std::string& message = "boom") {
    msg::WorkerReport report;
    report.erred.push_back({key, op, message});
    graph.worker_report(*worker, report);
  }

  void release(const std::vector<std::string>& keys, ClientState* who = nullptr) {
    graph.release_keys(who ? *who : *client, keys);
  }

  /// Releases every key `who` (default: the fixture's client) still wants.
  void release_all(ClientState* who = nullptr) {
    ClientState& c = who ? *who : *client;
    std::vector<std::string> keys;
    for (const TaskState* task : c.wants) keys.push_back(task->key);
    graph.release_keys(c, keys);
  }

  /// Releases every key the client holds, then checks nothing leaked: no
  /// task left and every invariant intact (Ray's AssertNoLeaks).
  void release_all_and_check_no_leaks() {
    release_all();
    drain();
    EXPECT_EQ(graph.task_count(), 0u);
    ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
  }

  /// Takes the outbox, remembers every ComputeTask as pending work on its
  /// worker (for run_to_completion) and everything in `all`.
  Sent drain() {
    Outbox outbox = graph.take_outbox();
    Sent sent;
    for (auto& [worker, orders] : outbox.compute) {
      EXPECT_FALSE(orders.tasks.empty()) << "empty compute batch for " << worker->name;
      for (const TaskState* task : orders.tasks) {
        EXPECT_EQ(task->processing_on, worker) << task->key << " is sent to a worker it is not processing on";
      }
      msg::ComputeTaskBatch batch = compute_batch(orders);
      for (msg::ComputeTask& compute : batch.tasks) {
        pending.emplace_back(worker->name, compute.key);
        sent.compute[worker->name].push_back(compute);
        all.compute[worker->name].push_back(std::move(compute));  // its holder indices are this drain's
      }
      sent.holders[worker->name] = std::move(batch.holders);
    }
    for (auto& [worker, free] : outbox.free) {
      auto& into = sent.freed[worker->name];
      into.insert(into.end(), free.keys.begin(), free.keys.end());
      auto& log = all.freed[worker->name];
      log.insert(log.end(), free.keys.begin(), free.keys.end());
      for (const std::string& key : free.keys) held[worker->name].erase(key);
    }
    for (auto& [worker, request] : outbox.steal) {
      auto& into = sent.steals[worker->name];
      into.insert(into.end(), request.items.begin(), request.items.end());
    }
    for (auto& [who, batch] : outbox.statuses) {
      auto& into = sent.statuses[who];
      into.insert(into.end(), batch.statuses.begin(), batch.statuses.end());
      auto& log = all.statuses[who];
      log.insert(log.end(), batch.statuses.begin(), batch.statuses.end());
    }
    Status valid = graph.validate();
    EXPECT_TRUE(valid.ok()) << valid.to_string();
    return sent;
  }

  /// Plays every worker: finishes pending tasks in the order they were sent
  /// (failing those in `failing`) until nothing more is sent. A worker that
  /// was freed of a key before running it still reports it, as a real one may.
  void run_to_completion(const std::set<std::string>& failing = {}) {
    drain();
    while (!pending.empty()) {
      auto [name, key] = pending.front();
      pending.pop_front();
      WorkerState* worker = graph.find_worker(name);
      if (worker == nullptr) continue;  // removed since
      if (failing.count(key)) {
        fail(worker, key);
      } else {
        finish(worker, key);
      }
      drain();
    }
  }

  /// The last status `who` was sent for `key`, or nullptr.
  const msg::KeyStatus* last_status(const std::string& key, const ClientState* who = nullptr) const {
    const auto& statuses = all.statuses_for(who ? who : client);
    for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
      if (it->key == key) return &*it;
    }
    return nullptr;
  }

  /// Every task marked processing names a worker that is still registered.
  /// Compares pointers only, so a dangling one is reported, not followed.
  void expect_processing_on_live_workers() const {
    std::set<const WorkerState*> live;
    for (const auto& worker : graph.workers()) live.insert(worker.get());
    for (const auto& [key, task] : graph.tasks()) {
      if (task->processing_on != nullptr) {
        EXPECT_TRUE(live.count(task->processing_on)) << key << " is processing on a removed worker";
      }
      for (const WorkerState* holder : task->who_has) {
        EXPECT_TRUE(live.count(holder)) << key << " is held by a removed worker";
      }
    }
  }

  /// Results `worker` reported finished and was not since told to free:
  /// what a worker that followed the scheduler still stores.
  std::set<std::string> still_held_by(const std::string& worker) const {
    auto it = held.find(worker);
    return it == held.end() ? std::set<std::string>{} : it->second;
  }

  GraphState graph;
  ClientState* client;
  Sent all;  // everything drained so far
  std::deque<std::pair<std::string, std::string>> pending;  // (worker name, key) sent, not yet reported
  std::map<std::string, std::set<std::string>> held;          // worker name -> results it stores
};

}  // namespace dtask::scheduler::graph_test
