// dtask-bench-array-stream: one full pass over a .npy file,
// Array::from_npy(path, chunk_rows).sum().compute(client), on a running
// cluster (--scheduler) or a local one. One untimed warm-up pass, then
// --repeats timed passes; prints the best rate as file bytes / seconds.
// bench/array_stream.sh runs it on real daemons next to dask.array.
#include <dtask/array.h>
#include <dtask/client.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace {

/// The number of workers the scheduler knows, or -1 if it cannot say.
int worker_count(dtask::Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) return -1;
  return static_cast<int>(nlohmann::json::parse(*info)["workers"].size());
}

/// One pass: the sum of every element, and the seconds it took (graph built,
/// run and gathered; nothing cached from the last pass, whose futures are
/// released when compute() returns).
std::pair<double, double> run_once(dtask::Client& client, const std::string& path, std::int64_t chunk_rows) {
  auto start = std::chrono::steady_clock::now();
  dtask::NDArray total = dtask::Array::from_npy(path, chunk_rows).sum().compute(client);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {total.data<double>()[0], seconds};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-array-stream: GB/s of X.sum() over a .npy file"};
  std::string path;
  std::string scheduler;
  double chunk_mib = 32;
  std::int64_t chunk_rows = 0;
  int repeats = 3;
  bool default_chunks = false;
  unsigned workers = 2;
  unsigned threads = 1;
  std::optional<double> expected;
  app.add_option("--path", path, "The .npy file (float64, 1-d or 2-d)")->required();
  app.add_option("--scheduler", scheduler, "Scheduler address (default: start a LocalCluster)");
  app.add_option("--chunk-mib", chunk_mib, "Chunk size in MiB (rows rounded down)")->capture_default_str();
  app.add_option("--chunk-rows", chunk_rows, "Rows per chunk (overrides --chunk-mib)");
  app.add_option("--repeats", repeats, "Timed passes (the best is reported)")->capture_default_str();
  app.add_flag("--default-chunks", default_chunks, "Array::from_npy's default chunking (overrides both)");
  app.add_option("--workers", workers, "Workers to wait for (or to start locally)")->capture_default_str();
  app.add_option("--threads", threads, "Threads per local worker (without --scheduler)")->capture_default_str();
  app.add_option("--expected", expected, "numpy's sum: every pass must match it to 1e-9 relative");
  CLI11_PARSE(app, argc, argv);

  dtask::Array header = dtask::Array::from_npy(path, 0);  // the client reads only the header
  if (header.dtype() != dtask::DType::kFloat64) {
    std::fprintf(stderr, "array_stream: %s is not float64\n", header.describe().c_str());
    return 1;
  }
  if (default_chunks) {
    chunk_rows = 0;
  } else if (chunk_rows <= 0) {
    const double row_bytes = static_cast<double>(header.cols()) * 8;
    chunk_rows = std::max<std::int64_t>(1, static_cast<std::int64_t>(chunk_mib * 1048576 / row_bytes));
  }
  const double file_bytes = static_cast<double>(header.nbytes());

  std::unique_ptr<dtask::Client> client;
  if (scheduler.empty()) {
    client = std::make_unique<dtask::Client>(
        dtask::LocalClusterOptions{.n_workers = workers, .threads_per_worker = threads});
  } else {
    auto connected = dtask::Client::connect(scheduler);
    if (!connected.ok()) {
      std::fprintf(stderr, "array_stream: %s\n", connected.status().to_string().c_str());
      return 1;
    }
    client = std::move(*connected);
  }
  // Workers register on their own; wait (bounded) until all of them have.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (worker_count(*client) < static_cast<int>(workers)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "array_stream: %d of %u workers after 30 s\n", worker_count(*client), workers);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  dtask::Array x = dtask::Array::from_npy(path, chunk_rows);
  const std::int64_t rows_per_chunk = x.chunks().n_chunks() > 0 ? (x.rows() + x.n_chunks() - 1) / x.n_chunks() : 0;
  std::printf("dtask: %s, chunks of about %lld rows (%.0f MiB), %u workers\n", x.describe().c_str(),
              static_cast<long long>(rows_per_chunk), rows_per_chunk * header.cols() * 8 / 1048576.0, workers);

  auto check = [&](double sum) {
    if (expected && !(std::abs(sum - *expected) <= 1e-9 * std::abs(*expected))) {
      std::fprintf(stderr, "array_stream: dtask's sum %.17g differs from numpy's %.17g\n", sum, *expected);
      std::exit(1);
    }
  };
  auto [warm_sum, warm_seconds] = run_once(*client, path, chunk_rows);
  check(warm_sum);
  std::printf("dtask: warm-up pass %.3f s, sum=%.17g\n", warm_seconds, warm_sum);
  // The first pass: a cold one when the caller dropped the page cache before it.
  std::printf("first_pass_GBps=%.3f\n", file_bytes / warm_seconds / 1e9);
  double best = 0;
  double sum = warm_sum;
  for (int r = 0; r < repeats; ++r) {
    auto [s, seconds] = run_once(*client, path, chunk_rows);
    check(s);
    sum = s;
    double rate = file_bytes / seconds / 1e9;
    std::printf("dtask: run %d: %.3f s, %.3f GB/s, sum=%.17g\n", r + 1, seconds, rate, s);
    std::fflush(stdout);
    best = std::max(best, rate);
  }
  std::printf("dtask_sum=%.17g\n", sum);
  std::printf("dtask_GBps=%.3f\n", best);
  return 0;
}
