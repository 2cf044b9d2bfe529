// The worker's task state machine: every key this worker knows (tasks the
// scheduler assigned, dependencies fetched from peers, results held) and the
// one transition table that moves them between states. No I/O here: events
// come in as method calls and what must happen goes out as Instructions
// (fetch these keys from that peer, run this task, drop that copy, tell the
// scheduler this), which the Worker (worker.cc) carries out with its sockets,
// executor and DataStore. That keeps the lifecycle testable without sockets
// or threads, the way scheduler/graph_state.h keeps the scheduler's.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/messages.h"
#include "dtask/status.h"
#include "worker/worker_task_state.h"

namespace dtask::worker {

/// Keys to request from one peer in one GetData.
struct FetchInstruction {
  std::string holder;  // the peer's data address
  std::vector<std::string> keys;
};

/// What one event asks the wiring to do, in this order: drop, fetch,
/// execute, then report.
struct Instructions {
  /// Erase from the DataStore: copies nothing here needs any more.
  std::vector<std::string> drop;
  std::vector<FetchInstruction> fetch;
  /// Hand to the executor: never more in all than run_slots() allows.
  std::vector<ReadyTask> execute;
  /// For the scheduler (finished, erred, missing, acquired; never activity).
  msg::WorkerReport report;
  /// For the worker's log (a replica that could not be copied, ...).
  std::vector<std::string> warnings;
  /// Answers to a StealRequest, sent at once (not with the report).
  std::vector<msg::StealAnswer> steal_answers;

  bool has_report() const {
    return !report.finished.empty() || !report.erred.empty() || !report.missing.empty() ||
           !report.acquired.empty();
  }
};

/// A value that arrived from a peer (in the DataStore if fetch_wanted said so).
struct FetchedCopy {
  std::string key;
  std::uint64_t nbytes = 0;
  std::string type_name;
};

/// One state change, with the event that caused it (Dask's stimulus_id).
struct WorkerTransition {
  std::uint64_t sequence = 0;  // counts every transition of this WorkerState
  std::string key;
  WorkerTaskStatus from = WorkerTaskStatus::kReleased;
  WorkerTaskStatus to = WorkerTaskStatus::kReleased;
  const char* stimulus = "";  // the event: "compute", "free-keys", "fetch-failed", ...
};

/// Call every method on one thread (the worker's io thread). Not thread-safe.
class WorkerState {
 public:
  /// `nthreads` executor threads (at least 1) and the resources declared by
  /// --resources bound how many assigned tasks execute at once.
  ///
  /// `max_queued_per_thread` lets the executor hold that many more tasks per
  /// thread, queued behind the running ones, while tasks are short: a thread
  /// that finishes a 10 us task then starts the next at once, instead of
  /// idling for the round trip through the io thread (which halved the
  /// throughput of small tasks). How many are queued follows the measured
  /// durations of each op (queue_depth_per_thread); long tasks queue none, so they
  /// stay free to be cancelled or moved. 0 (the tests' default) hands the
  /// executor exactly as many tasks as it has threads.
  ///
  /// `io_thread_task_seconds` > 0 lets a lone task of an op whose recent
  /// runs all took less run on the io thread (runs_on_io_thread). 0 (the
  /// tests' default): never.
  WorkerState(unsigned nthreads, ResourceList resources, unsigned max_queued_per_thread = 0,
              double io_thread_task_seconds = 0);
  ~WorkerState();
  WorkerState(const WorkerState&) = delete;
  WorkerState& operator=(const WorkerState&) = delete;

  /// Whether a status change is an edge of the transition table.
  static bool allowed(WorkerTaskStatus from, WorkerTaskStatus to);

  // ---- events --------------------------------------------------------------
  /// The scheduler assigned these tasks here (ComputeTaskBatch).
  [[nodiscard]] Instructions compute(msg::ComputeTaskBatch batch);
  /// The scheduler wants copies of `keys`, held by the retiring `holder`.
  [[nodiscard]] Instructions acquire(const std::string& holder, const std::vector<std::string>& keys);
  /// The scheduler released these keys (FreeKeys): drop, cancel or stop holding them.
  [[nodiscard]] Instructions free_keys(const std::vector<std::string>& keys);
  /// True when a value of `key` arriving from a peer should be stored; the
  /// wiring puts it into the DataStore before calling fetched().
  bool fetch_wanted(const std::string& key) const;
  /// A fetched value arrived (and is in the DataStore if fetch_wanted said so).
  [[nodiscard]] Instructions fetched(const std::string& key, std::uint64_t nbytes, std::string type_name);
  /// The values of one DataReply arrived: one event for all of them (a
  /// reply brings up to kMaxKeysPerFetch), each as fetched() would take it.
  [[nodiscard]] Instructions fetched(std::vector<FetchedCopy> copies);
  /// `holder` could not give `key` (not found there, or the link failed mid-fetch).
  /// The next known holder is tried; with none left, the tasks needing it are
  /// reported missing to the scheduler.
  [[nodiscard]] Instructions fetch_failed(const std::string& key, const std::string& holder, const std::string& why);
  /// An executor thread finished `outcome.key`; on success its result is in the DataStore.
  [[nodiscard]] Instructions task_done(const TaskOutcome& outcome);
  /// A client stored `key` here directly (PutData): held for the scheduler.
  [[nodiscard]] Instructions data_put(const std::string& key, std::uint64_t nbytes, std::string type_name);
  /// Work stealing: each task asked for is given up if it has not been
  /// handed to the executor (waiting or ready), so that it runs on the thief
  /// instead, and kept otherwise (handed over, done, or unknown). A task given
  /// up is forgotten here: the scheduler sends no FreeKeys for it.
  [[nodiscard]] Instructions steal(const std::vector<msg::StealItem>& items);
  /// Above the memory pause threshold no task starts; below it they do again.
  [[nodiscard]] Instructions set_paused(bool paused);
  /// The scheduler went away: assignments not started are dropped (a new
  /// scheduler hands out work again), as are fetches and acquires made for them.
  /// Running tasks finish, and results stay held.
  [[nodiscard]] Instructions scheduler_lost();

  // ---- inspection ----------------------------------------------------------
  /// Checks every invariant; returns the first violation found.
  Status validate() const;
  /// Results the scheduler may count as held here (re-registration).
  std::vector<msg::KeyInfo> held() const;
  /// Null when the key is not known here.
  const WorkerTask* find(const std::string& key) const;
  std::size_t count(WorkerTaskStatus status) const { return counts_[static_cast<int>(status)]; }
  std::size_t size() const { return tasks_.size(); }
  /// Frees the key table's slots once it is empty: an open-addressing table
  /// keeps its capacity (80 MB after a million keys) when its keys go.
  void shrink_empty_tables();
  /// Assigned tasks that have not started (waiting and ready), for heartbeats.
  std::size_t not_started() const;
  bool paused() const { return paused_; }
  /// How many tasks of `op` may queue per executor thread beyond the running
  /// one, from the op's recent mean duration here: none for an op not yet
  /// measured or of kLongTaskSeconds or more, else enough to cover
  /// kQueuedSecondsPerThread of work (at most max_queued_per_thread).
  unsigned queue_depth_per_thread(const std::string& op) const;
  /// How many tasks the executor may hold, running or queued, when the next
  /// one handed over is of `op`.
  std::size_t run_slots(const std::string& op) const {
    return std::size_t{nthreads_} * (1 + queue_depth_per_thread(op));
  }
  static constexpr double kLongTaskSeconds = 0.005;
  static constexpr double kQueuedSecondsPerThread = 0.002;
  /// Whether a task of `op` may run on the io thread: the op ran at least
  /// kIoThreadMinRuns times here, none of its recent runs took
  /// io_thread_task_seconds or more, and none of its runs on the io thread
  /// ever took 20 times that (kIoThreadGiveUpSeconds at least). Only a task handed over alone, with
  /// the executor idle, no resources asked for and at most
  /// kIoThreadMaxInputs dependencies, runs there (finish()
  /// marks it, ReadyTask::on_io_thread): a `submit().result()` round trip
  /// then wakes two threads fewer. The price of a task mismeasured as tiny
  /// is its run, once per op, on the thread that serves heartbeats and peers.
  bool runs_on_io_thread(const std::string& op) const;
  static constexpr unsigned kIoThreadMinRuns = 16;
  static constexpr double kIoThreadGiveUpSeconds = 1e-3;
  static constexpr std::size_t kIoThreadMaxInputs = 4;
  /// The latest transitions of `key`, oldest first (the last kStoryLength of all keys are kept).
  std::vector<WorkerTransition> story(const std::string& key) const;
  static constexpr std::size_t kStoryLength = 4096;
  /// One GetData asks a holder for at most this many keys, or this many
  /// bytes (as the scheduler last counted them; Dask's transfer message
  /// limit is 50 MB): a reply stays far under the message size limit, and
  /// the holder serves the next request while this worker stores the last.
  static constexpr std::size_t kMaxKeysPerFetch = 10000;
  static constexpr std::uint64_t kMaxBytesPerFetch = std::uint64_t{50} << 20;

 private:
  struct ByPriority {
    bool operator()(const WorkerTask* a, const WorkerTask* b) const;
  };

  /// Starts an event: `stimulus` is recorded with each transition it makes.
  void begin(const char* stimulus);
  /// Ends it: pending fetches become instructions, ready tasks start,
  /// released tasks are forgotten.
  Instructions finish();
  /// The only place a status changes: checks the edge against the table.
  void transition(WorkerTask& task, WorkerTaskStatus to);
  /// The task of `key`, created (released) if new; a new one takes `key`.
  WorkerTask& get_or_create(std::string key);

  /// `holders`: the batch's addresses (ComputeTaskBatch::holders), interned.
  using Holders = std::vector<const std::string*>;
  void assign(WorkerTask& task, msg::ComputeTask& spec, const Holders& holders);
  /// A dependency no local state can supply and no peer holds: why, or empty.
  std::string unreachable_dependency(const msg::ComputeTask& spec) const;
  void link(WorkerTask& task, WorkerTask& dep, const msg::DependencyLocation& location, const Holders& holders);
  void start_fetch(WorkerTask& dep, const std::string* holder);
  const std::string* next_holder(WorkerTask& dep);
  void arrived_in_memory(WorkerTask& task);
  /// A copy of `key` arrived: fetched()'s work for one value, inside an event.
  void copy_arrived(FetchedCopy& copy);
  void give_up_fetch(WorkerTask& dep, const std::string& holder, const std::string& why);
  /// A waiting or ready task leaves: it lets go of its dependencies.
  void release_assigned(WorkerTask& task);
  /// `task` will never reach memory here: its local dependents are reported
  /// missing and released.
  void fail_dependents(WorkerTask& task, const std::string& holder, const std::string& why);
  void unlink_dependencies(WorkerTask& task);
  /// A key that lost a reason to stay (a dependent, held, acquire) goes if it has none left.
  void release_if_unneeded(WorkerTask& task);
  void forget(WorkerTask& task);
  void start_ready_tasks();
  bool resources_free(const ResourceList& wanted) const;
  void take_resources(const ResourceList& wanted, double sign);
  std::size_t busy_threads() const;
  void record_duration(const std::string& op, double seconds, bool on_io_thread);
  /// Marks the task handed over in this event to run on the io thread, if
  /// it is the only one running and runs_on_io_thread(its op).
  void choose_io_thread_run();
  void record_story(const std::string& key, WorkerTaskStatus from, WorkerTaskStatus to);
  Status validate_task(const WorkerTask& task) const;
  Status validate_threads() const;

  const unsigned nthreads_;
  const unsigned max_queued_per_thread_;
  const double io_thread_task_seconds_;     // 0: no task runs on the io thread
  const double io_thread_give_up_seconds_;  // a run this long there keeps its op off it
  /// What this worker measured of one op's runs.
  struct OpTiming {
    double mean = 0;             // exponentially weighted, seconds
    double recent_max = 0;       // the longest recent run, decaying with each run
    std::uint32_t runs = 0;
    bool off_io_thread = false;  // it once ran long on the io thread: never there again
  };
  std::unordered_map<std::string, OpTiming> op_timings_;
  ResourceList available_;  // declared resources less those of running tasks
  const ResourceList declared_;

  /// Every key known here. Open addressing, as the scheduler's; the table's
  /// key views the task's own (WorkerTask::key), so a key is stored once.
  absl::flat_hash_map<std::string_view, std::unique_ptr<WorkerTask>> tasks_;
  std::vector<std::unique_ptr<WorkerTask>> graveyard_;  // forgotten this event; freed at its end
  std::set<WorkerTask*, ByPriority> ready_;
  std::size_t counts_[kWorkerTaskStatusCount] = {};
  bool paused_ = false;
  std::uint64_t next_sequence_ = 0;
  std::size_t holder_rotation_ = 0;  // spreads fetches over the replicas
  NamePool names_;  // peers' addresses and results' type names (WorkerTask points into it)

  // The event in progress.
  const char* stimulus_ = "";
  /// Keys to fetch from one holder in this event, cut into GetData requests
  /// (kMaxKeysPerFetch, kMaxBytesPerFetch).
  struct PendingFetches {
    std::vector<std::vector<std::string>> requests;
    std::uint64_t last_request_bytes = 0;
  };
  std::map<std::string, PendingFetches> to_fetch_;  // by holder
  Instructions out_;

  // The last kStoryLength transitions, a ring: a slot's key string is
  // reused, so recording a transition allocates nothing once it is full.
  std::vector<WorkerTransition> story_;
  std::uint64_t transitions_ = 0;
};

}  // namespace dtask::worker
