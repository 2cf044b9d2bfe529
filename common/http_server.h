// A small HTTP server on its own threads, for the scheduler's dashboard and
// the daemons' /metrics. cpp-httplib does the HTTP; this wrapper keeps its
// large header out of everything else and gives the daemons one way to bind
// "--dashboard-address" ("host:port", ":port" for all interfaces, port 0 for
// any free port, "none" for no server).
//
// Connections are bounded and timed out (issue 17): a connection waits for
// its request on one poller thread, costing a descriptor but no pool thread,
// and only a connection whose whole request header has arrived is handed to
// the pool. So idle, keep-alive and slow-loris connections cannot starve
// /health, and at most kMaxConnections are open at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dtask/status.h"

namespace spdlog {
class logger;
}

namespace dtask {

struct HttpRequest {
  std::string path;
  /// Regex capture groups of the route's pattern, [0] being the whole path.
  std::vector<std::string> matches;
  /// Query parameters (the first value of each).
  std::map<std::string, std::string> params;
  /// The request's body (POST).
  std::string body;

  /// The parameter or `fallback` when absent.
  std::string param(const std::string& name, const std::string& fallback = "") const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// Runs on one of the server's threads; must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// True when `address` asks for no server ("none", "off" or empty).
bool http_address_disabled(const std::string& address);

class HttpServer {
 public:
  /// Open connections at most (waiting for a request, or being served). A
  /// connection accepted beyond it closes the one that has waited longest for
  /// a request (as nginx reuses idle keep-alive connections); when every one
  /// is being served, the new one is refused (a best-effort 503, then closed).
  static constexpr std::size_t kMaxConnections = 128;
  /// A connection has this long, from its accept or from its previous
  /// response, to send a whole request header; then it is closed.
  static constexpr std::chrono::seconds kIdleTimeout{5};
  /// Once its header is in, a request has this long to send its body, and
  /// its response as long again to be written (a pool thread waits on them).
  static constexpr std::chrono::seconds kIoTimeout{5};
  /// Pool threads that run handlers. A dashboard needs no more, and the
  /// daemon's own threads must keep the cores.
  static constexpr std::size_t kPoolThreads = 4;

  /// Binds `address` ("host:port", ":port", "tcp://host:port"; port 0: any).
  /// Fails when the address is malformed or taken.
  static Result<std::unique_ptr<HttpServer>> make(const std::string& address, std::shared_ptr<spdlog::logger> logger);
  /// Stops the server.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Routes GET requests whose path fully matches the ECMAScript regex
  /// `pattern`. Call before start().
  void get(const std::string& pattern, HttpHandler handler);
  /// Routes POST requests the same way. Call before start().
  void post(const std::string& pattern, HttpHandler handler);
  /// Every request but GET /health must then carry `token`, as the header
  /// "Authorization: Bearer TOKEN", the query "?token=TOKEN", or the cookie
  /// "dtask_token" that a request with the query sets (HttpOnly, SameSite=Strict),
  /// so a browser opened on "/?token=..." keeps polling the API. Others get
  /// 401. The token is compared in constant time. Call before start().
  void require_token(std::string token);
  /// Serves on a listener thread, a poller thread (connections waiting for a
  /// request) and kPoolThreads pool threads (requests).
  void start();
  /// Stops serving and joins the threads. Idempotent; thread-safe.
  void stop();

  /// "http://127.0.0.1:8787/" with the bound port (a wildcard host shows as
  /// `public_host` when given, else as 127.0.0.1).
  std::string url(const std::string& public_host = "") const;
  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }

 private:
  class Impl;
  HttpServer(std::unique_ptr<Impl> impl, std::string host, std::uint16_t port);
  std::unique_ptr<Impl> impl_;
  std::string host_;
  std::uint16_t port_ = 0;
};

}  // namespace dtask
