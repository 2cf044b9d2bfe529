#include "worker/worker_state.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "common/check.h"
#include "common/hash_tables.h"
#include "common/logging.h"

namespace dtask::worker {

using S = WorkerTaskStatus;

namespace {

struct WorkerEdge {
  S from;
  S to;
};

// The whole state machine at a glance: every status change is one of these
// edges, checked in WorkerState::transition. A key enters as `released` and
// is forgotten from `released`.
constexpr std::array kWorkerEdges = {
    WorkerEdge{S::kReleased, S::kWaiting},         // assigned; some dependency is not here yet
    WorkerEdge{S::kReleased, S::kReady},           // assigned; every dependency is here
    WorkerEdge{S::kReleased, S::kFetching},        // a local task needs it, or the scheduler wants a replica
    WorkerEdge{S::kReleased, S::kMemory},          // a client put it here (PutData)
    WorkerEdge{S::kWaiting, S::kReady},            // its last dependency reached memory
    WorkerEdge{S::kWaiting, S::kReleased},         // freed; a dependency failed; the scheduler was lost
    WorkerEdge{S::kReady, S::kExecuting},          // a thread and its resources are free, not paused
    WorkerEdge{S::kReady, S::kReleased},           // as from waiting
    WorkerEdge{S::kExecuting, S::kMemory},         // its op returned
    WorkerEdge{S::kExecuting, S::kErred},          // its op raised
    WorkerEdge{S::kExecuting, S::kRunCancelled},   // freed while running (an op cannot be interrupted)
    WorkerEdge{S::kRunCancelled, S::kExecuting},   // assigned again before it finished
    WorkerEdge{S::kRunCancelled, S::kMemory},      // finished, and a local task reads it
    WorkerEdge{S::kRunCancelled, S::kReleased},    // finished or raised; nothing needs it
    WorkerEdge{S::kFetching, S::kMemory},          // the value arrived
    WorkerEdge{S::kFetching, S::kFetchCancelled},  // nothing needs it now; the reply is still coming
    WorkerEdge{S::kFetching, S::kReleased},        // no holder left could give it
    WorkerEdge{S::kFetchCancelled, S::kFetching},  // needed again while still in flight
    WorkerEdge{S::kFetchCancelled, S::kReleased},  // the reply (or the failure) came
    WorkerEdge{S::kMemory, S::kReleased},          // freed by the scheduler, or a copy nothing reads
    WorkerEdge{S::kErred, S::kReleased},           // reported: nothing is kept of it
};

constexpr bool is_assigned(S status) {
  return status == S::kWaiting || status == S::kReady || status == S::kExecuting || status == S::kRunCancelled;
}

/// States from which a key reaches memory here without being fetched.
constexpr bool computing_here(S status) { return is_assigned(status); }

Status worker_violation(const WorkerTask& task, const std::string& what) {
  return Status::internal("worker task " + task.key + " (" + worker_task_status_name(task.status) + "): " + what);
}

double resource_amount(const ResourceList& resources, const std::string& name) {
  for (const auto& [have, amount] : resources) {
    if (have == name) return amount;
  }
  return 0;
}

}  // namespace

bool WorkerState::ByPriority::operator()(const WorkerTask* a, const WorkerTask* b) const {
  if (a->run->priority.runs_before(b->run->priority)) return true;
  if (b->run->priority.runs_before(a->run->priority)) return false;
  return a->sequence < b->sequence;
}

WorkerState::WorkerState(unsigned nthreads, ResourceList resources, unsigned max_queued_per_thread,
                         double io_thread_task_seconds)
    : nthreads_(std::max(nthreads, 1u)),
      max_queued_per_thread_(max_queued_per_thread),
      io_thread_task_seconds_(std::max(io_thread_task_seconds, 0.0)),
      io_thread_give_up_seconds_(std::max(kIoThreadGiveUpSeconds, 20 * io_thread_task_seconds_)),
      available_(resources),
      declared_(std::move(resources)) {}

WorkerState::~WorkerState() = default;

bool WorkerState::allowed(WorkerTaskStatus from, WorkerTaskStatus to) {
  return std::any_of(kWorkerEdges.begin(), kWorkerEdges.end(),
                     [&](const WorkerEdge& edge) { return edge.from == from && edge.to == to; });
}

// ---- event plumbing ----------------------------------------------------------

void WorkerState::begin(const char* stimulus) {
  DTASK_CHECK(*stimulus_ == '\0') << "event " << stimulus << " began inside event " << stimulus_;
  stimulus_ = stimulus;
}

Instructions WorkerState::finish() {
  for (auto& [holder, pending] : to_fetch_) {
    for (std::vector<std::string>& keys : pending.requests) out_.fetch.push_back({holder, std::move(keys)});
  }
  to_fetch_.clear();
  start_ready_tasks();
  choose_io_thread_run();
  graveyard_.clear();
  stimulus_ = "";
  return std::exchange(out_, {});
}

void WorkerState::transition(WorkerTask& task, WorkerTaskStatus to) {
  const S from = task.status;
  DTASK_CHECK(allowed(from, to)) << "no worker transition " << worker_task_status_name(from) << " -> "
                                 << worker_task_status_name(to) << " for " << task.key << " (event " << stimulus_
                                 << ")";
  --counts_[static_cast<int>(from)];
  ++counts_[static_cast<int>(to)];
  task.status = to;
  record_story(task.key, from, to);
}

WorkerTask& WorkerState::get_or_create(std::string key) {
  auto it = tasks_.find(key);
  if (it != tasks_.end()) return *it->second;
  auto task = std::make_unique<WorkerTask>();
  task->key = std::move(key);
  // The table's key views the task's own: one copy of each key.
  auto inserted = tasks_.try_emplace(std::string_view(task->key), std::move(task)).first;
  ++counts_[static_cast<int>(S::kReleased)];
  return *inserted->second;
}

void WorkerState::forget(WorkerTask& task) {
  DTASK_CHECK(task.status == S::kReleased && task.dependents.empty() && task.dependencies.empty())
      << "forgetting " << task.key << " while it is still linked";
  --counts_[static_cast<int>(S::kReleased)];
  auto it = tasks_.find(task.key);
  graveyard_.push_back(std::move(it->second));  // callers may still hold the pointer this event
  tasks_.erase(it);
}

void WorkerState::shrink_empty_tables() {
  release_if_empty(tasks_);
}

// ---- events ------------------------------------------------------------------

Instructions WorkerState::compute(msg::ComputeTaskBatch batch) {
  begin("compute");
  std::vector<msg::ComputeTask>& tasks = batch.tasks;
  Holders holders;
  holders.reserve(batch.holders.size());
  for (const std::string& address : batch.holders) holders.push_back(names_.intern(address));
  // Room for every key the batch may add, at once: a task over a million
  // inputs would otherwise rehash the table (every key hashed again) as it grows.
  std::size_t keys = tasks.size();
  for (const msg::ComputeTask& spec : tasks) keys += spec.dependencies.size();
  tasks_.reserve(tasks_.size() + keys);
  for (msg::ComputeTask& spec : tasks) {
    auto it = tasks_.find(spec.key);
    if (it != tasks_.end()) {
      WorkerTask& task = *it->second;
      switch (task.status) {
        case S::kMemory:
          // Already here (a copy fetched for a local task, say): it counts as done.
          task.held = true;
          out_.report.finished.push_back(
              {task.key, task.nbytes, *task.type_name, wall_clock_seconds(), wall_clock_seconds(), 0});
          continue;
        case S::kRunCancelled:
          transition(task, S::kExecuting);  // still running: its result is reported after all
          continue;
        case S::kFetchCancelled:
          transition(task, S::kFetching);
          [[fallthrough]];
        case S::kFetching:
          task.assigned_while_fetching = true;  // the copy on its way will do
          continue;
        default:
          continue;  // waiting, ready or executing: assigned twice
      }
    }
    std::string unreachable = unreachable_dependency(spec);
    if (!unreachable.empty()) {
      out_.report.missing.push_back({spec.key, unreachable, "", "dependency " + unreachable + " is held by no worker"});
      continue;
    }
    assign(get_or_create(std::move(spec.key)), spec, holders);
  }
  return finish();
}

Instructions WorkerState::acquire(const std::string& holder, const std::vector<std::string>& keys) {
  begin("acquire");
  for (const std::string& key : keys) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) {
      WorkerTask& copy = get_or_create(key);
      copy.acquire = true;
      copy.who_has = {names_.intern(holder)};
      start_fetch(copy, next_holder(copy));
      continue;
    }
    WorkerTask& task = *it->second;
    if (task.status == S::kMemory) {
      task.held = true;  // a copy fetched for a local task becomes a replica the scheduler tracks
      out_.report.acquired.push_back({key, task.nbytes});
    } else if (task.status == S::kFetching || task.status == S::kFetchCancelled) {
      task.acquire = true;
      if (task.status == S::kFetchCancelled) transition(task, S::kFetching);
      const std::string* address = names_.intern(holder);
      if (task.fetching_from != address &&
          std::find(task.who_has.begin(), task.who_has.end(), address) == task.who_has.end()) {
        task.who_has.push_back(address);
      }
    }
    // Being computed here: it is held (and reported) once it finishes.
  }
  return finish();
}

Instructions WorkerState::free_keys(const std::vector<std::string>& keys) {
  begin("free-keys");
  for (const std::string& key : keys) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) continue;
    WorkerTask& task = *it->second;
    switch (task.status) {
      case S::kWaiting:
      case S::kReady:
        release_assigned(task);
        break;
      case S::kExecuting:
        transition(task, S::kRunCancelled);
        break;
      case S::kFetching:
        task.acquire = false;
        task.assigned_while_fetching = false;
        release_if_unneeded(task);
        break;
      case S::kMemory:
        task.held = false;  // a local task still reading it keeps it until it finishes
        release_if_unneeded(task);
        break;
      default:
        break;
    }
  }
  return finish();
}

bool WorkerState::fetch_wanted(const std::string& key) const {
  const WorkerTask* task = find(key);
  return task != nullptr && task->status == S::kFetching;
}

Instructions WorkerState::fetched(const std::string& key, std::uint64_t nbytes, std::string type_name) {
  std::vector<FetchedCopy> copies;
  copies.push_back({key, nbytes, std::move(type_name)});
  return fetched(std::move(copies));
}

Instructions WorkerState::fetched(std::vector<FetchedCopy> copies) {
  begin("fetched");
  for (std::size_t i = 0; i < copies.size(); ++i) {
    prefetch_ahead(tasks_, copies, i, [](const FetchedCopy& copy) -> const std::string& { return copy.key; });
    copy_arrived(copies[i]);
  }
  return finish();
}

void WorkerState::copy_arrived(FetchedCopy& copy) {
  auto it = tasks_.find(copy.key);
  if (it == tasks_.end()) return;
  WorkerTask& task = *it->second;
  if (task.status == S::kFetchCancelled) {
    transition(task, S::kReleased);  // fetch_wanted said no: nothing was stored
    forget(task);
  } else if (task.status == S::kFetching) {
    task.nbytes = copy.nbytes;
    task.type_name = names_.intern(copy.type_name);
    task.fetching_from = nullptr;
    task.who_has.clear();
    transition(task, S::kMemory);
    arrived_in_memory(task);
  }
}

Instructions WorkerState::fetch_failed(const std::string& key, const std::string& holder, const std::string& why) {
  begin("fetch-failed");
  auto it = tasks_.find(key);
  if (it != tasks_.end()) {
    WorkerTask& task = *it->second;
    if (task.status == S::kFetchCancelled) {
      transition(task, S::kReleased);
      forget(task);
    } else if (task.status == S::kFetching && task.fetching_from != nullptr && *task.fetching_from == holder) {
      if (!task.who_has.empty()) {
        start_fetch(task, next_holder(task));  // retry: another worker holds a copy too
      } else {
        give_up_fetch(task, holder, why);
      }
    }
  }
  return finish();
}

Instructions WorkerState::task_done(const TaskOutcome& outcome) {
  begin(outcome.ok ? "task-finished" : "task-erred");
  auto it = tasks_.find(outcome.key);
  DTASK_CHECK(it != tasks_.end() && (it->second->status == S::kExecuting || it->second->status == S::kRunCancelled))
      << "the executor finished " << outcome.key << ", which was not running";
  WorkerTask& task = *it->second;
  take_resources(task.run->resources, -1);
  task.run.reset();
  record_duration(outcome.op, outcome.stop_time - outcome.start_time, outcome.on_io_thread);
  unlink_dependencies(task);  // its op has read them
  const bool wanted = task.status == S::kExecuting;
  if (outcome.ok && (wanted || !task.dependents.empty())) {
    task.nbytes = outcome.nbytes;
    task.type_name = names_.intern(outcome.type_name);
    task.held = wanted;  // a cancelled run's result is only a local copy
    if (wanted) {
      out_.report.finished.push_back({task.key, outcome.nbytes, outcome.type_name, outcome.start_time,
                                      outcome.stop_time, outcome.thread, outcome.value});
    }
    transition(task, S::kMemory);
    arrived_in_memory(task);
    return finish();
  }
  if (wanted) {
    out_.report.erred.push_back(
        {task.key, outcome.op, outcome.error, outcome.start_time, outcome.stop_time, outcome.thread});
    transition(task, S::kErred);
  } else if (outcome.ok) {
    out_.drop.push_back(task.key);  // the executor stored it; nobody wants it
  }
  transition(task, S::kReleased);
  fail_dependents(task, "", outcome.ok ? "dependency " + task.key + " was released" : outcome.error);
  forget(task);
  return finish();
}

Instructions WorkerState::data_put(const std::string& key, std::uint64_t nbytes, std::string type_name) {
  begin("data-put");
  WorkerTask& task = get_or_create(key);
  if (task.status == S::kReleased) transition(task, S::kMemory);
  if (task.status == S::kMemory) {
    task.held = true;
    task.nbytes = nbytes;
    task.type_name = names_.intern(type_name);
  }
  // Otherwise it is being computed or fetched here, and that value replaces the client's when it lands.
  return finish();
}

Instructions WorkerState::steal(const std::vector<msg::StealItem>& items) {
  begin("steal");
  for (const msg::StealItem& item : items) {
    auto it = tasks_.find(item.key);
    const bool stolen =
        it != tasks_.end() && (it->second->status == S::kWaiting || it->second->status == S::kReady);
    // Its inputs fetched for it go too, unless another task here reads them.
    if (stolen) release_assigned(*it->second);
    out_.steal_answers.push_back({item.key, item.id, stolen});
  }
  return finish();
}

Instructions WorkerState::set_paused(bool paused) {
  begin(paused ? "pause" : "resume");
  paused_ = paused;
  return finish();  // resuming starts what is ready
}

Instructions WorkerState::scheduler_lost() {
  begin("scheduler-lost");
  std::vector<WorkerTask*> assigned;
  std::vector<WorkerTask*> fetching;
  for (auto& [key, task] : tasks_) {
    if (task->status == S::kWaiting || task->status == S::kReady) assigned.push_back(task.get());
    if (task->status == S::kFetching) fetching.push_back(task.get());
  }
  // A released task may release another (its dependent) first: look again each time.
  for (WorkerTask* task : assigned) {
    if (task->status == S::kWaiting || task->status == S::kReady) release_assigned(*task);
  }
  for (WorkerTask* task : fetching) {
    if (task->status != S::kFetching) continue;
    task->acquire = false;  // the next scheduler asks again if it still wants the replica
    task->assigned_while_fetching = false;
    release_if_unneeded(*task);
  }
  Instructions out = finish();
  out.report = {};  // nobody to tell: the new scheduler hears what is held when the worker registers
  return out;
}

// ---- helpers of the events ---------------------------------------------------

std::string WorkerState::unreachable_dependency(const msg::ComputeTask& spec) const {
  for (const msg::DependencyLocation& dep : spec.dependencies) {
    if (dep.who_has.empty() && find(dep.key) == nullptr) return dep.key;  // the cheap test first
  }
  return "";
}

void WorkerState::assign(WorkerTask& task, msg::ComputeTask& spec, const Holders& holders) {
  task.run = std::make_unique<ReadyTask>(ReadyTask{task.key, std::move(spec.op), std::move(spec.args), spec.priority,
                                                   std::move(spec.resources), spec.inline_result});
  task.sequence = next_sequence_++;
  std::vector<msg::DependencyLocation>& deps = spec.dependencies;
  for (std::size_t i = 0; i < deps.size(); ++i) {
    prefetch_ahead(tasks_, deps, i, [](const msg::DependencyLocation& dep) -> const std::string& { return dep.key; });
    link(task, get_or_create(std::move(deps[i].key)), deps[i], holders);  // a new key's task takes the message's copy
  }
  if (!task.waiting_for.empty()) return transition(task, S::kWaiting);
  transition(task, S::kReady);
  ready_.insert(&task);
}

void WorkerState::link(WorkerTask& task, WorkerTask& dep, const msg::DependencyLocation& location,
                       const Holders& holders) {
  // A key named twice counts once. The dependents set answers that in O(1):
  // a search of `dependencies` made a task of a million inputs quadratic.
  if (!dep.dependents.insert(&task)) return;
  task.dependencies.push_back(&dep);
  switch (dep.status) {
    case S::kMemory:
      return;
    case S::kReleased:  // new here
      dep.who_has.reserve(location.who_has.size());
      for (std::uint32_t index : location.who_has) dep.who_has.push_back(holders[index]);
      dep.nbytes = location.nbytes;  // the scheduler's count, until the copy arrives
      start_fetch(dep, next_holder(dep));
      break;
    case S::kFetchCancelled:
      transition(dep, S::kFetching);  // the reply still in flight will do
      [[fallthrough]];
    case S::kFetching:
      for (std::uint32_t index : location.who_has) {
        const std::string* holder = holders[index];
        if (holder != dep.fetching_from && std::find(dep.who_has.begin(), dep.who_has.end(), holder) == dep.who_has.end()) {
          dep.who_has.push_back(holder);
        }
      }
      break;
    default:
      DTASK_CHECK(computing_here(dep.status)) << dep.key << " cannot be waited on";
      break;  // it reaches memory here by itself
  }
  task.waiting_for.insert(&dep);
}

const std::string* WorkerState::next_holder(WorkerTask& dep) {
  DTASK_CHECK(!dep.who_has.empty()) << "no holder left for " << dep.key;
  // Spread fetches over the replicas; a holder tried is not tried again.
  auto chosen = dep.who_has.begin() + static_cast<std::ptrdiff_t>(holder_rotation_++ % dep.who_has.size());
  const std::string* holder = *chosen;
  dep.who_has.erase(chosen);
  return holder;
}

void WorkerState::start_fetch(WorkerTask& dep, const std::string* holder) {
  dep.fetching_from = holder;
  PendingFetches& pending = to_fetch_[*holder];
  if (pending.requests.empty() || pending.requests.back().size() >= kMaxKeysPerFetch ||
      (pending.last_request_bytes > 0 && pending.last_request_bytes + dep.nbytes > kMaxBytesPerFetch)) {
    pending.requests.emplace_back();
    pending.last_request_bytes = 0;
  }
  pending.requests.back().push_back(dep.key);
  pending.last_request_bytes += dep.nbytes;
  if (dep.status != S::kFetching) transition(dep, S::kFetching);
}

void WorkerState::arrived_in_memory(WorkerTask& task) {
  if (task.acquire) {
    task.held = true;  // a replica the scheduler now tracks (freed by FreeKeys)
    task.acquire = false;
    out_.report.acquired.push_back({task.key, task.nbytes});
  }
  if (task.assigned_while_fetching) {
    task.held = true;
    task.assigned_while_fetching = false;
    const double now = wall_clock_seconds();
    out_.report.finished.push_back({task.key, task.nbytes, *task.type_name, now, now, 0});
  }
  for (WorkerTask* dependent : task.dependents) {
    if (dependent->status != S::kWaiting) continue;
    dependent->waiting_for.erase(&task);
    if (!dependent->waiting_for.empty()) continue;
    transition(*dependent, S::kReady);
    ready_.insert(dependent);
  }
  release_if_unneeded(task);
}

void WorkerState::give_up_fetch(WorkerTask& dep, const std::string& holder, const std::string& why) {
  const std::string message = "could not fetch dependency " + dep.key + ": " + why;
  if (dep.acquire) out_.warnings.push_back("could not copy " + dep.key + " from " + holder + ": " + why);
  // Assigned here while its copy was on the way: the scheduler reschedules it.
  if (dep.assigned_while_fetching) out_.report.missing.push_back({dep.key, dep.key, holder, message});
  dep.acquire = false;
  dep.assigned_while_fetching = false;
  dep.fetching_from = nullptr;
  transition(dep, S::kReleased);
  fail_dependents(dep, holder, message);
  forget(dep);
}

void WorkerState::release_assigned(WorkerTask& task) {
  if (task.status == S::kReady) ready_.erase(&task);
  unlink_dependencies(task);
  task.run.reset();
  transition(task, S::kReleased);
  fail_dependents(task, "", "dependency " + task.key + " was released on this worker");
  forget(task);
}

void WorkerState::fail_dependents(WorkerTask& task, const std::string& holder, const std::string& why) {
  // Copied: releasing a dependent unlinks it from `task`.
  std::vector<WorkerTask*> dependents(task.dependents.begin(), task.dependents.end());
  for (WorkerTask* dependent : dependents) {
    if (dependent->status != S::kWaiting && dependent->status != S::kReady) continue;
    out_.report.missing.push_back({dependent->key, task.key, holder, why});
    release_assigned(*dependent);
  }
}

void WorkerState::unlink_dependencies(WorkerTask& task) {
  std::vector<WorkerTask*> dependencies = std::move(task.dependencies);
  task.dependencies.clear();
  task.waiting_for.clear();
  for (WorkerTask* dep : dependencies) {
    dep->dependents.erase(&task);
    release_if_unneeded(*dep);
  }
}

void WorkerState::release_if_unneeded(WorkerTask& task) {
  if (!task.dependents.empty()) return;
  if (task.status == S::kMemory && !task.held) {
    transition(task, S::kReleased);
    out_.drop.push_back(task.key);
    forget(task);
  } else if (task.status == S::kFetching && !task.acquire && !task.assigned_while_fetching) {
    transition(task, S::kFetchCancelled);
  }
}

void WorkerState::start_ready_tasks() {
  if (paused_) return;
  for (auto it = ready_.begin(); it != ready_.end();) {
    WorkerTask* task = *it;
    // Beyond one per thread, only a task of a measured short op queues, and
    // the first that may not ends the round: priorities keep their order.
    if (busy_threads() >= run_slots(task->run->op)) break;
    if (!resources_free(task->run->resources)) {
      ++it;  // held back until what it needs is free; others may pass
      continue;
    }
    it = ready_.erase(it);
    take_resources(task->run->resources, +1);
    transition(*task, S::kExecuting);
    // The executor takes the arguments (a wide task's are big); what stays
    // behind is what the state machine still reads: the key, the op and the resources.
    ReadyTask& run = *task->run;
    out_.execute.push_back(
        ReadyTask{run.key, run.op, std::move(run.args), run.priority, run.resources, run.inline_result});
  }
}

bool WorkerState::resources_free(const ResourceList& wanted) const {
  return std::all_of(wanted.begin(), wanted.end(),
                     [&](const auto& need) { return resource_amount(available_, need.first) >= need.second; });
}

void WorkerState::take_resources(const ResourceList& wanted, double sign) {
  for (const auto& [name, amount] : wanted) {
    for (auto& [have, left] : available_) {
      if (have == name) left -= sign * amount;
    }
  }
}

std::size_t WorkerState::busy_threads() const { return count(S::kExecuting) + count(S::kRunCancelled); }

void WorkerState::record_duration(const std::string& op, double seconds, bool on_io_thread) {
  if (max_queued_per_thread_ == 0 && io_thread_task_seconds_ == 0) return;
  seconds = std::max(seconds, 0.0);
  // Weighted towards the recent runs: an op that turns slow stops queueing
  // within a few completions.
  auto [it, first] = op_timings_.try_emplace(op);
  OpTiming& timing = it->second;
  timing.mean = first ? seconds : 0.75 * timing.mean + 0.25 * seconds;
  // One slow run keeps the op off the io thread for about 50 more runs.
  timing.recent_max = std::max(seconds, 0.95 * timing.recent_max);
  ++timing.runs;
  if (on_io_thread && seconds >= io_thread_give_up_seconds_) timing.off_io_thread = true;
}

unsigned WorkerState::queue_depth_per_thread(const std::string& op) const {
  if (max_queued_per_thread_ == 0) return 0;
  auto it = op_timings_.find(op);
  if (it == op_timings_.end()) return 0;  // not measured yet: it may be long
  const double mean = it->second.mean;
  if (mean >= kLongTaskSeconds) return 0;
  const double covering = std::ceil(kQueuedSecondsPerThread / std::max(mean, 1e-7));
  return static_cast<unsigned>(std::clamp(covering, 1.0, static_cast<double>(max_queued_per_thread_)));
}

bool WorkerState::runs_on_io_thread(const std::string& op) const {
  auto it = op_timings_.find(op);
  if (it == op_timings_.end()) return false;
  const OpTiming& timing = it->second;
  return !timing.off_io_thread && timing.runs >= kIoThreadMinRuns && timing.recent_max < io_thread_task_seconds_;
}

void WorkerState::choose_io_thread_run() {
  // Alone: a second task running would make this one a thread beyond
  // --nthreads, and one of several handed over might overtake the others.
  if (out_.execute.size() != 1 || busy_threads() != 1) return;
  ReadyTask& run = out_.execute.front();
  if (!run.resources.empty() || !runs_on_io_thread(run.op)) return;
  // Few inputs: a tiny op's time grows with them (a sum measured on 32
  // inputs, then handed a million).
  auto it = tasks_.find(run.key);
  if (it != tasks_.end() && it->second->dependencies.size() <= kIoThreadMaxInputs) run.on_io_thread = true;
}

// ---- inspection --------------------------------------------------------------

const WorkerTask* WorkerState::find(const std::string& key) const {
  auto it = tasks_.find(key);
  return it == tasks_.end() ? nullptr : it->second.get();
}

std::size_t WorkerState::not_started() const { return count(S::kWaiting) + count(S::kReady); }

std::vector<msg::KeyInfo> WorkerState::held() const {
  std::vector<msg::KeyInfo> out;
  for (const auto& [key, task] : tasks_) {
    if (task->status == S::kMemory && task->held) out.push_back({task->key, task->nbytes, *task->type_name});
  }
  return out;
}

void WorkerState::record_story(const std::string& key, WorkerTaskStatus from, WorkerTaskStatus to) {
  const std::uint64_t sequence = transitions_++;
  if (story_.size() < kStoryLength) {
    story_.push_back({sequence, key, from, to, stimulus_});
    return;
  }
  WorkerTransition& slot = story_[sequence % kStoryLength];
  slot.sequence = sequence;
  slot.key.assign(key);
  slot.from = from;
  slot.to = to;
  slot.stimulus = stimulus_;
}

std::vector<WorkerTransition> WorkerState::story(const std::string& key) const {
  std::vector<WorkerTransition> out;
  for (const WorkerTransition& step : story_) {
    if (step.key == key) out.push_back(step);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  return out;
}

Status WorkerState::validate() const {
  std::size_t counts[kWorkerTaskStatusCount] = {};
  for (const auto& [key, owned] : tasks_) {
    const WorkerTask& task = *owned;
    if (task.key != key) return worker_violation(task, "filed under " + std::string(key));
    ++counts[static_cast<int>(task.status)];
    DTASK_RETURN_NOT_OK(validate_task(task));
  }
  for (int s = 0; s < kWorkerTaskStatusCount; ++s) {
    if (counts[s] != counts_[s]) {
      return Status::internal(std::string("count of ") + worker_task_status_name(static_cast<S>(s)) + " tasks is " +
                              std::to_string(counts_[s]) + ", but " + std::to_string(counts[s]) + " are");
    }
  }
  for (const WorkerTask* task : ready_) {
    if (task->status != S::kReady) return worker_violation(*task, "in the ready queue");
  }
  if (ready_.size() != count(S::kReady)) return Status::internal("the ready queue disagrees with the ready count");
  return validate_threads();
}

Status WorkerState::validate_task(const WorkerTask& task) const {
  if (task.status == S::kReleased || task.status == S::kErred) return worker_violation(task, "left between events");
  const bool assigned = is_assigned(task.status);
  if (assigned != (task.run != nullptr)) return worker_violation(task, "has a run spec iff assigned");
  if (!assigned && !task.dependencies.empty()) return worker_violation(task, "has dependencies but is not assigned");
  if (task.status == S::kReady && ready_.count(const_cast<WorkerTask*>(&task)) == 0) {
    return worker_violation(task, "ready but not in the ready queue");
  }
  for (const WorkerTask* dep : task.dependencies) {
    auto it = tasks_.find(dep->key);
    if (it == tasks_.end() || it->second.get() != dep) return worker_violation(task, "depends on forgotten " + dep->key);
    if (dep->dependents.count(const_cast<WorkerTask*>(&task)) == 0) {
      return worker_violation(task, "not among the dependents of " + dep->key);
    }
    const bool waited = task.waiting_for.count(const_cast<WorkerTask*>(dep)) > 0;
    if (task.status == S::kWaiting && waited == (dep->status == S::kMemory)) {
      return worker_violation(task, "waiting_for disagrees with the state of " + dep->key);
    }
    if ((task.status == S::kReady || task.status == S::kExecuting) && dep->status != S::kMemory) {
      return worker_violation(task, "runnable while " + dep->key + " is not in memory");
    }
  }
  if (task.status == S::kWaiting && task.waiting_for.empty()) return worker_violation(task, "waiting for nothing");
  if (task.status != S::kWaiting && !task.waiting_for.empty()) return worker_violation(task, "waiting_for while not waiting");
  for (const WorkerTask* waited : task.waiting_for) {
    if (waited->status != S::kFetching && !computing_here(waited->status)) {
      return worker_violation(task, "waits for " + waited->key + ", which nothing brings here");
    }
  }
  // Reference counts: exactly the assigned tasks that read it.
  for (const WorkerTask* dependent : task.dependents) {
    if (!is_assigned(dependent->status)) return worker_violation(task, "dependent " + dependent->key + " is not assigned");
    if (std::find(dependent->dependencies.begin(), dependent->dependencies.end(), &task) == dependent->dependencies.end()) {
      return worker_violation(task, "lists " + dependent->key + " as a dependent, which does not read it");
    }
  }
  const bool wanted = !task.dependents.empty() || task.acquire || task.assigned_while_fetching;
  if (task.status == S::kFetching && (!wanted || task.fetching_from == nullptr)) {
    return worker_violation(task, "fetched for nothing, or from nowhere");
  }
  if (task.status == S::kFetchCancelled && wanted) return worker_violation(task, "cancelled while wanted");
  if ((task.acquire || task.assigned_while_fetching) && task.status != S::kFetching) {
    return worker_violation(task, "acquire or assigned flag outside fetching");
  }
  if (task.status == S::kMemory && !task.held && task.dependents.empty()) {
    return worker_violation(task, "a copy in memory that nothing reads");
  }
  if (task.held && task.status != S::kMemory) return worker_violation(task, "held but not in memory");
  return Status::success();
}

Status WorkerState::validate_threads() const {
  // The depth may have shrunk since tasks were handed over: the hard bound is the largest one.
  if (busy_threads() > std::size_t{nthreads_} * (1 + max_queued_per_thread_)) {
    return Status::internal(std::to_string(busy_threads()) + " tasks handed to " + std::to_string(nthreads_) +
                            " threads, with at most " + std::to_string(max_queued_per_thread_) +
                            " queued per thread");
  }
  // Resources in use are exactly those of the running tasks.
  ResourceList expected = declared_;
  for (const auto& [key, task] : tasks_) {
    if (task->status != S::kExecuting && task->status != S::kRunCancelled) continue;
    for (const auto& [name, amount] : task->run->resources) {
      for (auto& [have, left] : expected) {
        if (have == name) left -= amount;
      }
    }
  }
  for (const auto& [name, left] : expected) {
    if (std::abs(resource_amount(available_, name) - left) > 1e-9) {
      return Status::internal("resource " + name + " has " + std::to_string(resource_amount(available_, name)) +
                              " free, but the running tasks leave " + std::to_string(left));
    }
  }
  if (paused_ || busy_threads() >= nthreads_) return Status::success();
  for (const WorkerTask* task : ready_) {
    if (resources_free(task->run->resources)) {
      return worker_violation(*task, "ready and runnable while a thread is idle");
    }
  }
  return Status::success();
}

}  // namespace dtask::worker
