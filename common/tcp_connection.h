// Connections over Asio TCP sockets. Include only where sockets are made:
// it pulls in Asio.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "common/address.h"
#include "common/connection.h"

namespace spdlog {
class logger;
}

namespace dtask {

/// Wraps a connected socket. The connection runs on the socket's executor.
ConnectionPtr make_tcp_connection(asio::ip::tcp::socket socket, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger);

using ConnectCallback = std::function<void(Result<ConnectionPtr>)>;

/// Resolves and connects without blocking; `done` runs on `io`.
void async_connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                       std::shared_ptr<spdlog::logger> logger, ConnectCallback done);

/// Connects, blocking the caller (not the io thread!) until connected, failed
/// or `timeout` passed, retrying refused connections until then.
Result<ConnectionPtr> connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds timeout);

/// The address a listening acceptor is reachable at, for printing and for
/// telling peers: the bound port, and the host the user gave unless it is
/// the wildcard, in which case this machine's hostname.
std::string advertised_address(const asio::ip::tcp::acceptor& acceptor, const std::string& host);

/// Opens, binds and listens; port 0 picks a free port.
Result<std::unique_ptr<asio::ip::tcp::acceptor>> listen_tcp(asio::io_context& io, const Address& address);

}  // namespace dtask
