#include "scheduler/dashboard_snapshot.h"

#include <algorithm>
#include <unordered_map>

namespace dtask::scheduler {

namespace {

TaskRow task_row(const TaskState& task) {
  TaskRow row;
  row.key = task.key;
  row.op = task.op();
  row.status = task.status;
  if (task.processing_on != nullptr) {
    row.worker = task.processing_on->name;
  } else if (!task.who_has.empty()) {
    row.worker = task.who_has.front()->name;
  }
  row.nbytes = task.nbytes;
  row.dependencies = task.dependencies.size();
  row.dependents = task.dependents.size();
  return row;
}

WorkerRow worker_row(const WorkerState& worker) {
  return {worker.name,           worker.address,  worker.nthreads,  worker.memory_limit,
          worker.resources,      worker.resources_used, worker.gpu, worker.processing.size(), worker.has_what.size(),
          worker.nbytes,         worker.occupancy, worker.tasks_done, worker.last_heartbeat,
          worker.last_seen};
}

void add_groups(const GraphState& graph, DashboardSnapshot& out) {
  std::unordered_map<const TaskGroup*, std::size_t> index;
  for (const auto& [name, group] : graph.groups()) {
    index.emplace(group.get(), out.groups.size());
    GroupProgress progress{group->name, {}, group->completed, group->compute_seconds, group->nbytes};
    std::copy(std::begin(group->counts), std::end(group->counts), progress.counts.begin());
    out.groups.push_back(std::move(progress));
  }
  for (const auto& [name, group] : graph.groups()) {
    for (const auto& [dependency, tasks] : group->dependencies) {
      auto from = index.find(dependency);
      if (from != index.end()) out.group_edges.push_back({from->second, index.at(group.get()), tasks});
    }
  }
}

void add_task_samples(const GraphState& graph, std::size_t per_state, DashboardSnapshot& out) {
  for (int i = 0; i < kTaskStatusCount; ++i) {
    auto& rows = out.task_samples[i];
    for (const TaskState* task = graph.first_with_status(static_cast<TaskStatus>(i));
         task != nullptr && rows.size() < per_state; task = task->status_next) {
      rows.push_back(task_row(*task));
    }
  }
}

void add_small_graph(const GraphState& graph, DashboardSnapshot& out) {
  std::unordered_map<const TaskState*, std::size_t> index;
  for (const auto& [key, task] : graph.tasks()) {
    index.emplace(task.get(), out.small_graph.tasks.size());
    out.small_graph.tasks.push_back(task_row(*task));
  }
  for (const auto& [key, task] : graph.tasks()) {
    for (const TaskState* dep : task->dependencies) {
      auto from = index.find(dep);
      if (from != index.end()) out.small_graph.edges.emplace_back(from->second, index.at(task.get()));
    }
  }
}

void add_rate(DashboardSnapshot& out, SnapshotHistory& history) {
  double elapsed = out.time - history.last_time;
  if (history.last_time > 0 && elapsed > 0) {
    double instant = static_cast<double>(out.tasks_completed - history.last_completed) / elapsed;
    // Smoothed over about a second of snapshots: a 250 ms window is jumpy.
    double weight = std::min(1.0, elapsed);
    history.rate = history.rate * (1 - weight) + instant * weight;
  }
  history.last_time = out.time;
  history.last_completed = out.tasks_completed;
  out.tasks_per_second = history.rate;
}

}  // namespace

std::shared_ptr<DashboardSnapshot> build_dashboard_snapshot(const GraphState& graph,
                                                                  const SnapshotOptions& options,
                                                                  SnapshotHistory& history, double now) {
  auto out = std::make_shared<DashboardSnapshot>();
  out->time = now;
  out->sequence = ++history.sequence;
  out->tasks = graph.task_count();
  for (int i = 0; i < kTaskStatusCount; ++i) out->counts[i] = graph.count(static_cast<TaskStatus>(i));
  out->clients = graph.client_count();
  out->tasks_completed = graph.tasks_completed();
  out->tasks_erred = graph.tasks_erred();
  out->transfer_bytes = graph.transfer_bytes();
  add_rate(*out, history);
  add_groups(graph, *out);
  for (const auto& worker : graph.workers()) out->workers.push_back(worker_row(*worker));
  out->errors.assign(graph.recent_errors().begin(), graph.recent_errors().end());
  out->stream = graph.stream().since(now - options.stream_seconds, options.stream_limit);
  out->stream_ops = graph.stream().op_names();
  out->stream_workers = graph.stream().worker_names();
  add_task_samples(graph, options.tasks_per_state, *out);
  out->graph_is_small = graph.task_count() <= options.graph_task_limit;
  if (out->graph_is_small) add_small_graph(graph, *out);
  out->adaptive_config = options.adaptive;
  out->adaptive_load = measure_adaptive_load(graph, options.adaptive);
  return out;
}

}  // namespace dtask::scheduler
