#include "common/http_client.h"

#include <httplib.h>

#include "common/address.h"

namespace dtask {

namespace {

httplib::Headers headers_for(const std::string& token) {
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return headers;
}

}  // namespace

Result<HttpClient> HttpClient::make(const std::string& base_url, std::string token, std::chrono::seconds timeout) {
  std::string rest = base_url;
  if (rest.starts_with("https://")) return Status::invalid("'" + base_url + "': the dashboard speaks plain HTTP");
  if (rest.starts_with("http://")) rest = rest.substr(7);
  rest = rest.substr(0, rest.find('/'));
  DTASK_ASSIGN_OR_RETURN(Address address, parse_address(rest));
  HttpClient client;
  client.base_url_ = base_url;
  client.host_ = address.host;
  client.port_ = address.port;
  client.token_ = std::move(token);
  client.connect_timeout_ = timeout;
  client.read_timeout_ = timeout;
  return client;
}

Result<HttpReply> HttpClient::get(const std::string& path) const {
  httplib::Client client(host_, port_);
  client.set_connection_timeout(connect_timeout_);
  client.set_read_timeout(read_timeout_);
  auto response = client.Get(path, headers_for(token_));
  if (!response) return Status::io_error("GET " + base_url_ + path + ": " + httplib::to_string(response.error()));
  return HttpReply{response->status, response->get_header_value("Content-Type"), response->body};
}

Result<HttpReply> HttpClient::post(const std::string& path, const std::string& json_body) const {
  httplib::Client client(host_, port_);
  client.set_connection_timeout(connect_timeout_);
  client.set_read_timeout(read_timeout_);
  auto response = client.Post(path, headers_for(token_), json_body, "application/json");
  if (!response) return Status::io_error("POST " + base_url_ + path + ": " + httplib::to_string(response.error()));
  return HttpReply{response->status, response->get_header_value("Content-Type"), response->body};
}

}  // namespace dtask
