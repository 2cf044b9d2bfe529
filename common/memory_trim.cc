#include "common/memory_trim.h"

#include <chrono>

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
  if (churn == 0 || (churn < threshold_ && !quiet)) return false;
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
