#include "worker/executor.h"

#include "common/logging.h"

namespace dtask::worker {

Executor::Executor(unsigned nthreads, const OpRegistry& registry, DataStore& store, ResourceList resources,
                   Completion on_done)
    : registry_(registry), store_(store), available_(std::move(resources)), on_done_(std::move(on_done)) {
  for (unsigned i = 0; i < std::max(nthreads, 1u); ++i) threads_.emplace_back([this, i] { run_thread(i); });
}

Executor::~Executor() { stop(); }

void Executor::submit(ReadyTask task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    // Higher user priority first: negate it so the map's ascending order works.
    QueueKey key{-task.priority.user, task.priority.generation, task.priority.order, sequence_++};
    queued_keys_[task.key] = key;
    queue_.emplace(key, std::move(task));
  }
  wake_.notify_one();
}

bool Executor::cancel(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = queued_keys_.find(key);
  if (it == queued_keys_.end()) return false;
  queue_.erase(it->second);
  queued_keys_.erase(it);
  return true;
}

std::vector<std::string> Executor::cancel_queued() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  keys.reserve(queued_keys_.size());
  for (const auto& [key, position] : queued_keys_) keys.push_back(key);
  queue_.clear();
  queued_keys_.clear();
  return keys;
}

void Executor::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    queue_.clear();
    queued_keys_.clear();
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void Executor::set_paused(bool paused) {
  {
    std::lock_guard lock(mutex_);
    if (paused_ == paused) return;
    paused_ = paused;
  }
  if (!paused) wake_.notify_all();
}

bool Executor::paused() const {
  std::lock_guard lock(mutex_);
  return paused_;
}

unsigned Executor::executing() const {
  std::lock_guard lock(mutex_);
  return executing_;
}

std::size_t Executor::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool Executor::resources_free(const ResourceList& wanted) const {
  for (const auto& [name, amount] : wanted) {
    double free = 0;
    for (const auto& [have, left] : available_) {
      if (have == name) free = left;
    }
    if (free < amount) return false;
  }
  return true;
}

void Executor::take_resources(const ResourceList& wanted, double sign) {
  for (const auto& [name, amount] : wanted) {
    for (auto& [have, left] : available_) {
      if (have == name) left -= sign * amount;
    }
  }
}

void Executor::run_thread(std::uint32_t index) {
  std::unique_lock lock(mutex_);
  while (true) {
    // The best task whose resources are free now.
    auto next = queue_.end();
    wake_.wait(lock, [&] {
      if (stopping_) return true;
      if (paused_) return false;
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->second.resources.empty() || resources_free(it->second.resources)) {
          next = it;
          return true;
        }
      }
      return false;
    });
    if (stopping_) return;
    ReadyTask task = std::move(next->second);
    queued_keys_.erase(task.key);
    queue_.erase(next);
    take_resources(task.resources, +1);
    ++executing_;
    lock.unlock();

    TaskOutcome outcome = execute(task, index);
    on_done_(std::move(outcome));

    lock.lock();
    --executing_;
    take_resources(task.resources, -1);
    if (!task.resources.empty()) wake_.notify_all();  // a held-back task may fit now
  }
}

Status Executor::resolve(Value& value) const {
  if (value.is<TaskRef>()) {
    const std::string& key = value.get<TaskRef>().key;
    auto data = store_.get(key);
    if (!data) return Status::not_found("dependency " + key + " is not on this worker");
    value = std::move(*data);
  } else if (value.is<ValueList>()) {
    for (Value& item : std::get<ValueList>(value.variant())) DTASK_RETURN_NOT_OK(resolve(item));
  }
  return Status::success();
}

TaskOutcome Executor::execute(ReadyTask& task, std::uint32_t thread) {
  TaskOutcome outcome;
  outcome.thread = thread;
  outcome.key = task.key;
  outcome.op = task.op;
  outcome.start_time = wall_clock_seconds();
  auto fail = [&](std::string message) {
    outcome.ok = false;
    outcome.error = std::move(message);
    outcome.stop_time = wall_clock_seconds();
    return outcome;
  };
  const OpFunction* op = registry_.find(task.op);
  if (op == nullptr) return fail("unknown op '" + task.op + "': no worker op is registered under that name");
  for (Value& arg : task.args) {
    Status status = resolve(arg);
    if (!status.ok()) return fail(status.message());
  }
  // The execution boundary: nothing an op throws gets past here.
  try {
    Value result = (*op)(task.args);
    outcome.nbytes = result.nbytes();
    outcome.type_name = result.type_name();
    store_.put(task.key, std::move(result));
  } catch (const std::exception& e) {
    return fail(e.what());
  } catch (...) {
    return fail("op threw a non-standard exception");
  }
  outcome.stop_time = wall_clock_seconds();
  return outcome;
}

}  // namespace dtask::worker
