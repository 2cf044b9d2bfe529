#include "scheduler/task_state.h"

#include <algorithm>

namespace dtask::scheduler {

const char* task_status_name(TaskStatus status) {
  switch (status) {
    case TaskStatus::kReleased: return "released";
    case TaskStatus::kWaiting: return "waiting";
    case TaskStatus::kNoWorker: return "no-worker";
    case TaskStatus::kQueued: return "queued";
    case TaskStatus::kProcessing: return "processing";
    case TaskStatus::kMemory: return "memory";
    case TaskStatus::kErred: return "erred";
    case TaskStatus::kForgotten: return "forgotten";
  }
  return "unknown";
}

bool TaskState::held_by(const WorkerState* worker) const {
  return std::find(who_has.begin(), who_has.end(), worker) != who_has.end();
}

double WorkerState::resource_total(const std::string& resource) const {
  for (const auto& [name, amount] : resources) {
    if (name == resource) return amount;
  }
  return 0;
}

bool WorkerState::can_ever_run(const TaskState& task) const {
  for (const auto& [name, amount] : task.resources) {
    if (resource_total(name) < amount) return false;
  }
  return true;
}

}  // namespace dtask::scheduler
