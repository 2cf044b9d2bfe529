// An immutable picture of the scheduler for the dashboard's HTTP threads.
// The scheduler strand builds one a few times a second from GraphState; its
// cost depends on the number of workers, task groups and recent task-stream
// events, and on a bounded sample of tasks per state, never on the number
// of tasks (a 1M-task graph costs what a 1k-task graph does).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "scheduler/adaptive.h"
#include "scheduler/graph_state.h"
#include "scheduler/task_state.h"
#include "scheduler/task_stream.h"

namespace dtask::scheduler {

struct GroupProgress {
  std::string name;
  std::array<std::size_t, kTaskStatusCount> counts{};  // live tasks; [kForgotten]: forgotten so far
  std::uint64_t completed = 0;
  double compute_seconds = 0;
  std::uint64_t nbytes = 0;
};

struct GroupEdge {
  std::size_t from = 0;  // index into DashboardSnapshot::groups (the dependency)
  std::size_t to = 0;    // the dependent group
  std::size_t tasks = 0; // task edges between them
};

struct WorkerRow {
  std::string name;
  std::string address;
  std::uint32_t nthreads = 1;
  std::uint64_t memory_limit = 0;
  ResourceList resources;
  ResourceList resources_used;
  std::optional<msg::GpuDevice> gpu;
  std::size_t processing = 0;
  std::size_t has_what = 0;
  std::uint64_t nbytes = 0;
  double occupancy = 0;
  std::uint64_t tasks_done = 0;
  msg::Heartbeat heartbeat;
  double last_seen = 0;
};

struct TaskRow {
  std::string key;
  std::string op;
  TaskStatus status = TaskStatus::kReleased;
  std::string worker;  // processing on, or the first holder
  std::uint64_t nbytes = 0;
  std::size_t dependencies = 0;
  std::size_t dependents = 0;
};

/// Tasks and their edges, for /graph when the whole graph is small.
struct SmallGraph {
  std::vector<TaskRow> tasks;
  std::vector<std::pair<std::size_t, std::size_t>> edges;  // (dependency, dependent) indices
};

struct SnapshotOptions {
  /// Task-stream window and cap.
  double stream_seconds = 10;
  std::size_t stream_limit = 5000;
  /// Tasks listed per state for /api/tasks.
  std::size_t tasks_per_state = 200;
  /// /graph draws single tasks up to this many, task groups beyond.
  std::size_t graph_task_limit = 300;
  /// Adaptive scaling's rule (GET /api/v1/adaptive_target).
  AdaptiveConfig adaptive;
};

/// Read-only once published; shared by every HTTP thread.
struct DashboardSnapshot {
  double time = 0;  // wall clock when built
  std::uint64_t sequence = 0;
  std::string scheduler_address;
  std::string dashboard_address;

  std::size_t tasks = 0;
  std::array<std::size_t, kTaskStatusCount> counts{};
  std::size_t clients = 0;
  std::uint64_t tasks_completed = 0;
  std::uint64_t tasks_erred = 0;
  double tasks_per_second = 0;
  std::uint64_t transfer_bytes = 0;
  double event_loop_latency = 0;      // seconds, latest
  double event_loop_latency_max = 0;  // seconds, worst since the previous snapshot

  std::vector<GroupProgress> groups;  // by name
  std::vector<GroupEdge> group_edges;
  std::vector<WorkerRow> workers;
  std::vector<ErrorRecord> errors;  // oldest first

  std::vector<StreamEvent> stream;  // the last stream_seconds, oldest first
  std::vector<std::string> stream_ops;
  std::vector<std::string> stream_workers;

  /// The first tasks_per_state tasks of each state (the list order is most
  /// recently entered first).
  std::array<std::vector<TaskRow>, kTaskStatusCount> task_samples;
  /// Filled only when the graph has at most graph_task_limit tasks.
  SmallGraph small_graph;
  bool graph_is_small = false;

  /// What adaptive scaling needs, measured with this rule.
  AdaptiveLoad adaptive_load;
  AdaptiveConfig adaptive_config;
};

/// What the strand carries from one snapshot to the next (for rates).
struct SnapshotHistory {
  std::uint64_t sequence = 0;
  double last_time = 0;
  std::uint64_t last_completed = 0;
  double rate = 0;  // tasks/s, smoothed
};

/// Builds a snapshot. Call on the scheduler strand.
std::shared_ptr<DashboardSnapshot> build_dashboard_snapshot(const GraphState& graph,
                                                                  const SnapshotOptions& options,
                                                                  SnapshotHistory& history, double now);

}  // namespace dtask::scheduler
