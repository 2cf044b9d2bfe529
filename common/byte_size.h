// Byte sizes as users write them on the command line: "2GiB", "512MB", "1e9".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dtask/status.h"

namespace dtask {

/// Parses "2GiB", "512 MiB", "4GB", "1000000", "0" (0 = no limit).
/// "auto" is this machine's memory divided by `share`.
Result<std::uint64_t> parse_byte_size(std::string_view text, unsigned share = 1);

/// "1.50 GiB"
std::string format_byte_size(std::uint64_t bytes);

/// Physical memory of this machine.
std::uint64_t total_system_memory();

}  // namespace dtask
