// The dashboard's JSON API, rendered from a published DashboardSnapshot on an
// HTTP thread (never on the scheduler strand). nlohmann/json stays in the .cc.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "scheduler/dashboard_snapshot.h"

namespace dtask::scheduler {

/// /api/status: totals by state, rates, memory, task groups and recent errors.
std::string status_json(const DashboardSnapshot& snapshot);
/// /api/workers: one object per worker.
std::string workers_json(const DashboardSnapshot& snapshot);
/// /api/stream: task-stream events of the last `seconds` (at most the snapshot's window).
std::string stream_json(const DashboardSnapshot& snapshot, double seconds);
/// /api/tasks: a page of the sampled tasks in `state` ("" or "all": every
/// state). Fails (Invalid) on an unknown state name.
Result<std::string> tasks_json(const DashboardSnapshot& snapshot, const std::string& state, std::size_t offset,
                               std::size_t limit);
/// /api/graph: single tasks when the graph is small, else task groups.
std::string graph_json(const DashboardSnapshot& snapshot);
/// /api/v1/adaptive_target: the workers the load wants, and which to close.
std::string adaptive_target_json(const AdaptiveTarget& target, const AdaptiveLoad& load);
/// POST /api/v1/retire_workers's body: {"workers": [names or addresses]} or
/// {"n": count} (the scheduler picks that many idle workers). Invalid otherwise.
struct RetireRequest {
  std::vector<std::string> workers;
  std::size_t n = 0;
};
Result<RetireRequest> parse_retire_request(const std::string& body);
/// Its answer: {"retired": [names]}.
std::string retired_json(const std::vector<std::string>& names);
/// {"error": message}, escaped.
std::string error_json(const std::string& message);
/// /api/task/<key>: one task, looked up on the strand (see DashboardServer).
std::string task_detail_json(const TaskState& task);

}  // namespace dtask::scheduler
