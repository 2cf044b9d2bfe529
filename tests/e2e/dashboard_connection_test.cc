// End-to-end: idle and slow HTTP connections (issue 17) to a real
// dtask-scheduler's dashboard and a real dtask-worker's /metrics. Raw sockets
// connect and send nothing, or half a request header and then stall (slow
// loris). Other requests must still be answered at once; the server closes
// those sockets after its idle timeout; it holds at most
// HttpServer::kMaxConnections; keep-alive and pipelined requests still work.
#include <gtest/gtest.h>

#include <dtask/client.h>
#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "tests/support/daemon_process.h"
#include "tests/support/http_get.h"
#include "tests/support/raw_socket.h"
#include "tests/support/scheduler_fixture.h"

// A named namespace: the unity build compiles this suite in one translation
// unit with hostile_connection_test.cc, which has its own count_of().
namespace dtask::http_connection_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::RawSocket;
using testing::wait_until;

/// How long an answer may take while hostile sockets are open. Generous: a
/// request answers in milliseconds; the starved server took 7-20 s here.
constexpr auto kAnswerDeadline = 5s;
/// The numbers: 40 idle sockets, plus a few slow lorises.
constexpr int kIdle = 40;
constexpr int kSlow = 8;
/// Half a request header: no blank line ever ends it.
constexpr std::string_view kPartialHeader = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// "host:port" of a URL the daemons print ("http://127.0.0.1:PORT/...").
std::string host_port(const std::string& url) {
  std::string rest = url.starts_with("http://") ? url.substr(7) : url;
  return rest.substr(0, rest.find('/'));
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

class DashboardConnectionTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(start_scheduler());
    ASSERT_FALSE(scheduler_->dashboard_address().empty()) << "the scheduler printed no dashboard address";
    ASSERT_NO_FATAL_FAILURE(start_worker({"--host", "127.0.0.1", "--nthreads", "1", "--name", "w1", "--memory-limit",
                                          "1GiB", "--dashboard-address", "127.0.0.1:0", "--log-level", "warn"}));
    ASSERT_FALSE(workers_.at(0).dashboard_address().empty()) << "the worker printed no metrics address";
  }

  std::string dashboard() const { return scheduler_->dashboard_address(); }

  /// `idle` sockets that send nothing, then `slow` that send half a header.
  static std::vector<RawSocket> open_hostile(const std::string& url, int idle, int slow) {
    std::vector<RawSocket> sockets;
    for (int i = 0; i < idle; ++i) sockets.emplace_back(host_port(url));
    for (int i = 0; i < slow; ++i) {
      sockets.emplace_back(host_port(url));
      EXPECT_TRUE(sockets.back().send(kPartialHeader));
    }
    return sockets;
  }

  /// GET `path` from `base` answers 200 within kAnswerDeadline; prints how long it took.
  static void expect_prompt_answer(const std::string& base, const std::string& path) {
    auto start = Clock::now();
    auto reply = testing::http_get(base, path);
    std::chrono::duration<double, std::milli> took = Clock::now() - start;
    ASSERT_TRUE(reply.ok()) << reply.status().to_string();
    EXPECT_EQ(reply->status, 200) << path << ": " << reply->body;
    EXPECT_LT(took, kAnswerDeadline) << "GET " << base << path << " was starved";
    std::cout << "GET " << path << " answered in " << took.count() << " ms\n";
  }

  /// Every socket is closed by the server within kCloseWait.
  static void expect_all_closed(std::vector<RawSocket>& sockets) {
    std::size_t closed = 0;
    for (auto& socket : sockets) closed += socket.closed_by_peer() ? 1 : 0;
    EXPECT_EQ(closed, sockets.size()) << "the server's idle timeout left connections open";
  }
};

// With the 40 idle sockets and 8 slow lorises open, /health, /api
// and /metrics answer at once; the server then times those sockets out, and
// still serves.
TEST_F(DashboardConnectionTest, IdleAndSlowConnectionsDoNotDelayOthers) {
  auto hostile = open_hostile(dashboard(), kIdle, kSlow);
  expect_prompt_answer(dashboard(), "/health");
  expect_prompt_answer(dashboard(), "/api/workers");
  expect_prompt_answer(dashboard(), "/metrics");
  expect_all_closed(hostile);
  expect_prompt_answer(dashboard(), "/health");
}

// Twice HttpServer::kMaxConnections idle sockets: the server keeps at most
// kMaxConnections of them (it closes the idlest to take new ones) before
// any could have reached its idle timeout, /health still answers, and the
// rest are timed out.
TEST_F(DashboardConnectionTest, ConnectionsBeyondTheBoundAreClosed) {
  constexpr int kMany = 2 * static_cast<int>(HttpServer::kMaxConnections);
  auto first_connect = Clock::now();
  auto hostile = open_hostile(dashboard(), kMany, kSlow);
  // Until the first socket could have timed out, only the bound closes any.
  auto before_timeouts =
      std::chrono::duration_cast<std::chrono::milliseconds>(first_connect + HttpServer::kIdleTimeout - Clock::now());
  auto open_count = [&] {
    std::size_t open = 0;
    for (auto& socket : hostile) open += socket.still_open() ? 1 : 0;
    return open;
  };
  EXPECT_TRUE(wait_until([&] { return open_count() <= HttpServer::kMaxConnections; }, before_timeouts))
      << open_count() << " of " << hostile.size() << " connections still open, bound "
      << HttpServer::kMaxConnections;
  expect_prompt_answer(dashboard(), "/health");
  expect_all_closed(hostile);
  expect_prompt_answer(dashboard(), "/api/workers");
}

// A keep-alive connection serves several requests, pipelined or not, is
// closed after "Connection: close", and an idle one after the idle timeout.
TEST_F(DashboardConnectionTest, KeepAliveAndPipelinedRequestsWork) {
  const std::string request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  RawSocket kept(host_port(dashboard()));
  ASSERT_TRUE(kept.send(request));
  EXPECT_EQ(count_of(kept.read_http_response(), "HTTP/1.1 200"), 1u);
  ASSERT_TRUE(kept.send(request));
  EXPECT_EQ(count_of(kept.read_http_response(), "HTTP/1.1 200"), 1u);
  EXPECT_TRUE(kept.closed_by_peer()) << "an idle keep-alive connection was never timed out";

  RawSocket pipelined(host_port(dashboard()));
  const std::string last = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(pipelined.send(request + request + last));
  auto [replies, closed] = pipelined.read_until_closed();
  EXPECT_TRUE(closed) << "not closed after Connection: close";
  EXPECT_EQ(count_of(replies, "HTTP/1.1 200"), 3u) << replies;
}

// A worker's /metrics server is the same HttpServer: idle and slow sockets
// do not delay a scrape either.
TEST_F(DashboardConnectionTest, WorkerMetricsNotDelayedByIdleConnections) {
  std::string metrics = workers_.at(0).dashboard_address();
  std::string base = metrics.substr(0, metrics.rfind('/'));
  auto hostile = open_hostile(base, kIdle, kSlow);
  expect_prompt_answer(base, "/metrics");
  expect_all_closed(hostile);
  expect_prompt_answer(base, "/metrics");
}

}  // namespace
}  // namespace dtask::http_connection_test
