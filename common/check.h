// DTASK_CHECK: broken invariants are bugs; log why and abort. Never use it
// for bad input or network failures (those are Status).
#pragma once

#include <sstream>

namespace dtask::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return message_; }

 private:
  std::ostringstream message_;
};

}  // namespace dtask::internal

/// `DTASK_CHECK(task->state == kMemory) << "key " << key;`
#define DTASK_CHECK(cond) \
  if (cond) {             \
  } else                  \
    ::dtask::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()
