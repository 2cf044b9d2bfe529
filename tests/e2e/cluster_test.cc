// End-to-end: real dtask-scheduler and dtask-worker processes on 127.0.0.1
// with ephemeral ports, driven through the public client API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dtask/client.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/address.h"
#include "worker/op_registry.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::run_command;
using testing::wait_until;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    start_worker("w1");
    start_worker("w2");
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_until([&] { return info()["workers"].size() == workers_.size(); }));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
    }
  }

  void start_worker(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "2", "--name", name,
                                     "--memory-limit", "1GiB", "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    workers_.push_back(std::move(*worker));
  }

  nlohmann::json info(Client* client = nullptr) { return testing::scheduler_info(client ? *client : *client_); }

  nlohmann::json worker_info(const std::string& name) { return testing::worker_info(*client_, name); }

  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

// A diamond (a -> b, a -> c, b + c -> d) computes the right value.
TEST_F(ClusterTest, DiamondGraph) {
  auto a = delayed("inc")(1);
  auto b = delayed("add")(a, 10);
  auto c = delayed("mul")(a, 2);
  auto d = delayed("add")(b, c);
  EXPECT_DOUBLE_EQ(client_->compute<double>(d).result(), 16.0);
}

// 10,000 tasks fanned out and summed in one task give the exact sum.
TEST_F(ClusterTest, FanOutFanIn) {
  std::vector<Delayed> parts;
  for (int i = 0; i < 10000; ++i) parts.push_back(delayed("inc")(i));
  EXPECT_EQ(client_->compute<std::int64_t>(delayed("sum")(parts)).result(), 50005000);
  nlohmann::json scheduler = info();
  EXPECT_EQ(scheduler["tasks_completed"].get<int>(), 10001);
  // The scheduler counts what the graph cost it (the benchmark's per-task CPU).
  for (const char* counter : {"transition_seconds", "decode_seconds", "encode_seconds"}) {
    EXPECT_GT(scheduler["counters"][counter].get<double>(), 0.0) << counter;
  }
}

// Graphs bigger than one UpdateGraph part, computed from two threads at
// once: each goes in parts that do not interleave with the other's (the
// scheduler joins parts until a last one), and both sums are exact.
TEST_F(ClusterTest, BigGraphsFromTwoThreadsGoInWholeParts) {
  constexpr std::int64_t kTasks = 120000;  // two parts each
  auto fan_in = [&](std::int64_t offset) {
    std::vector<Delayed> parts;
    parts.reserve(kTasks);
    for (std::int64_t i = 0; i < kTasks; ++i) parts.push_back(delayed("inc")(offset + i));
    return client_->compute<std::int64_t>(delayed("sum")(parts)).result();
  };
  std::int64_t other = 0;
  std::thread second([&] { other = fan_in(kTasks); });
  std::int64_t first = fan_in(0);
  second.join();
  // The sum of i + 1 over [offset, offset + kTasks): 1..kTasks, then kTasks+1..2*kTasks.
  EXPECT_EQ(first, kTasks * (kTasks + 1) / 2);
  EXPECT_EQ(other, 2 * kTasks * (2 * kTasks + 1) / 2 - kTasks * (kTasks + 1) / 2);
}

// A task that raises reports op, key and message; its dependents fail with it.
TEST_F(ClusterTest, ErrorReachesClient) {
  auto bad = client_->submit("fail", "the disk is on fire");
  auto outcome = bad.try_result();
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kTaskError);
  EXPECT_NE(outcome.status().message().find("the disk is on fire"), std::string::npos);
  EXPECT_NE(outcome.status().message().find("'fail'"), std::string::npos);
  EXPECT_NE(outcome.status().message().find(bad.key()), std::string::npos);

  auto dependent = client_->submit("inc", bad);
  auto dependent_outcome = dependent.try_result();
  ASSERT_FALSE(dependent_outcome.ok());
  EXPECT_NE(dependent_outcome.status().message().find("its dependency " + bad.key() + " failed"), std::string::npos);
  EXPECT_THROW(dependent.result(), TaskError);

  // The cluster still works afterwards.
  EXPECT_EQ(client_->submit<std::int64_t>("add", 2, 3).result(), 5);
}

// An op no worker has is an error naming the op, not a hang.
TEST_F(ClusterTest, UnknownOpIsAnError) {
  auto outcome = client_->submit("no.such.op", 1).try_result();
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("unknown op 'no.such.op'"), std::string::npos);
}

// A dependency made on w1 is fetched by w2 directly when its dependent is pinned there.
TEST_F(ClusterTest, DependencyMovesWorkerToWorker) {
  auto array = client_->submit(SubmitOptions{.workers = {"w1"}}, "arange", 100000);
  auto total = client_->submit<double>(SubmitOptions{.workers = {"w2"}}, "array_sum", array);
  EXPECT_DOUBLE_EQ(total.result(), 100000.0 * 99999.0 / 2);
  // Each result lives where it was computed: the array on w1, the sum on w2.
  EXPECT_EQ(worker_info("w1")["has_what"].get<int>(), 1);
  EXPECT_EQ(worker_info("w2")["has_what"].get<int>(), 1);
  EXPECT_EQ(worker_info("w1")["tasks_done"].get<int>(), 1);
  EXPECT_EQ(worker_info("w2")["tasks_done"].get<int>(), 1);
  // The array bytes come back intact through the data plane too.
  auto values = array.value();
  ASSERT_TRUE(values.ok()) << values.status().to_string();
  const NDArray& fetched = values->get<NDArray>();
  ASSERT_EQ(fetched.size(), 100000);
  EXPECT_EQ(fetched.data<double>()[99999], 99999.0);
}

// A worker started with --plugin runs the plugin's ops.
TEST_F(ClusterTest, PluginOp) {
  start_worker("plugged", {"--plugin", DTASK_EXAMPLE_PLUGIN});
  ASSERT_TRUE(wait_until([&] { return info()["workers"].size() == 3; }));
  auto square = client_->submit<std::int64_t>(SubmitOptions{.workers = {"plugged"}}, "example.square", 12);
  EXPECT_EQ(square.result(), 144);
  auto hypot = client_->submit<double>(SubmitOptions{.workers = {"plugged"}}, "example.hypot", 3.0, 4.0);
  EXPECT_DOUBLE_EQ(hypot.result(), 5.0);
  // Typed ops check their arguments.
  auto wrong = client_->submit(SubmitOptions{.workers = {"plugged"}}, "example.square", "twelve").try_result();
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("argument 0 of op 'example.square'"), std::string::npos);
}

// A plugin without DTASK_PLUGIN_ABI, with another ABI version, or whose
// registration fails (a built-in op's name again, its Status ignored) stops
// the worker at start, and its log names the plugin and the reason.
TEST(PluginLoading, BadPluginsAreRefusedWithTheReason) {
  const std::string log = (std::filesystem::temp_directory_path() /
                           ("dtask-plugin-test-" + std::to_string(::getpid()) + ".log")).string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {DTASK_PLUGIN_NO_ABI, "has no ABI version: add DTASK_PLUGIN_ABI"},
      {DTASK_PLUGIN_OTHER_ABI, "was built for plugin ABI " + std::to_string(kPluginAbiVersion + 1)},
      {DTASK_PLUGIN_DUPLICATE_OP, "op 'add' is already registered"}};
  for (const auto& [plugin, reason] : cases) {
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, {"tcp://127.0.0.1:1", "--plugin", plugin},
                                       std::chrono::seconds(20), log);
    EXPECT_FALSE(worker.ok()) << plugin << " was loaded";
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find(plugin), std::string::npos) << text;
    EXPECT_NE(text.find(reason), std::string::npos) << text;
  }
  std::filesystem::remove(log);
  // The same for a LocalCluster's register_ops: a duplicate name fails the start.
  try {
    Client local(LocalClusterOptions{.n_workers = 1, .register_ops = [](OpRegistry& registry) {
      (void)registry.add_function("add", [](std::int64_t a, std::int64_t b) { return a - b; });
    }});
    ADD_FAILURE() << "a LocalCluster started with a duplicate op";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("op 'add' is already registered"), std::string::npos) << e.what();
  }
}

// A task needing GPU=1 waits in no-worker until a worker with a GPU joins, then runs there.
TEST_F(ClusterTest, ResourcesHoldTaskUntilWorkerJoins) {
  auto on_gpu = client_->submit<std::int64_t>(SubmitOptions{.resources = {{"GPU", 1}}}, "add", 40, 2);
  ASSERT_TRUE(wait_until([&] { return info()["states"]["no-worker"].get<int>() == 1; }));
  EXPECT_FALSE(on_gpu.done());
  start_worker("gpu", {"--resources", "GPU=1"});
  EXPECT_EQ(on_gpu.result(), 42);
  EXPECT_EQ(worker_info("gpu")["tasks_done"].get<int>(), 1);
}

// When a client disconnects, the scheduler forgets its keys and workers free them.
TEST_F(ClusterTest, ClientDisconnectReleasesKeys) {
  {
    auto other = Client::connect(scheduler_->address());
    ASSERT_TRUE(other.ok());
    std::vector<Future<double>> held;
    for (int i = 0; i < 20; ++i) held.push_back((*other)->submit<double>("array_sum", delayed("arange")(1000 + i)));
    for (auto& f : held) ASSERT_TRUE(f.wait().ok());
    EXPECT_GE(info()["tasks"].get<int>(), 20);
    ASSERT_TRUE(wait_until([&] {
      auto workers = info()["workers"];
      return workers[0]["stored_keys"].get<int>() + workers[1]["stored_keys"].get<int>() >= 20;
    }));
  }  // the other client goes away without releasing anything itself
  ASSERT_TRUE(wait_until([&] { return info()["tasks"].get<int>() == 0; }));
  ASSERT_TRUE(wait_until([&] {
    auto workers = info()["workers"];
    return workers[0]["stored_keys"].get<int>() == 0 && workers[1]["stored_keys"].get<int>() == 0;
  })) << info().dump();
}

// Dropping the last future releases its result; a second future on the key keeps it.
TEST_F(ClusterTest, FutureRefcountsReleaseKeys) {
  auto kept = client_->submit<std::int64_t>("add", 1, 1);
  {
    auto dropped = client_->submit<std::int64_t>("add", 2, 2);
    EXPECT_EQ(dropped.result(), 4);
    EXPECT_EQ(kept.result(), 2);
    EXPECT_EQ(info()["tasks"].get<int>(), 2);
  }
  ASSERT_TRUE(wait_until([&] { return info()["tasks"].get<int>() == 1; }));
  EXPECT_EQ(kept.result(), 2);
}

// One key, dropped and submitted again, 300 times. Whenever its release
// reaches the scheduler first, the task runs again on a worker that was
// told to free the old result: the free travels ahead of the new task (the
// scheduler holds freed keys for the next message), or the worker would
// drop the new result and fetching it would fail. (A key names one value,
// as in Dask: submitting it again before its release may return the result
// still held, so the arguments stay the same; on a loaded machine that
// may be every round, so how often it ran again is not asserted.)
TEST_F(ClusterTest, KeyDroppedAndSubmittedAgainIsComputedAgain) {
  SubmitOptions options;
  options.key = "again";
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(client_->submit<std::int64_t>(options, "add", 20, 22).result(), 42) << "round " << i;
  }
  ASSERT_TRUE(wait_until([&] { return info()["tasks"].get<int>() == 0; }));
  ASSERT_TRUE(wait_until([&] {
    auto workers = info()["workers"];
    return workers[0]["stored_keys"].get<int>() == 0 && workers[1]["stored_keys"].get<int>() == 0;
  })) << info().dump();
}

// Scatter puts local data on a worker; tasks use it like any result.
TEST_F(ClusterTest, ScatterThenCompute) {
  auto data = client_->scatter(Value(NDArray::from_vector<double>({1.5, 2.5, 3.0})));
  EXPECT_DOUBLE_EQ(client_->submit<double>("array_sum", data).result(), 7.0);
}

// Garbage bytes cost their own connection; the scheduler keeps serving.
TEST_F(ClusterTest, GarbageConnectionDoesNotHurtScheduler) {
  auto address = parse_address(scheduler_->address());
  ASSERT_TRUE(address.ok());
  // A valid-looking header that announces an absurd message must be refused unread.
  const unsigned char huge_header[24] = {'D', 'T', 'S', 'K', 1, 2, 0, 0, 0, 0, 0, 0x7f};
  const std::vector<std::string> payloads = {
      std::string(7, '\xA5'),     // a truncated header, then the peer leaves
      std::string(4096, '\xA6'),  // garbage
      std::string(reinterpret_cast<const char*>(huge_header), sizeof(huge_header)),
  };
  // One connection per payload, each written once: a second write could race
  // the scheduler's reset of a connection it already rejected.
  for (const std::string& payload : payloads) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(address->port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    EXPECT_EQ(send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), static_cast<ssize_t>(payload.size()));
    close(fd);
  }
  EXPECT_EQ(client_->submit<std::int64_t>("add", 20, 22).result(), 42);
}

// Both daemons answer --help.
TEST(DaemonCli, HelpWorks) {
  auto scheduler = run_command(DTASK_SCHEDULER_BIN, {"--help"});
  EXPECT_EQ(scheduler.first, 0);
  EXPECT_NE(scheduler.second.find("--port"), std::string::npos);
  auto worker = run_command(DTASK_WORKER_BIN, {"--help"});
  EXPECT_EQ(worker.first, 0);
  EXPECT_NE(worker.second.find("--memory-limit"), std::string::npos);
  EXPECT_NE(worker.second.find("--plugin"), std::string::npos);
}

// A bad option is a clear error and a non-zero exit, not a crash.
TEST(DaemonCli, BadOptionsAreRejected) {
  EXPECT_NE(run_command(DTASK_WORKER_BIN, {"tcp://127.0.0.1:1", "--memory-limit", "lots"}).first, 0);
  EXPECT_NE(run_command(DTASK_WORKER_BIN, {"tcp://127.0.0.1:1", "--resources", "GPU"}).first, 0);
  EXPECT_NE(run_command(DTASK_SCHEDULER_BIN, {"--port", "99999"}).first, 0);
}

// --scheduler-file on both daemons (as Dask's): a worker started first waits
// for the file, the scheduler writes its address there once it listens, the
// worker connects and runs tasks; a clean stop removes the file. A missing
// file (past --scheduler-file-timeout) or a malformed one fails the worker
// with a non-zero exit; an address and a file together are refused.
TEST(SchedulerFile, WorkersFindTheSchedulerThroughIt) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("dtask-scheduler-file-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "scheduler.json").string();
  auto worker_started = std::async(std::launch::async, [&] {
    return DaemonProcess::start(DTASK_WORKER_BIN, {"--scheduler-file", file, "--host", "127.0.0.1", "--nthreads", "1",
                                                   "--name", "from-file", "--log-level", "warn"});
  });
  std::vector<std::string> scheduler_args = testing::test_scheduler_args();
  scheduler_args.insert(scheduler_args.end(), {"--scheduler-file", file});
  auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, scheduler_args);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
  auto worker = worker_started.get();
  ASSERT_TRUE(worker.ok()) << worker.status().to_string();
  {
    std::ifstream in(file);
    const nlohmann::json written = nlohmann::json::parse(in);
    EXPECT_EQ(written.at("type"), "Scheduler");
    EXPECT_EQ(written.at("address"), scheduler->address());
    EXPECT_EQ(written.at("dashboard"), scheduler->dashboard_address());
  }
  auto client = Client::connect(scheduler->address());
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(**client)["workers"].size() == 1; }));
  EXPECT_EQ((*client)->submit<std::int64_t>("add", 20, 22).result(), 42);
  client->reset();
  EXPECT_EQ(worker->stop(), 0);
  EXPECT_EQ(scheduler->stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(file)) << "a clean stop removes the scheduler file";

  EXPECT_NE(run_command(DTASK_WORKER_BIN, {"--scheduler-file", file, "--scheduler-file-timeout", "0.2"}).first, 0)
      << "no file: the worker gives up after the timeout";
  std::ofstream(file) << "{\"type\": \"Scheduler\"}\n";
  EXPECT_NE(run_command(DTASK_WORKER_BIN, {"--scheduler-file", file, "--scheduler-file-timeout", "0.2"}).first, 0)
      << "a file without an address";
  EXPECT_NE(run_command(DTASK_WORKER_BIN, {"tcp://127.0.0.1:1", "--scheduler-file", file}).first, 0);
  EXPECT_NE(run_command(DTASK_WORKER_BIN, {"--nthreads", "1"}).first, 0) << "neither an address nor a file";
  std::filesystem::remove_all(dir);
}

// --config FILE (YAML or JSON) and DTASK_WORKER_* / DTASK_SCHEDULER_*
// variables reach every option. Precedence: command line, then the file,
// then the environment. An unknown key, a refused value and an unreadable
// file each stop the daemon before it starts, naming the file.
TEST(DaemonConfigTest, FileEnvironmentAndCommandLineInThatOrder) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("dtask-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string scheduler_json = (dir / "scheduler.json").string();
  std::ofstream(scheduler_json) << R"({"host": "127.0.0.1", "port": 0, "dashboard-address": "127.0.0.1:0",
                                       "log-level": "warn", "heartbeat-interval-ms": 100})";
  auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, {"--config", scheduler_json});
  ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
  auto client = Client::connect(scheduler->address());
  ASSERT_TRUE(client.ok()) << client.status().to_string();

  const std::string worker_yaml = (dir / "worker.yaml").string();
  std::ofstream(worker_yaml) << "host: 127.0.0.1\nnthreads: 3\nlog-level: warn\n";
  std::vector<DaemonProcess> workers;
  auto start = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {scheduler->address(), "--name", name};
    args.insert(args.end(), extra.begin(), extra.end());
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    workers.push_back(std::move(*worker));
  };
  ::setenv("DTASK_WORKER_NTHREADS", "2", 1);
  ::setenv("DTASK_WORKER_HOST", "127.0.0.1", 1);
  ::setenv("DTASK_WORKER_LOG_LEVEL", "warn", 1);
  start("env-only", {});
  start("file-over-env", {"--config", worker_yaml});
  start("command-line-first", {"--config", worker_yaml, "--nthreads", "1"});
  ::unsetenv("DTASK_WORKER_NTHREADS");
  ::unsetenv("DTASK_WORKER_HOST");
  ::unsetenv("DTASK_WORKER_LOG_LEVEL");
  ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(**client)["workers"].size() == 3; }));
  EXPECT_EQ(testing::worker_info(**client, "env-only")["nthreads"], 2);
  EXPECT_EQ(testing::worker_info(**client, "file-over-env")["nthreads"], 3);
  EXPECT_EQ(testing::worker_info(**client, "command-line-first")["nthreads"], 1);

  const std::string unknown = (dir / "unknown.yaml").string();
  std::ofstream(unknown) << "nthread: 3\n";
  const std::string refused = (dir / "refused.json").string();
  std::ofstream(refused) << R"({"nthreads": 0})";
  for (const std::string& file : {unknown, refused, (dir / "missing.yaml").string()}) {
    EXPECT_NE(run_command(DTASK_WORKER_BIN, {scheduler->address(), "--config", file}).first, 0) << file;
  }
  client->reset();
  for (auto& worker : workers) EXPECT_EQ(worker.stop(), 0);
  EXPECT_EQ(scheduler->stop(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dtask
