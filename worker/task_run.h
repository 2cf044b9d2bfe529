// What one run of a task on an executor thread takes and gives back. Shared
// by the worker's state machine (which decides when a task runs) and the
// Executor (which runs it), so that neither needs the other's header.
#pragma once

#include <cstdint>
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

}  // namespace dtask::worker
