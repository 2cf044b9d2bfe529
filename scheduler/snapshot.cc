#include "scheduler/snapshot.h"

#include <nlohmann/json.hpp>

#include "scheduler/resources_json_internal.h"

namespace dtask::scheduler {

namespace {

using internal::gpu_json;
using internal::resources_json;

/// A few keys in a state, for seeing what is stuck (no-worker, say).
nlohmann::json sample_keys(const GraphState& graph, TaskStatus status, std::size_t limit) {
  nlohmann::json keys = nlohmann::json::array();
  if (graph.count(status) == 0) return keys;
  for (const auto& [key, task] : graph.tasks()) {
    if (task->status != status) continue;
    keys.push_back(key);
    if (keys.size() >= limit) break;
  }
  return keys;
}

}  // namespace

std::string snapshot_json(const GraphState& graph, const std::string& scheduler_address,
                          const std::string& dashboard_address, const SchedulerCpuCounters& counters) {
  nlohmann::json out;
  out["address"] = scheduler_address;
  out["dashboard_address"] = dashboard_address;
  out["tasks"] = graph.task_count();
  out["clients"] = graph.client_count();
  out["tasks_completed"] = graph.tasks_completed();
  out["tasks_erred"] = graph.tasks_erred();
  out["transfer_bytes"] = graph.transfer_bytes();
  out["stealing"] = {{"requested", graph.steals_requested()},
                     {"confirmed", graph.steals_confirmed()},
                     {"refused", graph.steals_refused()}};
  out["counters"] = {{"transition_seconds", counters.transition_seconds},
                     {"decode_seconds", counters.decode_seconds},
                     {"encode_seconds", counters.encode_seconds}};
  nlohmann::json states = nlohmann::json::object();
  for (int i = 0; i < kTaskStatusCount; ++i) {
    auto status = static_cast<TaskStatus>(i);
    if (status != TaskStatus::kForgotten) states[task_status_name(status)] = graph.count(status);
  }
  out["states"] = states;
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [name, group] : graph.groups()) {
    nlohmann::json counts = nlohmann::json::object();
    for (int i = 0; i < kTaskStatusCount; ++i) {
      auto status = static_cast<TaskStatus>(i);
      if (status != TaskStatus::kForgotten && group->counts[i] > 0) counts[task_status_name(status)] = group->counts[i];
    }
    groups[name] = counts;
  }
  out["groups"] = groups;
  out["no_worker_keys"] = sample_keys(graph, TaskStatus::kNoWorker, 20);
  out["erred_keys"] = sample_keys(graph, TaskStatus::kErred, 20);
  nlohmann::json workers = nlohmann::json::array();
  std::uint64_t managed = 0, spilled = 0, spilled_keys = 0, process_memory = 0, memory_limit = 0;
  std::size_t paused = 0;
  for (const auto& worker : graph.workers()) {
    const msg::Heartbeat& beat = worker->last_heartbeat;
    managed += beat.managed_bytes;
    spilled += beat.spilled_bytes;
    spilled_keys += beat.spilled_keys;
    process_memory += beat.process_memory;
    memory_limit += worker->memory_limit;
    paused += beat.paused ? 1 : 0;
    workers.push_back({
        {"name", worker->name},
        {"address", worker->address},
        {"nthreads", worker->nthreads},
        {"memory_limit", worker->memory_limit},
        {"resources", resources_json(worker->resources)},
        {"resources_used", resources_json(worker->resources_used)},
        {"gpu", gpu_json(worker->gpu)},
        {"processing", worker->processing.size()},
        {"has_what", worker->has_what.size()},
        {"nbytes", worker->nbytes},
        {"occupancy", worker->occupancy},
        {"tasks_done", worker->tasks_done},
        {"managed_bytes", beat.managed_bytes},
        {"spilled_bytes", beat.spilled_bytes},
        {"spilled_keys", beat.spilled_keys},
        {"process_memory", beat.process_memory},
        {"paused", beat.paused},
        {"stored_keys", beat.stored_keys},
        {"executing", beat.executing},
        {"last_seen", worker->last_seen},
    });
  }
  out["workers"] = workers;
  // Cluster totals, as the dashboard's memory bar shows them.
  out["cluster_memory"] = {
      {"managed_bytes", managed},   {"spilled_bytes", spilled},     {"spilled_keys", spilled_keys},
      {"process_memory", process_memory}, {"memory_limit", memory_limit}, {"paused_workers", paused},
  };
  return out.dump();
}

}  // namespace dtask::scheduler
