#include "dtask/status.h"

#include <cstdio>
#include <cstdlib>

namespace dtask {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalid: return "Invalid";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kIOError: return "IOError";
    case StatusCode::kTimedOut: return "TimedOut";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kDisconnected: return "Disconnected";
    case StatusCode::kOutOfMemory: return "OutOfMemory";
    case StatusCode::kTaskError: return "TaskError";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(status_code_name(code_)) + ": " + message_;
}

namespace internal {

void result_misuse(const char* what, const Status& status) {
  std::fprintf(stderr, "dtask: %s (%s)\n", what, status.to_string().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace internal

}  // namespace dtask
