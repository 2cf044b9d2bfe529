#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace dtask::internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  message_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  // To stderr, where the daemons log: spdlog's default logger writes to
  // stdout, which scripts and tests read for addresses and then ignore.
  std::fprintf(stderr, "critical: %s\n", message_.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace dtask::internal
