#include "common/address.h"

#include <charconv>

namespace dtask {

std::string Address::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string scheme = transport == Transport::kTls ? "tls://" : "tcp://";
  return scheme + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Address> parse_address(std::string_view text) {
  std::string_view rest = text;
  Transport transport = Transport::kAny;
  if (rest.starts_with("tcp://")) {
    rest.remove_prefix(6);
    transport = Transport::kTcp;
  } else if (rest.starts_with("tls://")) {
    rest.remove_prefix(6);
    transport = Transport::kTls;
  }
  if (rest.find("://") != std::string_view::npos) {
    return Status::invalid("unsupported address scheme in '" + std::string(text) +
                           "' (use tcp://host:port or tls://host:port)");
  }
  std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::invalid("address '" + std::string(text) + "' has no port (use tcp://host:port)");
  }
  Address address;
  address.transport = transport;
  address.host = std::string(rest.substr(0, colon));
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  if (address.host.empty()) address.host = "0.0.0.0";
  std::string_view port = rest.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || port.empty()) {
    return Status::invalid("bad port '" + std::string(port) + "' in address '" + std::string(text) + "'");
  }
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

}  // namespace dtask
