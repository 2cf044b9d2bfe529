// Addresses as users write them: "tcp://10.0.0.5:8786", "127.0.0.1:0".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dtask {

struct Address {
  std::string host;
  std::uint16_t port = 0;
  /// "tcp://host:port"
  std::string to_string() const;
};

/// Parses "tcp://host:port", "host:port" or "[v6]:port". Port 0 means "any".
Result<Address> parse_address(std::string_view text);

}  // namespace dtask
