// Grid searches on real dtask-scheduler and dtask-worker processes, the
// data written by scikit-learn's make_classification:
//  - a client killed with SIGKILL mid-search and run again with the same
//    checkpoint: the fits that finished are not redone (counted), and the
//    final cv_results_ equal an uninterrupted run's; a checkpoint of another
//    search is refused;
//  - data larger than the workers' memory limit: the search leaves it
//    chunked and runs distributed fits, with scikit-learn's results.
// Skips when /usr/bin/python3 cannot import sklearn.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/formats/temp_dir.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/python_oracle.h"

extern char** environ;

namespace dtask::testing {
namespace {

using formats::testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Finished (candidate, split) lines in a checkpoint (its first line is the header).
std::int64_t checkpoint_fits(const std::string& path) {
  std::ifstream in(path);
  std::int64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines > 0 ? lines - 1 : 0;
}

std::int64_t fits_run(const std::string& output) {
  auto at = output.find("fits_run=");
  return at == std::string::npos ? -1 : std::stoll(output.substr(at + 9));
}

class SearchClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
  }

  /// make_classification(**kwargs) as DIR/X.npy and DIR/y.npy.
  void make_data(const std::string& kwargs) {
    python_oracle::run(R"PY(
import json, sys
import numpy as np
from sklearn.datasets import make_classification
X, y = make_classification(**json.loads(sys.argv[2]))
np.save(sys.argv[1] + "/X.npy", X); np.save(sys.argv[1] + "/y.npy", y.astype(np.float64))
print("{}")
)PY",
                       {dir_.path().string(), kwargs});
  }

  /// A scheduler and two single-threaded workers with `worker_args` added.
  void start_cluster(const std::vector<std::string>& worker_args = {}) {
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, test_scheduler_args());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_.emplace(std::move(*scheduler));
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> args = {scheduler_->address(), "--nthreads", "1", "--host", "127.0.0.1",
                                       "--name", "w" + std::to_string(i)};
      args.insert(args.end(), worker_args.begin(), worker_args.end());
      auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
      ASSERT_TRUE(worker.ok()) << worker.status().to_string();
      workers_.push_back(std::move(*worker));
    }
  }

  std::vector<std::string> args(const std::string& checkpoint, const std::string& out) {
    return {scheduler_->address(), dir_.path().string(), checkpoint, out};
  }

  TempDir dir_;
  std::optional<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
};

// Killed mid-search and rerun: finished fits are skipped and the results equal an uninterrupted run's.
TEST_F(SearchClusterTest, KilledClientResumesFromCheckpoint) {
  make_data(R"({"n_samples": 4000, "n_features": 10, "flip_y": 0.1, "random_state": 0})");
  start_cluster();
  constexpr std::int64_t kFits = 12 * 5;
  auto [reference_rc, reference_out] = run_command(DTASK_SEARCH_CLIENT, args("-", dir_.file("reference.json")));
  ASSERT_EQ(reference_rc, 0) << reference_out;
  EXPECT_EQ(fits_run(reference_out), kFits);

  const std::string checkpoint = dir_.file("search.ckpt");
  std::vector<std::string> argv_strings = {DTASK_SEARCH_CLIENT};
  for (const auto& a : args(checkpoint, dir_.file("killed.json"))) argv_strings.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = -1;
  ASSERT_EQ(posix_spawn(&child, DTASK_SEARCH_CLIENT, nullptr, nullptr, argv.data(), environ), 0);
  bool some_done = wait_until([&] { return checkpoint_fits(checkpoint) >= 4; }, std::chrono::seconds(120));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(some_done) << "the search never checkpointed 4 fits";
  const std::int64_t saved = checkpoint_fits(checkpoint);
  ASSERT_LT(saved, kFits) << "the search finished before it was killed: nothing left to resume";
  std::fprintf(stderr, "killed the client with %lld of %lld fits checkpointed\n", static_cast<long long>(saved),
               static_cast<long long>(kFits));

  auto [resumed_rc, resumed_out] = run_command(DTASK_SEARCH_CLIENT, args(checkpoint, dir_.file("resumed.json")));
  ASSERT_EQ(resumed_rc, 0) << resumed_out;
  EXPECT_EQ(fits_run(resumed_out), kFits - saved);
  EXPECT_EQ(checkpoint_fits(checkpoint), kFits);
  auto reference = nlohmann::json::parse(slurp(dir_.file("reference.json")));
  auto resumed = nlohmann::json::parse(slurp(dir_.file("resumed.json")));
  EXPECT_EQ(resumed, reference);

  // A different grid refuses this checkpoint and runs nothing.
  auto other_args = args(checkpoint, dir_.file("other.json"));
  other_args.push_back("other");
  auto [other_rc, other_out] = run_command(DTASK_SEARCH_CLIENT, other_args);
  EXPECT_EQ(other_rc, 1) << other_out;
  EXPECT_EQ(checkpoint_fits(checkpoint), kFits);
}

// X (4.8 MB) too large for two 32 MiB workers to hold a copy each: the search runs distributed, with sklearn's scores.
TEST_F(SearchClusterTest, DataLargerThanWorkersRunsDistributed) {
  make_data(R"({"n_samples": 12000, "n_features": 50, "n_informative": 5, "flip_y": 0.2, "random_state": 3})");
  // No pausing: a worker's own RSS is near 80% of 32 MiB before any data, and a
  // paused worker would only slow the test; the limit is what the search reads.
  start_cluster({"--memory-limit", "32MiB", "--memory-pause-fraction", "0"});
  auto client_args = args("-", dir_.file("glm.json"));
  client_args.push_back("glm");
  auto [rc, out] = run_command(DTASK_SEARCH_CLIENT, client_args);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("execution=distributed"), std::string::npos) << out;
  auto got = nlohmann::json::parse(slurp(dir_.file("glm.json")));
  auto want = python_oracle::run(R"PY(
import json, sys, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
warnings.simplefilter("ignore")
X = np.load(sys.argv[1] + "/X.npy"); y = np.load(sys.argv[1] + "/y.npy")
s = GridSearchCV(LogisticRegression(tol=1e-10, max_iter=10000), {"C": [0.01, 1.0]}, cv=3).fit(X, y)
print(json.dumps({"mean": s.cv_results_["mean_test_score"].tolist(), "best": int(s.best_index_)}))
)PY",
                                 {dir_.path().string()});
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(got["mean_test_score"][i].get<double>(), want["mean"][i].get<double>(), 1e-6) << i;
  }
  EXPECT_EQ(got["best_index"], want["best"]);
  for (auto& worker : workers_) EXPECT_TRUE(worker.running());
}

}  // namespace
}  // namespace dtask::testing
