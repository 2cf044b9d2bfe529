// End-to-end: TLS (mutual, with a throwaway CA made at test time by the
// openssl command line) and the shared auth token, on real dtask-scheduler
// and dtask-worker processes over 127.0.0.1 with ephemeral ports. Every
// refusal is followed by a check that the daemons keep serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <httplib.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <dtask/client.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging.h"
#include "common/tcp_connection.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::run_command;
using testing::wait_until;

/// Key and certificate files of one identity, signed by some CA.
struct Identity {
  std::string cert;
  std::string key;
};

/// A throwaway PKI in a temporary directory: the cluster's CA with a node
/// identity (scheduler and workers) and a client identity, and a second,
/// unrelated CA with its own client identity. Nothing of it is committed.
class TestPki {
 public:
  Status make() {
    char pattern[] = "/tmp/dtask-tls-test-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return Status::io_error("mkdtemp failed");
    dir_ = pattern;
    DTASK_RETURN_NOT_OK(make_ca("ca"));
    DTASK_RETURN_NOT_OK(make_identity("ca", "node", node));
    DTASK_RETURN_NOT_OK(make_identity("ca", "client", client));
    DTASK_RETURN_NOT_OK(make_ca("rogue-ca"));
    DTASK_RETURN_NOT_OK(make_identity("rogue-ca", "rogue", rogue));
    ca = path("ca.pem");
    rogue_ca = path("rogue-ca.pem");
    token_file = write("token", "s3cret-cluster-token\n");
    wrong_token_file = write("wrong-token", "not-the-token\n");
    return Status::success();
  }

  ~TestPki() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name)) << content;
    return path(name);
  }

  Identity node, client, rogue;
  std::string ca, rogue_ca, token_file, wrong_token_file;

 private:
  Status openssl(const std::vector<std::string>& args) const {
    auto [code, output] = run_command(DTASK_OPENSSL_BIN, args);
    if (code != 0) return Status::io_error("openssl " + args.front() + " failed (" + std::to_string(code) + ")");
    return Status::success();
  }

  Status make_ca(const std::string& name) const {
    return openssl({"req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days", "2", "-subj",
                    "/CN=dtask test " + name});
  }

  Status make_identity(const std::string& ca_name, const std::string& name, Identity& out) const {
    DTASK_RETURN_NOT_OK(openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj",
                                 "/CN=dtask test " + name}));
    std::string ext = write(name + ".ext",
                            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                            "extendedKeyUsage=serverAuth,clientAuth\n");
    DTASK_RETURN_NOT_OK(openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca_name + ".pem"), "-CAkey",
                                 path(ca_name + ".key"), "-CAcreateserial", "-out", path(name + ".pem"), "-days",
                                 "2", "-extfile", ext}));
    out = {path(name + ".pem"), path(name + ".key")};
    return Status::success();
  }

  std::string dir_;
};

std::vector<std::string> tls_args(const Identity& who, const std::string& ca) {
  return {"--tls-cert", who.cert, "--tls-key", who.key, "--tls-ca", ca};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A scheduler and two workers with mutual TLS and a token; the dashboard
/// requires the token too.
class TlsClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    Status made = pki_->make();
    ASSERT_TRUE(made.ok()) << made.to_string();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    auto args = testing::test_scheduler_args();
    for (const std::string& arg : tls_args(pki_->node, pki_->ca)) args.push_back(arg);
    args.insert(args.end(), {"--auth-token-file", pki_->token_file, "--dashboard-require-token"});
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, args);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    ASSERT_TRUE(scheduler_->address().starts_with("tls://")) << scheduler_->address();
    start_worker("w1");
    start_worker("w2");
    auto client = Client::connect(scheduler_->address(), good_options());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_until([&] { return info()["workers"].size() == 2; }));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
    }
  }

  std::vector<std::string> worker_args(const std::string& name) const {
    return {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "2", "--name", name,
            "--memory-limit", "1GiB", "--log-level", "warn"};
  }

  void start_worker(const std::string& name) {
    auto args = worker_args(name);
    for (const std::string& arg : tls_args(pki_->node, pki_->ca)) args.push_back(arg);
    args.insert(args.end(), {"--auth-token-file", pki_->token_file});
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    workers_.push_back(std::move(*worker));
  }

  static ClientOptions good_options() {
    ClientOptions options;
    options.tls = {pki_->client.cert, pki_->client.key, pki_->ca};
    options.auth_token = "s3cret-cluster-token";
    options.connect_timeout = std::chrono::seconds(10);
    return options;
  }

  /// Connects with `options` and expects a refusal; returns its message.
  std::string refused(ClientOptions options, const std::string& address = "") {
    auto started = std::chrono::steady_clock::now();
    auto client = Client::connect(address.empty() ? scheduler_->address() : address, options);
    EXPECT_FALSE(client.ok()) << "connected although it should have been refused";
    // Refusals are answers, not timeouts.
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    if (client.ok()) return "";
    std::cerr << "refused as expected: " << client.status().to_string() << "\n";
    return client.status().message();
  }

  /// The daemons still serve the good client, and a new good client too.
  void expect_cluster_serves() {
    EXPECT_EQ(client_->submit<std::int64_t>("add", 20, 22).result(), 42);
    auto again = Client::connect(scheduler_->address(), good_options());
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ((*again)->submit<std::int64_t>("add", 1, 2).result(), 3);
  }

  nlohmann::json info() { return testing::scheduler_info(*client_); }

  static TestPki* pki_;
  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

TestPki* TlsClusterTest::pki_ = nullptr;

// A diamond (a -> b, a -> c, b + c -> d) computes the right value over mutual TLS.
TEST_F(TlsClusterTest, DiamondGraph) {
  auto a = delayed("inc")(1);
  auto b = delayed("add")(a, 10);
  auto c = delayed("mul")(a, 2);
  auto d = delayed("add")(b, c);
  EXPECT_DOUBLE_EQ(client_->compute<double>(d).result(), 16.0);
  nlohmann::json snapshot = info();  // must outlive the loop over its workers
  for (const auto& worker : snapshot["workers"]) {
    EXPECT_TRUE(worker["address"].get<std::string>().starts_with("tls://")) << worker.dump();
  }
}

// 10,000 tasks fanned out over both workers and summed in one task: the sum
// fetches the other worker's parts over TLS.
TEST_F(TlsClusterTest, FanOutFanIn) {
  std::vector<Delayed> parts;
  for (int i = 0; i < 10000; ++i) parts.push_back(delayed("inc")(i));
  EXPECT_EQ(client_->compute<std::int64_t>(delayed("sum")(parts)).result(), 50005000);
  EXPECT_EQ(info()["tasks_completed"].get<int>(), 10001);
}

// A dependency made on w1 travels to w2 over the workers' TLS link, and the
// client fetches the array from w1's TLS data port.
TEST_F(TlsClusterTest, DependencyMovesWorkerToWorker) {
  auto array = client_->submit(SubmitOptions{.workers = {"w1"}}, "arange", 100000);
  auto total = client_->submit<double>(SubmitOptions{.workers = {"w2"}}, "array_sum", array);
  EXPECT_DOUBLE_EQ(total.result(), 100000.0 * 99999.0 / 2);
  auto values = array.value();
  ASSERT_TRUE(values.ok()) << values.status().to_string();
  ASSERT_EQ(values->get<NDArray>().size(), 100000);
  EXPECT_EQ(values->get<NDArray>().data<double>()[99999], 99999.0);
}

// A client with no certificate is refused by the mutual-TLS scheduler.
TEST_F(TlsClusterTest, ClientWithoutCertificateIsRefused) {
  ClientOptions options = good_options();
  options.tls.cert_file.clear();
  options.tls.key_file.clear();
  std::string why = refused(options);
  EXPECT_TRUE(contains(why, "certificate")) << why;
  expect_cluster_serves();
}

// A client whose certificate another CA signed is refused.
TEST_F(TlsClusterTest, ClientWithCertificateFromAnotherCaIsRefused) {
  ClientOptions options = good_options();
  options.tls.cert_file = pki_->rogue.cert;
  options.tls.key_file = pki_->rogue.key;
  std::string why = refused(options);
  EXPECT_TRUE(contains(why, "unknown ca") || contains(why, "certificate")) << why;
  expect_cluster_serves();
}

// A client that does not trust the scheduler's CA refuses the scheduler.
TEST_F(TlsClusterTest, ClientNotTrustingTheSchedulerRefusesIt) {
  ClientOptions options = good_options();
  options.tls.ca_file = pki_->rogue_ca;
  std::string why = refused(options);
  EXPECT_TRUE(contains(why, "TLS handshake with tls://")) << why;
  EXPECT_TRUE(contains(why, "certificate verify failed")) << why;
  expect_cluster_serves();
}

// A plain-TCP client talking to the TLS scheduler fails at once with a hint, not a hang.
TEST_F(TlsClusterTest, PlainClientFailsClearly) {
  ClientOptions options;
  options.auth_token = "s3cret-cluster-token";
  options.connect_timeout = std::chrono::seconds(10);
  std::string plain = "tcp://" + scheduler_->address().substr(6);
  std::string why = refused(options, plain);
  EXPECT_TRUE(contains(why, "closed the connection before answering the handshake")) << why;
  EXPECT_TRUE(contains(why, "TLS scheduler")) << why;
  expect_cluster_serves();
}

// Schemes and settings that disagree fail before connecting, naming the fix.
TEST_F(TlsClusterTest, SchemeAndSettingsMismatchFailsClearly) {
  ClientOptions no_tls;
  no_tls.auth_token = "s3cret-cluster-token";
  EXPECT_TRUE(contains(refused(no_tls), "no TLS settings were given"));
  std::string plain = "tcp://" + scheduler_->address().substr(6);
  EXPECT_TRUE(contains(refused(good_options(), plain), "plain TCP is refused; write tls://"));
  // A bare host:port follows the settings.
  auto bare = Client::connect(scheduler_->address().substr(6), good_options());
  ASSERT_TRUE(bare.ok()) << bare.status().to_string();
  EXPECT_EQ((*bare)->submit<std::int64_t>("add", 2, 2).result(), 4);
}

// No token, or a wrong one, is refused with "authentication failed".
TEST_F(TlsClusterTest, MissingOrWrongTokenIsRefused) {
  ClientOptions missing = good_options();
  missing.auth_token.clear();
  std::string why = refused(missing);
  EXPECT_TRUE(contains(why, "authentication failed")) << why;
  EXPECT_TRUE(contains(why, "no auth token")) << why;

  ClientOptions wrong = good_options();
  wrong.auth_token = "s3cret-cluster-tokeN";
  why = refused(wrong);
  EXPECT_TRUE(contains(why, "authentication failed: wrong auth token")) << why;
  EXPECT_FALSE(contains(why, "s3cret")) << "the token must never be echoed";
  expect_cluster_serves();
}

// A worker with the wrong token is refused and exits; the cluster keeps its two workers.
TEST_F(TlsClusterTest, WorkerWithWrongTokenCannotJoin) {
  auto args = worker_args("intruder");
  for (const std::string& arg : tls_args(pki_->node, pki_->ca)) args.push_back(arg);
  args.insert(args.end(), {"--auth-token-file", pki_->wrong_token_file});
  auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
  ASSERT_TRUE(worker.ok()) << worker.status().to_string();
  EXPECT_EQ(worker->wait_exit(std::chrono::seconds(10)), 1);
  EXPECT_EQ(info()["workers"].size(), 2u);
  expect_cluster_serves();
}

// A worker whose certificate another CA signed cannot join either.
TEST_F(TlsClusterTest, WorkerWithUntrustedCertificateCannotJoin) {
  auto args = worker_args("intruder");
  for (const std::string& arg : tls_args(pki_->rogue, pki_->ca)) args.push_back(arg);
  args.insert(args.end(), {"--auth-token-file", pki_->token_file});
  auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
  // It may be refused before or after printing its address.
  if (worker.ok()) {
    EXPECT_EQ(worker->wait_exit(std::chrono::seconds(10)), 1);
  }
  EXPECT_EQ(info()["workers"].size(), 2u);
  expect_cluster_serves();
}

// A worker's data port checks the token in the handshake before serving any data.
TEST_F(TlsClusterTest, DataPortRequiresToken) {
  auto worker_address = parse_address(info()["workers"][0]["address"].get<std::string>());
  ASSERT_TRUE(worker_address.ok());
  auto tls = make_tls_context({pki_->client.cert, pki_->client.key, pki_->ca}, false);
  ASSERT_TRUE(tls.ok()) << tls.status().to_string();
  auto logger = make_logger("test", "off");
  ASSERT_TRUE(logger.ok());
  asio::io_context io(1);
  auto connection = connect_tcp(io, *worker_address, FrameLimits{}, *logger, std::chrono::seconds(5), *tls);
  ASSERT_TRUE(connection.ok()) << connection.status().to_string();
  std::promise<std::string> answer;
  bool answered = false;  // touched on the io thread only
  std::promise<void> closed;
  (*connection)->start(
      [&](Message&& message) {
        if (answered) return;
        answered = true;
        if (auto* reply = std::get_if<msg::HandshakeReply>(&message)) {
          answer.set_value(reply->error);
        } else {
          answer.set_value(std::string("unexpected ") + message_kind_name(message.index()));
        }
      },
      [&](const Status&) { closed.set_value(); });
  (*connection)->send(msg::Handshake{kProtocolVersion, PeerRole::kPeer, "intruder", "guess"});
  (*connection)->send(msg::GetData{1, {"anything"}});
  auto guard = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  auto reply = answer.get_future();
  ASSERT_EQ(reply.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(reply.get(), "authentication failed: wrong auth token");
  EXPECT_EQ(closed.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the worker must close a connection it refused";
  guard.reset();
  io.stop();
  loop.join();
  expect_cluster_serves();
}

// The dashboard answers 401 without the token, and serves it as a bearer
// header or a ?token= query (which sets a cookie for the page's own requests).
TEST_F(TlsClusterTest, DashboardRequiresToken) {
  std::string base = scheduler_->dashboard_address();
  ASSERT_FALSE(base.empty());
  std::string rest = base.substr(7, base.find('/', 7) - 7);
  auto address = parse_address(rest);
  ASSERT_TRUE(address.ok());
  httplib::Client http(address->host, address->port);
  http.set_read_timeout(10);
  auto anonymous = http.Get("/api/status");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_TRUE(contains(anonymous->body, "authentication failed"));
  auto wrong = http.Get("/metrics", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto bearer = http.Get("/api/status", {{"Authorization", "Bearer s3cret-cluster-token"}});
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 200);
  auto query = http.Get("/?token=s3cret-cluster-token");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200);
  std::string cookie = query->get_header_value("Set-Cookie");
  EXPECT_TRUE(contains(cookie, "HttpOnly")) << cookie;
  auto with_cookie = http.Get("/api/workers", {{"Cookie", cookie.substr(0, cookie.find(';'))}});
  ASSERT_TRUE(with_cookie);
  EXPECT_EQ(with_cookie->status, 200);
  auto health = http.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A TLS client meeting a plain-TCP scheduler fails at once, naming TLS.
TEST(TlsMismatch, TlsClientToPlainSchedulerFailsClearly) {
  TestPki pki;
  Status made = pki.make();
  ASSERT_TRUE(made.ok()) << made.to_string();
  auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
  ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
  ClientOptions options;
  options.tls = {pki.client.cert, pki.client.key, pki.ca};
  options.connect_timeout = std::chrono::seconds(10);
  auto started = std::chrono::steady_clock::now();
  auto client = Client::connect("tls://" + scheduler->address().substr(6), options);
  ASSERT_FALSE(client.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_TRUE(contains(client.status().message(), "TLS handshake with tls://")) << client.status().message();
  // The plain scheduler still serves plain clients.
  auto plain = Client::connect(scheduler->address());
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_EQ(scheduler->stop(), 0);
}

// A TLS handshake with a server that accepts and never answers (a plain
// TCP listener that never even accepts: the kernel completes the
// connection) fails within connect_timeout with TimedOut naming it.
TEST(TlsMismatch, HandshakeWithSilentServerTimesOut) {
  TestPki pki;
  Status made = pki.make();
  ASSERT_TRUE(made.ok()) << made.to_string();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string address = "tls://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  ClientOptions options;
  options.tls = {pki.client.cert, pki.client.key, pki.ca};
  options.connect_timeout = std::chrono::milliseconds(500);
  auto started = std::chrono::steady_clock::now();
  auto client = Client::connect(address, options);
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kTimedOut) << client.status().to_string();
  EXPECT_TRUE(contains(client.status().message(), "TLS handshake with " + address + " did not finish within 500 ms"))
      << client.status().message();
  EXPECT_GE(took, std::chrono::milliseconds(500));
  EXPECT_LT(took, std::chrono::seconds(20));
}

// A LocalCluster with TLS and a token: its own Client inherits both.
TEST(TlsLocalCluster, InProcessClusterUsesTlsAndToken) {
  TestPki pki;
  Status made = pki.make();
  ASSERT_TRUE(made.ok()) << made.to_string();
  LocalClusterOptions cluster;
  cluster.n_workers = 2;
  cluster.tls = {pki.node.cert, pki.node.key, pki.ca};
  cluster.auth_token = "local-token";
  cluster.dashboard_address = "none";
  Client client(cluster);
  EXPECT_TRUE(client.scheduler_address().starts_with("tls://")) << client.scheduler_address();
  std::vector<Delayed> parts;
  for (int i = 0; i < 100; ++i) parts.push_back(delayed("inc")(i));
  EXPECT_EQ(client.compute<std::int64_t>(delayed("sum")(parts)).result(), 5050);
  ClientOptions no_token;
  no_token.tls = cluster.tls;
  auto refused = Client::connect(client.scheduler_address(), no_token);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.status().message(), "authentication failed")) << refused.status().message();
}

}  // namespace
}  // namespace dtask
