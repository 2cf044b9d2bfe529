// Where a ready task runs: the eligible worker with the fewest dependency
// bytes to move there, then the lowest occupancy (estimated seconds of queued
// work) per thread. Paused workers (memory above their pause threshold) come
// last: they get a task only when no running worker can take it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "scheduler/task_state.h"

namespace dtask::scheduler {

class Placement {
 public:
  using Skip = std::function<bool(const WorkerState&)>;

  /// The best worker for `task` among `workers`, passing over those `skip`
  /// accepts (saturated ones, say); nullptr when none qualifies.
  WorkerState* choose(const TaskState& task, const std::vector<std::unique_ptr<WorkerState>>& workers,
                      const Skip& skip = {}) const;

  /// Whether `worker` satisfies the task's name restrictions (unless told
  /// to ignore them) and resources.
  static bool eligible(const TaskState& task, const WorkerState& worker, bool honour_restrictions = true);
  /// Whether a worker the task is restricted to is among `workers`.
  static bool restricted_worker_present(const TaskState& task,
                                        const std::vector<std::unique_ptr<WorkerState>>& workers);
  /// Bytes of the task's dependencies that `worker` would have to fetch.
  static std::uint64_t bytes_to_move(const TaskState& task, const WorkerState& worker);
};

}  // namespace dtask::scheduler
