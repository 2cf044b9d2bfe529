#include "scheduler/placement.h"

#include <algorithm>
#include <limits>

namespace dtask::scheduler {

bool Placement::eligible(const TaskState& task, const WorkerState& worker) {
  if (worker.retiring) return false;
  if (!task.worker_restrictions.empty() &&
      std::find(task.worker_restrictions.begin(), task.worker_restrictions.end(), worker.name) ==
          task.worker_restrictions.end() &&
      std::find(task.worker_restrictions.begin(), task.worker_restrictions.end(), worker.address) ==
          task.worker_restrictions.end()) {
    return false;
  }
  return worker.can_ever_run(task);
}

std::uint64_t Placement::bytes_to_move(const TaskState& task, const WorkerState& worker) {
  std::uint64_t bytes = 0;
  for (const TaskState* dep : task.dependencies) {
    if (!dep->held_by(&worker)) bytes += dep->nbytes;
  }
  return bytes;
}

WorkerState* Placement::choose(const TaskState& task, const std::vector<std::unique_ptr<WorkerState>>& workers,
                               const Skip& skip) const {
  WorkerState* best = nullptr;
  bool best_paused = true;
  std::uint64_t best_bytes = std::numeric_limits<std::uint64_t>::max();
  double best_load = std::numeric_limits<double>::infinity();
  for (const auto& candidate : workers) {
    WorkerState& worker = *candidate;
    if (!eligible(task, worker) || (skip && skip(worker))) continue;
    // A paused worker (memory above its pause threshold) starts nothing until
    // memory falls: any running worker beats it, whatever the bytes to move.
    bool paused = worker.last_heartbeat.paused;
    std::uint64_t bytes = task.dependencies.empty() ? 0 : bytes_to_move(task, worker);
    double load = worker.occupancy / std::max<std::uint32_t>(worker.nthreads, 1);
    bool better = false;
    if (best == nullptr) {
      better = true;
    } else if (paused != best_paused) {
      better = !paused;
    } else {
      better = bytes < best_bytes || (bytes == best_bytes && load < best_load);
    }
    if (better) {
      best = &worker;
      best_paused = paused;
      best_bytes = bytes;
      best_load = load;
    }
  }
  return best;
}

}  // namespace dtask::scheduler
