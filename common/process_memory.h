// How much memory a process holds, read from /proc (Linux). The worker's
// memory monitor reads its own resident set; tests read a daemon's peak.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace dtask {

/// Resident set size of this process in bytes (/proc/self/statm: resident
/// pages x page size); 0 when it cannot be read. Thread-safe.
std::uint64_t process_rss_bytes();
/// The same for process `pid` (/proc/<pid>/statm); 0 when it cannot be read.
std::uint64_t process_rss_bytes(pid_t pid);
/// Peak resident set size of process `pid` in bytes (VmHWM in
/// /proc/<pid>/status); 0 when it cannot be read. Thread-safe.
std::uint64_t peak_rss_bytes(pid_t pid);

}  // namespace dtask
