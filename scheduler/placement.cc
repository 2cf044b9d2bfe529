#include "scheduler/placement.h"

#include <algorithm>
#include <limits>

namespace dtask::scheduler {

namespace {

bool named_in_restrictions(const TaskState& task, const WorkerState& worker) {
  const auto& names = task.worker_restrictions();
  return std::find(names.begin(), names.end(), worker.name) != names.end() ||
         std::find(names.begin(), names.end(), worker.address) != names.end();
}

}  // namespace

bool Placement::eligible(const TaskState& task, const WorkerState& worker, bool honour_restrictions) {
  if (worker.retiring) return false;
  if (honour_restrictions && !task.worker_restrictions().empty() && !named_in_restrictions(task, worker)) return false;
  return worker.can_ever_run(task);
}

bool Placement::restricted_worker_present(const TaskState& task,
                                          const std::vector<std::unique_ptr<WorkerState>>& workers) {
  return std::any_of(workers.begin(), workers.end(), [&](const auto& w) {
    return !w->retiring && named_in_restrictions(task, *w);
  });
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
  // Loose restrictions lapse only when no named worker is connected at all,
  // never because the named ones are busy (skip).
  const bool honour = !task.loose_restrictions() || task.worker_restrictions().empty() ||
                      restricted_worker_present(task, workers);
  for (const auto& candidate : workers) {
    WorkerState& worker = *candidate;
    if (!eligible(task, worker, honour) || (skip && skip(worker))) continue;
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
