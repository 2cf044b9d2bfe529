// The worker's thread pool: runs the tasks it is handed, in the order
// given, and catches everything an op throws so that it becomes a task
// error, never a dead worker. Which task runs when (priority, resources,
// pause) is decided by the worker's state machine (worker_state.h), which
// hands over at most as many tasks as there are threads, plus a few queued
// behind each while tasks are short (WorkerState::run_slots).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "worker/data_store.h"
#include "worker/op_registry.h"
#include "worker/task_run.h"

namespace dtask::worker {

class Executor {
 public:
  /// Runs on an executor thread after the result is in the store.
  using Completion = std::function<void(TaskOutcome)>;

  /// `registry` and `store` must outlive the executor.
  Executor(unsigned nthreads, const OpRegistry& registry, DataStore& store, Completion on_done);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  /// Runs `task` on the next free thread. Thread-safe.
  void submit(ReadyTask task);
  /// Finishes running tasks, drops queued ones, joins the threads. Idempotent.
  void stop();
  /// Tasks running now. Thread-safe.
  unsigned executing() const;
  /// Runs `task` on the calling thread (the worker's io thread,
  /// ReadyTask::on_io_thread) without touching the disk: its result is put
  /// with SpillOnPut::kLater (the caller spills elsewhere), and an input
  /// that is spilled answers nullopt, leaving `task` to be submitted.
  std::optional<TaskOutcome> run_here(ReadyTask& task);

 private:
  /// How inputs are read and results put: an executor thread may block on
  /// the disk, the io thread may not.
  enum class Disk : std::uint8_t { kMayBlock, kNever };
  void run_thread(std::uint32_t index);
  /// nullopt only with Disk::kNever, when an input is spilled.
  std::optional<TaskOutcome> execute(ReadyTask& task, std::uint32_t thread, Disk disk);
  /// Replaces the TaskRefs in `value` by their values. With Disk::kNever, a
  /// spilled one sets *spilled and stops.
  Status resolve(Value& value, Disk disk, bool* spilled) const;

  const OpRegistry& registry_;
  DataStore& store_;
  Completion on_done_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<ReadyTask> queue_;
  unsigned executing_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dtask::worker
