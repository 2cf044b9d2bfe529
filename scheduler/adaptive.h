// Adaptive scaling's arithmetic, Dask's rule (Scheduler.adaptive_target and
// workers_to_close): how many workers the current work wants, and which
// workers can go when it wants fewer. The scheduler measures the load on its
// strand (measure_adaptive_load, into every dashboard snapshot); the
// dashboard's GET /api/v1/adaptive_target turns it into a target, and
// POST /api/v1/retire_workers {"n": k} picks the k workers to close on the
// strand, from the live state. dtask-adapt (adapt/) polls the one and calls
// the other; it owns the cooldowns, this file owns none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/graph_state.h"

namespace dtask::scheduler {

struct AdaptiveConfig {
  /// Seconds of work each thread should have (Dask's distributed.adaptive.target-duration).
  double target_duration = 5.0;
  /// Assumed for ops with no measured duration yet (Dask's unknown-task-duration).
  double unknown_task_duration = 0.5;
  /// Above this share of the workers' memory limits in results, ask for twice the workers.
  double memory_fraction = 0.6;
  /// Queued and no-worker tasks whose durations are summed; the rest are
  /// counted at these tasks' mean (Dask samples 100 too).
  std::size_t duration_sample = 100;
};

/// One worker as scaling sees it.
struct WorkerLoad {
  std::string name;
  std::string address;
  std::uint32_t nthreads = 1;
  std::size_t processing = 0;     // tasks sent to it and not finished
  std::uint64_t nbytes = 0;       // results it holds (in memory or spilled)
  std::uint64_t memory_limit = 0; // 0: unlimited
  bool retiring = false;
};

/// The scheduler's load, measured on the strand.
struct AdaptiveLoad {
  /// Estimated seconds of work: processing on workers, plus queued and no-worker tasks.
  double occupancy = 0;
  /// Tasks that could run now: queued, no-worker and processing.
  std::size_t ready_tasks = 0;
  std::size_t no_worker_tasks = 0;
  std::vector<WorkerLoad> workers;
};

struct AdaptiveTarget {
  std::size_t workers = 0;  // connected and not retiring
  std::size_t target = 0;   // workers wanted
  /// Threads the work wants: occupancy over target_duration, at most one per ready task.
  std::size_t threads = 0;
  bool memory_pressure = false;
  /// When target < workers: which to close (idle ones, fewest bytes first).
  std::vector<WorkerLoad> to_close;
};

std::vector<WorkerLoad> worker_loads(const GraphState& graph);
AdaptiveLoad measure_adaptive_load(const GraphState& graph, const AdaptiveConfig& config);

/// The target for `load`. Threads become workers at `threads_per_worker`
/// (0: the mean of the connected workers, or 1 with none connected).
AdaptiveTarget adaptive_target(const AdaptiveLoad& load, const AdaptiveConfig& config,
                               std::uint32_t threads_per_worker = 0);

/// Up to `n` workers that can be closed without losing work or running out
/// of memory: idle (nothing processing), not retiring already, fewest result
/// bytes first, and only while the workers that stay have the free memory
/// to take the results of those that go.
std::vector<WorkerLoad> workers_to_close(const std::vector<WorkerLoad>& workers, std::size_t n);

}  // namespace dtask::scheduler
