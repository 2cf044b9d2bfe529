#include "common/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/address.h"
#include "dtask/security.h"

namespace dtask {

namespace {

// A browser keeps a few connections open; each holds a pool thread until its
// keep-alive ends, so the pool is a little larger than one page needs and the
// keep-alive short (it also bounds how long stop() waits for a thread).
constexpr std::size_t kPoolThreads = 4;
constexpr time_t kKeepAliveSeconds = 1;
// The only bodies are small JSON requests (POST /api/v1/retire_workers).
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

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
  explicit Impl(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kPoolThreads); };
    server_.set_keep_alive_timeout(kKeepAliveSeconds);
    server_.set_payload_max_length(kMaxBodyBytes);
  }

  httplib::Server server_;
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
  int port = parsed.port;
  if (port == 0) {
    port = impl->server_.bind_to_any_port(parsed.host);
    if (port <= 0) return Status::io_error("cannot bind an HTTP port on " + parsed.host);
  } else if (!impl->server_.bind_to_port(parsed.host, port)) {
    return Status::io_error("cannot bind HTTP address " + parsed.host + ":" + std::to_string(port) +
                            " (in use, or not an interface of this host)");
  }
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
  impl_->thread_ = std::thread([impl = impl_.get()] {
    if (!impl->server_.listen_after_bind() && impl->logger_) impl->logger_->error("HTTP server stopped listening");
    impl->listen_returned_ = true;
  });
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->mutex_);
  if (impl_->stopped_) return;
  impl_->stopped_ = true;
  if (!impl_->thread_.joinable()) return;
  // httplib's stop() does nothing until the listener thread has started its
  // loop, so wait for that first (it is at most a thread start away).
  while (!impl_->server_.is_running() && !impl_->listen_returned_) std::this_thread::yield();
  impl_->server_.stop();
  impl_->thread_.join();
}

std::string HttpServer::url(const std::string& public_host) const {
  std::string host = host_;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = public_host.empty() ? "127.0.0.1" : public_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port_) + "/";
}

}  // namespace dtask
