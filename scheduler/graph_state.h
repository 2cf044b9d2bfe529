// The scheduler's graph state machine: every task, worker and client, and the
// one transition table that moves tasks between states. No I/O here: events
// come in as method calls, and what must be sent goes into an Outbox that the
// server (scheduler_server.h) drains after each event. That keeps this class
// testable without sockets and keeps every transition in one place.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/messages.h"
#include "dtask/status.h"
#include "scheduler/compute_orders.h"
#include "scheduler/placement.h"
#include "scheduler/task_group.h"
#include "scheduler/task_state.h"
#include "scheduler/task_stream.h"
#include "scheduler/work_stealing.h"

namespace spdlog {
class logger;
}

namespace dtask::scheduler {

struct SchedulerConfig {
  /// Root tasks (no dependencies) are sent to a worker only while it runs
  /// fewer than ceil(nthreads * worker_saturation) of them; the rest wait in
  /// `queued`. Infinity disables queuing. Dask's default is 1.1.
  double worker_saturation = 1.1;
  /// ...and only once it also holds this many seconds of estimated work per
  /// thread, so that tiny tasks still pipeline past the round trip to the
  /// scheduler while heavy ones (chunk reads) stay capped by the count.
  double saturation_latency = 0.005;
  /// Duration assumed for an op never seen before, in seconds.
  double default_task_duration = 0.001;
  /// A task fails once more than this many workers died while running it
  /// (Dask's allowed-failures): a task that kills its worker must not take
  /// the cluster down one worker at a time.
  std::uint32_t allowed_failures = 3;
  /// Work stealing (steal_round): idle workers take queued work from busy
  /// ones. On by default, as in Dask; the server runs a round periodically.
  bool work_stealing = true;
  StealConfig stealing;
};

/// Each client's statuses of one event.
using ClientStatuses = std::unordered_map<ClientState*, msg::KeyStatusBatch>;

/// Messages the state machine wants sent, grouped by recipient so that one
/// event produces at most one frame per peer.
struct Outbox {
  std::unordered_map<WorkerState*, ComputeOrders> compute;
  std::unordered_map<WorkerState*, msg::FreeKeys> free;
  ClientStatuses statuses;
  std::unordered_map<WorkerState*, msg::StealRequest> steal;  // to victims
  // For the journal (GraphState::record_changes): results that reached
  // memory, by the address of the worker holding them; keys forgotten; and
  // workers removed, with whatever they held.
  std::unordered_map<std::string, std::vector<msg::KeyInfo>> completed;
  std::vector<std::string> forgotten;
  std::vector<std::string> workers_gone;
  bool empty() const {
    return compute.empty() && free.empty() && statuses.empty() && steal.empty() && completed.empty() &&
           forgotten.empty() && workers_gone.empty();
  }
};

/// A task whose op raised, as the dashboard lists it.
struct ErrorRecord {
  double time = 0;  // wall clock, when the scheduler heard of it
  std::string key;
  std::string op;
  std::string worker;
  std::string message;
};

/// Every task by key. Open addressing (Abseil's flat table): a million-task
/// graph looks a key up several times per task, and a node-based table's
/// pointer chasing was the scheduler's largest cost at that size.
using TaskTable = absl::flat_hash_map<std::string_view, std::unique_ptr<TaskState>>;

/// Call every method on the scheduler strand. Not thread-safe.
class GraphState {
 public:
  /// Tests reach the private transition machinery through this (friend) to
  /// prove that a change outside the table aborts.
  friend struct GraphStateTestAccess;

  GraphState(SchedulerConfig config, std::shared_ptr<spdlog::logger> logger);
  ~GraphState();
  GraphState(const GraphState&) = delete;
  GraphState& operator=(const GraphState&) = delete;

  /// Fill Outbox::completed, forgotten and workers_gone (for the journal).
  void record_changes(bool on) { record_changes_ = on; }

  /// Statuses sent ahead of the rest of their event's outbox.
  using EarlyStatuses = std::function<void(ClientStatuses)>;
  /// When an event still has more than kEarlyStatusesAbove transitions to
  /// run after a client's status is known, `send` gets the statuses so far
  /// at once: a sum over a million inputs reaches its client before the
  /// million releases it sets off. Unset (tests), they wait in the outbox.
  void send_statuses_early(EarlyStatuses send) { early_statuses_ = std::move(send); }
  static constexpr std::size_t kEarlyStatusesAbove = 10000;

  // ---- events --------------------------------------------------------------
  ClientState* add_client(std::string name, std::string session = "");
  /// The client with this session; null when none.
  ClientState* find_client(const std::string& session) const;
  /// Drops everything the client wanted (its futures are gone with it).
  void remove_client(ClientState* client);
  /// Rejects a duplicate name or address. Results the worker says it holds
  /// (re-registering after a scheduler restart) go to memory when a task
  /// still needs them, and are freed on the worker otherwise.
  Result<WorkerState*> add_worker(const msg::RegisterWorker& registration);
  /// Reschedules its processing tasks and recomputes results only it held.
  /// Logged as a warning when not `graceful` and it had tasks or results. Unless `graceful` (the worker
  /// was retired, or the scheduler is stopping), each task processing there
  /// counts one worker death; past allowed_failures it errs with "worker
  /// killed while running <op> <key>".
  void remove_worker(WorkerState* worker, const std::string& reason, bool graceful = false);
  /// Adds the graph's new tasks and makes the client want its wanted keys.
  /// A key already known with another definition (task_fingerprint) refuses
  /// the whole graph: each wanted key errs for the client, naming that key.
  void update_graph(ClientState& client, msg::UpdateGraph graph);
  /// The client dropped its last future for each key.
  void release_keys(ClientState& client, const std::vector<std::string>& keys);
  /// Like release, and the client is told the keys were cancelled.
  void cancel_keys(ClientState& client, const std::vector<std::string>& keys);
  /// The client stored data on a worker directly; it becomes a task in memory.
  Status keys_scattered(ClientState& client, const msg::KeysScattered& scattered);
  void worker_report(WorkerState& worker, const msg::WorkerReport& report);
  /// Records the worker's load and memory. A paused worker counts as
  /// saturated (root tasks stay queued); when it resumes it is filled again.
  void worker_heartbeat(WorkerState& worker, const msg::Heartbeat& heartbeat, double now);

  // ---- work stealing (policy in scheduler/work_stealing.h) -------------------
  /// One round of Dask's rule: where a worker has tasks waiting beyond its
  /// threads and another would finish them sooner even after fetching their
  /// inputs, asks the first (the victim) to give some up for the second (the
  /// thief). Each such task goes processing -> stealing until the victim
  /// answers. Costs O(workers) when no worker is idle while another has a
  /// queue, O(workers + a bounded sample of the victims' tasks) otherwise.
  /// Returns how many steals it requested. Does nothing unless
  /// SchedulerConfig::work_stealing.
  std::size_t steal_round();
  /// The victim's answers: a task it gave up moves to its thief (stealing ->
  /// processing there, or, the thief gone, back through released); one it had
  /// started stays (stealing -> processing here). An answer to an older
  /// request than the task's current one changes nothing.
  void steal_response(WorkerState& worker, const msg::StealResponse& response);
  std::uint64_t steals_requested() const { return steals_requested_; }
  std::uint64_t steals_confirmed() const { return steals_confirmed_; }
  std::uint64_t steals_refused() const { return steals_refused_; }

  // ---- scheduler restart (driven by the journal, scheduler/journal.h) -------
  /// Results that were in memory when the scheduler died, each with the
  /// addresses of the workers that held them. Until end_recovery these tasks
  /// do not run: their workers may come back with them.
  void begin_recovery(std::unordered_map<std::string, std::vector<std::string>> held);
  bool recovering() const { return recovering_; }
  /// Results still expected back, with their holders' addresses.
  const std::unordered_map<std::string, std::vector<std::string>>& recovering_results() const {
    return recovering_keys_;
  }
  /// Recomputes what did not come back, and marks scattered data that did
  /// not come back lost. Runs by itself once every holder has re-registered.
  void end_recovery();
  /// Replays a client's scatter from the journal: the keys wait for their
  /// worker to come back (lost at end_recovery otherwise).
  void restore_scattered(ClientState& client, const msg::KeysScattered& scattered);
  /// A client reconnected and names every key it still holds futures for:
  /// it keeps wanting those, the rest is released, and it is told the
  /// status of each key that is done (lost for keys unknown here).
  void resume_client(ClientState& client, const std::vector<std::string>& keys);

  // ---- graceful retire (driven by scheduler/retirement.h) -------------------
  /// The worker gets no new tasks from now on.
  void set_retiring(WorkerState& worker) { worker.retiring = true; }
  /// Results in memory only on `worker` that a client or a task still needs:
  /// what must be copied elsewhere before it can leave.
  std::vector<TaskState*> held_only_by(const WorkerState& worker) const;

  /// What the events since the last call want sent.
  Outbox take_outbox();

  /// Hash tables keep their buckets when emptied: drops those of empty
  /// tables (the task table after a 4M-task graph holds 64 MB of them), so
  /// that a trim (common/memory_trim.h) can give the memory back.
  void shrink_empty_tables();

  // ---- inspection ----------------------------------------------------------
  /// Checks the structural invariants of every task, worker and client.
  /// Returns the first violation found.
  Status validate() const;
  const TaskState* find(const std::string& key) const;
  std::size_t task_count() const { return tasks_.size(); }
  std::size_t count(TaskStatus status) const { return status_counts_[static_cast<int>(status)]; }
  const std::vector<std::unique_ptr<WorkerState>>& workers() const { return workers_; }
  WorkerState* find_worker(const std::string& address) const;
  std::size_t client_count() const { return clients_.size(); }
  std::vector<ClientState*> clients() const;
  std::uint64_t tasks_completed() const { return tasks_completed_; }
  std::uint64_t tasks_erred() const { return tasks_erred_; }
  /// Every task by key (the key views TaskState::key).
  const TaskTable& tasks() const { return tasks_; }
  /// The first task in `status` (follow TaskState::status_next); null when none.
  const TaskState* first_with_status(TaskStatus status) const { return status_heads_[static_cast<int>(status)]; }
  /// Task groups by op name; a group goes when its last task is forgotten.
  const std::unordered_map<std::string, std::unique_ptr<TaskGroup>>& groups() const { return groups_; }
  const TaskStream& stream() const { return stream_; }
  /// The latest errors reported by workers, oldest first.
  const std::deque<ErrorRecord>& recent_errors() const { return recent_errors_; }
  /// How many state changes the table's edge `from -> to` has made. Every
  /// change of a task's status is made by exactly one edge of the table.
  std::uint64_t edge_count(TaskStatus from, TaskStatus to) const {
    return edge_counts_[static_cast<int>(from)][static_cast<int>(to)];
  }
  /// Whether `from -> to` is an edge of the transition table. A pair that is
  /// not goes through `released` (from -> released -> to), and aborts when
  /// either hop is missing too.
  bool has_edge(TaskStatus from, TaskStatus to) const { return edge(from, to) != nullptr; }
  /// The mean run time of `task`'s op, from its finished tasks; nullopt
  /// before the first (or for scattered data).
  std::optional<double> measured_duration(const TaskState& task) const;
  /// Bytes workers fetched from each other, ever.
  std::uint64_t transfer_bytes() const { return transfer_bytes_; }

 private:
  using Recommendations = std::deque<std::pair<TaskState*, TaskStatus>>;
  using Edge = void (GraphState::*)(TaskState&, Recommendations&);

  void build_transition_table();
  Edge edge(TaskStatus from, TaskStatus to) const {
    return table_[static_cast<int>(from) * kTaskStatusCount + static_cast<int>(to)];
  }
  Status validate_lists_and_groups() const;
  Status validate_waiting(const TaskState& task) const;
  /// Runs recommendations to a fixed point.
  void transitions(Recommendations recommendations);
  void transition(TaskState& task, TaskStatus to, Recommendations& out);
  void set_status(TaskState& task, TaskStatus to);
  void link_status(TaskState& task, TaskStatus status);
  void unlink_status(TaskState& task);
  void join_group(TaskState& task, const std::string& name);
  void leave_group(TaskState& task);
  void record_report(WorkerState& worker, const msg::WorkerReport& report);
  void take_held_results(WorkerState& worker, const std::vector<msg::KeyInfo>& held, Recommendations& out);
  void wake_dependents(TaskState& task, Recommendations& out);
  /// Fails every wanted key of `graph` for `client` with `why`; changes no task.
  void refuse_graph(ClientState& client, const msg::UpdateGraph& graph, const std::string& why);

  // One function per edge of the state machine.
  void released_to_waiting(TaskState& task, Recommendations& out);
  void released_to_forgotten(TaskState& task, Recommendations& out);
  void released_to_memory(TaskState& task, Recommendations& out);  // scattered data
  void released_to_erred(TaskState& task, Recommendations& out);   // bad graph input, lost scattered data
  void waiting_to_processing(TaskState& task, Recommendations& out);
  void waiting_to_queued(TaskState& task, Recommendations& out);
  void waiting_to_no_worker(TaskState& task, Recommendations& out);
  void waiting_to_released(TaskState& task, Recommendations& out);  // also from queued, no-worker
  void waiting_to_erred(TaskState& task, Recommendations& out);
  void ready_to_processing(TaskState& task, Recommendations& out);  // from queued, no-worker
  void queued_to_no_worker(TaskState& task, Recommendations& out);
  void no_worker_to_queued(TaskState& task, Recommendations& out);
  void processing_to_memory(TaskState& task, Recommendations& out);
  void processing_to_erred(TaskState& task, Recommendations& out);
  void processing_to_released(TaskState& task, Recommendations& out);
  void memory_to_released(TaskState& task, Recommendations& out);
  void erred_to_released(TaskState& task, Recommendations& out);
  // Work stealing: a processing task asked of its victim, and the four ways that ends.
  void processing_to_stealing(TaskState& task, Recommendations& out);
  void stealing_to_processing(TaskState& task, Recommendations& out);  // the victim answered
  void stealing_to_memory(TaskState& task, Recommendations& out);      // it finished on the victim first
  void stealing_to_erred(TaskState& task, Recommendations& out);
  void stealing_to_released(TaskState& task, Recommendations& out);

  // Helpers shared by edges.
  /// Forgets the task's steal in flight; returns its thief (null: it left).
  WorkerState* end_steal(TaskState& task);
  enum class PlaceOutcome { kPlaced, kSaturated, kNoWorker };
  PlaceOutcome place(TaskState& task);
  void assign(TaskState& task, WorkerState& worker);
  void unassign(TaskState& task);
  static void add_resource(ResourceList& resources, const std::string& name, double amount);
  void add_replica(TaskState& task, WorkerState& worker);
  void remove_replica(TaskState& task, WorkerState& worker);
  void stop_waiting_on_dependencies(TaskState& task, Recommendations& out);
  void recommend_release_if_unneeded(TaskState& task, Recommendations& out);
  static void inherit_error(TaskState& task, const TaskState& failed);
  void propagate_error(TaskState& task, Recommendations& out);
  void fill_free_slots(WorkerState& worker, Recommendations& out);
  /// A worker could not fetch a dependency of `missing.key`: drop that
  /// replica and reschedule the task.
  void task_missing_data(WorkerState& worker, const msg::TaskMissingData& missing, Recommendations& out);
  void retry_unrunnable(Recommendations& out);
  /// A part of a graph before its last (UpdateGraph::more): its tasks start.
  void start_graph_part(ClientState& client, const std::vector<std::pair<TaskState*, msg::TaskDef*>>& defined);
  void drop_pending_graph(ClientState& client);
  void notify_wanted(TaskState& task);
  void notify(ClientState& client, msg::KeyStatus status);
  msg::KeyStatus status_of(const TaskState& task) const;
  bool is_saturated(const WorkerState& worker) const;
  double estimate_duration(const TaskState& task) const;
  /// The op named `name` (made on first use); "<missing op>" for an empty name.
  OpStats* op_stats(std::string name);
  TaskState* get_or_create(std::string key, bool* created = nullptr);
  /// get_or_create for a key that is probably new (update_graph has looked
  /// it up already): one lookup, at the price of a TaskState thrown away
  /// when the key turns out to be known.
  TaskState* create_if_new(std::string key, bool* created);

  SchedulerConfig config_;
  std::shared_ptr<spdlog::logger> logger_;
  // table_[from * kTaskStatusCount + to]: the edge's function, null when none.
  std::array<Edge, kTaskStatusCount * kTaskStatusCount> table_{};
  // The edge running now, so that set_status can check that it makes only
  // that edge's change (nested edges stack: the outer one is restored).
  struct RunningEdge {
    const TaskState* task;
    TaskStatus from;
    TaskStatus to;
  };
  const RunningEdge* running_edge_ = nullptr;
  std::uint64_t edge_counts_[kTaskStatusCount][kTaskStatusCount] = {};

  TaskTable tasks_;
  // Forgotten since the last take_outbox; freed there, so that no pointer
  // in a recommendation or in Outbox::compute dangles before then.
  std::vector<std::unique_ptr<TaskState>> graveyard_;
  std::vector<std::unique_ptr<WorkerState>> workers_;
  std::unordered_map<std::uint64_t, std::unique_ptr<ClientState>> clients_;
  std::uint64_t next_client_id_ = 1;

  struct ByPriority {
    bool operator()(const TaskState* a, const TaskState* b) const {
      if (a->priority.runs_before(b->priority)) return true;
      if (b->priority.runs_before(a->priority)) return false;
      return a->key < b->key;
    }
  };
  std::set<TaskState*, ByPriority> queued_;
  std::set<TaskState*, ByPriority> unrunnable_;
  Placement placement_;

  std::size_t status_counts_[kTaskStatusCount] = {};
  TaskState* status_heads_[kTaskStatusCount] = {};
  std::unordered_map<std::string, std::unique_ptr<TaskGroup>> groups_;
  TaskStream stream_;
  std::deque<ErrorRecord> recent_errors_;
  std::uint64_t transfer_bytes_ = 0;
  // Every op seen, with its measured durations: kept when its tasks go, so
  // the next graph's estimates start from them. Nodes: tasks point at them.
  absl::node_hash_map<std::string, OpStats> ops_;
  NamePool type_names_;  // results' type names (TaskState::type_name)
  std::uint64_t tasks_completed_ = 0;
  std::uint64_t tasks_erred_ = 0;
  Outbox outbox_;

  // Per-event context read by the processing->memory and ->erred edges.
  WorkerState* reporting_worker_ = nullptr;
  /// While worker_report moves a task that finished with its result inline
  /// into memory: that task and the value, for notify_wanted.
  struct InlineResult {
    const TaskState* task = nullptr;
    const Value* value = nullptr;
  } inline_result_;
  // Set by an event while it releases a task its worker already dropped (it
  // raised and is retried, or could not fetch an input): processing->released
  // sends that worker no FreeKeys, which could cancel the task's next run if
  // it is placed on the same worker in the same event.
  const TaskState* dropped_by_worker_ = nullptr;

  // Work stealing: each task in `stealing`, with the worker it is meant for
  // (null once that worker left) and the id its request carried.
  struct Steal {
    WorkerState* thief = nullptr;
    std::uint64_t id = 0;
  };
  std::unordered_map<const TaskState*, Steal> steals_;
  std::uint64_t next_steal_id_ = 1;
  std::uint64_t steals_requested_ = 0;
  std::uint64_t steals_confirmed_ = 0;
  std::uint64_t steals_refused_ = 0;
  // Per-event context: the thief of processing->stealing, and the victim's
  // answer read by stealing->processing.
  WorkerState* steal_thief_ = nullptr;
  bool steal_confirmed_ = false;

  bool record_changes_ = false;
  EarlyStatuses early_statuses_;
  // Scheduler restart: results expected back from workers that held them.
  bool recovering_ = false;
  std::unordered_map<std::string, std::vector<std::string>> recovering_keys_;  // key -> holder addresses
  std::unordered_set<std::string> recovering_holders_;  // addresses not re-registered yet
};

}  // namespace dtask::scheduler
