#include "dtask/future.h"

#include "client/src/client_core.h"

namespace dtask {

const std::string& FutureBase::key() const {
  static const std::string kEmpty;
  return state_ ? state_->key : kEmpty;
}

bool FutureBase::done() const {
  if (!state_) return false;
  std::lock_guard lock(state_->signal->mutex);
  return state_->done;
}

Status FutureBase::wait(std::chrono::milliseconds timeout) const {
  if (!state_) return Status::invalid("waiting on an empty future");
  std::unique_lock lock(state_->signal->mutex);
  if (!state_->signal->changed.wait_for(lock, timeout, [&] { return state_->done; })) {
    return Status::timed_out("task " + state_->key + " did not finish in time");
  }
  return state_->error;
}

Result<Value> FutureBase::value() const {
  DTASK_RETURN_NOT_OK(wait());
  auto core = state_->core.lock();
  if (!core) return Status::disconnected("the client of " + state_->key + " is gone");
  DTASK_ASSIGN_OR_RETURN(auto values, core->fetch({state_}));
  return std::move(values.front());
}

}  // namespace dtask
