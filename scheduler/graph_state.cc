#include "scheduler/graph_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/check.h"
#include "common/hash_tables.h"
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

void GraphState::shrink_empty_tables() {
  release_if_empty(tasks_);
  if (graveyard_.empty()) graveyard_.shrink_to_fit();
  for (auto& worker : workers_) {
    release_if_empty(worker->processing);
    release_if_empty(worker->has_what);
  }
  for (auto& [id, client] : clients_) release_if_empty(client->wants);
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
  drop_pending_graph(*client);
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
  // Steals meant for it lose their thief: a victim that gives such a task up
  // sends it back through released (steal_response).
  for (auto& [task, steal] : steals_) {
    if (steal.thief == worker) steal.thief = nullptr;
  }
  Recommendations out;
  for (TaskState* task : std::vector<TaskState*>(worker->processing.begin(), worker->processing.end())) {
    if (!graceful && ++task->workers_died > config_.allowed_failures) {
      task->rare().error_op = task->op();
      task->rare().error_message = "worker killed while running " + task->op() + " " + task->key + " (" +
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
  std::vector<TaskState*> known;  // per definition: the task of that key already here, or null
  fingerprints.reserve(graph.tasks.size());
  known.reserve(graph.tasks.size());
  auto key_of = [](const auto& item) -> const std::string& { return item.key; };
  for (std::size_t i = 0; i < graph.tasks.size(); ++i) {
    const msg::TaskDef& def = graph.tasks[i];
    prefetch_ahead(tasks_, graph.tasks, i, key_of);
    fingerprints.push_back(task_fingerprint(def));
    auto found = tasks_.find(def.key);
    known.push_back(found == tasks_.end() ? nullptr : found->second.get());
    if (known.back() != nullptr && known.back()->fingerprint != fingerprints.back()) {
      return refuse_graph(client, graph, redefinition_error(*known.back(), def));
    }
  }
  if (!client.graph_refusal.empty()) return refuse_graph(client, graph, client.graph_refusal);
  Recommendations out;
  std::vector<std::pair<TaskState*, msg::TaskDef*>> defined;
  defined.reserve(graph.tasks.size());
  // No tasks_.reserve(size + part) here: a big graph comes in parts of
  // 100,000 tasks, and reserving for each part rehashed the whole table
  // every time (quadratic in the graph); the table's own doubling is linear.
  for (std::size_t i = 0; i < graph.tasks.size(); ++i) {
    bool created = false;
    // Moved: the task keeps the one copy of its key. The lookup above
    // answers for keys already here; a new key is looked up once more, as
    // it is inserted (the graph may name it twice).
    prefetch_ahead(tasks_, graph.tasks, i, key_of);  // that key is not moved yet
    TaskState* task = known[i] != nullptr ? known[i] : create_if_new(std::move(graph.tasks[i].key), &created);
    if (created) {
      task->fingerprint = fingerprints[i];
      defined.emplace_back(task, &graph.tasks[i]);
    } else if (task->fingerprint != fingerprints[i]) {
      // Named twice in this graph by different tasks: the first one errs.
      task->rare().error_message = "key '" + task->key + "' is defined twice in one graph, by different tasks";
    }
  }
  for (auto& [task, def] : defined) {
    task->op_stats = op_stats(std::move(def->op));
    task->args = std::move(def->args);
    task->priority = def->priority;
    if (!def->resources.empty() || !def->workers.empty() || def->allow_other_workers) {
      TaskRare& rare = task->rare();
      rare.resources = std::move(def->resources);
      rare.worker_restrictions = std::move(def->workers);
      rare.loose_restrictions = def->allow_other_workers;
    }
    task->retries = def->retries;
    join_group(*task, task->op());
    for (std::size_t d = 0; d < def->dependencies.size(); ++d) {
      const std::string& dep_key = def->dependencies[d];
      prefetch_ahead(tasks_, def->dependencies, d, [](const std::string& key) -> const std::string& { return key; });
      auto dep = tasks_.find(dep_key);
      if (dep == tasks_.end()) {
        task->rare().error_op = task->op();
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
  if (graph.more) return start_graph_part(client, defined);
  // The last part. Its tasks, and those of the parts before, are held
  // (in_pending_graph) until the wanted keys' tasks wait on what they need:
  // a result computed early must not go before its dependent registers.
  std::vector<TaskState*> new_tasks = std::exchange(client.pending_graph, {});
  for (auto& [task, def] : defined) new_tasks.push_back(task);
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
      transition(*task, S::kErred, out);
    }
  }
  transitions(std::move(out));
  // Now what nobody needs goes: tasks no wanted key depends on, and results
  // of the earlier parts whose dependents have all run.
  out.clear();
  for (TaskState* task : new_tasks) task->in_pending_graph = false;
  for (TaskState* task : new_tasks) recommend_release_if_unneeded(*task, out);
  transitions(std::move(out));
}

// A part before the last: its tasks start now, while the rest of the graph
// arrives (a graph of a million tasks takes seconds to send and take in).
// They are held (in_pending_graph) so that a result is not released before
// the later parts name its dependents. Parts come in dependency order, so
// every dependency of these tasks is known.
void GraphState::start_graph_part(ClientState& client, const std::vector<std::pair<TaskState*, msg::TaskDef*>>& defined) {
  Recommendations out;
  for (auto& [task, def] : defined) {
    task->in_pending_graph = true;
    client.pending_graph.push_back(task);
  }
  // Errors first: a task recommended `waiting` before its dependency erred
  // would route through released and lose the error it inherits.
  for (auto& [task, def] : defined) {
    if (!task->error_message().empty() && task->status != S::kErred) transition(*task, S::kErred, out);
  }
  for (auto& [task, def] : defined) {
    if (task->status == S::kReleased) out.emplace_back(task, S::kWaiting);
  }
  transitions(std::move(out));
}

void GraphState::refuse_graph(ClientState& client, const msg::UpdateGraph& graph, const std::string& why) {
  if (graph.more) {
    // The parts still to come are refused with this one.
    if (client.graph_refusal.empty()) logger_->warn("refusing a graph from client {}: {}", client.name, why);
    client.graph_refusal = why;
    drop_pending_graph(client);  // its earlier parts' tasks stop now, not at the last part
    return;
  }
  if (client.graph_refusal.empty()) {
    logger_->warn("refusing a graph of {} tasks from client {}: {}", graph.tasks.size(), client.name, why);
  }
  client.graph_refusal.clear();
  drop_pending_graph(client);
  for (const std::string& key : graph.wanted_keys) {
    notify(client, {key, KeyOutcome::kErred, {}, "", key, "graph refused: " + why, 0, ""});
  }
}

// The tasks of a graph whose last part never came, or was refused: nobody
// wants them, so they go.
void GraphState::drop_pending_graph(ClientState& client) {
  Recommendations out;
  std::vector<TaskState*> pending = std::exchange(client.pending_graph, {});
  for (TaskState* task : pending) task->in_pending_graph = false;
  for (TaskState* task : pending) recommend_release_if_unneeded(*task, out);
  transitions(std::move(out));
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
    task->type_name = type_names_.intern(info.type_name);
    transition(*task, S::kMemory, out);
  }
  reporting_worker_ = nullptr;
  transitions(std::move(out));
  return Status::success();
}

void GraphState::worker_report(WorkerState& worker, const msg::WorkerReport& report) {
  record_report(worker, report);
  Recommendations out;
  reporting_worker_ = &worker;
  for (std::size_t i = 0; i < report.finished.size(); ++i) {
    const msg::TaskFinished& finished = report.finished[i];
    prefetch_ahead(tasks_, report.finished, i, [](const msg::TaskFinished& f) -> const std::string& { return f.key; });
    auto it = tasks_.find(finished.key);
    TaskState* task = it == tasks_.end() ? nullptr : it->second.get();
    if (task != nullptr && is_processing(task->status) && task->processing_on == &worker) {
      task->nbytes = finished.nbytes;
      task->type_name = type_names_.intern(finished.type_name);
      const double seconds = std::max(0.0, finished.stop_time - finished.start_time);
      if (task->op_stats != nullptr) {
        task->op_stats->total_seconds += seconds;
        ++task->op_stats->finished;
      }
      if (task->group != nullptr) {
        task->group->compute_seconds += seconds;
        task->group->nbytes += finished.nbytes;
        stream_.record({finished.start_time, finished.stop_time, worker.stream_id, task->group->stream_op,
                        finished.thread, StreamKind::kCompute});
      }
      // Only the transition of this task sees the value (notify_wanted); nothing keeps it.
      if (finished.value) inline_result_ = {task, &*finished.value};
      transition(*task, S::kMemory, out);
      inline_result_ = {};
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
    if (!is_processing(task.status) || task.processing_on != &worker) continue;
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
    if (task.retries > 0) {
      // Run it again (Dask's rule): processing -> released -> waiting. The
      // worker already dropped it, so it is sent no FreeKeys.
      --task.retries;
      logger_->info("task {} ({}) raised; retrying, {} retries left: {}", task.key, task.op(), task.retries,
                    task.error_message());
      dropped_by_worker_ = &task;
      transition(task, S::kReleased, out);
      dropped_by_worker_ = nullptr;
      continue;
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
  if (!is_processing(task.status) || task.processing_on != &worker) return;
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
  if (is_processing(task.status)) {
    dropped_by_worker_ = &task;  // it never started there: no FreeKeys
    transition(task, S::kReleased, out);
    dropped_by_worker_ = nullptr;
  }
}

// ---- work stealing -------------------------------------------------------------

namespace {
// A victim's tasks are sampled, not all read, so that a round costs the same
// for a queue of a million tasks as for one of a thousand.
constexpr std::size_t kStealSample = 1024;
}  // namespace

std::size_t GraphState::steal_round() {
  if (!config_.work_stealing || workers_.size() < 2 || recovering_) return 0;
  // Cheap test first: a worker with tasks waiting beyond its threads, and
  // another with at least one task per thread fewer.
  double most = 0;
  double fewest = std::numeric_limits<double>::infinity();
  for (const auto& w : workers_) {
    const double per_thread = static_cast<double>(w->processing.size()) / w->nthreads;
    if (w->processing.size() > w->nthreads) most = std::max(most, per_thread);
    if (!w->retiring && !w->last_heartbeat.paused) fewest = std::min(fewest, per_thread);
  }
  if (most == 0 || fewest + 1 > most) return 0;

  // Occupancy from today's measured durations (WorkerState::occupancy keeps
  // the estimates each task was sent with, and an op first seen is guessed
  // at default_task_duration until one of its tasks finishes).
  std::vector<StealWorker> loads(workers_.size());
  std::unordered_map<const WorkerState*, std::size_t> index;
  for (std::size_t i = 0; i < workers_.size(); ++i) index[workers_[i].get()] = i;
  std::vector<TaskState*> tasks;
  std::vector<StealCandidate> candidates;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    WorkerState& w = *workers_[i];
    loads[i].nthreads = w.nthreads;
    loads[i].processing += w.processing.size();
    loads[i].can_receive = !w.retiring && !w.last_heartbeat.paused;
    std::vector<TaskState*> waiting;  // could be taken from w
    double sampled = 0;
    std::size_t seen = 0;
    for (TaskState* task : w.processing) {
      if (seen == kStealSample) break;
      ++seen;
      const double d = estimate_duration(*task);
      sampled += d;
      if (task->status == S::kStealing) {
        // In flight: counted where it is going.
        auto steal = steals_.find(task);
        if (steal != steals_.end() && steal->second.thief != nullptr) {
          const std::size_t thief = index.at(steal->second.thief);
          loads[thief].occupancy += d;
          ++loads[thief].processing;
          sampled -= d;
          --loads[i].processing;
        }
        continue;
      }
      if (w.processing.size() > w.nthreads && (task->worker_restrictions().empty() || task->loose_restrictions())) {
        waiting.push_back(task);
      }
    }
    // A sample stands for the whole set.
    if (seen > 0) loads[i].occupancy += sampled * static_cast<double>(w.processing.size()) / static_cast<double>(seen);
    if (waiting.empty()) continue;
    // Those that would run last first: they are the likeliest not started.
    const std::size_t keep = std::min(waiting.size(), w.processing.size() - w.nthreads);
    std::partial_sort(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(keep), waiting.end(),
                      [](const TaskState* a, const TaskState* b) {
                        if (a->priority.runs_before(b->priority)) return false;
                        if (b->priority.runs_before(a->priority)) return true;
                        return a->key > b->key;
                      });
    for (std::size_t k = 0; k < keep; ++k) {
      TaskState* task = waiting[k];
      std::uint64_t bytes = 0;
      for (const TaskState* dep : task->dependencies) bytes += dep->nbytes;
      tasks.push_back(task);
      candidates.push_back({i, estimate_duration(*task), bytes});
    }
  }
  if (candidates.empty()) return 0;
  auto eligible = [&](std::size_t candidate, std::size_t thief) {
    const TaskState& task = *tasks[candidate];
    return Placement::eligible(task, *workers_[thief], /*honour_restrictions=*/!task.loose_restrictions());
  };
  const std::vector<StealMove> moves = choose_steals(std::move(loads), candidates, eligible, config_.stealing);
  Recommendations out;
  for (const StealMove& move : moves) {
    TaskState& task = *tasks[move.candidate];
    steal_thief_ = workers_[move.thief].get();
    transition(task, S::kStealing, out);
    steal_thief_ = nullptr;
    logger_->debug("stealing {} ({}) from {} for {}", task.key, task.op(), workers_[move.victim]->name,
                   workers_[move.thief]->name);
  }
  transitions(std::move(out));
  return moves.size();
}

void GraphState::steal_response(WorkerState& worker, const msg::StealResponse& response) {
  Recommendations out;
  for (const msg::StealAnswer& answer : response.answers) {
    auto it = tasks_.find(answer.key);
    if (it == tasks_.end()) continue;
    TaskState& task = *it->second;
    auto steal = steals_.find(&task);
    // Not the request this answers (the task finished first, was released,
    // or was asked for again since): nothing to settle.
    if (task.status != S::kStealing || task.processing_on != &worker || steal == steals_.end() ||
        steal->second.id != answer.id) {
      continue;
    }
    if (!answer.stolen) {
      ++steals_refused_;
      transition(task, S::kProcessing, out);  // it runs where it is
      continue;
    }
    ++steals_confirmed_;
    WorkerState* thief = steal->second.thief;
    if (thief == nullptr || !Placement::eligible(task, *thief, !task.loose_restrictions())) {
      // The victim dropped it and the thief cannot have it (it left, or is
      // retiring): placed afresh. The victim holds nothing of it to free.
      dropped_by_worker_ = &task;
      transition(task, S::kReleased, out);
      dropped_by_worker_ = nullptr;
      continue;
    }
    steal_confirmed_ = true;
    transition(task, S::kProcessing, out);
    steal_confirmed_ = false;
  }
  transitions(std::move(out));
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

Outbox GraphState::take_outbox() {
  // A task assigned and taken back since the last take_outbox (released,
  // or its worker left) is not sent; one assigned twice to the same worker is sent
  // once. Every task left is processing where it is sent.
  for (auto it = outbox_.compute.begin(); it != outbox_.compute.end();) {
    WorkerState* worker = it->first;
    std::vector<TaskState*> sent;
    for (TaskState* task : it->second.tasks) {
      if (task->compute_pending && task->processing_on == worker) {
        task->compute_pending = false;
        sent.push_back(task);
      }
    }
    if (sent.empty()) {
      it = outbox_.compute.erase(it);
    } else {
      it->second.tasks = std::move(sent);
      ++it;
    }
  }
  graveyard_.clear();
  return std::exchange(outbox_, Outbox{});
}

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

}  // namespace dtask::scheduler
