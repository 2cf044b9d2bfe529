// The scheduler file, as Dask's: `dtask-scheduler --scheduler-file PATH`
// writes its address there once it listens, and `dtask-worker
// --scheduler-file PATH` (started anywhere that sees the same shared file
// system, e.g. by another Slurm job step) waits for the file and connects.
// JSON: {"type": "Scheduler", "address": "tcp://host:8786",
// "dashboard": "http://host:8787/", "pid": 1234}.
#pragma once

#include <chrono>
#include <string>

#include "dtask/status.h"

namespace dtask {

/// Writes the file atomically (a temporary file in the same folder, then a
/// rename), so a reader never sees half of it.
Status write_scheduler_file(const std::string& path, const std::string& address, const std::string& dashboard);

/// The scheduler's address from the file, waiting up to `timeout` for it to
/// appear and be complete. A malformed file is an error naming it.
Result<std::string> read_scheduler_file(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace dtask
