// What a process needs to secure its connections: TLS file paths and the
// shared auth token. Light on purpose (no Asio, no OpenSSL): it is part of the
// public client API and of every component's options. The OpenSSL context
// itself lives in common/tls_context.h, which only socket code includes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "dtask/status.h"

namespace spdlog {
class logger;
}

namespace dtask {

/// PEM files for TLS. Any of them set turns TLS on for every connection the
/// process makes or accepts. A server (scheduler, worker data port) needs
/// `cert_file` and `key_file`. With `ca_file`, peers' certificates are
/// verified against it on both sides (mutual TLS: a server refuses peers
/// without a certificate signed by that CA); without it nothing is verified
/// and TLS only encrypts.
struct TlsOptions {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;

  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
};

/// The loaded OpenSSL context (common/tls_context.h). One per process or
/// component, shared by all its connections. Thread-safe once made.
class TlsContext;
using TlsContextPtr = std::shared_ptr<const TlsContext>;

/// Loads `options` into a context (TLS 1.2 or later only). `server`: the
/// context accepts connections too, so a certificate and key are required.
/// Returns null when TLS is off. Fails with the file and OpenSSL's reason.
Result<TlsContextPtr> make_tls_context(const TlsOptions& options, bool server);

/// Reads a shared token from `path`: the file's content without surrounding
/// whitespace. Fails when the file cannot be read or holds no token.
Result<std::string> read_auth_token_file(const std::string& path);

/// Compares a presented token with the expected one in time that depends only
/// on the expected token's length (no early exit on the first difference).
bool auth_token_matches(std::string_view presented, std::string_view expected);

/// Why `presented` is refused ("authentication failed: ..."), or an empty
/// string when `expected` is empty (no auth) or the token matches.
std::string check_auth_token(std::string_view presented, std::string_view expected);

}  // namespace dtask
