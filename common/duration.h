// Durations as users write them on the command line: "55m", "2h", "90s",
// "1500ms", "90" (seconds), "1h30m".
#pragma once

#include <chrono>
#include <string_view>

#include "dtask/status.h"

namespace dtask {

/// Parses a non-negative duration: numbers each followed by h, m, s or ms
/// (summed), or one bare number of seconds. Fractions are allowed ("1.5h").
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace dtask
