// CPU time of the calling thread, for counters that say what work costs
// (common/message_codec.h's CodecCounters, the scheduler's transition time).
// Wall time would also count the time the thread sat descheduled on a busy
// machine.
#pragma once

#include <cstdint>

#include <time.h>

namespace dtask {

inline std::uint64_t thread_cpu_nanoseconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace dtask
