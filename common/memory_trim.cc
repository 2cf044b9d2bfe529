#include "common/memory_trim.h"

#include <chrono>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dtask {

bool MemoryTrimmer::maybe_trim(std::uint64_t freed_total) {
  if (freed_total < freed_at_last_trim_) freed_at_last_trim_ = freed_total;  // a counter that restarted
  std::uint64_t churn = freed_total - freed_at_last_trim_;
  // Nothing freed since the last call: the work is done, so whatever it
  // freed since the last trim goes back now rather than after the next graph.
  bool quiet = freed_total == freed_at_last_call_;
  freed_at_last_call_ = freed_total;
  // A trim while busy leaves one more for when the burst is over: the
  // frames and queues that carried it are freed after the objects counted
  // (a scheduler kept ~90 MiB after a 1M-task graph without it).
  const bool after_busy_trim = quiet && std::exchange(trim_when_quiet_, false);
  if (!after_busy_trim && (churn == 0 || (churn < threshold_ && !quiet))) return false;
  if (!quiet) trim_when_quiet_ = true;
  freed_at_last_trim_ = freed_total;
#if defined(__GLIBC__)
  auto start = std::chrono::steady_clock::now();
  malloc_trim(0);
  last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
#else
  return false;  // other allocators return memory on their own
#endif
}

}  // namespace dtask
