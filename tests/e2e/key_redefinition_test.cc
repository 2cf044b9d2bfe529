// End-to-end, on real dtask-scheduler and dtask-worker processes: a key
// names one computation. Resubmitting a key with the same definition reuses
// its result (nothing runs again); redefining it (other arguments, op or
// dependencies), from this client or another, fails the new futures with an
// error naming the key, while the first definition's futures keep their result.
#include <gtest/gtest.h>

#include <dtask/client.h>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"

namespace dtask {
namespace {

using testing::DaemonProcess;

class KeyRedefinitionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = new DaemonProcess(std::move(*scheduler));
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, {scheduler_->address(), "--host", "127.0.0.1", "--nthreads",
                                                          "2", "--name", "w0", "--log-level", "error"});
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    worker_ = new DaemonProcess(std::move(*worker));
  }
  static void TearDownTestSuite() {
    delete worker_;
    delete scheduler_;
  }

  static std::unique_ptr<Client> connect() {
    auto client = Client::connect(scheduler_->address());
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static std::int64_t tasks_completed(Client& client) {
    return testing::scheduler_info(client).value("tasks_completed", std::int64_t{-1});
  }

  static SubmitOptions named(const std::string& key) {
    SubmitOptions options;
    options.key = key;
    return options;
  }

  static inline DaemonProcess* scheduler_ = nullptr;
  static inline DaemonProcess* worker_ = nullptr;
};

bool has_text(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The same key with the same definition, from a second client, reuses the result: nothing runs again.
TEST_F(KeyRedefinitionTest, IdenticalDefinitionReusesTheResult) {
  auto first = connect();
  auto second = connect();
  ASSERT_TRUE(first && second);
  Future<std::int64_t> a = first->submit<std::int64_t>(named("same-a"), "inc", 41);
  Future<std::int64_t> b = first->submit<std::int64_t>(named("same-b"), "add", a, 1);
  ASSERT_EQ(b.result(std::chrono::seconds(30)), 43);
  const std::int64_t ran = tasks_completed(*first);

  Future<std::int64_t> a2 = second->submit<std::int64_t>(named("same-a"), "inc", 41);
  Future<std::int64_t> b2 = second->submit<std::int64_t>(named("same-b"), "add", a2, 1);
  EXPECT_EQ(b2.result(std::chrono::seconds(30)), 43);
  EXPECT_EQ(a2.result(std::chrono::seconds(30)), 42);
  EXPECT_EQ(tasks_completed(*second), ran);
}

// Another client redefining a key (argument, op, dependency) gets a failed
// future naming the key; the first client's result is untouched.
TEST_F(KeyRedefinitionTest, RedefinedKeyFailsClearly) {
  auto first = connect();
  auto second = connect();
  ASSERT_TRUE(first && second);
  Future<std::int64_t> original = first->submit<std::int64_t>(named("redef-x"), "inc", 1);
  ASSERT_EQ(original.result(std::chrono::seconds(30)), 2);
  Future<std::int64_t> other = first->submit<std::int64_t>(named("redef-other"), "inc", 7);

  // A client's futures share one state per key: each case gets a client of its own.
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::pair<std::string, Future<std::int64_t>>> redefined;
  clients.push_back(connect());
  redefined.emplace_back("argument", clients.back()->submit<std::int64_t>(named("redef-x"), "inc", 2));
  clients.push_back(connect());
  redefined.emplace_back("op", clients.back()->submit<std::int64_t>(named("redef-x"), "identity", 1));
  clients.push_back(connect());
  redefined.emplace_back("dependency", clients.back()->submit<std::int64_t>(named("redef-x"), "inc", other));
  for (auto& [what, future] : redefined) {
    Result<std::int64_t> result = future.try_result(std::chrono::seconds(30));
    ASSERT_FALSE(result.ok()) << what << ": the old result was reused for a new definition";
    const std::string& message = result.status().message();
    EXPECT_TRUE(has_text(message, "key 'redef-x' already names a task of op 'inc'")) << what << ": " << message;
    EXPECT_TRUE(has_text(message, "give a new definition a new key")) << message;
    EXPECT_NE(result.status().code(), StatusCode::kTimedOut) << message;
  }
  // A graph whose inner task redefines the key fails as a whole, naming the key.
  Delayed inner = delayed("inc", named("redef-x"))(100);
  Future<std::int64_t> outer = second->compute<std::int64_t>(delayed("add")(inner, 1));
  Result<std::int64_t> refused = outer.try_result(std::chrono::seconds(30));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(has_text(refused.status().message(), "graph refused: key 'redef-x'")) << refused.status().message();
  EXPECT_TRUE(has_text(refused.status().message(), "task " + outer.key())) << refused.status().message();

  EXPECT_EQ(original.result(std::chrono::seconds(30)), 2);
  EXPECT_EQ(first->submit<std::int64_t>(named("redef-x"), "inc", 1).result(std::chrono::seconds(30)), 2);
}

// Keys the client makes carry a salt of 128 random bits (32 hex digits), then a counter.
TEST_F(KeyRedefinitionTest, GeneratedKeysCarry128RandomBits) {
  auto client = connect();
  ASSERT_TRUE(client);
  Future<std::int64_t> f = client->submit<std::int64_t>("inc", 1);
  EXPECT_TRUE(std::regex_match(f.key(), std::regex("inc-[0-9a-f]{32}[0-9a-f]+"))) << f.key();
  Future<std::int64_t> g = client->submit<std::int64_t>("inc", 1);
  EXPECT_NE(f.key(), g.key());
  EXPECT_EQ(f.key().substr(0, 36), g.key().substr(0, 36));  // one salt per process, then a counter
  EXPECT_EQ(f.result(std::chrono::seconds(30)) + g.result(std::chrono::seconds(30)), 4);
}

}  // namespace
}  // namespace dtask
