// Progress of a set of futures on the terminal, as dask.distributed's
// progress() shows it: a bar with tasks done / total, the rate and the time
// left, redrawn in place on a TTY; plain periodic lines otherwise (CI logs,
// files), so that a log is not flooded with carriage returns.
//
//   auto futures = client.compute(graphs);
//   dtask::progress(futures);                 // blocks until all are done
//   std::cout << client.dashboard_link();     // the same, live, in a browser
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "dtask/status.h"
#include "dtask/future.h"

namespace dtask {

struct ProgressOptions {
  /// Where to draw. Not owned.
  std::FILE* out = stderr;
  /// Redraw in place (true) or print lines (false); unset: whether `out` is a terminal.
  std::optional<bool> tty;
  /// How often the bar is redrawn on a terminal.
  std::chrono::milliseconds tty_interval{100};
  /// How often a line is printed otherwise (the first and last are always printed).
  std::chrono::milliseconds line_interval{5000};
  /// Characters in the bar.
  int width = 40;
  /// Printed before the bar, e.g. the name of the computation.
  std::string label;
};

/// One moment of progress, as drawn.
struct ProgressCounts {
  std::size_t done = 0;  // finished, failed ones included
  std::size_t failed = 0;
  std::size_t total = 0;
  double elapsed_seconds = 0;
};

/// "[#######.......]  45% 450/1000 | 1.2k tasks/s | ETA 0:05" (tty) or
/// "450/1000 tasks done (45%), 1.2k tasks/s, ETA 0:05" (plain). Thread-safe.
std::string format_progress(const ProgressCounts& counts, bool tty, int width = 40);

/// Blocks until every future is done, drawing progress to `options.out`.
/// Returns OK, or the first failure in `futures` order (as Client::wait does).
/// Thread-safe (it only reads the futures).
Status progress(const std::vector<FutureBase>& futures, const ProgressOptions& options = {});

template <typename T>
Status progress(const std::vector<Future<T>>& futures, const ProgressOptions& options = {}) {
  return progress(std::vector<FutureBase>(futures.begin(), futures.end()), options);
}

}  // namespace dtask
