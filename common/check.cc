#include "common/check.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace dtask::internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  message_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  spdlog::critical("{}", message_.str());
  spdlog::default_logger()->flush();
  std::abort();
}

}  // namespace dtask::internal
