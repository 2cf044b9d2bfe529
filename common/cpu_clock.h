// CPU time of the calling thread, for counters that say what work costs
// (common/message_codec.h's CodecCounters, the scheduler's transition time).
// Wall time would also count the time the thread sat descheduled on a busy
// machine.
#pragma once

#include <chrono>
#include <cstdint>

#include <time.h>

namespace dtask {

/// A system call (about 0.9 us on the 2-core VM): see TimedSection.
inline std::uint64_t thread_cpu_nanoseconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u + static_cast<std::uint64_t>(now.tv_nsec);
}

/// Read in user space (vDSO, about 30 ns).
inline std::uint64_t steady_nanoseconds() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

/// What a thread last saw of one kind of section (an encode, a decode, an
/// event's transitions). Keep one per kind and thread.
struct SectionHistory {
  bool last_was_long = true;  // the first section of a kind reads the CPU clock
};

/// Times one section, in CPU time where that is worth its cost. Reading the
/// CPU clock twice per section cost the scheduler about 10 us of a 180 us
/// `submit().result()` round trip (a dozen sections). So a section after a
/// short one of its kind is timed by the steady clock, which for a section
/// of a few microseconds is its CPU time unless the thread is preempted
/// inside it; a section after a long one (kLongSection or more: a batch of
/// a big graph) reads the CPU clock.
class TimedSection {
 public:
  static constexpr std::uint64_t kLongSectionNs = 20000;

  explicit TimedSection(SectionHistory& history)
      : history_(history),
        steady_start_(steady_nanoseconds()),
        cpu_start_(history.last_was_long ? thread_cpu_nanoseconds() : 0) {}

  /// Nanoseconds since construction: CPU time if the CPU clock was read.
  std::uint64_t elapsed_ns() {
    const std::uint64_t steady = steady_nanoseconds() - steady_start_;
    history_.last_was_long = steady >= kLongSectionNs;
    return cpu_start_ != 0 ? thread_cpu_nanoseconds() - cpu_start_ : steady;
  }

 private:
  SectionHistory& history_;
  std::uint64_t steady_start_;
  std::uint64_t cpu_start_;
};

}  // namespace dtask
