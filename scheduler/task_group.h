// Tasks grouped by op name, counted by state: what the dashboard's progress
// bars, /metrics and the aggregated /graph show, so that none of them has to
// walk a million tasks. GraphState keeps the counts as tasks change state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "scheduler/task_state.h"

namespace dtask::scheduler {

struct TaskGroup {
  std::string name;  // the op ("scattered" for data a client scattered)
  std::uint32_t stream_op = 0;  // the name's id in the TaskStream
  /// Live tasks by state; the kForgotten slot counts tasks forgotten so far.
  std::size_t counts[kTaskStatusCount] = {};
  std::uint64_t completed = 0;  // processing -> memory transitions
  double compute_seconds = 0;   // summed run time of completed tasks
  std::uint64_t nbytes = 0;     // result bytes of completed tasks
  /// Dependencies between groups: group -> number of task edges into this one.
  std::unordered_map<TaskGroup*, std::size_t> dependencies;

  std::size_t live() const {
    std::size_t total = 0;
    for (int i = 0; i < kTaskStatusCount; ++i) {
      if (i != static_cast<int>(TaskStatus::kForgotten)) total += counts[i];
    }
    return total;
  }
};

}  // namespace dtask::scheduler
