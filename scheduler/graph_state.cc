#include "scheduler/graph_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "common/check.h"
#include "common/logging.h"
#include "scheduler/task_fingerprint.h"

namespace dtask::scheduler {

using S = TaskStatus;

namespace {
constexpr std::size_t kRecentErrors = 50;  // as many as the dashboard lists
}  // namespace

GraphState::GraphState(SchedulerConfig config, std::shared_ptr<spdlog::logger> logger)
    : config_(config), logger_(std::move(logger)) {
  build_transition_table();
}

GraphState::~GraphState() = default;

// The whole state machine at a glance. A pair missing here is routed through
// `released` (X -> released -> Y), as Dask's scheduler does.
void GraphState::build_transition_table() {
  table_ = {
      {{S::kReleased, S::kWaiting}, &GraphState::released_to_waiting},
      {{S::kReleased, S::kForgotten}, &GraphState::released_to_forgotten},
      {{S::kReleased, S::kMemory}, &GraphState::released_to_memory},
      {{S::kWaiting, S::kProcessing}, &GraphState::waiting_to_processing},
      {{S::kWaiting, S::kQueued}, &GraphState::waiting_to_queued},
      {{S::kWaiting, S::kNoWorker}, &GraphState::waiting_to_no_worker},
      {{S::kWaiting, S::kReleased}, &GraphState::waiting_to_released},
      {{S::kWaiting, S::kErred}, &GraphState::waiting_to_erred},
      {{S::kQueued, S::kProcessing}, &GraphState::ready_to_processing},
      {{S::kNoWorker, S::kProcessing}, &GraphState::ready_to_processing},
      {{S::kQueued, S::kReleased}, &GraphState::waiting_to_released},
      {{S::kNoWorker, S::kReleased}, &GraphState::waiting_to_released},
      {{S::kProcessing, S::kMemory}, &GraphState::processing_to_memory},
      {{S::kProcessing, S::kErred}, &GraphState::processing_to_erred},
      {{S::kProcessing, S::kReleased}, &GraphState::processing_to_released},
      {{S::kMemory, S::kReleased}, &GraphState::memory_to_released},
      {{S::kErred, S::kReleased}, &GraphState::erred_to_released},
  };
}

void GraphState::transitions(Recommendations recommendations) {
  while (!recommendations.empty()) {
    auto [task, to] = recommendations.front();
    recommendations.pop_front();
    transition(*task, to, recommendations);
  }
  graveyard_.clear();
}

void GraphState::transition(TaskState& task, TaskStatus to, Recommendations& out) {
  TaskStatus from = task.status;
  if (from == to || from == S::kForgotten) return;
  // "Run it" is recommended while a task waits to run; by the time the
  // recommendation is taken the task may already be in memory (a worker
  // brought its result back after a scheduler restart), erred or released.
  // Running it then would be wrong: the recommendation is stale.
  if (to == S::kProcessing && from != S::kWaiting && from != S::kQueued && from != S::kNoWorker) return;
  auto edge = table_.find({from, to});
  if (edge != table_.end()) {
    (this->*edge->second)(task, out);
    return;
  }
  DTASK_CHECK(from != S::kReleased && to != S::kReleased)
      << "no transition " << task_status_name(from) << " -> " << task_status_name(to) << " for " << task.key;
  transition(task, S::kReleased, out);
  if (task.status == S::kReleased) transition(task, to, out);
}

void GraphState::set_status(TaskState& task, TaskStatus to) {
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
    set_status(task, S::kErred);
    task.rare().error_message = "data scattered by the client was lost with its worker";
    task.rare().exception_blame_key = task.key;
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
  logger_->debug("task {} ({}) waits in no-worker: no connected worker can run it{}", task.key, task.op,
                task.resources().empty() ? "" : " (it needs resources no worker declared)");
}

void GraphState::ready_to_processing(TaskState& task, Recommendations&) {
  switch (place(task)) {
    case PlaceOutcome::kPlaced: return;
    case PlaceOutcome::kSaturated:
      if (task.status == S::kNoWorker) {
        unrunnable_.erase(&task);
        set_status(task, S::kQueued);
        queued_.insert(&task);
      }
      return;
    case PlaceOutcome::kNoWorker:
      if (task.status == S::kQueued) {
        queued_.erase(&task);
        set_status(task, S::kNoWorker);
        unrunnable_.insert(&task);
      }
      return;
  }
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

void GraphState::processing_to_erred(TaskState& task, Recommendations& out) {
  WorkerState& worker = *task.processing_on;
  unassign(task);
  if (task.retries > 0) {
    --task.retries;
    logger_->info("task {} ({}) raised; retrying, {} retries left: {}", task.key, task.op, task.retries,
                  task.error_message());
    set_status(task, S::kReleased);
    out.emplace_back(&task, S::kWaiting);
  } else {
    set_status(task, S::kErred);
    ++tasks_erred_;
    propagate_error(task, out);
  }
  fill_free_slots(worker, out);
}

void GraphState::processing_to_released(TaskState& task, Recommendations& out) {
  WorkerState& worker = *task.processing_on;
  unassign(task);
  // The worker drops the task, or its result when it finishes anyway.
  outbox_.free[&worker].keys.push_back(task.key);
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

// ---- helpers ---------------------------------------------------------------

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
  task.estimated_duration = estimate_duration(task.op);
  worker.processing.insert(&task);
  worker.occupancy += task.estimated_duration;
  for (const auto& [name, amount] : task.resources()) add_resource(worker.resources_used, name, amount);
  set_status(task, S::kProcessing);

  msg::ComputeTask compute;
  compute.key = task.key;
  compute.op = task.op;
  compute.args = task.args;
  compute.priority = task.priority;
  compute.resources = task.resources();
  compute.dependencies.reserve(task.dependencies.size());
  for (const TaskState* dep : task.dependencies) {
    msg::DependencyLocation location{dep->key, {}, dep->nbytes};
    for (const WorkerState* holder : dep->who_has) location.who_has.push_back(holder->address);
    compute.dependencies.push_back(std::move(location));
  }
  outbox_.compute[&worker].tasks.push_back(std::move(compute));
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
    outbox_.completed[worker.address].push_back({task.key, task.nbytes, task.type_name});
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
  if (!task.who_wants.empty() || !task.waiters.empty()) return;
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
    status.type_name = task.type_name;
  } else {
    status.state = KeyOutcome::kErred;
    status.op = task.error_op();
    status.failed_key = task.exception_blame_key();
    status.message = task.error_message();
  }
  return status;
}

std::optional<double> GraphState::measured_duration(const std::string& op) const {
  auto it = op_durations_.find(op);
  if (it == op_durations_.end() || it->second.second == 0) return std::nullopt;
  return it->second.first / static_cast<double>(it->second.second);
}

double GraphState::estimate_duration(const std::string& op) const {
  return measured_duration(op).value_or(config_.default_task_duration);
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

// ---- events ----------------------------------------------------------------

ClientState* GraphState::add_client(std::string name, std::string session) {
  auto client = std::make_unique<ClientState>();
  client->id = next_client_id_++;
  client->name = std::move(name);
  client->session = session.empty() ? "anonymous-" + std::to_string(client->id) : std::move(session);
  ClientState* raw = client.get();
  clients_.emplace(raw->id, std::move(client));
  return raw;
}

std::vector<ClientState*> GraphState::clients() const {
  std::vector<ClientState*> out;
  out.reserve(clients_.size());
  for (const auto& [id, client] : clients_) out.push_back(client.get());
  return out;
}

ClientState* GraphState::find_client(const std::string& session) const {
  for (const auto& [id, client] : clients_) {
    if (client->session == session) return client.get();
  }
  return nullptr;
}

void GraphState::remove_client(ClientState* client) {
  Recommendations out;
  for (TaskState* task : client->wants) {
    erase_one(task->who_wants, client);
    recommend_release_if_unneeded(*task, out);
  }
  client->wants.clear();
  outbox_.statuses.erase(client);
  transitions(std::move(out));
  clients_.erase(client->id);
}

Result<WorkerState*> GraphState::add_worker(const msg::RegisterWorker& registration) {
  for (const auto& existing : workers_) {
    if (existing->address == registration.data_address) {
      return Status::invalid("a worker at " + registration.data_address + " is already registered");
    }
    if (!registration.name.empty() && existing->name == registration.name) {
      return Status::invalid("a worker named '" + registration.name + "' is already registered");
    }
  }
  auto worker = std::make_unique<WorkerState>();
  worker->name = registration.name.empty() ? registration.data_address : registration.name;
  worker->address = registration.data_address;
  worker->nthreads = std::max<std::uint32_t>(registration.nthreads, 1);
  worker->memory_limit = registration.memory_limit;
  worker->resources = registration.resources;
  worker->gpu = registration.gpu;
  worker->stream_id = stream_.intern_worker(worker->name);
  WorkerState* raw = worker.get();
  workers_.push_back(std::move(worker));

  Recommendations out;
  take_held_results(*raw, registration.held, out);
  if (recovering_ && recovering_holders_.erase(raw->address) > 0 && recovering_holders_.empty()) {
    logger_->info("every worker that held results before the restart is back");
    transitions(std::move(out));
    out.clear();
    end_recovery();
  }
  retry_unrunnable(out);
  fill_free_slots(*raw, out);
  transitions(std::move(out));
  return raw;
}

void GraphState::remove_worker(WorkerState* worker, const std::string& reason, bool graceful) {
  // A worker lost with work on it is news; one retired, disconnected by the
  // scheduler's own stop, or leaving with nothing to lose (a LocalCluster
  // stopping its workers) is not.
  const bool loses_work = !worker->processing.empty() || !worker->has_what.empty();
  logger_->log(!graceful && loses_work ? spdlog::level::warn : spdlog::level::info,
               "removing worker {} ({}): {}; {} tasks processing, {} results held", worker->name, worker->address,
               reason, worker->processing.size(), worker->has_what.size());
  // Out of the pool first: releasing its tasks frees its slots, and
  // fill_free_slots must not hand queued tasks to a worker that is going away.
  auto it = std::find_if(workers_.begin(), workers_.end(), [worker](const auto& w) { return w.get() == worker; });
  DTASK_CHECK(it != workers_.end()) << "unknown worker " << worker->name;
  if (record_changes_) outbox_.workers_gone.push_back(worker->address);
  std::unique_ptr<WorkerState> removed = std::move(*it);
  workers_.erase(it);
  Recommendations out;
  for (TaskState* task : std::vector<TaskState*>(worker->processing.begin(), worker->processing.end())) {
    if (!graceful && ++task->workers_died > config_.allowed_failures) {
      task->rare().error_op = task->op;
      task->rare().error_message = "worker killed while running " + task->op + " " + task->key + " (" +
                            std::to_string(task->workers_died) + " workers died running it; allowed failures: " +
                            std::to_string(config_.allowed_failures) + "); last: " + worker->name + ": " + reason;
      task->rare().exception_blame_key = task->key;
      task->retries = 0;  // retries are for raised errors, not for killed workers
      logger_->error("task {}: {}", task->key, task->error_message());
      transition(*task, S::kErred, out);
    } else {
      transition(*task, S::kReleased, out);
    }
  }
  for (TaskState* task : std::vector<TaskState*>(worker->has_what.begin(), worker->has_what.end())) {
    remove_replica(*task, *worker);
    if (task->who_has.empty()) {
      transition(*task, S::kReleased, out);
    } else {
      notify_wanted(*task);  // clients fetch it from the copies left
    }
  }
  transitions(std::move(out));
  // Nothing more can be sent to it: drop what its tasks' release queued.
  outbox_.compute.erase(removed.get());
  outbox_.free.erase(removed.get());
}

void GraphState::update_graph(ClientState& client, msg::UpdateGraph graph) {
  // A key names one computation. Sent again with the same definition it
  // reuses what we have; with another, reusing would hand the client the old
  // result as if it were the new one, so the whole graph is refused.
  std::vector<std::uint64_t> fingerprints;
  fingerprints.reserve(graph.tasks.size());
  for (const msg::TaskDef& def : graph.tasks) {
    fingerprints.push_back(task_fingerprint(def));
    auto known = tasks_.find(def.key);
    if (known != tasks_.end() && known->second->fingerprint != fingerprints.back()) {
      return refuse_graph(client, graph, redefinition_error(*known->second, def));
    }
  }
  Recommendations out;
  std::vector<std::pair<TaskState*, msg::TaskDef*>> defined;
  defined.reserve(graph.tasks.size());
  tasks_.reserve(tasks_.size() + graph.tasks.size());
  for (std::size_t i = 0; i < graph.tasks.size(); ++i) {
    bool created = false;
    // Moved: the task keeps the one copy of its key.
    TaskState* task = get_or_create(std::move(graph.tasks[i].key), &created);
    if (created) {
      task->fingerprint = fingerprints[i];
      defined.emplace_back(task, &graph.tasks[i]);
    } else if (task->fingerprint != fingerprints[i]) {
      // Named twice in this graph by different tasks: the first one errs.
      task->rare().error_message = "key '" + task->key + "' is defined twice in one graph, by different tasks";
    }
  }
  for (auto& [task, def] : defined) {
    task->op = std::move(def->op);
    task->args = std::move(def->args);
    task->priority = def->priority;
    if (!def->resources.empty() || !def->workers.empty() || def->allow_other_workers) {
      TaskRare& rare = task->rare();
      rare.resources = std::move(def->resources);
      rare.worker_restrictions = std::move(def->workers);
      rare.loose_restrictions = def->allow_other_workers;
    }
    task->retries = def->retries;
    if (task->op.empty()) task->op = "<missing op>";  // only scattered data has no op
    join_group(*task, task->op);
    for (const std::string& dep_key : def->dependencies) {
      auto dep = tasks_.find(dep_key);
      if (dep == tasks_.end()) {
        task->rare().error_op = task->op;
        task->rare().error_message = "unknown dependency key '" + dep_key + "'";
        continue;
      }
      TaskState* dependency = dep->second.get();
      // A key named twice among the dependencies counts once (this task's
      // edges are added together, so a repeat is the last one added).
      if (dependency->dependents.empty() || dependency->dependents.back() != task) {
        dependency->dependents.push_back(task);
        task->dependencies.push_back(dependency);
        if (dependency->group != nullptr) ++task->group->dependencies[dependency->group];
      }
    }
    std::vector<std::string>().swap(def->dependencies);  // a big graph's peak is lower when each goes now
  }
  for (const std::string& key : graph.wanted_keys) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) {
      notify(client, {key, KeyOutcome::kErred, {}, "", key, "unknown key '" + key + "'", 0, ""});
      continue;
    }
    TaskState& task = *it->second;
    insert_unique(task.who_wants, &client);
    client.wants.insert(&task);
    if (task.status == S::kMemory || task.status == S::kErred) notify(client, status_of(task));
    if (task.status == S::kReleased) out.emplace_back(&task, S::kWaiting);
  }
  for (auto& [task, def] : defined) {
    if (!task->error_message().empty() && task->status != S::kErred) {
      // Bad graph input: fail this task (and what depends on it) with the reason.
      // Drop the `waiting` queued for it if wanted: it would route it through
      // released (clearing the error) and run it without its dependency.
      TaskState* bad = task;
      std::erase_if(out, [bad](const auto& recommendation) { return recommendation.first == bad; });
      set_status(*task, S::kErred);
      ++tasks_erred_;
      propagate_error(*task, out);
    } else if (task->status == S::kReleased) {
      recommend_release_if_unneeded(*task, out);  // nobody asked for it
    }
  }
  transitions(std::move(out));
}

void GraphState::refuse_graph(ClientState& client, const msg::UpdateGraph& graph, const std::string& why) {
  logger_->warn("refusing a graph of {} tasks from client {}: {}", graph.tasks.size(), client.name, why);
  for (const std::string& key : graph.wanted_keys) {
    notify(client, {key, KeyOutcome::kErred, {}, "", key, "graph refused: " + why, 0, ""});
  }
}

void GraphState::release_keys(ClientState& client, const std::vector<std::string>& keys) {
  Recommendations out;
  for (const std::string& key : keys) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) continue;
    TaskState& task = *it->second;
    if (client.wants.erase(&task) == 0) continue;
    erase_one(task.who_wants, &client);
    recommend_release_if_unneeded(task, out);
  }
  transitions(std::move(out));
}

void GraphState::cancel_keys(ClientState& client, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) notify(client, {key, KeyOutcome::kCancelled, {}, "", key, "cancelled", 0, ""});
  release_keys(client, keys);
}

Status GraphState::keys_scattered(ClientState& client, const msg::KeysScattered& scattered) {
  WorkerState* worker = find_worker(scattered.worker);
  if (worker == nullptr) return Status::not_found("no worker at " + scattered.worker + " to hold scattered data");
  Recommendations out;
  reporting_worker_ = worker;
  for (const msg::KeyInfo& info : scattered.keys) {
    TaskState* task = get_or_create(info.key);
    if (task->group == nullptr) join_group(*task, "scattered");
    insert_unique(task->who_wants, &client);
    client.wants.insert(task);
    if (task->status == S::kMemory) {
      add_replica(*task, *worker);
      notify(client, status_of(*task));
      continue;
    }
    if (task->status != S::kReleased) continue;  // a computed key of the same name wins
    task->nbytes = info.nbytes;
    task->type_name = info.type_name;
    transition(*task, S::kMemory, out);
  }
  reporting_worker_ = nullptr;
  transitions(std::move(out));
  return Status::success();
}

// ---- scheduler restart -------------------------------------------------------

void GraphState::take_held_results(WorkerState& worker, const std::vector<msg::KeyInfo>& held, Recommendations& out) {
  if (held.empty()) return;
  std::size_t kept = 0;
  reporting_worker_ = &worker;
  for (const msg::KeyInfo& info : held) {
    auto it = tasks_.find(info.key);
    TaskState* task = it == tasks_.end() ? nullptr : it->second.get();
    // Unknown, failed, or already running elsewhere: the copy is not needed.
    if (task == nullptr || task->status == S::kErred || task->status == S::kProcessing) {
      outbox_.free[&worker].keys.push_back(info.key);
      continue;
    }
    recovering_keys_.erase(info.key);
    ++kept;
    if (task->status == S::kMemory) {
      add_replica(*task, worker);
      notify_wanted(*task);
      continue;
    }
    // Waiting, queued or no-worker: it need not run, its result is here.
    task->nbytes = info.nbytes;
    task->type_name = info.type_name;
    transition(*task, S::kReleased, out);
    transition(*task, S::kMemory, out);
  }
  reporting_worker_ = nullptr;
  logger_->info("worker {} came back with {} results: {} still needed", worker.name, held.size(), kept);
}

void GraphState::begin_recovery(std::unordered_map<std::string, std::vector<std::string>> held) {
  recovering_ = true;
  for (const auto& [key, holders] : held) recovering_holders_.insert(holders.begin(), holders.end());
  recovering_keys_ = std::move(held);
  logger_->info("recovering: waiting for {} workers to bring back {} results", recovering_holders_.size(),
                recovering_keys_.size());
  if (recovering_holders_.empty()) end_recovery();
}

void GraphState::end_recovery() {
  if (!recovering_) return;
  std::size_t missing = recovering_keys_.size();
  recovering_ = false;
  recovering_keys_.clear();
  recovering_holders_.clear();
  Recommendations out;
  for (TaskState* task : std::vector<TaskState*>(unrunnable_.begin(), unrunnable_.end())) {
    if (!task->is_scattered()) continue;
    // Its worker did not come back: released -> waiting reports it lost.
    transition(*task, S::kReleased, out);
    transition(*task, S::kWaiting, out);
  }
  retry_unrunnable(out);
  transitions(std::move(out));
  logger_->info("recovery over; results no worker brought back are recomputed from their lineage (up to {})",
                missing);
}

void GraphState::restore_scattered(ClientState& client, const msg::KeysScattered& scattered) {
  Recommendations out;
  for (const msg::KeyInfo& info : scattered.keys) {
    TaskState* task = get_or_create(info.key);
    if (task->group == nullptr) join_group(*task, "scattered");
    insert_unique(task->who_wants, &client);
    client.wants.insert(task);
    if (task->status != S::kReleased) continue;
    task->nbytes = info.nbytes;
    task->type_name = info.type_name;
    out.emplace_back(task, S::kWaiting);
  }
  transitions(std::move(out));
}

void GraphState::resume_client(ClientState& client, const std::vector<std::string>& keys) {
  std::unordered_set<std::string> wanted(keys.begin(), keys.end());
  std::vector<std::string> dropped;
  for (const TaskState* task : client.wants) {
    if (wanted.count(task->key) == 0) dropped.push_back(task->key);
  }
  release_keys(client, dropped);  // released while the scheduler was away
  Recommendations out;
  for (const std::string& key : keys) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) {
      notify(client, {key, KeyOutcome::kLost, {}, "", key,
                      "the scheduler does not know this key after the client reconnected (it restarted without "
                      "its --journal, or the graph never reached it)",
                      0, ""});
      continue;
    }
    TaskState& task = *it->second;
    if (client.wants.insert(&task).second) {
      insert_unique(task.who_wants, &client);
      if (task.status == S::kReleased) out.emplace_back(&task, S::kWaiting);
    }
    if (task.status == S::kMemory || task.status == S::kErred) notify(client, status_of(task));
  }
  transitions(std::move(out));
}

void GraphState::worker_report(WorkerState& worker, const msg::WorkerReport& report) {
  record_report(worker, report);
  Recommendations out;
  reporting_worker_ = &worker;
  for (const msg::TaskFinished& finished : report.finished) {
    auto it = tasks_.find(finished.key);
    TaskState* task = it == tasks_.end() ? nullptr : it->second.get();
    if (task != nullptr && task->status == S::kProcessing && task->processing_on == &worker) {
      task->nbytes = finished.nbytes;
      task->type_name = finished.type_name;
      const double seconds = std::max(0.0, finished.stop_time - finished.start_time);
      auto& [total, count] = op_durations_[task->op];
      total += seconds;
      ++count;
      if (task->group != nullptr) {
        task->group->compute_seconds += seconds;
        task->group->nbytes += finished.nbytes;
        stream_.record({finished.start_time, finished.stop_time, worker.stream_id, task->group->stream_op,
                        finished.thread, StreamKind::kCompute});
      }
      transition(*task, S::kMemory, out);
    } else if (task != nullptr && task->status == S::kMemory) {
      add_replica(*task, worker);  // computed twice (after a reschedule): keep the copy
    } else {
      outbox_.free[&worker].keys.push_back(finished.key);  // nobody needs it any more
    }
  }
  for (const msg::TaskErred& erred : report.erred) {
    auto it = tasks_.find(erred.key);
    if (it == tasks_.end()) continue;
    TaskState& task = *it->second;
    if (task.status != S::kProcessing || task.processing_on != &worker) continue;
    task.rare().error_op = erred.op;
    task.rare().error_message = erred.message;
    task.rare().exception_blame_key = task.key;
    logger_->info("task {} ({}) raised on {}: {}", task.key, erred.op, worker.name, erred.message);
    recent_errors_.push_back({wall_clock_seconds(), task.key, erred.op, worker.name, erred.message});
    if (recent_errors_.size() > kRecentErrors) recent_errors_.pop_front();
    if (task.group != nullptr) {
      stream_.record({erred.start_time, erred.stop_time, worker.stream_id, task.group->stream_op, erred.thread,
                      StreamKind::kErred});
    }
    transition(task, S::kErred, out);
  }
  for (const msg::TaskMissingData& missing : report.missing) task_missing_data(worker, missing, out);
  for (const msg::KeyAcquired& acquired : report.acquired) {
    // A copy made for a retiring worker; kept only if the result is still wanted.
    auto it = tasks_.find(acquired.key);
    if (it != tasks_.end() && it->second->status == S::kMemory) {
      if (!it->second->held_by(&worker)) {
        add_replica(*it->second, worker);
        notify_wanted(*it->second);  // clients learn where else to fetch it
      }
    } else {
      outbox_.free[&worker].keys.push_back(acquired.key);
    }
  }
  reporting_worker_ = nullptr;
  transitions(std::move(out));
}

void GraphState::task_missing_data(WorkerState& worker, const msg::TaskMissingData& missing, Recommendations& out) {
  auto it = tasks_.find(missing.key);
  if (it == tasks_.end()) return;
  TaskState& task = *it->second;
  if (task.status != S::kProcessing || task.processing_on != &worker) return;
  logger_->info("task {} on {} could not start: {}; rescheduling it", task.key, worker.name, missing.message);
  // That copy is gone (its worker died or dropped it): forget it, and
  // recompute the dependency if it was the last one. Dask does the same.
  auto dep = tasks_.find(missing.dependency);
  WorkerState* holder = missing.holder.empty() ? nullptr : find_worker(missing.holder);
  if (dep != tasks_.end() && holder != nullptr && dep->second->held_by(holder)) {
    outbox_.free[holder].keys.push_back(dep->second->key);
    remove_replica(*dep->second, *holder);
    if (dep->second->who_has.empty()) transition(*dep->second, S::kReleased, out);
  }
  if (task.status == S::kProcessing) transition(task, S::kReleased, out);
}

void GraphState::worker_heartbeat(WorkerState& worker, const msg::Heartbeat& heartbeat, double now) {
  const bool was_paused = worker.last_heartbeat.paused;
  worker.last_heartbeat = heartbeat;
  worker.last_seen = now;
  if (heartbeat.paused == was_paused) return;
  if (heartbeat.paused) {
    logger_->info("worker {} paused: process memory {} of a {} byte limit", worker.name, heartbeat.process_memory,
                  heartbeat.memory_limit);
    return;
  }
  // Resumed: the root tasks held back while it was paused may go to it now.
  logger_->info("worker {} resumed", worker.name);
  Recommendations out;
  fill_free_slots(worker, out);
  transitions(std::move(out));
}

// Transfers and spills go to the task stream; task runs are recorded as
// they are matched to their tasks in worker_report.
void GraphState::record_report(WorkerState& worker, const msg::WorkerReport& report) {
  for (const msg::WorkerActivity& activity : report.activity) {
    StreamKind kind = activity.kind == ActivityKind::kTransfer ? StreamKind::kTransfer
                      : activity.kind == ActivityKind::kSpill  ? StreamKind::kSpill
                                                               : StreamKind::kUnspill;
    if (kind == StreamKind::kTransfer) transfer_bytes_ += activity.nbytes;
    stream_.record({activity.start_time, activity.stop_time, worker.stream_id, 0, 0, kind});
  }
}

Outbox GraphState::take_outbox() { return std::exchange(outbox_, Outbox{}); }

const TaskState* GraphState::find(const std::string& key) const {
  auto it = tasks_.find(key);
  return it == tasks_.end() ? nullptr : it->second.get();
}

std::vector<TaskState*> GraphState::held_only_by(const WorkerState& worker) const {
  std::vector<TaskState*> out;
  for (TaskState* task : worker.has_what) {
    if (task->who_has.size() == 1 && (!task->who_wants.empty() || !task->waiters.empty())) out.push_back(task);
  }
  return out;
}

WorkerState* GraphState::find_worker(const std::string& address) const {
  for (const auto& worker : workers_) {
    if (worker->address == address || worker->name == address) return worker.get();
  }
  return nullptr;
}

// ---- invariants ------------------------------------------------------------

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
    bool processing = task.status == S::kProcessing;
    if (processing != (task.processing_on != nullptr)) return violation(task, "processing_on disagrees with state");
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
    bool needed = !task.who_wants.empty() || !task.waiters.empty();
    if (!needed && task.status != S::kReleased) return violation(task, "nobody needs it but it was not released");
    if (!needed && task.dependents.empty()) return violation(task, "released, unneeded, but not forgotten");
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
  for (const auto& worker : workers_) {
    for (const TaskState* task : worker->processing) {
      if (task->processing_on != worker.get()) return violation(*task, "in processing set of " + worker->name);
    }
    if (worker->occupancy < 0) return Status::internal("negative occupancy on " + worker->name);
  }
  return Status::success();
}

}  // namespace dtask::scheduler
