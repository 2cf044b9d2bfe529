// dtask-bench-throughput: N trivial tasks fanned out, then one sum, on a local
// cluster. Prints tasks per second (submit to result, cluster start excluded).
// bench/scheduler_throughput.sh runs it next to dask.distributed.
#include <dtask/client.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace {

double run_once(dtask::Client& client, std::int64_t n) {
  auto start = std::chrono::steady_clock::now();
  std::vector<dtask::Delayed> parts;
  parts.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) parts.push_back(dtask::delayed("inc")(i));
  auto total = client.compute<std::int64_t>(dtask::delayed("sum")(parts)).result();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::int64_t expected = n * (n - 1) / 2 + n;
  if (total != expected) {
    std::fprintf(stderr, "wrong sum: %lld, expected %lld\n", static_cast<long long>(total),
                 static_cast<long long>(expected));
    std::exit(1);
  }
  return static_cast<double>(n + 1) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-throughput: scheduler throughput on a fan-out/fan-in graph"};
  std::int64_t tasks = 100000;
  unsigned workers = 2;
  unsigned threads = 1;
  int repeats = 3;
  double saturation = 1.1;
  app.add_option("--tasks", tasks, "Tasks in the fan-out")->capture_default_str();
  app.add_option("--workers", workers, "Local workers")->capture_default_str();
  app.add_option("--threads", threads, "Threads per worker")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed runs (the best is reported)")->capture_default_str();
  app.add_option("--worker-saturation", saturation, "Scheduler root-task queuing (inf: none)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  dtask::Client client(
      dtask::LocalClusterOptions{.n_workers = workers, .threads_per_worker = threads, .worker_saturation = saturation});
  run_once(client, std::min<std::int64_t>(tasks, 10000));  // warm-up
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    double rate = run_once(client, tasks);
    std::printf("run %d: %.0f tasks/s\n", r + 1, rate);
    best = std::max(best, rate);
  }
  std::printf("dtask_tasks_per_s=%.0f\n", best);
  return 0;
}
