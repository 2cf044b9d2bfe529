// Gives memory that glibc's malloc keeps after large frees back to the
// operating system. glibc returns freed memory only from the top of its heap,
// so after a million small objects are freed RSS stays where it peaked
// (measured in docs/benchmarks.md, "Scheduler at scale": 1.5 GiB kept by a
// scheduler that had forgotten every task; malloc_trim(0) took it to 25 MiB).
// A daemon's periodic timer calls maybe_trim() with a running count of the
// objects it has freed; after enough churn it calls malloc_trim(0).
#pragma once

#include <cstdint>

namespace dtask {

class MemoryTrimmer {
 public:
  /// Trim once at least `churn_threshold` objects were freed since the last trim.
  explicit MemoryTrimmer(std::uint64_t churn_threshold = 10000) : threshold_(churn_threshold) {}

  /// `freed_total`: objects freed so far (a running total). Trims after
  /// `churn_threshold` frees, or after any once a call finds nothing more
  /// freed (the burst is over), and once more when a burst it trimmed during
  /// is over. Returns true when it trimmed. Not thread-safe: call it from
  /// one timer.
  bool maybe_trim(std::uint64_t freed_total);

  /// Seconds the last trim took (for a debug log line).
  double last_trim_seconds() const { return last_seconds_; }

 private:
  std::uint64_t threshold_;
  std::uint64_t freed_at_last_trim_ = 0;
  std::uint64_t freed_at_last_call_ = 0;
  bool trim_when_quiet_ = false;  // the last trim was during a burst
  double last_seconds_ = 0;
};

}  // namespace dtask
