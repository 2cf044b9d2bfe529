// The transition table and its edges: the one place a task's status
// changes. Each edge is one function; the helpers below are what edges
// share (placement, replicas, errors, client notices). The events that
// recommend transitions are in graph_state.cc, restart recovery in
// graph_recovery.cc, the invariants in graph_validate.cc.
#include "scheduler/graph_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace dtask::scheduler {

using S = TaskStatus;

// The whole state machine at a glance: every change of a task's status is
// one of these edges, made by its function (set_status checks it). A pair
// missing here is routed through `released` (X -> released -> Y), as Dask's
// scheduler does; a pair that cannot be routed so aborts.
void GraphState::build_transition_table() {
  const std::pair<std::pair<S, S>, Edge> edges[] = {
      {{S::kReleased, S::kWaiting}, &GraphState::released_to_waiting},
      {{S::kReleased, S::kForgotten}, &GraphState::released_to_forgotten},
      {{S::kReleased, S::kMemory}, &GraphState::released_to_memory},
      {{S::kReleased, S::kErred}, &GraphState::released_to_erred},
      {{S::kWaiting, S::kProcessing}, &GraphState::waiting_to_processing},
      {{S::kWaiting, S::kQueued}, &GraphState::waiting_to_queued},
      {{S::kWaiting, S::kNoWorker}, &GraphState::waiting_to_no_worker},
      {{S::kWaiting, S::kReleased}, &GraphState::waiting_to_released},
      {{S::kWaiting, S::kErred}, &GraphState::waiting_to_erred},
      {{S::kQueued, S::kProcessing}, &GraphState::ready_to_processing},
      {{S::kNoWorker, S::kProcessing}, &GraphState::ready_to_processing},
      {{S::kQueued, S::kNoWorker}, &GraphState::queued_to_no_worker},
      {{S::kNoWorker, S::kQueued}, &GraphState::no_worker_to_queued},
      {{S::kQueued, S::kReleased}, &GraphState::waiting_to_released},
      {{S::kNoWorker, S::kReleased}, &GraphState::waiting_to_released},
      {{S::kProcessing, S::kMemory}, &GraphState::processing_to_memory},
      {{S::kProcessing, S::kErred}, &GraphState::processing_to_erred},
      {{S::kProcessing, S::kReleased}, &GraphState::processing_to_released},
      {{S::kMemory, S::kReleased}, &GraphState::memory_to_released},
      {{S::kErred, S::kReleased}, &GraphState::erred_to_released},
      {{S::kProcessing, S::kStealing}, &GraphState::processing_to_stealing},
      {{S::kStealing, S::kProcessing}, &GraphState::stealing_to_processing},
      {{S::kStealing, S::kMemory}, &GraphState::stealing_to_memory},
      {{S::kStealing, S::kErred}, &GraphState::stealing_to_erred},
      {{S::kStealing, S::kReleased}, &GraphState::stealing_to_released},
  };
  for (const auto& [pair, function] : edges) {
    table_[static_cast<int>(pair.first) * kTaskStatusCount + static_cast<int>(pair.second)] = function;
  }
}

void GraphState::transitions(Recommendations recommendations) {
  while (!recommendations.empty()) {
    if (early_statuses_ && !outbox_.statuses.empty() && recommendations.size() > kEarlyStatusesAbove) {
      early_statuses_(std::exchange(outbox_.statuses, {}));  // values only: nothing they name can dangle
    }
    auto [task, to] = recommendations.front();
    recommendations.pop_front();
    transition(*task, to, recommendations);
  }
}

void GraphState::transition(TaskState& task, TaskStatus to, Recommendations& out) {
  TaskStatus from = task.status;
  if (from == to || from == S::kForgotten) return;
  // "Run it" is recommended while a task waits to run; by the time the
  // recommendation is taken the task may already be in memory (a worker
  // brought its result back after a scheduler restart), erred or released.
  // Running it then would be wrong: the recommendation is stale.
  // (A stealing task goes to processing when its victim answers.)
  if (to == S::kProcessing && from != S::kWaiting && from != S::kQueued && from != S::kNoWorker &&
      from != S::kStealing) {
    return;
  }
  if (Edge function = edge(from, to)) {
    const RunningEdge running{&task, from, to};
    const RunningEdge* outer = std::exchange(running_edge_, &running);
    (this->*function)(task, out);
    running_edge_ = outer;
    return;
  }
  DTASK_CHECK(from != S::kReleased && to != S::kReleased)
      << "no transition " << task_status_name(from) << " -> " << task_status_name(to) << " for " << task.key;
  transition(task, S::kReleased, out);
  if (task.status == S::kReleased) transition(task, to, out);
}

void GraphState::set_status(TaskState& task, TaskStatus to) {
  // Only the edge running for this task may change its status, and only to
  // that edge's target: no state change bypasses the table.
  DTASK_CHECK(running_edge_ != nullptr && running_edge_->task == &task && running_edge_->from == task.status &&
              running_edge_->to == to)
      << "status change " << task_status_name(task.status) << " -> " << task_status_name(to) << " of " << task.key
      << " outside its edge of the transition table"
      << (running_edge_ == nullptr ? std::string(" (no edge running)")
                                   : std::string(" (running ") + task_status_name(running_edge_->from) + " -> " +
                                         task_status_name(running_edge_->to) + " of " + running_edge_->task->key + ")");
  ++edge_counts_[static_cast<int>(task.status)][static_cast<int>(to)];
  --status_counts_[static_cast<int>(task.status)];
  ++status_counts_[static_cast<int>(to)];
  unlink_status(task);
  if (to != S::kForgotten) link_status(task, to);
  if (task.group != nullptr) {
    --task.group->counts[static_cast<int>(task.status)];
    ++task.group->counts[static_cast<int>(to)];
  }
  task.status = to;
}

void GraphState::link_status(TaskState& task, TaskStatus status) {
  TaskState*& head = status_heads_[static_cast<int>(status)];
  task.status_prev = nullptr;
  task.status_next = head;
  if (head != nullptr) head->status_prev = &task;
  head = &task;
}

void GraphState::unlink_status(TaskState& task) {
  if (task.status_prev != nullptr) {
    task.status_prev->status_next = task.status_next;
  } else if (status_heads_[static_cast<int>(task.status)] == &task) {
    status_heads_[static_cast<int>(task.status)] = task.status_next;
  }
  if (task.status_next != nullptr) task.status_next->status_prev = task.status_prev;
  task.status_prev = task.status_next = nullptr;
}

void GraphState::join_group(TaskState& task, const std::string& name) {
  auto& group = groups_[name];
  if (!group) {
    group = std::make_unique<TaskGroup>();
    group->name = name;
    group->stream_op = stream_.intern_op(name);
  }
  task.group = group.get();
  ++group->counts[static_cast<int>(task.status)];
}

// A forgotten task leaves its group, and the group goes with its last task
// (its dependents went first, so no other group still counts edges into it).
void GraphState::leave_group(TaskState& task) {
  TaskGroup* group = task.group;
  if (group == nullptr) return;
  for (TaskState* dep : task.dependencies) {
    if (dep->group == nullptr) continue;
    auto edge = group->dependencies.find(dep->group);
    if (edge != group->dependencies.end() && --edge->second == 0) group->dependencies.erase(edge);
  }
  task.group = nullptr;
  if (group->live() == 0) groups_.erase(group->name);
}

// ---- edges -----------------------------------------------------------------

void GraphState::released_to_waiting(TaskState& task, Recommendations& out) {
  // While a restarted scheduler waits for its workers, scattered data may
  // still come back with one: it waits (in no-worker) like any result.
  if (task.is_scattered() && recovering_keys_.count(task.key) == 0) {
    // Data a client scattered has no lineage to recompute it from.
    task.rare().error_message = "data scattered by the client was lost with its worker";
    task.rare().exception_blame_key = task.key;
    transition(task, S::kErred, out);
    return;
  }
  set_status(task, S::kWaiting);
  const TaskState* erred_dependency = nullptr;
  // A task lost with its worker comes back here still registered.
  bool register_waiter = !task.registered_as_waiter;
  task.registered_as_waiter = true;
  task.waiting_count = 0;
  for (TaskState* dep : task.dependencies) {
    if (register_waiter) dep->waiters.push_back(&task);
    if (dep->status == S::kMemory) continue;
    ++task.waiting_count;
    if (dep->status == S::kErred) {
      erred_dependency = dep;
    } else if (dep->status == S::kReleased) {
      out.emplace_back(dep, S::kWaiting);
    }
  }
  if (erred_dependency != nullptr) {
    inherit_error(task, *erred_dependency);
    out.emplace_back(&task, S::kErred);
  } else if (task.waiting_count == 0) {
    out.emplace_back(&task, S::kProcessing);
  }
}

void GraphState::released_to_forgotten(TaskState& task, Recommendations& out) {
  DTASK_CHECK(task.dependents.empty() && task.who_wants.empty() && task.waiters.empty())
      << "forgetting " << task.key << " while it is still needed";
  for (TaskState* dep : task.dependencies) {
    erase_one(dep->dependents, &task);
    if (task.registered_as_waiter) erase_one(dep->waiters, &task);
    if (dep->dependents.empty()) recommend_release_if_unneeded(*dep, out);
  }
  task.registered_as_waiter = false;
  set_status(task, S::kForgotten);
  if (record_changes_) outbox_.forgotten.push_back(task.key);
  leave_group(task);
  auto node = tasks_.extract(task.key);
  graveyard_.push_back(std::move(node.mapped()));  // freed once no recommendation can name it
}

void GraphState::released_to_memory(TaskState& task, Recommendations& out) {
  // Scattered data, and results a worker kept across a scheduler restart,
  // arrive in memory without running.
  add_replica(task, *reporting_worker_);
  set_status(task, S::kMemory);
  wake_dependents(task, out);
  notify_wanted(task);
  recommend_release_if_unneeded(task, out);
}

// A task that cannot run: its graph named an unknown dependency or defined
// its key twice (update_graph set the error), or it is scattered data lost
// with its worker (released_to_waiting set it).
void GraphState::released_to_erred(TaskState& task, Recommendations& out) {
  set_status(task, S::kErred);
  if (!task.is_scattered()) {
    ++tasks_erred_;
    propagate_error(task, out);
    return;
  }
  for (ClientState* client : task.who_wants) {
    msg::KeyStatus status = status_of(task);
    status.state = KeyOutcome::kLost;
    notify(*client, std::move(status));
  }
  // Tasks already waiting on it would otherwise wait forever.
  for (TaskState* dependent : task.dependents) {
    if (dependent->status == S::kWaiting) {
      inherit_error(*dependent, task);
      out.emplace_back(dependent, S::kErred);
    }
  }
}

void GraphState::waiting_to_processing(TaskState& task, Recommendations& out) {
  switch (place(task)) {
    case PlaceOutcome::kPlaced: break;
    case PlaceOutcome::kSaturated: out.emplace_back(&task, S::kQueued); break;
    case PlaceOutcome::kNoWorker: out.emplace_back(&task, S::kNoWorker); break;
  }
}

void GraphState::waiting_to_queued(TaskState& task, Recommendations&) {
  set_status(task, S::kQueued);
  queued_.insert(&task);
}

void GraphState::waiting_to_no_worker(TaskState& task, Recommendations&) {
  set_status(task, S::kNoWorker);
  unrunnable_.insert(&task);
  logger_->debug("task {} ({}) waits in no-worker: no connected worker can run it{}", task.key, task.op(),
                task.resources().empty() ? "" : " (it needs resources no worker declared)");
}

void GraphState::ready_to_processing(TaskState& task, Recommendations& out) {
  switch (place(task)) {
    case PlaceOutcome::kPlaced: return;
    // Still not placed: a task that waited for a worker that can run it may
    // now wait for a free slot, and the other way round.
    case PlaceOutcome::kSaturated:
      if (task.status == S::kNoWorker) transition(task, S::kQueued, out);
      return;
    case PlaceOutcome::kNoWorker:
      if (task.status == S::kQueued) transition(task, S::kNoWorker, out);
      return;
  }
}

void GraphState::queued_to_no_worker(TaskState& task, Recommendations&) {
  queued_.erase(&task);
  set_status(task, S::kNoWorker);
  unrunnable_.insert(&task);
}

void GraphState::no_worker_to_queued(TaskState& task, Recommendations&) {
  unrunnable_.erase(&task);
  set_status(task, S::kQueued);
  queued_.insert(&task);
}

void GraphState::waiting_to_released(TaskState& task, Recommendations& out) {
  queued_.erase(&task);
  unrunnable_.erase(&task);
  set_status(task, S::kReleased);
  stop_waiting_on_dependencies(task, out);
  recommend_release_if_unneeded(task, out);
}

void GraphState::waiting_to_erred(TaskState& task, Recommendations& out) {
  queued_.erase(&task);
  unrunnable_.erase(&task);
  set_status(task, S::kErred);
  propagate_error(task, out);
}

void GraphState::processing_to_memory(TaskState& task, Recommendations& out) {
  WorkerState& worker = *reporting_worker_;
  unassign(task);
  add_replica(task, worker);
  set_status(task, S::kMemory);
  ++tasks_completed_;
  ++worker.tasks_done;
  if (task.group != nullptr) ++task.group->completed;
  wake_dependents(task, out);
  stop_waiting_on_dependencies(task, out);
  notify_wanted(task);
  recommend_release_if_unneeded(task, out);
  fill_free_slots(worker, out);
}

// Its op raised with no retries left (worker_report retries it through
// processing -> released), or too many workers died running it.
void GraphState::processing_to_erred(TaskState& task, Recommendations& out) {
  WorkerState& worker = *task.processing_on;
  unassign(task);
  set_status(task, S::kErred);
  ++tasks_erred_;
  propagate_error(task, out);
  fill_free_slots(worker, out);
}

void GraphState::processing_to_released(TaskState& task, Recommendations& out) {
  WorkerState& worker = *task.processing_on;
  unassign(task);
  // The worker drops the task, or its result when it finishes anyway
  // (unless it already dropped it: it raised, or could not fetch an input).
  if (dropped_by_worker_ != &task) outbox_.free[&worker].keys.push_back(task.key);
  set_status(task, S::kReleased);
  if (task.who_wants.empty() && task.waiters.empty()) {
    stop_waiting_on_dependencies(task, out);
    recommend_release_if_unneeded(task, out);
  } else {
    out.emplace_back(&task, S::kWaiting);  // lost with its worker: run again
  }
  fill_free_slots(worker, out);
}

void GraphState::memory_to_released(TaskState& task, Recommendations& out) {
  for (WorkerState* worker : std::vector<WorkerState*>(task.who_has)) {
    outbox_.free[worker].keys.push_back(task.key);
    remove_replica(task, *worker);
  }
  set_status(task, S::kReleased);
  if (task.who_wants.empty() && task.waiters.empty()) {
    recommend_release_if_unneeded(task, out);
    return;
  }
  // Still needed: the data was lost. Dependents that counted on it go back
  // to waiting, and this task is recomputed from its lineage.
  for (TaskState* waiter : task.waiters) {
    if (waiter->status == S::kWaiting) {
      ++waiter->waiting_count;
    } else if (waiter->status != S::kErred && waiter->status != S::kMemory) {
      out.emplace_back(waiter, S::kWaiting);
    }
  }
  out.emplace_front(&task, S::kWaiting);
}

void GraphState::erred_to_released(TaskState& task, Recommendations& out) {
  task.clear_error();
  set_status(task, S::kReleased);
  recommend_release_if_unneeded(task, out);
}


// ---- work stealing -----------------------------------------------------------
// A stolen task stays in its victim's processing set, where it may still
// run, until the victim answers; its thief is in steals_.

void GraphState::processing_to_stealing(TaskState& task, Recommendations&) {
  DTASK_CHECK(steal_thief_ != nullptr && steal_thief_ != task.processing_on)
      << "steal of " << task.key << " without a thief other than its worker";
  set_status(task, S::kStealing);
  const std::uint64_t id = next_steal_id_++;
  steals_[&task] = {steal_thief_, id};
  outbox_.steal[task.processing_on].items.push_back({task.key, id});
  ++steals_requested_;
}

// The victim answered (steal_response set steal_confirmed_): it gave the task
// up, which then runs on the thief, or it had started it, and it stays.
void GraphState::stealing_to_processing(TaskState& task, Recommendations& out) {
  WorkerState* thief = end_steal(task);
  if (!steal_confirmed_) {
    set_status(task, S::kProcessing);
    return;
  }
  // steal_response sends a task whose thief left through released instead.
  DTASK_CHECK(thief != nullptr) << "confirmed steal of " << task.key << " without a thief";
  WorkerState& victim = *task.processing_on;
  unassign(task);
  assign(task, *thief);  // -> processing on the thief, and its ComputeTask
  fill_free_slots(victim, out);
}

// It finished on the victim before the victim saw the request: the result
// is kept (once); the victim's refusal, when it comes, is stale.
void GraphState::stealing_to_memory(TaskState& task, Recommendations& out) {
  end_steal(task);
  processing_to_memory(task, out);
}

void GraphState::stealing_to_erred(TaskState& task, Recommendations& out) {
  end_steal(task);
  processing_to_erred(task, out);
}

// The victim died, the client let go, an input went missing, or the victim
// gave it up for a thief that has left.
void GraphState::stealing_to_released(TaskState& task, Recommendations& out) {
  end_steal(task);
  processing_to_released(task, out);
}

WorkerState* GraphState::end_steal(TaskState& task) {
  auto it = steals_.find(&task);
  DTASK_CHECK(it != steals_.end()) << task.key << " is stealing with no steal in flight";
  WorkerState* thief = it->second.thief;
  steals_.erase(it);
  return thief;
}

// ---- helpers shared by edges -------------------------------------------------

GraphState::PlaceOutcome GraphState::place(TaskState& task) {
  // Its result may come back with a worker that held it before the restart.
  if (recovering_ && recovering_keys_.count(task.key) > 0) return PlaceOutcome::kNoWorker;
  bool queue_roots = task.is_root() && std::isfinite(config_.worker_saturation);
  if (queue_roots) {
    auto saturated = [this](const WorkerState& worker) { return is_saturated(worker); };
    if (WorkerState* worker = placement_.choose(task, workers_, saturated)) {
      assign(task, *worker);
      return PlaceOutcome::kPlaced;
    }
    return placement_.choose(task, workers_) ? PlaceOutcome::kSaturated : PlaceOutcome::kNoWorker;
  }
  if (WorkerState* worker = placement_.choose(task, workers_)) {
    assign(task, *worker);
    return PlaceOutcome::kPlaced;
  }
  return PlaceOutcome::kNoWorker;
}

bool GraphState::is_saturated(const WorkerState& worker) const {
  if (worker.last_heartbeat.paused) return true;  // Dask sends a paused worker no new tasks
  double slots = std::max(1.0, std::ceil(config_.worker_saturation * worker.nthreads));
  if (static_cast<double>(worker.processing.size()) < slots) return false;
  return worker.occupancy >= config_.saturation_latency * worker.nthreads;
}

void GraphState::assign(TaskState& task, WorkerState& worker) {
  queued_.erase(&task);
  unrunnable_.erase(&task);
  task.processing_on = &worker;
  task.estimated_duration = estimate_duration(task);
  worker.processing.insert(&task);
  worker.occupancy += task.estimated_duration;
  for (const auto& [name, amount] : task.resources()) add_resource(worker.resources_used, name, amount);
  set_status(task, S::kProcessing);

  task.compute_pending = true;
  outbox_.compute[&worker].tasks.push_back(&task);  // encoded from the task when the outbox is sent
}

void GraphState::unassign(TaskState& task) {
  WorkerState* worker = task.processing_on;
  DTASK_CHECK(worker != nullptr) << task.key << " is not processing";
  worker->processing.erase(&task);
  worker->occupancy = std::max(0.0, worker->occupancy - task.estimated_duration);
  if (worker->processing.empty()) worker->occupancy = 0;  // no drift from rounding
  for (const auto& [name, amount] : task.resources()) add_resource(worker->resources_used, name, -amount);
  task.processing_on = nullptr;
  task.estimated_duration = 0;
  task.compute_pending = false;  // not sent, if it was assigned since the last take_outbox
}

void GraphState::add_resource(ResourceList& resources, const std::string& name, double amount) {
  for (auto& [existing, total] : resources) {
    if (existing == name) {
      total += amount;
      return;
    }
  }
  resources.emplace_back(name, amount);
}

void GraphState::add_replica(TaskState& task, WorkerState& worker) {
  if (task.held_by(&worker)) return;
  task.who_has.push_back(&worker);
  worker.has_what.insert(&task);
  worker.nbytes += task.nbytes;
  if (record_changes_) {
    outbox_.completed[worker.address].push_back({task.key, task.nbytes, *task.type_name});
  }
}

void GraphState::wake_dependents(TaskState& task, Recommendations& out) {
  // A waiting dependent counts every dependency not in memory, this one among them.
  for (TaskState* dependent : task.dependents) {
    if (dependent->status == S::kWaiting && dependent->waiting_count > 0 && --dependent->waiting_count == 0) {
      out.emplace_back(dependent, S::kProcessing);
    }
  }
}

void GraphState::remove_replica(TaskState& task, WorkerState& worker) {
  auto it = std::find(task.who_has.begin(), task.who_has.end(), &worker);
  if (it == task.who_has.end()) return;
  task.who_has.erase(it);
  worker.has_what.erase(&task);
  worker.nbytes -= std::min(worker.nbytes, task.nbytes);
}

void GraphState::stop_waiting_on_dependencies(TaskState& task, Recommendations& out) {
  task.waiting_count = 0;
  if (!task.registered_as_waiter) return;
  task.registered_as_waiter = false;
  for (TaskState* dep : task.dependencies) {
    if (erase_one(dep->waiters, &task)) recommend_release_if_unneeded(*dep, out);
  }
}

void GraphState::recommend_release_if_unneeded(TaskState& task, Recommendations& out) {
  if (!task.who_wants.empty() || !task.waiters.empty() || task.in_pending_graph) return;
  if (task.status == S::kReleased) {
    if (task.dependents.empty()) out.emplace_back(&task, S::kForgotten);
  } else if (task.status != S::kForgotten) {
    out.emplace_back(&task, S::kReleased);
  }
}

void GraphState::inherit_error(TaskState& task, const TaskState& failed) {
  task.rare().error_op = failed.error_op();
  task.rare().error_message = failed.error_message();
  task.rare().exception_blame_key = failed.exception_blame_key();
}

void GraphState::propagate_error(TaskState& task, Recommendations& out) {
  if (task.exception_blame_key().empty()) task.rare().exception_blame_key = task.key;
  for (TaskState* dependent : task.dependents) {
    if (dependent->status == S::kWaiting || dependent->status == S::kQueued ||
        dependent->status == S::kNoWorker) {
      inherit_error(*dependent, task);
      out.emplace_back(dependent, S::kErred);
    }
  }
  stop_waiting_on_dependencies(task, out);
  notify_wanted(task);
  recommend_release_if_unneeded(task, out);
}

void GraphState::fill_free_slots(WorkerState& worker, Recommendations& out) {
  while (!queued_.empty() && !is_saturated(worker)) {
    TaskState* next = *queued_.begin();
    transition(*next, S::kProcessing, out);
    if (next->status == S::kQueued) break;  // nowhere to put it after all
  }
}

void GraphState::retry_unrunnable(Recommendations& out) {
  for (TaskState* task : std::vector<TaskState*>(unrunnable_.begin(), unrunnable_.end())) {
    transition(*task, S::kProcessing, out);
  }
}

void GraphState::notify_wanted(TaskState& task) {
  if (task.who_wants.empty()) return;
  msg::KeyStatus status = status_of(task);
  // A result that came inline goes on to the clients with its status.
  if (task.status == S::kMemory && inline_result_.task == &task) status.value = *inline_result_.value;
  for (ClientState* client : task.who_wants) notify(*client, status);
}

void GraphState::notify(ClientState& client, msg::KeyStatus status) {
  outbox_.statuses[&client].statuses.push_back(std::move(status));
}

msg::KeyStatus GraphState::status_of(const TaskState& task) const {
  msg::KeyStatus status;
  status.key = task.key;
  if (task.status == S::kMemory) {
    status.state = KeyOutcome::kMemory;
    for (const WorkerState* worker : task.who_has) status.who_has.push_back(worker->address);
    status.nbytes = task.nbytes;
    status.type_name = *task.type_name;
  } else {
    status.state = KeyOutcome::kErred;
    status.op = task.error_op();
    status.failed_key = task.exception_blame_key();
    status.message = task.error_message();
  }
  return status;
}

std::optional<double> GraphState::measured_duration(const TaskState& task) const {
  if (task.op_stats == nullptr) return std::nullopt;
  return task.op_stats->mean_seconds();
}

double GraphState::estimate_duration(const TaskState& task) const {
  return measured_duration(task).value_or(config_.default_task_duration);
}

OpStats* GraphState::op_stats(std::string name) {
  if (name.empty()) name = "<missing op>";  // only scattered data has no op
  auto [it, inserted] = ops_.try_emplace(name);
  if (inserted) it->second.name = std::move(name);
  return &it->second;
}

TaskState* GraphState::create_if_new(std::string key, bool* created) {
  auto task = std::make_unique<TaskState>();
  task->key = std::move(key);
  // One lookup: the table's key views the new task's own key.
  auto [it, inserted] = tasks_.try_emplace(std::string_view(task->key));
  *created = inserted;
  if (!inserted) return it->second.get();  // named earlier in the same graph
  it->second = std::move(task);
  ++status_counts_[static_cast<int>(S::kReleased)];
  link_status(*it->second, S::kReleased);
  return it->second.get();
}

TaskState* GraphState::get_or_create(std::string key, bool* created) {
  auto it = tasks_.find(key);
  bool inserted = it == tasks_.end();
  if (inserted) {
    auto task = std::make_unique<TaskState>();
    task->key = std::move(key);
    // The table's key views the task's own key: one copy of each key.
    it = tasks_.emplace(std::string_view(task->key), std::move(task)).first;
    ++status_counts_[static_cast<int>(S::kReleased)];
    link_status(*it->second, S::kReleased);
  }
  if (created != nullptr) *created = inserted;
  return it->second.get();
}

}  // namespace dtask::scheduler
