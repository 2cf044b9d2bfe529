#include "worker/executor.h"

#include <algorithm>

#include "common/logging.h"

namespace dtask::worker {

Executor::Executor(unsigned nthreads, const OpRegistry& registry, DataStore& store, Completion on_done)
    : registry_(registry), store_(store), on_done_(std::move(on_done)) {
  for (unsigned i = 0; i < std::max(nthreads, 1u); ++i) threads_.emplace_back([this, i] { run_thread(i); });
}

Executor::~Executor() { stop(); }

void Executor::submit(ReadyTask task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void Executor::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

unsigned Executor::executing() const {
  std::lock_guard lock(mutex_);
  return executing_;
}

void Executor::run_thread(std::uint32_t index) {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    ReadyTask task = std::move(queue_.front());
    queue_.pop_front();
    ++executing_;
    lock.unlock();

    TaskOutcome outcome = *execute(task, index, Disk::kMayBlock);  // kMayBlock reads spilled inputs back
    on_done_(std::move(outcome));

    lock.lock();
    --executing_;
  }
}

std::optional<TaskOutcome> Executor::run_here(ReadyTask& task) {
  std::optional<TaskOutcome> outcome = execute(task, 0, Disk::kNever);
  if (outcome) outcome->on_io_thread = true;
  return outcome;
}

Status Executor::resolve(Value& value, Disk disk, bool* spilled) const {
  if (value.is<TaskRef>()) {
    const std::string& key = value.get<TaskRef>().key;
    auto data = disk == Disk::kNever ? store_.get_in_memory(key, spilled) : store_.get(key);
    if (*spilled) return Status::success();
    if (!data) return Status::not_found("dependency " + key + " is not on this worker");
    value = std::move(*data);
  } else if (value.is<ValueList>()) {
    for (Value& item : std::get<ValueList>(value.variant())) {
      DTASK_RETURN_NOT_OK(resolve(item, disk, spilled));
      if (*spilled) return Status::success();
    }
  }
  return Status::success();
}

std::optional<TaskOutcome> Executor::execute(ReadyTask& task, std::uint32_t thread, Disk disk) {
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
  bool spilled = false;
  for (Value& arg : task.args) {
    Status status = resolve(arg, disk, &spilled);
    if (spilled) return std::nullopt;  // Disk::kNever only
    if (!status.ok()) return fail(status.message());
  }
  // The execution boundary: nothing an op throws gets past here.
  try {
    Value result = (*op)(task.args);
    outcome.nbytes = result.nbytes();
    outcome.type_name = result.type_name();
    if (task.inline_result && outcome.nbytes <= msg::kInlineResultBytes) outcome.value = result;
    store_.put(task.key, std::move(result), disk == Disk::kNever ? SpillOnPut::kLater : SpillOnPut::kHere);
  } catch (const std::exception& e) {
    return fail(e.what());
  } catch (...) {
    return fail("op threw a non-standard exception");
  }
  outcome.stop_time = wall_clock_seconds();
  return outcome;
}

}  // namespace dtask::worker
