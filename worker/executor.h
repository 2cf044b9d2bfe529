// The worker's thread pool: runs ready tasks highest priority first, holding
// back tasks whose resources (GPU=1, ...) are in use, and catches everything
// an op throws so that it becomes a task error, never a dead worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/messages.h"
#include "dtask/value.h"
#include "worker/data_store.h"
#include "worker/op_registry.h"

namespace dtask::worker {

struct ReadyTask {
  std::string key;
  std::string op;
  std::vector<Value> args;  // may hold TaskRefs; resolved from the store when run
  Priority priority;
  ResourceList resources;
};

struct TaskOutcome {
  std::string key;
  std::string op;
  bool ok = true;
  std::uint64_t nbytes = 0;
  std::string type_name;
  std::string error;
  double start_time = 0;
  double stop_time = 0;
  std::uint32_t thread = 0;  // index of the executor thread that ran it
};

class Executor {
 public:
  /// Runs on an executor thread after the result is in the store.
  using Completion = std::function<void(TaskOutcome)>;

  /// `registry` and `store` must outlive the executor.
  Executor(unsigned nthreads, const OpRegistry& registry, DataStore& store, ResourceList resources,
           Completion on_done);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  /// Thread-safe.
  void submit(ReadyTask task);
  /// Drops a task that has not started. Thread-safe.
  bool cancel(const std::string& key);
  /// Drops every task that has not started; returns their keys. Thread-safe.
  std::vector<std::string> cancel_queued();
  /// Finishes running tasks, drops queued ones, joins the threads. Idempotent.
  void stop();
  /// While paused no queued task starts; running ones finish. The worker
  /// pauses when its process memory is above the pause threshold. Thread-safe.
  void set_paused(bool paused);
  bool paused() const;
  unsigned executing() const;
  std::size_t queued() const;

 private:
  // Ordered so that begin() runs first; the sequence number breaks ties FIFO.
  using QueueKey = std::tuple<std::int32_t, std::uint64_t, std::uint64_t, std::uint64_t>;
  void run_thread(std::uint32_t index);
  bool resources_free(const ResourceList& wanted) const;
  void take_resources(const ResourceList& wanted, double sign);
  TaskOutcome execute(ReadyTask& task, std::uint32_t thread);
  Status resolve(Value& value) const;

  const OpRegistry& registry_;
  DataStore& store_;
  ResourceList available_;
  Completion on_done_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<QueueKey, ReadyTask> queue_;
  std::unordered_map<std::string, QueueKey> queued_keys_;
  std::uint64_t sequence_ = 0;
  unsigned executing_ = 0;
  bool stopping_ = false;
  bool paused_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dtask::worker
