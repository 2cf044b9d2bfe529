// Loggers are made by each main() and passed to the components it builds.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "dtask/status.h"

namespace spdlog {
class logger;
}

namespace dtask {

/// A logger named `name` writing to stderr at `level` ("trace", "debug",
/// "info", "warn", "error", "critical", "off").
Result<std::shared_ptr<spdlog::logger>> make_logger(const std::string& name, std::string_view level);

/// Seconds since the epoch, for task timings that cross machines.
double wall_clock_seconds();
/// Seconds on the monotonic clock, for timeouts and liveness: unlike the
/// wall clock it never jumps (NTP, a suspended VM, an operator's date -s).
double steady_seconds();

}  // namespace dtask
