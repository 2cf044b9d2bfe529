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

namespace {
/// The client's ClientOptions::result_timeout; none left once it is gone
/// (closing the client finished every future).
std::chrono::milliseconds default_timeout(const internal::FutureState& state) {
  auto core = state.core.lock();
  return core ? core->result_timeout() : std::chrono::milliseconds(0);
}
}  // namespace

Status FutureBase::wait() const {
  if (!state_) return Status::invalid("waiting on an empty future");
  return wait(default_timeout(*state_));
}

Status FutureBase::wait(std::chrono::milliseconds timeout) const {
  if (!state_) return Status::invalid("waiting on an empty future");
  auto core = state_->core.lock();
  if (!core) {
    std::lock_guard lock(state_->signal->mutex);
    return state_->done ? state_->error : Status::disconnected("the client of " + state_->key + " is gone");
  }
  return core->wait_done(*state_, internal::Deadline::in(timeout));
}

Result<Value> FutureBase::value() const {
  if (!state_) return Status::invalid("value of an empty future");
  auto core = state_->core.lock();
  if (!core) return Status::disconnected("the client of " + state_->key + " is gone");
  // No deadline given: tasks get result_timeout, the fetch a request's time.
  DTASK_RETURN_NOT_OK(core->wait_done(*state_, internal::Deadline::in(core->result_timeout())));
  DTASK_ASSIGN_OR_RETURN(auto values, core->fetch({state_}, internal::Deadline::in(core->request_timeout())));
  return std::move(values.front());
}

Result<Value> FutureBase::value(std::chrono::milliseconds timeout) const {
  if (!state_) return Status::invalid("value of an empty future");
  auto core = state_->core.lock();
  if (!core) return Status::disconnected("the client of " + state_->key + " is gone");
  // One deadline for the whole call, as Dask's result(timeout=).
  const internal::Deadline deadline = internal::Deadline::in(timeout);
  DTASK_RETURN_NOT_OK(core->wait_done(*state_, deadline));
  DTASK_ASSIGN_OR_RETURN(auto values, core->fetch({state_}, deadline.capped(core->request_timeout())));
  return std::move(values.front());
}

}  // namespace dtask
