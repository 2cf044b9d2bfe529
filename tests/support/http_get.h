// A blocking HTTP GET for the dashboard tests, through cpp-httplib's client.
#pragma once

#include <httplib.h>

#include <string>

#include "common/address.h"
#include "dtask/status.h"

namespace dtask::testing {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

/// GET `path` from `base` ("http://127.0.0.1:PORT/", as the daemons print it).
inline Result<HttpReply> http_get(const std::string& base, const std::string& path) {
  std::string rest = base;
  if (rest.starts_with("http://")) rest = rest.substr(7);
  rest = rest.substr(0, rest.find('/'));
  DTASK_ASSIGN_OR_RETURN(Address address, parse_address(rest));
  httplib::Client client(address.host, address.port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto response = client.Get(path.c_str());
  if (!response) return Status::io_error("GET " + base + path + " failed: " + httplib::to_string(response.error()));
  return HttpReply{response->status, response->get_header_value("Content-Type"), response->body};
}

}  // namespace dtask::testing
