#include "common/process_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace dtask {

namespace {

/// Reads up to `size - 1` bytes of a small /proc file into `out`, NUL-terminated.
/// Plain read(2): no stdio locks or allocation on the monitor's hot path.
bool read_small_file(const char* path, char* out, std::size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t filled = 0;
  while (filled + 1 < size) {
    ssize_t got = ::read(fd, out + filled, size - 1 - filled);
    if (got < 0) {
      ::close(fd);
      return false;
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  ::close(fd);
  out[filled] = '\0';
  return filled > 0;
}

std::uint64_t rss_from_statm(const char* path) {
  char text[256];
  if (!read_small_file(path, text, sizeof(text))) return 0;
  // "size resident shared text lib data dt", all in pages.
  char* end = nullptr;
  std::strtoull(text, &end, 10);
  if (end == text) return 0;
  char* resident_end = nullptr;
  unsigned long long resident = std::strtoull(end, &resident_end, 10);
  if (resident_end == end) return 0;
  long page = ::sysconf(_SC_PAGESIZE);
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

}  // namespace

std::uint64_t process_rss_bytes() { return rss_from_statm("/proc/self/statm"); }

std::uint64_t process_rss_bytes(pid_t pid) {
  return rss_from_statm(("/proc/" + std::to_string(pid) + "/statm").c_str());
}

std::uint64_t peak_rss_bytes(pid_t pid) {
  char text[4096];
  if (!read_small_file(("/proc/" + std::to_string(pid) + "/status").c_str(), text, sizeof(text))) return 0;
  const char* line = std::strstr(text, "VmHWM:");
  if (line == nullptr) return 0;
  // "VmHWM:\t   12345 kB"
  char* end = nullptr;
  unsigned long long kib = std::strtoull(line + 6, &end, 10);
  if (end == line + 6) return 0;
  return static_cast<std::uint64_t>(kib) * 1024;
}

}  // namespace dtask
