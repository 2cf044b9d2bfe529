// What a worker knows about each key: a task the scheduler assigned here, a
// dependency fetched from a peer, or a result it holds. Plain data:
// WorkerState (worker_state.h) owns every WorkerTask and changes its status
// only through its transition table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/name_pool.h"
#include "common/small_pointer_set.h"
#include "worker/task_run.h"

namespace dtask::worker {

/// The lifecycle of a key on a worker, as in Dask's worker state machine.
/// Whether a value in memory sits in RAM or in a spill file is the
/// DataStore's business, not a state here.
enum class WorkerTaskStatus : std::uint8_t {
  kReleased = 0,     // known for a moment: just created, or about to be forgotten
  kWaiting,          // assigned here; some dependency is not in memory yet
  kFetching,         // a dependency (or a replica to acquire) on its way from a peer
  kFetchCancelled,   // a fetch still in flight that nothing here needs any more
  kReady,            // assigned, every dependency in memory; waiting for a thread
  kExecuting,        // handed to the executor: running, or queued behind a running task
  kRunCancelled,     // still running, but the scheduler released it
  kMemory,           // its value is in the DataStore (RAM or spilled)
  kErred,            // its op raised; reported, then forgotten
};
inline constexpr int kWorkerTaskStatusCount = 9;

/// "released", "waiting", "fetching", ...
const char* worker_task_status_name(WorkerTaskStatus status);

struct WorkerTask;

/// A set of keys' tasks: inline while it has one or two (nearly every key's
/// dependents, and a small task's waiting set), a table past that (a sum
/// over a million inputs waits for a million of them).
using WorkerTaskSet = SmallPointerSet<WorkerTask>;

struct WorkerTask {
  std::string key;
  WorkerTaskStatus status = WorkerTaskStatus::kReleased;

  /// Set while assigned here and not started: what the executor will run.
  /// Out of line: most keys a worker knows are copies fetched for a task,
  /// and a sum over a million inputs creates half a million of them.
  std::unique_ptr<ReadyTask> run;
  /// The keys `run` reads (assigned tasks only).
  std::vector<WorkerTask*> dependencies;
  /// Dependencies not in memory yet (while waiting).
  WorkerTaskSet waiting_for;
  /// Tasks here (waiting, ready, executing or run-cancelled) that read this
  /// key: a fetched copy is kept exactly as long as this is not empty.
  WorkerTaskSet dependents;

  // While fetching: the holders not tried yet, and the one asked now
  // (null: none). Addresses from WorkerState's NamePool: half a million
  // fetched keys name two or three workers.
  std::vector<const std::string*> who_has;
  const std::string* fetching_from = nullptr;

  /// The scheduler asked for a copy (AcquireReplicas): keep it and say so.
  bool acquire = false;
  /// The scheduler assigned this key here while a copy of it was being
  /// fetched: the copy arriving counts as the task finishing.
  bool assigned_while_fetching = false;
  /// In memory and counted by the scheduler as held here (computed,
  /// scattered or acquired): it stays until FreeKeys. A copy fetched for a
  /// local task is not held: it goes when its last dependent does.
  bool held = false;
  std::uint64_t nbytes = 0;
  const std::string* type_name = NamePool::empty();  // from WorkerState's NamePool
  /// Order among ready tasks of equal priority (first assigned runs first).
  std::uint64_t sequence = 0;
};

}  // namespace dtask::worker
