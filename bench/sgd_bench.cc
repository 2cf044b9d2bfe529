// dtask-bench-sgd: the dtask side of bench/sgd.sh. One epoch of
// SGDClassifier(hinge, optimal, random_state=0) over X.npy / y.npy streamed
// from disk in --chunk-rows chunks, twice: Incremental (one chain of
// partial_fit tasks) and ParameterAveraging (one replica per worker,
// averaged every --sync-every chunks). Each fit is timed alone; accuracy is
// measured on test_X.npy / test_y.npy. Prints inc_s=, acc_inc=, avg_s=
// and acc_avg= lines; --fit runs one of the two (bench/sgd.sh runs them
// apart, to drop the page cache in between with --cold).
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/ml/incremental.h>
#include <dtask/ml/parameter_averaging.h>
#include <dtask/ml/sgd.h>

#include "bench/bench_client.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

/// "w0 120, w1 96": tasks each worker has finished so far (where the work went).
std::string tasks_per_worker(dtask::Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) return "?";
  const nlohmann::json parsed = nlohmann::json::parse(*info);
  std::string out;
  for (const auto& w : parsed["workers"]) {
    out += (out.empty() ? "" : ", ") + w.value("name", std::string("?")) + " " +
           std::to_string(w.value("tasks_done", std::int64_t{0}));
  }
  return out;
}

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-sgd: the dtask side of bench/sgd.sh (out-of-core SGD vs scikit-learn's partial_fit loop)"};
  std::string dir, scheduler;
  unsigned workers = 2;
  std::int64_t chunk_rows = 50'000;
  std::int64_t sync_every = 4;
  std::string which = "both";
  app.add_option("--dir", dir, "Directory of X.npy, y.npy, test_X.npy, test_y.npy")->required();
  app.add_option("--scheduler", scheduler, "Scheduler address (default: start a LocalCluster)");
  app.add_option("--workers", workers, "Workers to wait for (or to start locally)")->capture_default_str();
  app.add_option("--chunk-rows", chunk_rows, "Rows per chunk")->capture_default_str();
  app.add_option("--sync-every", sync_every, "ParameterAveraging's sync_every")->capture_default_str();
  app.add_option("--fit", which, "Which fits to run: inc, avg or both")
      ->check(CLI::IsMember({"inc", "avg", "both"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  using dtask::bench::Clock;
  using dtask::bench::seconds_since;
  auto client = dtask::bench::connect("dtask-bench-sgd", scheduler, workers);
  dtask::Array X = dtask::Array::from_npy(dir + "/X.npy", chunk_rows);
  dtask::Array y = dtask::Array::from_npy(dir + "/y.npy", chunk_rows);
  dtask::Array X_test = dtask::Array::from_npy(dir + "/test_X.npy", chunk_rows);
  dtask::Array y_test = dtask::Array::from_npy(dir + "/test_y.npy", chunk_rows);
  std::printf("dtask: X %s, %lld chunks\n", X.describe().c_str(), static_cast<long long>(X.n_chunks()));
  const std::vector<double> classes = {0.0, 1.0};
  const dtask::ml::SGDClassifier sgd({.loss = "hinge", .random_state = 0});

  if (which != "avg") {
  auto start = Clock::now();
  dtask::ml::Incremental inc(sgd, {.shuffle_blocks = false, .verbose = true});
  inc.fit(*client, X, y, classes);
  const double inc_s = seconds_since(start);
  const double acc_inc = inc.score(*client, X_test, y_test);
  std::printf("dtask Incremental: %.2f s, accuracy %.4f (tasks done per worker: %s)\n", inc_s, acc_inc,
              tasks_per_worker(*client).c_str());
  std::printf("inc_s=%.3f\nacc_inc=%.5f\n", inc_s, acc_inc);
  std::fflush(stdout);
  }
  if (which != "inc") {
  auto start = Clock::now();
  dtask::ml::ParameterAveraging avg(sgd, {.sync_every = sync_every, .shuffle_blocks = false, .verbose = true});
  avg.fit(*client, X, y, classes);
  const double avg_s = seconds_since(start);
  const double acc_avg = avg.score(*client, X_test, y_test);
  std::printf("dtask ParameterAveraging (%lld replicas, %lld rounds): %.2f s, accuracy %.4f (tasks done per worker: %s)\n",
              static_cast<long long>(avg.n_replicas_), static_cast<long long>(avg.n_rounds_), avg_s, acc_avg,
              tasks_per_worker(*client).c_str());
  std::printf("avg_s=%.3f\nacc_avg=%.5f\n", avg_s, acc_avg);
  }
  return 0;
}
