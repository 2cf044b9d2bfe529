#include "scheduler/compute_orders.h"

namespace dtask::scheduler {

namespace {

/// A client waits for it: a small result comes back with its status.
bool wants_inline_result(const TaskState& task) { return !task.who_wants.empty(); }

}  // namespace

ComputeTaskSource::Task ComputeOrderSource::task(std::size_t i) const {
  const TaskState& t = *tasks_[i];
  return {t.key, t.op(), t.args, t.priority, t.resources(), t.dependencies.size(), wants_inline_result(t)};
}

ComputeTaskSource::Dependency ComputeOrderSource::dependency(std::size_t i, std::size_t j) const {
  const TaskState& dep = *tasks_[i]->dependencies[j];
  return {dep.key, dep.nbytes, dep.who_has.size()};
}

const std::string& ComputeOrderSource::holder(std::size_t i, std::size_t j, std::size_t k) const {
  return tasks_[i]->dependencies[j]->who_has[k]->address;
}

msg::ComputeTask compute_message(const TaskState& task) {
  msg::ComputeTask compute{task.key, task.op(), task.args, task.priority, task.resources(), {}, wants_inline_result(task)};
  compute.dependencies.reserve(task.dependencies.size());
  for (const TaskState* dep : task.dependencies) {
    msg::DependencyLocation location{dep->key, {}, dep->nbytes};
    for (const WorkerState* holder : dep->who_has) location.who_has.push_back(holder->address);
    compute.dependencies.push_back(std::move(location));
  }
  return compute;
}

}  // namespace dtask::scheduler
