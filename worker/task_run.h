// What one run of a task on an executor thread takes and gives back. Shared
// by the worker's state machine (which decides when a task runs) and the
// Executor (which runs it), so that neither needs the other's header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "dtask/resources.h"
#include "dtask/value.h"

namespace dtask::worker {

struct ReadyTask {
  std::string key;
  std::string op;
  std::vector<Value> args;  // may hold TaskRefs; resolved from the store when run
  Priority priority;
  ResourceList resources;
  /// Send a small result back in the report (msg::ComputeTask::inline_result).
  bool inline_result = false;
  /// Run on the worker's io thread, not handed to an executor thread
  /// (WorkerState::runs_on_io_thread: a lone task of a measured tiny op).
  bool on_io_thread = false;
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
  /// A copy of the result, when inline_result was asked and it is small.
  std::optional<Value> value;
  bool on_io_thread = false;  // it ran on the io thread (ReadyTask::on_io_thread)
};

}  // namespace dtask::worker
