// What the scheduler knows about each task, worker and client. Plain data:
// GraphState (graph_state.h) owns every object and changes them only through
// its transition table, on the scheduler strand.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/name_pool.h"
#include "dtask/value.h"

namespace dtask::scheduler {

/// released -> waiting -> (queued | no-worker) -> processing -> memory, with
/// erred and forgotten: the same lifecycle as Dask's scheduler. A processing
/// task may go to stealing and back (work stealing, scheduler/work_stealing.h).
enum class TaskStatus : std::uint8_t {
  kReleased = 0,  // known, not wanted or not yet computed; lineage kept
  kWaiting,       // wanted; some dependency is not in memory yet
  kNoWorker,      // ready, but no connected worker satisfies its restrictions
  kQueued,        // ready root task held back until a worker has a free slot
  kProcessing,    // sent to a worker
  kMemory,        // result held by one or more workers
  kErred,         // its op raised, or a dependency's did
  kForgotten,     // removed; only seen by code still holding a stale pointer
  // Processing on its worker (the victim), which was asked to give it up for
  // another (the thief); waits for the answer. Last, so that the others keep
  // their numbers.
  kStealing,
};
inline constexpr int kTaskStatusCount = 9;

/// Sent to a worker and not done: processing, or stealing (still there).
inline bool is_processing(TaskStatus status) {
  return status == TaskStatus::kProcessing || status == TaskStatus::kStealing;
}

/// "released", "waiting", "no-worker", ...
const char* task_status_name(TaskStatus status);

struct WorkerState;
struct ClientState;
struct TaskGroup;
struct TaskState;

/// A set of tasks (a worker's processing and has_what, a client's wants):
/// open addressing, so a worker holding half a million results costs a
/// pointer per slot and no node to chase per lookup.
using TaskSet = absl::flat_hash_set<TaskState*>;

/// An op, and what its finished tasks measured. Kept for the scheduler's
/// life (GraphState owns them, one per op name), so a task names its op with
/// a pointer, and a finished task adds its run time without a lookup.
struct OpStats {
  std::string name;
  double total_seconds = 0;   // summed run time of finished tasks
  std::uint64_t finished = 0;  // how many finished

  /// The mean run time, once one has finished.
  std::optional<double> mean_seconds() const {
    if (finished == 0) return std::nullopt;
    return total_seconds / static_cast<double>(finished);
  }
};

/// What few tasks have: resource needs, worker restrictions, an error. Out
/// of line, so that a plain task pays one pointer for them.
struct TaskRare {
  ResourceList resources;
  std::vector<std::string> worker_restrictions;  // worker names; empty: any
  bool loose_restrictions = false;  // any worker may run it while none of worker_restrictions is connected
  // Set when erred: the task whose op raised (this one or an ancestor).
  std::string exception_blame_key;
  std::string error_op;
  std::string error_message;
};

struct TaskState {
  std::string key;
  /// Its op (GraphState::op_stats); null for data scattered by a client.
  OpStats* op_stats = nullptr;
  std::vector<Value> args;
  /// task_fingerprint() of its definition (0: scattered data): a key sent
  /// again with another definition is refused by comparing this.
  std::uint64_t fingerprint = 0;
  Priority priority;
  std::uint32_t retries = 0;
  std::uint32_t workers_died = 0;  // workers lost while running it (see SchedulerConfig::allowed_failures)

  // Small fields together, with no padding between them: a million-task
  // graph must fit in about a kilobyte a task.
  TaskStatus status = TaskStatus::kReleased;
  /// Set while this task is among its dependencies' `waiters` (all or none of them).
  bool registered_as_waiter = false;
  /// In its client's pending_graph: a graph whose last part has not come
  /// needs it (it runs, and its result stays, until that part says who wants what).
  bool in_pending_graph = false;
  /// Assigned to processing_on since the last take_outbox, so still to be
  /// sent: the next take_outbox hands it over in a batch and clears this.
  bool compute_pending = false;
  /// While waiting: how many dependencies are not in memory. Otherwise 0.
  std::uint32_t waiting_count = 0;

  // Vectors, not hash sets: most tasks have one or two of each. Each holds
  // an element at most once; GraphState keeps that (see validate()).
  std::vector<TaskState*> dependencies;
  std::vector<TaskState*> dependents;
  std::vector<TaskState*> waiters;  // dependents that still need this result
  std::vector<ClientState*> who_wants;

  std::vector<WorkerState*> who_has;
  WorkerState* processing_on = nullptr;
  double estimated_duration = 0;  // added to processing_on's occupancy
  std::uint64_t nbytes = 0;
  /// Its result's type, from GraphState's NamePool (never null).
  const std::string* type_name = NamePool::empty();

  TaskGroup* group = nullptr;  // its op's group (owned by GraphState)
  // Links in GraphState's list of tasks in the same status, so that a page
  // of tasks in one state costs the page, not a walk over every task.
  TaskState* status_prev = nullptr;
  TaskState* status_next = nullptr;

  std::unique_ptr<TaskRare> rare_;  // null: none of TaskRare's fields is set

  /// TaskRare's fields, to write; creates it.
  TaskRare& rare();
  const ResourceList& resources() const;
  const std::vector<std::string>& worker_restrictions() const;
  bool loose_restrictions() const { return rare_ != nullptr && rare_->loose_restrictions; }
  const std::string& exception_blame_key() const;
  const std::string& error_op() const;
  const std::string& error_message() const;
  bool has_error() const { return rare_ != nullptr && !rare_->error_message.empty(); }
  void clear_error();

  bool is_root() const { return dependencies.empty(); }
  bool is_needed() const { return !who_wants.empty() || !waiters.empty(); }
  bool is_scattered() const { return op_stats == nullptr; }
  /// Its op's name; empty for scattered data.
  const std::string& op() const { return op_stats != nullptr ? op_stats->name : *NamePool::empty(); }
  bool held_by(const WorkerState* worker) const;
};

/// Appends `item` unless `items` already holds it. For short vectors.
template <class T>
bool insert_unique(std::vector<T*>& items, T* item) {
  for (T* existing : items) {
    if (existing == item) return false;
  }
  items.push_back(item);
  return true;
}

/// Removes `item` from `items`, keeping the order: tasks tend to leave in
/// the order they came, so the search ends near the front. False when absent.
template <class T>
bool erase_one(std::vector<T*>& items, const T* item) {
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (*it == item) {
      items.erase(it);
      return true;
    }
  }
  return false;
}

template <class T>
bool contains(const std::vector<T*>& items, const T* item) {
  for (const T* existing : items) {
    if (existing == item) return true;
  }
  return false;
}

struct WorkerState {
  std::string name;
  std::string address;  // data address: where peers and clients fetch results
  std::uint32_t nthreads = 1;
  std::uint64_t memory_limit = 0;
  ResourceList resources;       // declared totals
  ResourceList resources_used;  // held by tasks processing here
  std::optional<msg::GpuDevice> gpu;  // the GPU it is bound to (dtask-worker --device), for display

  TaskSet processing;
  TaskSet has_what;
  double occupancy = 0;  // estimated seconds of work in `processing`
  std::uint64_t nbytes = 0;
  std::uint64_t root_tasks_processing = 0;
  msg::Heartbeat last_heartbeat;
  double last_seen = 0;   // wall clock seconds, for display
  /// Steady-clock seconds of its last message: what liveness (--worker-ttl)
  /// is measured against, so a wall-clock jump never drops a worker.
  double last_heard = 0;

  /// No message for more than `ttl` seconds as of steady-clock `now`.
  bool silent_for(double now, double ttl) const { return now - last_heard > ttl; }
  std::uint64_t tasks_done = 0;
  bool retiring = false;  // being retired gracefully: gets no new tasks
  std::uint32_t stream_id = 0;  // its name's id in the TaskStream

  double resource_total(const std::string& name) const;
  /// True when every resource `task` asks for is declared here in amount.
  bool can_ever_run(const TaskState& task) const;
};

struct ClientState {
  std::uint64_t id = 0;
  std::string name;
  std::string session;  // the client's own id (Handshake.session): how a journal names it
  TaskSet wants;
  /// A graph arriving in parts (msg::UpdateGraph::more): the tasks of the
  /// parts so far, held released until the last part names what is wanted.
  std::vector<TaskState*> pending_graph;
  /// Set when a part was refused: the rest of that graph is refused with it.
  std::string graph_refusal;
};

}  // namespace dtask::scheduler
