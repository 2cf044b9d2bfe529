// dtask-worker --nanny: a small supervisor process that runs the real worker
// as its child and starts a new one when the child dies (a crash, a kill -9,
// the kernel's OOM killer) or when its memory passes the terminate threshold
// (95% of --memory-limit, Dask's default), so one bad task or leak does not
// take the worker away for good. The scheduler sees an ordinary worker
// disconnect and reconnect; lost results are recomputed from their lineage.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dtask::worker {

struct NannyOptions {
  /// The child's command line: the worker binary and its arguments (without --nanny).
  std::vector<std::string> child_argv;
  /// 0: no memory check.
  std::uint64_t memory_limit = 0;
  /// The child is killed (and restarted) above this fraction of memory_limit.
  double terminate_fraction = 0.95;
  /// How often the child's liveness and RSS are checked.
  std::chrono::milliseconds poll_interval{100};
  /// The wait before a restart: first_backoff, doubling up to max_backoff
  /// while the child keeps dying within stable_after of its start.
  std::chrono::milliseconds first_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
  std::chrono::seconds stable_after{30};
};

/// Runs the supervision loop until SIGTERM or SIGINT, which it forwards to
/// the child before exiting. Returns the process exit code: 0 after a
/// requested stop, 1 if a child could not be started at all.
int run_nanny(const NannyOptions& options, const std::shared_ptr<spdlog::logger>& logger);

}  // namespace dtask::worker
