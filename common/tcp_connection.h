// Connections over Asio TCP sockets, plain or TLS. Include only where sockets
// are made: it pulls in Asio (but not its SSL headers).
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "common/address.h"
#include "common/connection.h"
#include "dtask/security.h"

namespace spdlog {
class logger;
}

namespace dtask {

/// Wraps a connected socket (plain TCP). The connection runs on the socket's executor.
ConnectionPtr make_tcp_connection(asio::ip::tcp::socket socket, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger);

/// How long an accept loop waits before accepting again after a failure
/// (EMFILE: out of file descriptors). The pending connection keeps the
/// listener readable, so retrying at once would spin a core.
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

using AcceptCallback = std::function<void(ConnectionPtr)>;

/// The server side of an accepted socket. Plain when `tls` is null; else the
/// TLS handshake runs first, and a failed one is logged as a warning, closes
/// that socket alone and never runs `done`. `done` runs on the socket's
/// executor with an unadmitted connection: it reads frames under
/// kHandshakeFrameLimits until Connection::admit() (then under `limits`),
/// and is closed with a warning naming the peer unless admitted within
/// `handshake_timeout` of now (the TLS handshake counts against it too).
void accept_connection(asio::ip::tcp::socket socket, const TlsContextPtr& tls, const FrameLimits& limits,
                       std::chrono::milliseconds handshake_timeout, std::shared_ptr<spdlog::logger> logger,
                       AcceptCallback done);

/// Whether connecting to `address` uses TLS, given this process's context:
/// tls:// needs a context, tcp:// refuses one, a bare address follows it.
/// The error says which setting is missing or which scheme to write.
Result<bool> use_tls(const Address& address, const TlsContextPtr& tls);

using ConnectCallback = std::function<void(Result<ConnectionPtr>)>;

/// Resolves, connects and (with TLS) handshakes without blocking; `done` runs on `io`.
void async_connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                       std::shared_ptr<spdlog::logger> logger, ConnectCallback done, TlsContextPtr tls = {});

/// Connects, blocking the caller (not the io thread!) until connected, failed
/// or `timeout` passed, retrying refused connections until then; with TLS,
/// then runs the client handshake ("TLS handshake with tls://... failed: ..."
/// when it fails).
Result<ConnectionPtr> connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds timeout,
                                  const TlsContextPtr& tls = {});

/// The address a listening acceptor is reachable at, for printing and for
/// telling peers: the bound port, and the host the user gave unless it is
/// the wildcard, in which case this machine's hostname; "tls://" when `tls`.
std::string advertised_address(const asio::ip::tcp::acceptor& acceptor, const std::string& host, bool tls = false);

/// Opens, binds and listens; port 0 picks a free port.
Result<std::unique_ptr<asio::ip::tcp::acceptor>> listen_tcp(asio::io_context& io, const Address& address);

}  // namespace dtask
