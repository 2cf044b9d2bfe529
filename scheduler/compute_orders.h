// What a worker is told to run: the tasks GraphState assigned it in one
// event (Outbox::compute), read straight from their TaskStates when the
// server encodes the ComputeTaskBatch. Copying a task into a msg::ComputeTask
// first cost as much memory again as the encoded frame: for a sum over a
// million inputs, that copy was the scheduler's peak.
#pragma once

#include <vector>

#include "common/message_codec.h"
#include "common/messages.h"
#include "scheduler/task_state.h"

namespace dtask::scheduler {

/// Tasks assigned to one worker, in the order they were assigned. Each is
/// processing on that worker until the batch is encoded (GraphState::take_outbox
/// drops any taken back since the last take_outbox).
struct ComputeOrders {
  std::vector<TaskState*> tasks;
};

/// The ComputeTaskBatch of `orders`, as common/message_codec.h encodes it.
class ComputeOrderSource final : public ComputeTaskSource {
 public:
  explicit ComputeOrderSource(const ComputeOrders& orders) : tasks_(orders.tasks) {}
  std::size_t size() const override { return tasks_.size(); }
  Task task(std::size_t i) const override;
  Dependency dependency(std::size_t i, std::size_t j) const override;
  const std::string& dependency_key(std::size_t i, std::size_t j) const override {
    return tasks_[i]->dependencies[j]->key;
  }
  const std::string& holder(std::size_t i, std::size_t j, std::size_t k) const override;

 private:
  const std::vector<TaskState*>& tasks_;
};

/// The ComputeTaskBatch a worker decodes for `orders` (tests read orders this way).
msg::ComputeTaskBatch compute_batch(const ComputeOrders& orders);

}  // namespace dtask::scheduler
