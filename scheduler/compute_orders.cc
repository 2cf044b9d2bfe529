#include "scheduler/compute_orders.h"

namespace dtask::scheduler {

namespace {

/// A client waits for it: a small result comes back with its status.
bool wants_inline_result(const TaskState& task) { return !task.who_wants.empty(); }

/// How many of `dep`'s holders go with `task`: none when `task`'s own
/// worker holds it (it reads its copy, and a sum over a million inputs
/// sends half a million fewer addresses), else all of them.
std::size_t holders_sent(const TaskState& task, const TaskState& dep) {
  return dep.held_by(task.processing_on) ? 0 : dep.who_has.size();
}

}  // namespace

ComputeTaskSource::Task ComputeOrderSource::task(std::size_t i) const {
  const TaskState& t = *tasks_[i];
  return {t.key, t.op(), t.args, t.priority, t.resources(), t.dependencies.size(), wants_inline_result(t)};
}

ComputeTaskSource::Dependency ComputeOrderSource::dependency(std::size_t i, std::size_t j) const {
  const TaskState& task = *tasks_[i];
  const TaskState& dep = *task.dependencies[j];
  return {dep.key, dep.nbytes, holders_sent(task, dep)};
}

const std::string& ComputeOrderSource::holder(std::size_t i, std::size_t j, std::size_t k) const {
  return tasks_[i]->dependencies[j]->who_has[k]->address;
}

msg::ComputeTaskBatch compute_batch(const ComputeOrders& orders) {
  msg::ComputeTaskBatch batch;
  for (const TaskState* task : orders.tasks) {
    msg::ComputeTask compute{task->key,        task->op(), task->args, task->priority, task->resources(), {},
                             wants_inline_result(*task)};
    compute.dependencies.reserve(task->dependencies.size());
    for (const TaskState* dep : task->dependencies) {
      msg::DependencyLocation location{dep->key, {}, dep->nbytes};
      const std::size_t holders = holders_sent(*task, *dep);
      for (std::size_t k = 0; k < holders; ++k) location.who_has.push_back(batch.holder_index(dep->who_has[k]->address));
      compute.dependencies.push_back(std::move(location));
    }
    batch.tasks.push_back(std::move(compute));
  }
  return batch;
}

}  // namespace dtask::scheduler
