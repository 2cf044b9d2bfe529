// A plain blocking TCP connection to a daemon on 127.0.0.1, for the suites
// that play a peer no dtask code (and no HTTP client) would be: they send
// the daemon arbitrary bytes, or none, and watch whether and when it answers
// or hangs up. Every read waits on poll() with a deadline, never a sleep.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "common/address.h"
#include "dtask/status.h"

namespace dtask::testing {

/// One client-side TCP socket. Not thread-safe: one test thread uses it.
class RawSocket {
 public:
  /// How long a read waits by default. Generous: it bounds a failure, it is
  /// not what the tests measure (a daemon answers or hangs up in milliseconds).
  static constexpr std::chrono::milliseconds kDefaultWait = std::chrono::seconds(30);

  /// Connects to the port of `address` ("HOST:PORT", as the daemons print
  /// it) on 127.0.0.1. A failure to connect fails the test (non-fatally:
  /// the suites open hundreds and count them) and leaves connected() false.
  explicit RawSocket(const std::string& address) {
    auto parsed = parse_address(address);
    EXPECT_TRUE(parsed.ok()) << address;
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(parsed.ok() ? parsed->port : 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    EXPECT_TRUE(connected_) << "connect to " << address << ": " << std::strerror(errno);
  }
  RawSocket(RawSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)), connected_(other.connected_) {}
  RawSocket& operator=(RawSocket&&) = delete;
  ~RawSocket() { close(); }

  /// Whether the constructor's connect() succeeded.
  bool connected() const { return connected_; }

  /// Writes all of `bytes`; false once the daemon has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// Closes this side now (a peer that leaves mid-frame); the destructor
  /// does it otherwise.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// Reads until the daemon closes the connection (EOF or reset) or
  /// `timeout` passes: what it sent, and whether it closed.
  std::pair<std::string, bool> read_until_closed(std::chrono::milliseconds timeout = kDefaultWait) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char scratch[4096];
    while (true) {
      ssize_t n = ::recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return {out, true};
      if (n > 0) {
        out.append(scratch, static_cast<std::size_t>(n));
        continue;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {out, false};
      pollfd pfd{fd_, POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(left.count()));
    }
  }

  /// Whether the daemon closed this connection within `timeout`; whatever
  /// it sent before closing is read and dropped.
  bool closed_by_peer(std::chrono::milliseconds timeout = kDefaultWait) { return read_until_closed(timeout).second; }

  /// Not closed by the daemon yet (looks without waiting or consuming).
  bool still_open() {
    char byte;
    ssize_t n = ::recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

  /// Reads exactly `n` bytes, waiting up to `timeout`: TimedOut if they do
  /// not come in time, Disconnected if the daemon hangs up first.
  Result<std::string> read_exactly(std::size_t n, std::chrono::milliseconds timeout = kDefaultWait) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
        return Status::timed_out("no reply in time");
      }
      std::string chunk(n - out.size(), '\0');
      ssize_t got = ::recv(fd_, chunk.data(), chunk.size(), 0);
      if (got <= 0) return Status::disconnected("the daemon closed the connection");
      out.append(chunk, 0, static_cast<std::size_t>(got));
    }
    return out;
  }

  /// Reads one HTTP response whose body has a Content-Length (the daemons'
  /// HttpServer always sends one), head and body; empty on a timeout or on a
  /// close before it is complete.
  std::string read_http_response(std::chrono::milliseconds timeout = kDefaultWait) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto at = out.find("Content-Length: ");
        if (at != std::string::npos && at < end) {
          std::size_t length = std::stoul(out.substr(at + 16));
          if (out.size() >= end + 4 + length) return out;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return "";
      char scratch[4096];
      ssize_t n = ::recv(fd_, scratch, sizeof(scratch), 0);
      if (n <= 0) return "";
      out.append(scratch, static_cast<std::size_t>(n));
    }
  }

  /// "127.0.0.1:PORT": how the daemon names this connection in its log.
  std::string local_address() const {
    sockaddr_in sa{};
    socklen_t length = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &length);
    return "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace dtask::testing
