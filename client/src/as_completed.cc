#include "dtask/as_completed.h"

#include <string>

#include "client/src/client_core.h"
#include "dtask/client.h"

namespace dtask {

CompletionOrder::CompletionOrder(Client& client, const std::vector<FutureBase>& futures)
    : queue_(std::make_shared<internal::CompletionQueue>()) {
  queue_->signal = client.core_->signal();
  queue_->core = client.core_;
  queue_->remaining = futures.size();
  // One pass under the lock: each future is queued now if done, else it
  // queues itself when its status arrives (FutureState::finish_locked).
  std::lock_guard lock(queue_->signal->mutex);
  for (std::size_t i = 0; i < futures.size(); ++i) {
    internal::FutureState* state = futures[i].state_.get();
    // Empty, done, or another client's (whose signal this never hears):
    // ready now, so that nothing waits on it forever; its own wait says why.
    if (state == nullptr || state->done || state->signal != queue_->signal) {
      queue_->finished.push_back(i);
    } else {
      state->watchers.emplace_back(queue_, i);
    }
  }
}

CompletionOrder::~CompletionOrder() = default;
CompletionOrder::CompletionOrder(CompletionOrder&&) noexcept = default;
CompletionOrder& CompletionOrder::operator=(CompletionOrder&&) noexcept = default;

std::size_t CompletionOrder::remaining() const {
  if (!queue_) return 0;
  std::lock_guard lock(queue_->signal->mutex);
  return queue_->remaining;
}

Result<std::size_t> CompletionOrder::next() {
  auto core = queue_ ? queue_->core.lock() : nullptr;
  // Without its client every future has finished (closing fails the rest).
  return next(core ? core->result_timeout() : std::chrono::milliseconds(0));
}

Result<std::size_t> CompletionOrder::next(std::chrono::milliseconds timeout) {
  if (!queue_) return Status::invalid("as_completed: moved from");
  const internal::Deadline deadline = internal::Deadline::in(timeout);
  std::unique_lock lock(queue_->signal->mutex);
  if (queue_->remaining == 0) return Status::invalid("as_completed: every future was already taken");
  if (!queue_->signal->changed.wait_until(lock, deadline.at, [&] { return !queue_->finished.empty(); })) {
    return Status::timed_out("as_completed: none of the " + std::to_string(queue_->remaining) +
                             " futures left finished within " + deadline.describe());
  }
  std::size_t index = queue_->finished.front();
  queue_->finished.pop_front();
  --queue_->remaining;
  return index;
}

}  // namespace dtask
