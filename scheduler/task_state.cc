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
    case TaskStatus::kStealing: return "stealing";
  }
  return "unknown";
}

namespace {
const TaskRare kNoRare;
}  // namespace

TaskRare& TaskState::rare() {
  if (rare_ == nullptr) rare_ = std::make_unique<TaskRare>();
  return *rare_;
}
const ResourceList& TaskState::resources() const { return (rare_ ? *rare_ : kNoRare).resources; }
const std::vector<std::string>& TaskState::worker_restrictions() const {
  return (rare_ ? *rare_ : kNoRare).worker_restrictions;
}
const std::string& TaskState::exception_blame_key() const { return (rare_ ? *rare_ : kNoRare).exception_blame_key; }
const std::string& TaskState::error_op() const { return (rare_ ? *rare_ : kNoRare).error_op; }
const std::string& TaskState::error_message() const { return (rare_ ? *rare_ : kNoRare).error_message; }

void TaskState::clear_error() {
  if (rare_ == nullptr) return;
  rare_->exception_blame_key.clear();
  rare_->error_op.clear();
  rare_->error_message.clear();
  if (rare_->resources.empty() && rare_->worker_restrictions.empty() && !rare_->loose_restrictions) rare_.reset();
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
  for (const auto& [name, amount] : task.resources()) {
    if (resource_total(name) < amount) return false;
  }
  return true;
}

}  // namespace dtask::scheduler
