// Addresses as users write them: "tcp://10.0.0.5:8786", "tls://10.0.0.5:8786",
// "127.0.0.1:0".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dtask/status.h"

namespace dtask {

/// How an address asks to be reached. A bare "host:port" follows the
/// process's settings (TLS when it has TLS options); an explicit scheme must
/// agree with them, or connecting fails with a clear error.
enum class Transport : unsigned char { kAny, kTcp, kTls };

struct Address {
  std::string host;
  std::uint16_t port = 0;
  Transport transport = Transport::kAny;
  /// "tls://host:port" for kTls, else "tcp://host:port".
  std::string to_string() const;
};

/// Parses "tcp://host:port", "tls://host:port", "host:port" or "[v6]:port".
/// Port 0 means "any".
Result<Address> parse_address(std::string_view text);

}  // namespace dtask
