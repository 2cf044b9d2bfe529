// dtask-bench-kmeans: the dtask side of bench/kmeans.sh, in three subcommands
// that the script runs around scikit-learn:
//   prepare  make_blobs on the workers -> X.npy, and k rows of it picked with
//            a fixed seed -> init.npy (the initial centers both sides use)
//   fit      Array::from_npy(X.npy).persist(), then KMeans(init = init.npy,
//            max_iter, tol = 0).fit(), timing fit() only, best of --repeats
//   membw    this machine's memory bandwidth: a streaming sum over a 1 GiB
//            array per thread group, best of --repeats, GB/s (1e9 bytes)
// prepare and fit connect to a running cluster (--scheduler) or start a
// LocalCluster (2 workers x 1 thread) when none is given.
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/kmeans.h>

#include "bench/bench_client.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using dtask::bench::Clock;
using dtask::bench::persisted;
using dtask::bench::seconds_since;

/// "w0: 8 keys, 160 MiB; w1: ..." from the scheduler's view of the workers.
std::string placement(dtask::Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) return "unknown";
  std::string out;
  const nlohmann::json snapshot = nlohmann::json::parse(*info);
  for (const auto& w : snapshot["workers"]) {
    char line[160];
    std::snprintf(line, sizeof line, "%s%s: %lld keys, %.0f MiB", out.empty() ? "" : "; ",
                  w.value("name", std::string("?")).c_str(), w.value("has_what", 0LL),
                  w.value("nbytes", 0.0) / 1048576.0);
    out += line;
  }
  return out;
}

int run_prepare(const std::string& scheduler, unsigned workers, const std::string& dir, std::int64_t rows,
                std::int64_t features, std::int64_t centers, std::int64_t random_state, std::int64_t init_seed,
                std::int64_t chunk_rows) {
  auto client = dtask::bench::connect("kmeans", scheduler, workers);
  const std::string x_path = dir + "/X.npy";
  const std::string init_path = dir + "/init.npy";

  auto start = Clock::now();
  auto blobs = dtask::datasets::make_blobs({.n_samples = rows,
                                            .n_features = features,
                                            .centers = centers,
                                            .random_state = random_state,
                                            .chunk_rows = chunk_rows});
  blobs.X.to_npy(*client, x_path);
  std::printf("prepare: make_blobs(n_samples=%lld, n_features=%lld, centers=%lld, random_state=%lld) -> %s "
              "(%.0f MB) in %.2f s\n",
              static_cast<long long>(rows), static_cast<long long>(features), static_cast<long long>(centers),
              static_cast<long long>(random_state), x_path.c_str(), static_cast<double>(blobs.X.nbytes()) / 1e6,
              seconds_since(start));

  // The initial centers: `centers` distinct rows of the file at indices drawn
  // with a fixed seed, read back from the file itself.
  std::mt19937_64 rng(static_cast<std::uint64_t>(init_seed));
  std::uniform_int_distribution<std::int64_t> pick(0, rows - 1);
  std::vector<std::int64_t> indices;
  std::set<std::int64_t> seen;
  while (static_cast<std::int64_t>(indices.size()) < centers) {
    std::int64_t i = pick(rng);
    if (seen.insert(i).second) indices.push_back(i);
  }
  dtask::Array x = dtask::Array::from_npy(x_path, chunk_rows);
  std::vector<dtask::Array> picked;
  for (std::int64_t i : indices) picked.push_back(x.slice_rows(i, i + 1));
  dtask::NDArray init = dtask::concatenate(picked).compute(*client);
  dtask::Array::from_ndarray(*client, init, centers).to_npy(*client, init_path);
  std::string list;
  for (std::int64_t i : indices) list += (list.empty() ? "" : ",") + std::to_string(i);
  std::printf("prepare: initial centers = rows [%s] (seed %lld) -> %s\n", list.c_str(),
              static_cast<long long>(init_seed), init_path.c_str());
  return 0;
}

int run_fit(const std::string& scheduler, unsigned workers, const std::string& x_path, const std::string& init_path,
            int max_iter, int repeats, std::int64_t chunk_rows) {
  auto client = dtask::bench::connect("kmeans", scheduler, workers);
  dtask::NDArray init = dtask::Array::from_npy(init_path).compute(*client);
  auto start = Clock::now();
  dtask::Array x = persisted(*client, dtask::Array::from_npy(x_path, chunk_rows));
  std::printf("dtask: persisted %s in %.2f s (%s)\n", x.describe().c_str(), seconds_since(start),
              placement(*client).c_str());
  const double x_bytes = static_cast<double>(x.nbytes());

  double best = std::numeric_limits<double>::infinity();
  double best_inertia = 0;
  int best_n_iter = 0;
  std::vector<double> best_iteration_s;
  for (int r = 1; r <= repeats; ++r) {
    std::vector<double> at;  // seconds since fit() started, after each iteration
    dtask::ml::KMeans km({.n_clusters = init.rows(),
                          .init = init,
                          .max_iter = max_iter,
                          .tol = 0,
                          .on_iteration = [&](const dtask::ml::KMeansIteration& it) { at.push_back(it.seconds); }});
    auto t0 = Clock::now();
    km.fit(*client, x);
    double seconds = seconds_since(t0);
    std::vector<double> per_iteration;
    for (std::size_t i = 0; i < at.size(); ++i) per_iteration.push_back(at[i] - (i == 0 ? 0.0 : at[i - 1]));
    double tail = at.empty() ? seconds : seconds - at.back();  // the final inertia pass (score) and the rest
    auto [lo, hi] = std::minmax_element(per_iteration.begin(), per_iteration.end());
    std::printf("dtask: fit %d/%d: %.3f s, n_iter=%d, inertia=%.10g; Lloyd pass min/mean/max %.3f/%.3f/%.3f s, "
                "final inertia pass %.3f s\n",
                r, repeats, seconds, km.n_iter_, km.inertia_, per_iteration.empty() ? 0.0 : *lo,
                per_iteration.empty() ? 0.0 : at.back() / static_cast<double>(at.size()),
                per_iteration.empty() ? 0.0 : *hi, tail);
    std::fflush(stdout);
    if (seconds < best) {
      best = seconds;
      best_inertia = km.inertia_;
      best_n_iter = km.n_iter_;
      best_iteration_s = per_iteration;
    }
  }
  double mean_pass = 0;
  for (double s : best_iteration_s) mean_pass += s;
  if (!best_iteration_s.empty()) mean_pass /= static_cast<double>(best_iteration_s.size());
  std::printf("dtask: best fit: Lloyd pass %.3f s on average = %.2f GB/s of X per pass\n", mean_pass,
              mean_pass > 0 ? x_bytes / mean_pass / 1e9 : 0.0);
  std::printf("dtask_fit_s=%.6f\n", best);
  std::printf("dtask_n_iter=%d\n", best_n_iter);
  std::printf("dtask_inertia=%.17g\n", best_inertia);
  return 0;
}

/// Sums `n` doubles with eight independent accumulators, so the loop is bound
/// by how fast memory delivers them, not by the latency of one add chain.
double stream_sum(const double* p, std::size_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) a[j] += p[i + j];
  }
  for (; i < n; ++i) a[0] += p[i];
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/// GB/s of `threads` threads each summing its own slice of a `bytes` array
/// (first-touched by the thread that reads it), best of `repeats`.
double read_bandwidth(std::size_t bytes, unsigned threads, int repeats) {
  const std::size_t n = bytes / sizeof(double);
  std::vector<double> data(n);  // zeroed pages, touched once here
  for (std::size_t i = 0; i < n; i += 512) data[i] = 1.0;
  std::vector<double> sums(threads);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
        sums[t] = stream_sum(data.data() + begin, end - begin);
      });
    }
    for (auto& th : pool) th.join();
    double seconds = seconds_since(start);
    double total = 0;
    for (double s : sums) total += s;
    if (total != static_cast<double>((n + 511) / 512)) {
      std::fprintf(stderr, "kmeans: membw sum is wrong: %.17g\n", total);
      std::exit(1);
    }
    best = std::max(best, static_cast<double>(n * sizeof(double)) / seconds / 1e9);
  }
  return best;
}

int run_membw(double gib, unsigned threads, int repeats) {
  auto bytes = static_cast<std::size_t>(gib * 1073741824.0);
  for (unsigned t = 1; t <= threads; ++t) {
    double rate = read_bandwidth(bytes, t, repeats);
    std::printf("membw: streaming sum of %.2f GiB, %u thread(s): %.2f GB/s (best of %d)\n", gib, t, rate, repeats);
    std::fflush(stdout);
    if (t == threads) std::printf("membw_GBps=%.3f\n", rate);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-kmeans: the dtask side of bench/kmeans.sh (KMeans vs scikit-learn)"};
  app.require_subcommand(1);
  std::string scheduler;
  unsigned workers = 2;
  std::int64_t chunk_rows = 125000;

  auto* prepare = app.add_subcommand("prepare", "make_blobs -> DIR/X.npy and initial centers -> DIR/init.npy");
  std::string dir;
  std::int64_t rows = 2'000'000, features = 20, centers = 12, random_state = 0, init_seed = 1;
  prepare->add_option("--dir", dir, "Output directory")->required();
  prepare->add_option("--rows", rows, "n_samples")->capture_default_str();
  prepare->add_option("--features", features, "n_features")->capture_default_str();
  prepare->add_option("--centers", centers, "Blobs, and initial centers picked")->capture_default_str();
  prepare->add_option("--random-state", random_state, "make_blobs random_state")->capture_default_str();
  prepare->add_option("--init-seed", init_seed, "Seed of the rows picked as initial centers")->capture_default_str();

  auto* fit = app.add_subcommand("fit", "persist X.npy and time KMeans.fit (tol = 0)");
  std::string x_path, init_path;
  int max_iter = 20, repeats = 3;
  fit->add_option("--data", x_path, "X .npy (float64 [rows, features])")->required();
  fit->add_option("--init", init_path, "Initial centers .npy (float64 [k, features])")->required();
  fit->add_option("--max-iter", max_iter, "Lloyd iterations (tol = 0 runs them all)")->capture_default_str();
  fit->add_option("--repeats", repeats, "Timed fits (the best is reported)")->capture_default_str();

  for (auto* sub : {prepare, fit}) {
    sub->add_option("--scheduler", scheduler, "Scheduler address (default: start a LocalCluster)");
    sub->add_option("--workers", workers, "Workers to wait for (or to start locally)")->capture_default_str();
    sub->add_option("--chunk-rows", chunk_rows, "Rows per chunk")->capture_default_str();
  }

  auto* membw = app.add_subcommand("membw", "memory bandwidth: streaming sum, 1..--threads threads");
  double gib = 1;
  unsigned threads = 2;
  int membw_repeats = 3;
  membw->add_option("--gib", gib, "Array size in GiB")->capture_default_str();
  membw->add_option("--threads", threads, "Up to this many threads")->capture_default_str();
  membw->add_option("--repeats", membw_repeats, "Timed passes (the best is reported)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    if (*prepare) {
      return run_prepare(scheduler, workers, dir, rows, features, centers, random_state, init_seed, chunk_rows);
    }
    if (*fit) return run_fit(scheduler, workers, x_path, init_path, max_iter, repeats, chunk_rows);
    return run_membw(gib, std::max(1u, threads), membw_repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kmeans: %s\n", e.what());
    return 1;
  }
}
