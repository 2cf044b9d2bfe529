// Address schemes, TLS settings and the auth token helpers, without sockets.
#include "dtask/security.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/address.h"
#include "common/tcp_connection.h"

namespace dtask {
namespace {

// tls:// and tcp:// set the transport; a bare address leaves it to the settings.
TEST(SecurityTest, AddressSchemes) {
  auto tls = parse_address("tls://10.0.0.5:8786");
  ASSERT_TRUE(tls.ok()) << tls.status().to_string();
  EXPECT_EQ(tls->transport, Transport::kTls);
  EXPECT_EQ(tls->to_string(), "tls://10.0.0.5:8786");
  EXPECT_EQ(parse_address("tcp://h:1")->transport, Transport::kTcp);
  EXPECT_EQ(parse_address("h:1")->transport, Transport::kAny);
  EXPECT_EQ(parse_address("h:1")->to_string(), "tcp://h:1");
  EXPECT_EQ(parse_address("tls://[::1]:9")->to_string(), "tls://[::1]:9");
}

// A scheme that disagrees with the process's TLS settings is an error naming the fix.
TEST(SecurityTest, SchemeMustAgreeWithSettings) {
  TlsContextPtr none;
  EXPECT_FALSE(*use_tls(*parse_address("h:1"), none));
  EXPECT_FALSE(*use_tls(*parse_address("tcp://h:1"), none));
  auto needs = use_tls(*parse_address("tls://h:1"), none);
  ASSERT_FALSE(needs.ok());
  EXPECT_NE(needs.status().message().find("no TLS settings"), std::string::npos);
}

// Missing files, a lone certificate and a server without a certificate are refused up front.
TEST(SecurityTest, BadTlsSettingsAreInvalid) {
  EXPECT_EQ(*make_tls_context({}, true), nullptr) << "no settings: plain TCP";
  auto missing = make_tls_context({"/nonexistent/cert.pem", "/nonexistent/key.pem", ""}, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/cert.pem"), std::string::npos);
  EXPECT_FALSE(make_tls_context({"/nonexistent/cert.pem", "", ""}, false).ok());
  auto server = make_tls_context({"", "", "/nonexistent/ca.pem"}, true);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--tls-cert"), std::string::npos);
}

// Tokens match exactly; the check names what is wrong without echoing the token.
TEST(SecurityTest, AuthTokens) {
  EXPECT_TRUE(auth_token_matches("abc", "abc"));
  EXPECT_FALSE(auth_token_matches("abd", "abc"));
  EXPECT_FALSE(auth_token_matches("ab", "abc"));
  EXPECT_FALSE(auth_token_matches("abcd", "abc"));
  EXPECT_FALSE(auth_token_matches("", "abc"));
  EXPECT_EQ(check_auth_token("anything", ""), "") << "no token configured: no check";
  EXPECT_EQ(check_auth_token("abc", "abc"), "");
  EXPECT_EQ(check_auth_token("", "abc").rfind("authentication failed: no auth token", 0), 0u);
  EXPECT_EQ(check_auth_token("xyz", "abc"), "authentication failed: wrong auth token");
}

// A token file is read without surrounding whitespace; an empty one is an error.
TEST(SecurityTest, TokenFile) {
  std::string path = ::testing::TempDir() + "/dtask-token-test";
  std::ofstream(path) << "  tok3n\n";
  EXPECT_EQ(*read_auth_token_file(path), "tok3n");
  std::ofstream(path) << "\n\n";
  EXPECT_FALSE(read_auth_token_file(path).ok());
  std::remove(path.c_str());
  EXPECT_FALSE(read_auth_token_file(path).ok());
}

}  // namespace
}  // namespace dtask
