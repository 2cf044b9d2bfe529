// End-to-end: nothing a client does blocks forever. Against real
// dtask-scheduler / dtask-worker processes that cannot answer (a scheduler
// with no workers, a worker frozen by SIGSTOP) and a plain TCP listener that
// accepts and says nothing, every blocking call returns a TimedOut error that
// names the key, the worker or the server, soon after its timeout.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <dtask/client.h>
#include <memory>
#include <string>
#include <vector>

#include "common/messages.h"
#include "tests/support/daemon_process.h"
#include "tests/support/scheduler_fixture.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using std::chrono::milliseconds;

bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A TCP listener on 127.0.0.1 that never accepts: the kernel completes
/// each connection into its backlog, and nothing is ever said on it.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class ClientDeadlineTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(start_scheduler());
    ASSERT_NO_FATAL_FAILURE(connect_client());
  }
  void TearDown() override {
    // A stopped process acts on SIGTERM only once continued.
    for (DaemonProcess& worker : workers_) ::kill(worker.pid(), SIGCONT);
    stop_cluster(testing::ExitCheck::kIgnore);
  }

  /// One worker, once the scheduler lists it.
  void start_worker() {
    ASSERT_NO_FATAL_FAILURE(SchedulerFixture::start_worker(
        {"--host", "127.0.0.1", "--nthreads", "1", "--name", "w0", "--log-level", "error"}));
    ASSERT_TRUE(wait_for_workers(1));
  }

  /// The worker start_worker() started.
  DaemonProcess& worker() { return workers_.at(0); }
};

// With no worker to run it, result(timeout) throws TimedOut naming the key, and so do its siblings.
TEST_F(ClientDeadlineTest, ResultTimesOutWhenNoWorkerCanRunTheTask) {
  Future<std::int64_t> f = client_->submit<std::int64_t>("inc", 1);
  auto started = std::chrono::steady_clock::now();
  try {
    f.result(milliseconds(300));
    FAIL() << "result() returned without a worker";
  } catch (const TaskError& error) {
    EXPECT_EQ(error.status().code(), StatusCode::kTimedOut) << error.what();
    EXPECT_TRUE(mentions(error.what(), "task " + f.key() + " did not finish within 300 ms")) << error.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(300));

  Result<std::int64_t> tried = f.try_result(milliseconds(100));
  ASSERT_FALSE(tried.ok());
  EXPECT_EQ(tried.status().code(), StatusCode::kTimedOut);
  Status waited = f.wait(milliseconds(100));
  EXPECT_EQ(waited.code(), StatusCode::kTimedOut) << waited.to_string();

  Future<std::int64_t> g = client_->submit<std::int64_t>("inc", 2);
  Result<std::vector<Value>> gathered = client_->gather_values({f, g}, milliseconds(200));
  ASSERT_FALSE(gathered.ok());
  EXPECT_EQ(gathered.status().code(), StatusCode::kTimedOut);
  EXPECT_TRUE(mentions(gathered.status().message(), "2 not finished")) << gathered.status().message();
  EXPECT_TRUE(mentions(gathered.status().message(), f.key())) << gathered.status().message();
  EXPECT_THROW(client_->gather(std::vector<Future<std::int64_t>>{f, g}, milliseconds(100)), TaskError);

  EXPECT_EQ(client_->wait({f, g}, milliseconds(100)).code(), StatusCode::kTimedOut);
  EXPECT_EQ(client_->wait_any({f, g}, milliseconds(100)).status().code(), StatusCode::kTimedOut);
  auto completed = as_completed(*client_, std::vector<Future<std::int64_t>>{f, g});
  auto next = completed.next(milliseconds(100));
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kTimedOut) << next.status().to_string();

  // Once a worker joins, the same futures complete: a timeout gives up the wait, not the task.
  start_worker();
  EXPECT_EQ(f.result(milliseconds(30000)), 2);
  EXPECT_EQ(completed.next(milliseconds(30000)).ok(), true);
}

// A worker that holds a result but never answers (frozen by SIGSTOP) fails
// the fetch and a scatter to it with TimedOut naming the worker.
TEST_F(ClientDeadlineTest, FetchAndScatterTimeOutOnAWorkerThatNeverAnswers) {
  start_worker();
  // 160 KB: too big to come inline with its status, so it is fetched from the worker.
  constexpr std::int64_t kLength = 20000;
  static_assert(kLength * 8 > msg::kInlineResultBytes);
  Future<Value> f = client_->submit<Value>("arange", kLength);
  ASSERT_TRUE(f.wait(milliseconds(30000)).ok());
  ASSERT_EQ(::kill(worker().pid(), SIGSTOP), 0);

  Result<Value> fetched = f.try_result(milliseconds(500));
  ASSERT_FALSE(fetched.ok());
  EXPECT_EQ(fetched.status().code(), StatusCode::kTimedOut) << fetched.status().to_string();
  EXPECT_TRUE(mentions(fetched.status().message(), "fetching " + f.key())) << fetched.status().message();
  EXPECT_TRUE(mentions(fetched.status().message(), worker().address())) << fetched.status().message();

  Result<std::vector<Future<Value>>> scattered = client_->scatter({Value(1), Value(2)}, milliseconds(500));
  ASSERT_FALSE(scattered.ok());
  EXPECT_EQ(scattered.status().code(), StatusCode::kTimedOut) << scattered.status().to_string();
  EXPECT_TRUE(mentions(scattered.status().message(), "scattering 2 values")) << scattered.status().message();
  EXPECT_TRUE(mentions(scattered.status().message(), worker().address())) << scattered.status().message();

  // Thawed, the same worker answers again on the same connection.
  ASSERT_EQ(::kill(worker().pid(), SIGCONT), 0);
  EXPECT_EQ(f.result(milliseconds(30000)).get<NDArray>().size(), kLength);
}

// A small result a client waits for comes with its status, through the
// scheduler: reading it needs nothing from the worker, even a frozen one.
TEST_F(ClientDeadlineTest, SmallResultComesWithItsStatus) {
  start_worker();
  Future<std::int64_t> f = client_->submit<std::int64_t>("inc", 1);
  ASSERT_TRUE(f.wait(milliseconds(30000)).ok());
  ASSERT_EQ(::kill(worker().pid(), SIGSTOP), 0);
  Result<std::int64_t> value = f.try_result(milliseconds(5000));
  ASSERT_EQ(::kill(worker().pid(), SIGCONT), 0);
  ASSERT_TRUE(value.ok()) << value.status().to_string();
  EXPECT_EQ(*value, 2);
}

// as_completed yields futures in the order they finish: the futures are all
// pending (no worker yet) when it starts; then a chain, given last-first,
// finishes link by link and so comes out first-last.
TEST_F(ClientDeadlineTest, AsCompletedYieldsInCompletionOrder) {
  std::vector<Delayed> chain = {delayed("inc")(0)};
  for (int i = 1; i < 300; ++i) chain.push_back(delayed("inc")(chain.back()));
  std::vector<Delayed> reversed(chain.rbegin(), chain.rend());
  std::vector<Future<std::int64_t>> futures = client_->compute<std::int64_t>(reversed);
  auto completed = as_completed(*client_, futures);
  ASSERT_FALSE(completed.next(milliseconds(50)).ok()) << "a task finished without a worker";
  start_worker();
  std::vector<std::int64_t> order;
  while (auto f = completed.next()) order.push_back(f->result(milliseconds(30000)));
  ASSERT_EQ(order.size(), chain.size());
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], static_cast<std::int64_t>(i) + 1) << i;
  EXPECT_EQ(completed.remaining(), 0u);
}

// A server that accepts and never answers fails connect within connect_timeout, naming the address.
TEST(ConnectDeadlineTest, SilentServerTimesOutTheHandshake) {
  SilentListener listener;
  const std::string address = "tcp://127.0.0.1:" + std::to_string(listener.port());
  ClientOptions options;
  options.connect_timeout = milliseconds(300);
  auto started = std::chrono::steady_clock::now();
  auto client = Client::connect(address, options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kTimedOut) << client.status().to_string();
  EXPECT_TRUE(mentions(client.status().message(), "no handshake reply from scheduler " + address))
      << client.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
}

}  // namespace
}  // namespace dtask
