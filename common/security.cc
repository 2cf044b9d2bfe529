#include "dtask/security.h"

#include <openssl/ssl.h>

#include <fstream>
#include <sstream>

#include "common/tls_context.h"

namespace dtask {

namespace {

Status tls_file_error(const std::string& what, const std::string& path, const std::error_code& ec) {
  return Status::invalid("cannot load TLS " + what + " " + path + ": " + ec.message());
}

}  // namespace

Result<TlsContextPtr> make_tls_context(const TlsOptions& options, bool server) {
  if (!options.enabled()) return TlsContextPtr();
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status::invalid("TLS needs both a certificate and its key (--tls-cert and --tls-key)");
  }
  if (server && options.cert_file.empty()) {
    return Status::invalid("a TLS server needs a certificate and key (--tls-cert and --tls-key)");
  }
  auto context = std::make_shared<TlsContext>(!options.ca_file.empty());
  asio::ssl::context& ssl = context->native();
  // TLS 1.2 and 1.3 only; no renegotiation, no compression.
  SSL_CTX_set_min_proto_version(ssl.native_handle(), TLS1_2_VERSION);
  ssl.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                  asio::ssl::context::single_dh_use);
  std::error_code ec;
  if (!options.cert_file.empty()) {
    ssl.use_certificate_chain_file(options.cert_file, ec);
    if (ec) return tls_file_error("certificate", options.cert_file, ec);
    ssl.use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
    if (ec) return tls_file_error("key", options.key_file, ec);
    if (SSL_CTX_check_private_key(ssl.native_handle()) != 1) {
      return Status::invalid("TLS key " + options.key_file + " does not match certificate " + options.cert_file);
    }
  }
  if (!options.ca_file.empty()) {
    ssl.load_verify_file(options.ca_file, ec);
    if (ec) return tls_file_error("CA", options.ca_file, ec);
    // A server asks for and requires a client certificate; a client checks
    // the server's. The chain must lead to the CA; host names are not
    // checked (as in Dask): the cluster's CA is what identifies its members,
    // and workers are reached by IP.
    ssl.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  } else {
    ssl.set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (ec) return Status::invalid("cannot set TLS verification: " + ec.message());
  return TlsContextPtr(std::move(context));
}

Result<std::string> read_auth_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid("cannot read auth token file " + path);
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = content.str();
  const char* space = " \t\r\n";
  auto first = token.find_first_not_of(space);
  if (first == std::string::npos) return Status::invalid("auth token file " + path + " is empty");
  token = token.substr(first, token.find_last_not_of(space) - first + 1);
  return token;
}

bool auth_token_matches(std::string_view presented, std::string_view expected) {
  // Every byte of `expected` is compared whatever the input; the length
  // difference is folded in rather than returned early.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned char>(p ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

std::string check_auth_token(std::string_view presented, std::string_view expected) {
  if (expected.empty()) return "";
  if (presented.empty()) return "authentication failed: no auth token given (this cluster requires one)";
  if (!auth_token_matches(presented, expected)) return "authentication failed: wrong auth token";
  return "";
}

}  // namespace dtask
