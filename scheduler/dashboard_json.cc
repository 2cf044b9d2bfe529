#include "scheduler/dashboard_json.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "scheduler/resources_json_internal.h"

namespace dtask::scheduler {

namespace {

using internal::gpu_json;
using internal::resources_json;
using nlohmann::json;

json states_json(const std::array<std::size_t, kTaskStatusCount>& counts) {
  json out = json::object();
  for (int i = 0; i < kTaskStatusCount; ++i) {
    if (i != static_cast<int>(TaskStatus::kForgotten)) out[task_status_name(static_cast<TaskStatus>(i))] = counts[i];
  }
  return out;
}

json group_json(const GroupProgress& group) {
  std::size_t live = 0;
  for (int i = 0; i < kTaskStatusCount; ++i) {
    if (i != static_cast<int>(TaskStatus::kForgotten)) live += group.counts[i];
  }
  return {{"name", group.name},
          {"states", states_json(group.counts)},
          {"live", live},
          {"forgotten", group.counts[static_cast<int>(TaskStatus::kForgotten)]},
          {"completed", group.completed},
          {"compute_seconds", group.compute_seconds},
          {"nbytes", group.nbytes}};
}

json task_row_json(const TaskRow& row) {
  return {{"key", row.key},       {"op", row.op},
          {"state", task_status_name(row.status)}, {"worker", row.worker},
          {"nbytes", row.nbytes}, {"dependencies", row.dependencies},
          {"dependents", row.dependents}};
}

json worker_json(const WorkerRow& worker) {
  const msg::Heartbeat& beat = worker.heartbeat;
  return {{"name", worker.name},
          {"address", worker.address},
          {"nthreads", worker.nthreads},
          {"memory_limit", worker.memory_limit},
          {"resources", resources_json(worker.resources)},
          {"resources_used", resources_json(worker.resources_used)},
          {"gpu", gpu_json(worker.gpu)},
          {"processing", worker.processing},
          {"has_what", worker.has_what},
          {"nbytes", worker.nbytes},
          {"occupancy", worker.occupancy},
          {"tasks_done", worker.tasks_done},
          {"managed_bytes", beat.managed_bytes},
          {"spilled_bytes", beat.spilled_bytes},
          {"spilled_keys", beat.spilled_keys},
          {"process_memory", beat.process_memory},
          {"paused", beat.paused},
          {"executing", beat.executing},
          {"ready", beat.ready_tasks},
          {"last_seen", worker.last_seen}};
}

}  // namespace

std::string status_json(const DashboardSnapshot& s) {
  std::uint64_t managed = 0, spilled = 0, process_memory = 0, memory_limit = 0, threads = 0;
  for (const WorkerRow& worker : s.workers) {
    managed += worker.heartbeat.managed_bytes;
    spilled += worker.heartbeat.spilled_bytes;
    process_memory += worker.heartbeat.process_memory;
    memory_limit += worker.memory_limit;
    threads += worker.nthreads;
  }
  json groups = json::array();
  for (const GroupProgress& group : s.groups) groups.push_back(group_json(group));
  json errors = json::array();
  for (const ErrorRecord& error : s.errors) {
    errors.push_back({{"time", error.time},
                      {"key", error.key},
                      {"op", error.op},
                      {"worker", error.worker},
                      {"message", error.message}});
  }
  json out = {{"time", s.time},
              {"sequence", s.sequence},
              {"address", s.scheduler_address},
              {"dashboard_address", s.dashboard_address},
              {"tasks", s.tasks},
              {"states", states_json(s.counts)},
              {"clients", s.clients},
              {"tasks_completed", s.tasks_completed},
              {"tasks_erred", s.tasks_erred},
              {"tasks_per_second", s.tasks_per_second},
              {"transfer_bytes", s.transfer_bytes},
              {"event_loop_latency", s.event_loop_latency},
              {"event_loop_latency_max", s.event_loop_latency_max},
              {"workers", s.workers.size()},
              {"threads", threads},
              {"memory",
               {{"managed_bytes", managed},
                {"spilled_bytes", spilled},
                {"process_memory", process_memory},
                {"memory_limit", memory_limit}}},
              {"groups", groups},
              {"errors", errors}};
  return out.dump();
}

std::string workers_json(const DashboardSnapshot& s) {
  json out = json::array();
  for (const WorkerRow& worker : s.workers) out.push_back(worker_json(worker));
  return json{{"time", s.time}, {"workers", out}}.dump();
}

std::string stream_json(const DashboardSnapshot& s, double seconds) {
  // Events as arrays, not objects: thousands of them go to the browser twice a second.
  json events = json::array();
  const double since = s.time - seconds;
  for (const StreamEvent& event : s.stream) {
    if (event.stop < since) continue;
    events.push_back({event.worker, event.thread, stream_kind_name(event.kind), event.op, event.start, event.stop});
  }
  json threads = json::object();
  for (const WorkerRow& worker : s.workers) threads[worker.name] = worker.nthreads;
  return json{{"time", s.time},
              {"ops", s.stream_ops},
              {"workers", s.stream_workers},
              {"threads", threads},
              {"fields", {"worker", "thread", "kind", "op", "start", "stop"}},
              {"events", events}}
      .dump();
}

Result<std::string> tasks_json(const DashboardSnapshot& s, const std::string& state, std::size_t offset,
                               std::size_t limit) {
  std::vector<int> states;
  for (int i = 0; i < kTaskStatusCount; ++i) {
    if (i == static_cast<int>(TaskStatus::kForgotten)) continue;
    if (state.empty() || state == "all" || state == task_status_name(static_cast<TaskStatus>(i))) states.push_back(i);
  }
  if (states.empty()) return Status::invalid("unknown task state '" + state + "'");
  json tasks = json::array();
  std::size_t total = 0, sampled = 0, skipped = 0;
  for (int i : states) {
    total += s.counts[i];
    sampled += s.task_samples[i].size();
    for (const TaskRow& row : s.task_samples[i]) {
      if (skipped < offset) {
        ++skipped;
        continue;
      }
      if (tasks.size() >= limit) break;
      tasks.push_back(task_row_json(row));
    }
  }
  json out = {{"time", s.time},
              {"state", state.empty() ? "all" : state},
              {"total", total},
              {"sampled", sampled},
              {"offset", offset},
              {"limit", limit},
              {"truncated", sampled < total},
              {"tasks", tasks}};
  return out.dump();
}

std::string graph_json(const DashboardSnapshot& s) {
  json nodes = json::array();
  json edges = json::array();
  if (s.graph_is_small) {
    for (const TaskRow& row : s.small_graph.tasks) {
      nodes.push_back({{"id", row.key}, {"label", row.op}, {"state", task_status_name(row.status)}, {"count", 1}});
    }
    for (const auto& [from, to] : s.small_graph.edges) {
      edges.push_back({{"from", s.small_graph.tasks[from].key}, {"to", s.small_graph.tasks[to].key}, {"count", 1}});
    }
  } else {
    for (const GroupProgress& group : s.groups) {
      json node = group_json(group);
      node["id"] = group.name;
      node["label"] = group.name;
      node["count"] = node["live"];
      nodes.push_back(std::move(node));
    }
    for (const GroupEdge& edge : s.group_edges) {
      edges.push_back({{"from", s.groups[edge.from].name}, {"to", s.groups[edge.to].name}, {"count", edge.tasks}});
    }
  }
  return json{{"time", s.time},
              {"mode", s.graph_is_small ? "tasks" : "groups"},
              {"tasks", s.tasks},
              {"nodes", nodes},
              {"edges", edges}}
      .dump();
}

std::string task_detail_json(const TaskState& task) {
  json who_has = json::array();
  for (const WorkerState* worker : task.who_has) who_has.push_back(worker->name);
  // Either side can number in the millions (a sum over everything): bounded lists and the counts.
  constexpr std::size_t kListed = 100;
  json dependencies = json::array();
  for (const TaskState* dep : task.dependencies) {
    if (dependencies.size() >= kListed) break;
    dependencies.push_back(dep->key);
  }
  json dependents = json::array();
  for (const TaskState* dependent : task.dependents) {
    if (dependents.size() >= kListed) break;
    dependents.push_back(dependent->key);
  }
  json out = {{"key", task.key},
              {"op", task.op()},
              {"state", task_status_name(task.status)},
              {"group", task.group != nullptr ? task.group->name : ""},
              {"priority", {task.priority.user, task.priority.generation, task.priority.order}},
              {"resources", resources_json(task.resources())},
              {"processing_on", task.processing_on != nullptr ? task.processing_on->name : ""},
              {"who_has", who_has},
              {"nbytes", task.nbytes},
              {"type", *task.type_name},
              {"retries", task.retries},
              {"dependencies", dependencies},
              {"dependencies_count", task.dependencies.size()},
              {"dependents", dependents},
              {"dependents_count", task.dependents.size()},
              {"wanted_by_clients", task.who_wants.size()}};
  if (task.status == TaskStatus::kErred) {
    out["error"] = {{"op", task.error_op()}, {"key", task.exception_blame_key()}, {"message", task.error_message()}};
  }
  return out.dump();
}

std::string adaptive_target_json(const AdaptiveTarget& target, const AdaptiveLoad& load) {
  json to_close = json::array();
  for (const WorkerLoad& w : target.to_close) to_close.push_back({{"name", w.name}, {"address", w.address}});
  return json{{"target", target.target},
              {"workers", target.workers},
              {"threads", target.threads},
              {"memory_pressure", target.memory_pressure},
              {"ready_tasks", load.ready_tasks},
              {"no_worker_tasks", load.no_worker_tasks},
              {"occupancy_seconds", load.occupancy},
              {"to_close", to_close}}
      .dump();
}

Result<RetireRequest> parse_retire_request(const std::string& body) {
  const char* usage = "expected {\"workers\": [names or addresses]} or {\"n\": count}";
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Status::invalid(std::string("retire_workers: not a JSON object; ") + usage);
  RetireRequest request;
  const bool has_workers = doc.contains("workers"), has_n = doc.contains("n");
  if (has_workers == has_n) return Status::invalid(std::string("retire_workers: ") + usage);
  if (has_n) {
    if (!doc["n"].is_number_unsigned()) return Status::invalid("retire_workers: \"n\" must be a count (0 or more)");
    request.n = doc["n"].get<std::size_t>();
    return request;
  }
  if (!doc["workers"].is_array()) return Status::invalid(std::string("retire_workers: ") + usage);
  for (const json& name : doc["workers"]) {
    if (!name.is_string()) return Status::invalid("retire_workers: each worker is a name or address string");
    request.workers.push_back(name.get<std::string>());
  }
  return request;
}

std::string error_json(const std::string& message) { return json{{"error", message}}.dump(); }

std::string retired_json(const std::vector<std::string>& names) { return json{{"retired", names}}.dump(); }

}  // namespace dtask::scheduler
