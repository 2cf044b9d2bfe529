// Fault tolerance end to end, with real dtask-scheduler and dtask-worker
// processes killed by SIGKILL mid-graph: lost results are recomputed from
// their lineage, a task that keeps killing workers fails with a clear error,
// lost scattered data is reported as lost, --nanny brings a dead worker
// back, a retired worker (client call or SIGTERM) hands its results over
// first, and ParameterAveraging finishes its fit when a worker dies mid-epoch. bench/soak_kill_workers.sh repeats the first test 100 times.
#include <gtest/gtest.h>
#include <signal.h>

#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/parameter_averaging.h>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/reduction_graph.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::wait_until;

/// Runs of the kill test (bench/soak_kill_workers.sh sets DTASK_KILL_RUNS=100).
int kill_runs() {
  const char* runs = std::getenv("DTASK_KILL_RUNS");
  return runs != nullptr ? std::max(1, std::atoi(runs)) : 20;
}

class FaultToleranceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> args = testing::test_scheduler_args();
    args.insert(args.end(), {"--allowed-failures", "1"});
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, args);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    for (int i = 0; i < 3; ++i) start_worker();
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_for_workers(3));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
    }
  }

  void start_worker(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {scheduler_->address(), "--host",     "127.0.0.1", "--nthreads", "2", "--name",
                                     "w" + std::to_string(next_worker_++), "--log-level", "error"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    workers_.push_back(std::move(*worker));
  }

  /// SIGKILLs workers_[i] and forgets it.
  void kill_worker(std::size_t i) {
    EXPECT_EQ(workers_[i].stop(SIGKILL), 128 + SIGKILL);
    workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
  }

  nlohmann::json info() { return testing::scheduler_info(*client_); }

  bool wait_for_workers(std::size_t n) {
    return wait_until([&] { return info()["workers"].size() == n; });
  }

  std::uint64_t tasks_completed() { return info()["tasks_completed"].get<std::uint64_t>(); }

  /// The index in workers_ of the worker named `name`, or -1.
  int index_of(const std::string& name) {
    const std::string address = [&] {
      nlohmann::json snapshot = info();
      for (const auto& w : snapshot["workers"]) {
        if (w["name"] == name) return w["address"].get<std::string>();
      }
      return std::string();
    }();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].address() == address) return static_cast<int>(i);
    }
    return -1;
  }

  /// The name of a worker running at least one task, or "" (no wait).
  std::string busy_worker() {
    nlohmann::json snapshot = info();
    for (const auto& w : snapshot["workers"]) {
      if (w.value("processing", 0) > 0) return w["name"].get<std::string>();
    }
    return "";
  }

  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
  int next_worker_ = 0;
};

// kill -9 of a random worker in the middle of a 5,000-task graph with
// reductions, 20 times in a row (a new worker joins after each): every run
// finishes with the right sum.
TEST_F(FaultToleranceTest, KillRandomWorkerMidGraph) {
  std::mt19937 rng(2026);
  const int runs = kill_runs();
  for (int run = 0; run < runs; ++run) {
    // 4,400 leaves of 0.5 ms summed by a tree: about 5,000 tasks, with keys of their own per run.
    auto [root, expected, tasks] = testing::reduction_graph(4400, 0.0005, std::int64_t{run} * 1'000'000);
    const std::uint64_t before = tasks_completed();
    Future<std::int64_t> result = client_->compute<std::int64_t>(root);
    ASSERT_TRUE(wait_until([&] { return tasks_completed() >= before + 400; })) << "run " << run;
    const std::size_t victim = rng() % workers_.size();
    kill_worker(victim);
    start_worker();
    auto value = result.try_result();
    ASSERT_TRUE(value.ok()) << "run " << run << ": " << value.status().to_string();
    EXPECT_EQ(*value, expected) << "run " << run;
  }
  EXPECT_TRUE(wait_for_workers(3));
}

// A task whose worker is killed twice (--allowed-failures 1) fails with
// "worker killed while running <op> <key>" instead of killing more workers.
TEST_F(FaultToleranceTest, TaskKillingItsWorkersFailsAfterAllowedFailures) {
  Future<Value> doomed = client_->submit<Value>("sleep", 600.0);
  for (int death = 0; death < 2; ++death) {
    std::string busy;
    ASSERT_TRUE(wait_until([&] { return !(busy = busy_worker()).empty(); })) << "death " << death;
    const int i = index_of(busy);
    ASSERT_GE(i, 0) << busy;
    kill_worker(static_cast<std::size_t>(i));
    start_worker();
  }
  auto value = doomed.value();
  ASSERT_FALSE(value.ok());
  const std::string message = value.status().message();
  EXPECT_NE(message.find("worker killed while running sleep " + doomed.key()), std::string::npos) << message;
  EXPECT_NE(message.find("2 workers died"), std::string::npos) << message;
  // The cluster is still whole and computes.
  EXPECT_TRUE(wait_for_workers(3));
  EXPECT_EQ(client_->submit<std::int64_t>("add", 2, 3).result(), 5);
}

// Data a client scattered cannot be recomputed: when its only worker dies
// the client's future reports it lost.
TEST_F(FaultToleranceTest, LostScatteredDataIsReportedToTheClient) {
  Future<Value> data = client_->scatter(Value(std::int64_t{42}));
  ASSERT_TRUE(data.wait().ok());
  std::string holder;
  ASSERT_TRUE(wait_until([&] {
    nlohmann::json snapshot = info();
    for (const auto& w : snapshot["workers"]) {
      if (w.value("has_what", 0) > 0) holder = w["name"].get<std::string>();
    }
    return !holder.empty();
  }));
  const int i = index_of(holder);
  ASSERT_GE(i, 0);
  kill_worker(static_cast<std::size_t>(i));
  // wait() reports the future's state without fetching: it turns into an
  // error once the scheduler's "lost" status arrives (fetching from the dead
  // worker first would only time out on its address).
  ASSERT_TRUE(wait_until([&] { return !data.wait().ok(); }));
  const std::string message = data.wait().message();
  EXPECT_NE(message.find("was lost"), std::string::npos) << message;
  start_worker();
}

/// 60 results of 1,000 float64 each, computed and held (the futures keep them).
std::vector<Future<Value>> held_results(Client& client) {
  std::vector<Future<Value>> out;
  for (int i = 0; i < 60; ++i) out.push_back(client.submit<Value>("arange", std::int64_t{1000 + i}));
  for (auto& f : out) EXPECT_TRUE(f.wait().ok());
  return out;
}

/// The name of the worker holding the most results.
std::string fullest_worker(const nlohmann::json& snapshot) {
  std::string name;
  int most = -1;
  for (const auto& w : snapshot["workers"]) {
    if (w.value("has_what", 0) > most) {
      most = w.value("has_what", 0);
      name = w["name"].get<std::string>();
    }
  }
  return name;
}

/// Every held result is still there, with the right length.
void expect_results_intact(std::vector<Future<Value>>& results) {
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto value = results[i].value();
    ASSERT_TRUE(value.ok()) << i << ": " << value.status().to_string();
    EXPECT_EQ(value->get<NDArray>().size(), static_cast<std::int64_t>(1000 + i));
  }
}

// Client::retire_workers copies the results only the worker holds to the
// others before it goes: nothing is recomputed, and the worker exits cleanly.
TEST_F(FaultToleranceTest, RetireWorkersMovesUniqueResultsFirst) {
  std::vector<Future<Value>> results = held_results(*client_);
  const std::string name = fullest_worker(info());
  const int i = index_of(name);
  ASSERT_GE(i, 0);
  const std::uint64_t completed = tasks_completed();
  auto retired = client_->retire_workers({name});
  ASSERT_TRUE(retired.ok()) << retired.status().to_string();
  EXPECT_EQ(*retired, std::vector<std::string>{name});
  EXPECT_EQ(workers_[static_cast<std::size_t>(i)].wait_exit(), 0) << "a retired worker exits by itself, with 0";
  workers_.erase(workers_.begin() + i);
  EXPECT_EQ(info()["workers"].size(), 2u);
  expect_results_intact(results);
  EXPECT_EQ(tasks_completed(), completed) << "moved, not recomputed";
  EXPECT_FALSE(client_->retire_workers({"no-such-worker"}).ok());
  start_worker();
}

// SIGTERM to a worker retires it the same way (as dask-worker does).
TEST_F(FaultToleranceTest, SigtermRetiresGracefully) {
  std::vector<Future<Value>> results = held_results(*client_);
  const int i = index_of(fullest_worker(info()));
  ASSERT_GE(i, 0);
  const std::uint64_t completed = tasks_completed();
  EXPECT_EQ(workers_[static_cast<std::size_t>(i)].stop(SIGTERM), 0);
  workers_.erase(workers_.begin() + i);
  ASSERT_TRUE(wait_for_workers(2));
  expect_results_intact(results);
  EXPECT_EQ(tasks_completed(), completed) << "moved, not recomputed";
  start_worker();
}

// --lifetime (a batch job's walltime drain): the worker retires by itself
// when its lifetime ends, moving what only it holds first; it exits 0 and
// nothing it held is recomputed.
TEST_F(FaultToleranceTest, LifetimeRetiresGracefully) {
  start_worker({"--lifetime", "4s", "--lifetime-stagger", "100ms"});
  const std::string name = "w" + std::to_string(next_worker_ - 1);
  ASSERT_TRUE(wait_for_workers(4));
  std::vector<Future<Value>> results;
  SubmitOptions on_it{.workers = {name}};
  for (int i = 0; i < 20; ++i) results.push_back(client_->submit<Value>(on_it, "arange", std::int64_t{1000 + i}));
  for (auto& f : results) ASSERT_TRUE(f.wait().ok());
  const std::uint64_t completed = tasks_completed();
  EXPECT_EQ(workers_.back().wait_exit(std::chrono::seconds(30)), 0) << "the worker retires and exits 0 by itself";
  workers_.pop_back();
  ASSERT_TRUE(wait_for_workers(3));
  expect_results_intact(results);
  EXPECT_EQ(tasks_completed(), completed) << "moved, not recomputed";
  EXPECT_NE(testing::run_command(DTASK_WORKER_BIN, {"tcp://127.0.0.1:1", "--lifetime", "soon"}).first, 0);
  start_worker();
}

/// The pids of `parent`'s children (Linux /proc).
std::vector<pid_t> children_of(pid_t parent) {
  std::ifstream in("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  std::vector<pid_t> out;
  pid_t pid = 0;
  while (in >> pid) out.push_back(pid);
  return out;
}

// dtask-worker --nanny restarts its worker after a kill -9; the new worker
// registers under the same name and runs tasks.
TEST_F(FaultToleranceTest, NannyRestartsAKilledWorker) {
  start_worker({"--nanny"});
  const std::string name = "w" + std::to_string(next_worker_ - 1);
  ASSERT_TRUE(wait_for_workers(4));
  const pid_t nanny = workers_.back().pid();
  std::vector<pid_t> children;
  ASSERT_TRUE(wait_until([&] { return (children = children_of(nanny)).size() == 1; }));
  ASSERT_EQ(::kill(children[0], SIGKILL), 0);
  // The scheduler drops the dead worker, then the nanny's new one registers.
  ASSERT_TRUE(wait_until([&] {
    std::vector<pid_t> now = children_of(nanny);
    return now.size() == 1 && now[0] != children[0];
  }));
  ASSERT_TRUE(wait_for_workers(4));
  nlohmann::json restarted = testing::worker_info(*client_, name);
  EXPECT_EQ(restarted["name"], name);
  SubmitOptions on_it;
  on_it.workers = {name};
  EXPECT_EQ(client_->submit<std::int64_t>(on_it, "add", 20, 22).result(), 42);
}

// kill -9 of a worker while ParameterAveraging trains one replica per
// worker (3): the lost chunk reads and partial_fit steps are recomputed on
// the other two from their lineage, the fit finishes within the bound, and
// (every step being deterministic) the model is the one a failure-free fit
// gives, bit for bit. The kill comes at 60% of the fit's tasks, after the
// replicas were counted (killed earlier, the fit would train two).
TEST_F(FaultToleranceTest, ParameterAveragingSurvivesAKilledWorker) {
  auto data = datasets::make_classification(
      {.n_samples = 200'000, .n_features = 20, .n_informative = 8, .random_state = 5, .chunk_rows = 1'000});
  const ml::ParameterAveragingOptions options{.epochs = 2, .sync_every = 2, .random_state = 0};
  ml::ParameterAveraging reference(ml::SGDClassifier({.random_state = 0}), options);
  const std::uint64_t reference_start = tasks_completed();
  reference.fit(*client_, data.X, data.y);
  // The fit's tasks: data, classes, partial_fit steps, averages. The kill comes at 60% of them.
  const std::uint64_t fit_tasks = tasks_completed() - reference_start;
  const double reference_accuracy = reference.score(*client_, data.X, data.y);

  ml::ParameterAveraging averaged(ml::SGDClassifier({.random_state = 0}), options);
  const std::uint64_t before = tasks_completed();
  auto fit = std::async(std::launch::async, [&] { averaged.fit(*client_, data.X, data.y); });
  ASSERT_TRUE(wait_until([&] { return tasks_completed() >= before + fit_tasks * 6 / 10; }));
  ASSERT_NE(fit.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "the fit ended before the kill";
  const std::string victim = busy_worker();
  kill_worker(victim.empty() ? 0 : static_cast<std::size_t>(std::max(0, index_of(victim))));
  ASSERT_EQ(fit.wait_for(std::chrono::seconds(120)), std::future_status::ready) << "the fit did not finish";
  fit.get();  // rethrows a failure
  EXPECT_EQ(averaged.n_replicas_, 3);  // counted when the fit started, before the kill
  const double accuracy = averaged.score(*client_, data.X, data.y);
  std::printf("ParameterAveraging with a worker killed mid-epoch: accuracy %.4f (without the kill %.4f)\n", accuracy,
              reference_accuracy);
  EXPECT_EQ(accuracy, reference_accuracy);
  const NDArray& got = averaged.estimator().coef_;
  const NDArray& want = reference.estimator().coef_;
  ASSERT_EQ(got.size(), want.size());
  for (std::int64_t i = 0; i < got.size(); ++i) EXPECT_EQ(got.data<double>()[i], want.data<double>()[i]) << i;
  start_worker();  // TearDown stops three
}

// Results computed and reported, then one of their holders is killed before
// the client fetches them: the fetch waits for the scheduler to recompute
// what only that worker held and gets every value.
TEST_F(FaultToleranceTest, FetchAfterTheHolderDiedGetsTheRecomputedValue) {
  std::vector<Future<std::int64_t>> results;
  for (int i = 0; i < 60; ++i) results.push_back(client_->submit<std::int64_t>("add", i, 1000));
  for (const auto& r : results) ASSERT_TRUE(r.wait().ok());
  kill_worker(0);
  for (int i = 0; i < 60; ++i) {
    auto value = results[i].try_result();
    ASSERT_TRUE(value.ok()) << "result " << i << ": " << value.status().to_string();
    EXPECT_EQ(*value, i + 1000);
  }
  start_worker();  // TearDown stops three
}

}  // namespace
}  // namespace dtask
