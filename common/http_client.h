// A blocking HTTP client for the daemons' HTTP APIs (dtask-adapt talks to the
// scheduler's dashboard with it). cpp-httplib does the HTTP; this wrapper
// keeps its large header in one translation unit, as http_server.h does.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "dtask/status.h"

namespace dtask {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class HttpClient {
 public:
  /// `base_url`: "http://HOST:PORT/" as the daemons print it ("HOST:PORT" also
  /// works). `token`: sent as "Authorization: Bearer TOKEN" when not empty.
  static Result<HttpClient> make(const std::string& base_url, std::string token = "",
                                 std::chrono::seconds timeout = std::chrono::seconds(10));

  /// Any HTTP status is a reply; only a failed connection or timeout is an error.
  Result<HttpReply> get(const std::string& path) const;
  Result<HttpReply> post(const std::string& path, const std::string& json_body) const;
  /// Reads are allowed to take this long (a POST that waits on the scheduler).
  void set_read_timeout(std::chrono::seconds timeout) { read_timeout_ = timeout; }
  const std::string& base_url() const { return base_url_; }

 private:
  HttpClient() = default;
  std::string base_url_;
  std::string host_;
  int port_ = 0;
  std::string token_;
  std::chrono::seconds connect_timeout_{10};
  std::chrono::seconds read_timeout_{10};
};

}  // namespace dtask
