// A worker's own /metrics (dtask-worker --dashboard-address): what its
// heartbeat reports plus its counters, published by the worker's io thread
// at each heartbeat and rendered as Prometheus text on an HTTP thread.
#pragma once

#include <cstdint>
#include <string>

namespace dtask::worker {

struct WorkerMetrics {
  std::string name;
  std::uint32_t nthreads = 1;
  std::uint32_t executing = 0;
  std::uint32_t ready = 0;  // queued in the executor or waiting for dependencies
  std::uint64_t stored_keys = 0;
  std::uint64_t managed_bytes = 0;
  std::uint64_t spilled_bytes = 0;
  std::uint64_t spilled_keys = 0;
  std::uint64_t spills = 0;
  std::uint64_t unspills = 0;
  std::uint64_t process_memory = 0;
  std::uint64_t memory_limit = 0;
  bool paused = false;
  std::uint64_t tasks_finished = 0;  // ran to completion or failure
  std::uint64_t tasks_run_on_io_thread = 0;  // of those, run on the io thread (WorkerState::runs_on_io_thread)
  std::uint64_t transfer_bytes = 0;  // fetched from peers
  std::uint64_t transfers = 0;
};

/// The Prometheus text exposition of `metrics`.
std::string worker_metrics_text(const WorkerMetrics& metrics);

}  // namespace dtask::worker
