// The OpenSSL context behind TlsContextPtr. Include only where TLS streams are
// made (common/tcp_connection.cc): it pulls in Asio's SSL headers and OpenSSL.
#pragma once

#include <asio/ssl/context.hpp>

#include "dtask/security.h"

namespace dtask {

class TlsContext {
 public:
  explicit TlsContext(bool verify_peers) : context_(asio::ssl::context::tls), verify_peers_(verify_peers) {}

  /// OpenSSL makes streams from a const-shared SSL_CTX safely from any thread.
  asio::ssl::context& native() const { return context_; }
  /// True when a CA was given: both sides check the other's certificate.
  bool verify_peers() const { return verify_peers_; }

 private:
  mutable asio::ssl::context context_;
  bool verify_peers_;
};

}  // namespace dtask
