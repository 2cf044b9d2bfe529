#include "common/memory_trim.h"

#include <chrono>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dtask {

bool MemoryTrimmer::maybe_trim(std::uint64_t freed_total) {
  if (freed_total < freed_at_last_trim_) freed_at_last_trim_ = freed_total;  // a counter that restarted
  if (freed_total - freed_at_last_trim_ < threshold_) return false;
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
