#include "common/http_server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/address.h"
#include "dtask/security.h"

namespace dtask {

namespace {

using Clock = std::chrono::steady_clock;

// The only bodies are small JSON requests (POST /api/v1/retire_workers).
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
// Requests one connection may make before it is closed, so that a client
// cannot pin a connection (and its slot) forever by keeping it busy.
constexpr std::size_t kKeepAliveMaxRequests = 100;
// How much of a waiting connection's input the poller looks at for the end
// of the header; a header this long is handed over whole or not (httplib
// limits each line to 8 KiB and answers 414/400 itself).
constexpr std::size_t kPeekBytes = 16 * 1024;

/// Milliseconds from now to `deadline`, rounded up, at least 0, for poll().
int millis_until(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, 60'000));
}

/// Waits until `fd` has one of `events` (or an error or hangup) or the
/// deadline passes; false on the deadline.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd pfd{fd, events, 0};
    int n = ::poll(&pfd, 1, millis_until(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

/// "ip", port of a socket address.
void numeric_name(const sockaddr_storage& address, socklen_t length, std::string& ip, int& port) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof(host), service,
                    sizeof(service), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

// A request's socket as httplib reads and writes it, with deadlines instead
// of httplib's per-call timeouts: a per-call timeout restarts with every
// byte, so a sender trickling one byte at a time would hold a pool thread
// forever. Reads end kIoTimeout after the header was in; writes kIoTimeout
// after the first one.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int fd, Clock::time_point read_deadline) : fd_(fd), read_deadline_(read_deadline) {}

  bool is_readable() const override { return wait_for(fd_, POLLIN, read_deadline_); }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, write_deadline()); }

  // httplib reads a header a byte at a time, so the data is usually there:
  // recv first, poll only when it is not. No read-ahead buffer (httplib's
  // SocketStream has one): bytes past this request, a pipelined next one,
  // must stay in the socket for the poller to see.
  ssize_t read(char* ptr, size_t size) override {
    while (true) {
      ssize_t n = ::recv(fd_, ptr, size, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!is_readable()) return -1;
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, ptr, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    // httplib's write loop takes partial writes; EAGAIN after POLLOUT is one of zero bytes.
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      numeric_name(address, length, ip, port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      numeric_name(address, length, ip, port);
    }
  }
  socket_t socket() const override { return fd_; }

 private:
  Clock::time_point write_deadline() const {
    if (!write_deadline_) write_deadline_ = Clock::now() + HttpServer::kIoTimeout;
    return *write_deadline_;
  }

  int fd_;
  Clock::time_point read_deadline_;
  mutable std::optional<Clock::time_point> write_deadline_;
};

// httplib's listener hands each accepted socket to a TaskQueue; this one
// runs the task at once, on the listener thread, which only passes the
// socket to BoundedServer (no blocking there).
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

enum class Peeked { kIncomplete, kReady, kClosed };

/// Whether a waiting connection's input holds a whole request header,
/// looked at without consuming it.
Peeked peek_request(int fd, std::vector<char>& buffer, bool peer_hung_up) {
  ssize_t n;
  do {
    n = ::recv(fd, buffer.data(), buffer.size(), MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return Peeked::kClosed;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? Peeked::kIncomplete : Peeked::kClosed;
  std::string_view input(buffer.data(), static_cast<std::size_t>(n));
  if (static_cast<std::size_t>(n) == buffer.size() || input.find("\r\n\r\n") != std::string_view::npos ||
      input.find("\n\n") != std::string_view::npos) {
    return Peeked::kReady;
  }
  // Half a header from a peer that has stopped sending can never complete.
  return peer_hung_up ? Peeked::kClosed : Peeked::kIncomplete;
}

// httplib's Server, with its per-connection loop replaced: httplib 0.11 gives
// every connection a pool thread from accept to close (its keep_alive() waits
// on the socket in that thread), so a few idle sockets starve the pool.
// Here a connection waits for its request on one epoll thread and reaches
// the pool only with a whole header in hand; requests then go through
// httplib's own process_request(). Overriding process_and_close_socket() is
// how httplib's SSLServer plugs in its own connection handling too.
class BoundedServer final : public httplib::Server {
 public:
  explicit BoundedServer(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {
    new_task_queue = [] { return new InlineQueue; };
    set_payload_max_length(kMaxBodyBytes);
  }
  ~BoundedServer() override {
    stop_connections();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  /// The poller's descriptors; once, before start_connections().
  Status open() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return Status::io_error(std::string("HTTP server: cannot create its poller: ") + std::strerror(errno));
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
      return Status::io_error(std::string("HTTP server: cannot watch its wake-up descriptor: ") +
                              std::strerror(errno));
    }
    return Status::success();
  }

  /// After the bind: httplib listens with a backlog of 5, so a burst of
  /// connections (a browser opens six at once) overflows it and the kernel
  /// drops SYNs that clients only resend a second later. Linux lets a
  /// listening socket's backlog be set again.
  Status widen_backlog() {
    if (::listen(svr_sock_, static_cast<int>(HttpServer::kMaxConnections)) != 0) {
      return Status::io_error(std::string("HTTP server: cannot widen its listen backlog: ") + std::strerror(errno));
    }
    return Status::success();
  }

  /// Starts the poller and the pool; before httplib's listener starts.
  void start_connections() {
    std::lock_guard lock(mutex_);
    if (stopping_ || poller_.joinable()) return;
    poller_ = std::thread([this] { poll_loop(); });
    for (std::size_t i = 0; i < HttpServer::kPoolThreads; ++i) pool_.emplace_back([this] { serve_loop(); });
  }

  /// Closes every connection and joins the threads; after httplib's
  /// listener has returned (nothing adopts a socket any more). Idempotent.
  void stop_connections() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (auto it = conns_.begin(); it != conns_.end();) {
        if (it->second.state == State::kServing) {
          // Its pool thread closes it; this makes the request's I/O fail now.
          ::shutdown(it->first, SHUT_RDWR);
          ++it;
        } else {
          ::close(it->first);  // also leaves the epoll set
          it = conns_.erase(it);
        }
      }
      ready_.clear();
    }
    wake_poller();
    ready_cv_.notify_all();
    if (poller_.joinable()) poller_.join();
    for (auto& thread : pool_) thread.join();
    pool_.clear();
  }

 private:
  enum class State { kWaiting, kReady, kServing };
  struct Connection {
    State state = State::kWaiting;
    /// kWaiting: closed at this time unless a whole header has come.
    Clock::time_point deadline;
    std::size_t served = 0;
  };

  // Called on httplib's listener thread for every accepted socket; this
  // class owns it from here on.
  bool process_and_close_socket(socket_t fd) override {
    std::unique_lock lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return false;
    }
    if (conns_.size() >= HttpServer::kMaxConnections && !evict_longest_waiting()) {
      lock.unlock();
      // Every connection has a request in hand: refuse this one rather than
      // queue it behind them. Best effort: the socket is never waited on.
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
          "Connection: close\r\n\r\ntoo many HTTP connections";
      [[maybe_unused]] ssize_t sent = ::send(fd, kBusy.data(), kBusy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      ::close(fd);
      if (logger_) logger_->debug("HTTP: refused a connection: all {} are busy", HttpServer::kMaxConnections);
      return false;
    }
    conns_[fd] = Connection{};
    wait_for_request(fd, conns_[fd]);
    return true;
  }

  // Under mutex_: `fd` waits on the poller for its next request.
  void wait_for_request(int fd, Connection& conn) {
    conn.state = State::kWaiting;
    conn.deadline = Clock::now() + HttpServer::kIdleTimeout;
    // Edge-triggered: the poller peeks at a partial header without reading
    // it, so a level-triggered fd would wake it again at once, forever.
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      if (logger_) logger_->warn("HTTP: cannot watch a connection: {}", std::strerror(errno));
      close_connection(fd);
      return;
    }
    // The poller's timeout may now be too long.
    wake_poller();
  }

  // Under mutex_.
  void close_connection(int fd) {
    ::close(fd);  // a closed fd leaves the epoll set by itself
    conns_.erase(fd);
  }

  // Under mutex_: closes the connection that has waited longest for a
  // request, to make room; false when none is waiting.
  bool evict_longest_waiting() {
    auto oldest = conns_.end();
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      if (it->second.state != State::kWaiting) continue;
      if (oldest == conns_.end() || it->second.deadline < oldest->second.deadline) oldest = it;
    }
    if (oldest == conns_.end()) return false;
    if (logger_) logger_->debug("HTTP: {} connections open: closed the one idle longest", conns_.size());
    close_connection(oldest->first);
    return true;
  }

  void wake_poller() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }

  void poll_loop() {
    std::vector<epoll_event> events(64);
    std::vector<char> peek(kPeekBytes);
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      int timeout_ms = -1;
      for (const auto& [fd, conn] : conns_) {
        if (conn.state != State::kWaiting) continue;
        int ms = millis_until(conn.deadline);
        if (timeout_ms < 0 || ms < timeout_ms) timeout_ms = ms;
      }
      lock.unlock();
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      lock.lock();
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          std::uint64_t count;
          [[maybe_unused]] ssize_t drained = ::read(wake_fd_, &count, sizeof(count));
          continue;
        }
        // An event read before the lock may be for a connection closed (and
        // its number reused) meanwhile: peeking looks at the socket as it is now.
        auto it = conns_.find(fd);
        if (it == conns_.end() || it->second.state != State::kWaiting) continue;
        bool hung_up = (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        switch (peek_request(fd, peek, hung_up)) {
          case Peeked::kIncomplete:
            break;
          case Peeked::kClosed:
            close_connection(fd);
            break;
          case Peeked::kReady:
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            it->second.state = State::kReady;
            ready_.push_back(fd);
            ready_cv_.notify_one();
            break;
        }
      }
      auto now = Clock::now();
      for (auto it = conns_.begin(); it != conns_.end();) {
        if (it->second.state == State::kWaiting && it->second.deadline <= now) {
          ::close(it->first);
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  void serve_loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      ready_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      int fd = ready_.front();
      ready_.pop_front();
      Connection& conn = conns_.at(fd);
      conn.state = State::kServing;
      bool last = ++conn.served >= kKeepAliveMaxRequests;
      lock.unlock();
      DeadlineStream stream(fd, Clock::now() + HttpServer::kIoTimeout);
      bool client_closes = false;
      bool ok = process_request(stream, last, client_closes, nullptr);
      lock.lock();
      if (!ok || client_closes || last || stopping_) {
        close_connection(fd);
      } else {
        wait_for_request(fd, conns_.at(fd));
      }
    }
  }

  std::shared_ptr<spdlog::logger> logger_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable ready_cv_;
  // Every open connection, by descriptor. Guarded by mutex_, as is all below.
  std::unordered_map<int, Connection> conns_;
  // Connections with a whole header in, oldest first, for the pool.
  std::deque<int> ready_;
  bool stopping_ = false;
  std::thread poller_;
  std::vector<std::thread> pool_;
};

HttpRequest to_request(const httplib::Request& in) {
  HttpRequest out;
  out.path = in.path;
  for (const auto& match : in.matches) out.matches.push_back(match.str());
  for (const auto& [name, value] : in.params) out.params.try_emplace(name, value);
  out.body = in.body;
  return out;
}

// An HttpHandler as httplib calls it: an exception costs one response (500),
// never the daemon, and no answer is cached.
httplib::Server::Handler wrap(HttpHandler handler, std::shared_ptr<spdlog::logger> logger) {
  return [handler = std::move(handler), logger = std::move(logger)](const httplib::Request& in,
                                                                    httplib::Response& out) {
    HttpResponse response;
    try {
      response = handler(to_request(in));
    } catch (const std::exception& e) {
      if (logger) logger->error("HTTP {} failed: {}", in.path, e.what());
      response = {500, "text/plain", std::string("internal error: ") + e.what() + "\n"};
    }
    out.status = response.status;
    out.set_header("Cache-Control", "no-store");
    out.set_content(std::move(response.body), response.content_type.c_str());
  };
}

}  // namespace

std::string HttpRequest::param(const std::string& name, const std::string& fallback) const {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second;
}

bool http_address_disabled(const std::string& address) {
  return address.empty() || address == "none" || address == "off";
}

class HttpServer::Impl {
 public:
  explicit Impl(std::shared_ptr<spdlog::logger> logger) : server_(logger), logger_(std::move(logger)) {}

  BoundedServer server_;
  std::shared_ptr<spdlog::logger> logger_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  std::mutex mutex_;  // start/stop
  bool stopped_ = false;
};

Result<std::unique_ptr<HttpServer>> HttpServer::make(const std::string& address,
                                                     std::shared_ptr<spdlog::logger> logger) {
  DTASK_ASSIGN_OR_RETURN(Address parsed, parse_address(address));
  auto impl = std::make_unique<Impl>(std::move(logger));
  DTASK_RETURN_NOT_OK(impl->server_.open());
  int port = parsed.port;
  if (port == 0) {
    port = impl->server_.bind_to_any_port(parsed.host);
    if (port <= 0) return Status::io_error("cannot bind an HTTP port on " + parsed.host);
  } else if (!impl->server_.bind_to_port(parsed.host, port)) {
    return Status::io_error("cannot bind HTTP address " + parsed.host + ":" + std::to_string(port) +
                            " (in use, or not an interface of this host)");
  }
  DTASK_RETURN_NOT_OK(impl->server_.widen_backlog());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), parsed.host, static_cast<std::uint16_t>(port)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl, std::string host, std::uint16_t port)
    : impl_(std::move(impl)), host_(std::move(host)), port_(port) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::get(const std::string& pattern, HttpHandler handler) {
  impl_->server_.Get(pattern, wrap(std::move(handler), impl_->logger_));
}

void HttpServer::post(const std::string& pattern, HttpHandler handler) {
  impl_->server_.Post(pattern, wrap(std::move(handler), impl_->logger_));
}

namespace {

/// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t at = 0;
  while (at < header.size()) {
    std::size_t end = header.find(';', at);
    if (end == std::string::npos) end = header.size();
    std::string item = header.substr(at, end - at);
    std::size_t first = item.find_first_not_of(' ');
    if (first != std::string::npos && item.compare(first, name.size() + 1, name + "=") == 0) {
      return item.substr(first + name.size() + 1);
    }
    at = end + 1;
  }
  return "";
}

}  // namespace

void HttpServer::require_token(std::string token) {
  impl_->server_.set_pre_routing_handler(
      [token = std::move(token)](const httplib::Request& in, httplib::Response& out) {
        if (in.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        std::string presented;
        std::string authorization = in.get_header_value("Authorization");
        if (authorization.rfind("Bearer ", 0) == 0) {
          presented = authorization.substr(7);
        } else if (in.has_param("token")) {
          presented = in.get_param_value("token");
          if (auth_token_matches(presented, token)) {
            out.set_header("Set-Cookie", "dtask_token=" + presented + "; Path=/; HttpOnly; SameSite=Strict");
          }
        } else {
          presented = cookie_value(in.get_header_value("Cookie"), "dtask_token");
        }
        if (!presented.empty() && auth_token_matches(presented, token)) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        out.status = 401;
        out.set_header("WWW-Authenticate", "Bearer");
        out.set_content(presented.empty() ? "authentication failed: this dashboard requires the cluster's auth token "
                                             "(Authorization: Bearer TOKEN, or ?token=TOKEN)\n"
                                           : "authentication failed: wrong token\n",
                        "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      });
}

void HttpServer::start() {
  std::lock_guard lock(impl_->mutex_);
  if (impl_->stopped_ || impl_->thread_.joinable()) return;
  impl_->server_.start_connections();
  impl_->thread_ = std::thread([impl = impl_.get()] {
    if (!impl->server_.listen_after_bind() && impl->logger_) impl->logger_->error("HTTP server stopped listening");
    impl->listen_returned_ = true;
  });
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->mutex_);
  if (impl_->stopped_) return;
  impl_->stopped_ = true;
  if (impl_->thread_.joinable()) {
    // httplib's stop() does nothing until the listener thread has started its
    // loop, so wait for that first (it is at most a thread start away).
    while (!impl_->server_.is_running() && !impl_->listen_returned_) std::this_thread::yield();
    impl_->server_.stop();
    impl_->thread_.join();
  }
  // The listener is gone, so no connection arrives any more.
  impl_->server_.stop_connections();
}

std::string HttpServer::url(const std::string& public_host) const {
  std::string host = host_;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = public_host.empty() ? "127.0.0.1" : public_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port_) + "/";
}

}  // namespace dtask
