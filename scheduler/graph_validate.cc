// GraphState::validate(): the structural invariants every test checks after
// every event. O(tasks); never called on the scheduler's hot path.
#include "scheduler/graph_state.h"

#include <algorithm>
#include <array>

#include "common/check.h"

namespace dtask::scheduler {

using S = TaskStatus;

namespace {
Status violation(const TaskState& task, const std::string& what) {
  return Status::internal("task " + task.key + " (" + task_status_name(task.status) + "): " + what);
}
}  // namespace

// The per-status lists hold exactly the tasks in each status, and the group
// counts add up to the tasks that belong to each group.
Status GraphState::validate_lists_and_groups() const {
  for (int i = 0; i < kTaskStatusCount; ++i) {
    if (i == static_cast<int>(S::kForgotten)) continue;
    std::size_t listed = 0;
    for (const TaskState* task = status_heads_[i]; task != nullptr; task = task->status_next) {
      if (task->status != static_cast<S>(i)) return violation(*task, "in the wrong status list");
      ++listed;
    }
    if (listed != status_counts_[i]) {
      return Status::internal(std::string("status list for ") + task_status_name(static_cast<S>(i)) + " holds " +
                              std::to_string(listed) + " tasks, count is " + std::to_string(status_counts_[i]));
    }
  }
  std::unordered_map<const TaskGroup*, std::array<std::size_t, kTaskStatusCount>> grouped;
  for (const auto& [key, task] : tasks_) {
    if (task->group != nullptr) ++grouped[task->group][static_cast<int>(task->status)];
  }
  for (const auto& [name, group] : groups_) {
    for (int i = 0; i < kTaskStatusCount; ++i) {
      if (i != static_cast<int>(S::kForgotten) && grouped[group.get()][i] != group->counts[i]) {
        return Status::internal("group " + name + " counts " + std::to_string(group->counts[i]) + " tasks " +
                                task_status_name(static_cast<S>(i)) + ", actual " +
                                std::to_string(grouped[group.get()][i]));
      }
    }
  }
  return Status::success();
}

// The waiting count, the waiter registrations and the edge lists agree.
Status GraphState::validate_waiting(const TaskState& task) const {
  if (task.status == S::kWaiting) {
    std::uint32_t missing = 0;
    for (const TaskState* dep : task.dependencies) missing += dep->status == S::kMemory ? 0 : 1;
    if (task.waiting_count == 0) return violation(task, "waiting on nothing");
    if (task.waiting_count != missing) {
      return violation(task, "waits on " + std::to_string(task.waiting_count) + " dependencies, but " +
                                 std::to_string(missing) + " are not in memory");
    }
  } else if (task.waiting_count != 0) {
    return violation(task, "waiting_count while not waiting");
  }
  for (const TaskState* dep : task.dependencies) {
    if (contains(dep->waiters, &task) != task.registered_as_waiter) {
      return violation(task, "registered_as_waiter disagrees with the waiters of " + dep->key);
    }
  }
  if (task.status == S::kWaiting && !task.registered_as_waiter) return violation(task, "waiting, not a waiter");
  auto unique = [](std::vector<const void*> items) {
    std::sort(items.begin(), items.end());
    return std::adjacent_find(items.begin(), items.end()) == items.end();
  };
  if (!unique({task.dependents.begin(), task.dependents.end()}) || !unique({task.waiters.begin(), task.waiters.end()}) ||
      !unique({task.who_wants.begin(), task.who_wants.end()}) ||
      !unique({task.dependencies.begin(), task.dependencies.end()})) {
    return violation(task, "an edge list holds an element twice");
  }
  return Status::success();
}

Status GraphState::validate() const {
  std::size_t counts[kTaskStatusCount] = {};
  for (const auto& [key, owned] : tasks_) {
    const TaskState& task = *owned;
    ++counts[static_cast<int>(task.status)];
    bool processing = is_processing(task.status);
    if (processing != (task.processing_on != nullptr)) return violation(task, "processing_on disagrees with state");
    if (task.compute_pending && !processing) return violation(task, "to be sent to a worker but not processing");
    if (processing && task.processing_on->processing.count(const_cast<TaskState*>(&task)) == 0) {
      return violation(task, "missing from its worker's processing set");
    }
    if ((task.status == S::kMemory) != !task.who_has.empty()) return violation(task, "who_has disagrees with state");
    for (const WorkerState* worker : task.who_has) {
      if (worker->has_what.count(const_cast<TaskState*>(&task)) == 0) return violation(task, "not in has_what");
    }
    DTASK_RETURN_NOT_OK(validate_waiting(task));
    if ((task.status == S::kQueued) != (queued_.count(const_cast<TaskState*>(&task)) > 0)) {
      return violation(task, "queued set disagrees with state");
    }
    if ((task.status == S::kNoWorker) != (unrunnable_.count(const_cast<TaskState*>(&task)) > 0)) {
      return violation(task, "no-worker set disagrees with state");
    }
    for (const TaskState* dep : task.dependencies) {
      if (!contains(dep->dependents, &task)) return violation(task, "not among the dependents of " + dep->key);
    }
    for (const ClientState* client : task.who_wants) {
      if (client->wants.count(const_cast<TaskState*>(&task)) == 0) return violation(task, "client wants disagree");
    }
    // A task of a graph whose last part has not come is needed by that graph.
    bool needed = !task.who_wants.empty() || !task.waiters.empty() || task.in_pending_graph;
    if (!needed && task.status != S::kReleased) return violation(task, "nobody needs it but it was not released");
    if (!needed && task.dependents.empty()) {
      return violation(task, "released, unneeded, but not forgotten");
    }
  }
  if (counts[static_cast<int>(S::kForgotten)] != 0) return Status::internal("a forgotten task is still in the table");
  for (int i = 0; i < kTaskStatusCount; ++i) {
    // Forgotten tasks leave tasks_, so their count (a running total) is not in `counts`.
    if (i == static_cast<int>(S::kForgotten)) continue;
    if (counts[i] != status_counts_[i]) {
      return Status::internal(std::string("status count for ") + task_status_name(static_cast<S>(i)) + " is " +
                              std::to_string(status_counts_[i]) + ", actual " + std::to_string(counts[i]));
    }
  }
  DTASK_RETURN_NOT_OK(validate_lists_and_groups());
  // Every status change was made by an edge of the table (set_status checks
  // each one as it happens; this catches a table edited without its edges).
  if (running_edge_ != nullptr) return Status::internal("an edge is still running between events");
  if (steal_thief_ != nullptr || steal_confirmed_ || dropped_by_worker_ != nullptr || reporting_worker_ != nullptr) {
    return Status::internal("an event's context outlived it");
  }
  // Work stealing: exactly the tasks in `stealing` have a steal in flight,
  // each meant for a live worker other than its victim (or for none, once
  // its thief left).
  if (steals_.size() != status_counts_[static_cast<int>(S::kStealing)]) {
    return Status::internal(std::to_string(steals_.size()) + " steals in flight, " +
                            std::to_string(status_counts_[static_cast<int>(S::kStealing)]) + " tasks stealing");
  }
  for (const auto& [task, steal] : steals_) {
    auto it = tasks_.find(task->key);
    if (it == tasks_.end() || it->second.get() != task) return Status::internal("a steal in flight of a forgotten task");
    if (task->status != S::kStealing) return violation(*task, "has a steal in flight");
    if (steal.thief == task->processing_on) return violation(*task, "stolen for its own worker");
    if (steal.thief != nullptr && std::none_of(workers_.begin(), workers_.end(),
                                               [&](const auto& w) { return w.get() == steal.thief; })) {
      return violation(*task, "stolen for a worker that left");
    }
    if (steal.id == 0 || steal.id >= next_steal_id_) return violation(*task, "steal id never handed out");
  }
  for (int from = 0; from < kTaskStatusCount; ++from) {
    for (int to = 0; to < kTaskStatusCount; ++to) {
      if (edge_counts_[from][to] > 0 && edge(static_cast<S>(from), static_cast<S>(to)) == nullptr) {
        return Status::internal(std::string("tasks went ") + task_status_name(static_cast<S>(from)) + " -> " +
                                task_status_name(static_cast<S>(to)) + ", which is not an edge of the table");
      }
    }
  }
  for (const auto& worker : workers_) {
    for (const TaskState* task : worker->processing) {
      if (task->processing_on != worker.get()) return violation(*task, "in processing set of " + worker->name);
    }
    if (worker->occupancy < 0) return Status::internal("negative occupancy on " + worker->name);
  }
  return Status::success();
}

}  // namespace dtask::scheduler
