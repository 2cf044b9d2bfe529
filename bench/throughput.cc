// dtask-bench-throughput: N trivial tasks fanned out, then one sum, on a local
// cluster. Prints tasks per second (submit to result, cluster start excluded).
// bench/scheduler_throughput.sh runs it next to dask.distributed.
//
// --dashboard-poll-ms N: alternates runs without and with a thread that polls
// the dashboard every N ms the way the status page does (/api/status,
// /api/workers, /api/stream) plus /metrics, and prints the ratio of the best
// rates (the dashboard must not slow the scheduler down).
//
// --scheduler ADDRESS: uses a running scheduler and its workers instead of a
// local cluster (bench/journal_overhead.sh starts them with and without --journal).
#include <dtask/client.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

namespace {

/// Polls the dashboard from its own thread until destroyed.
class DashboardPoller {
 public:
  DashboardPoller(const std::string& link, std::chrono::milliseconds interval) {
    // link: "http://127.0.0.1:PORT/"
    std::string rest = link.substr(link.find("//") + 2);
    std::string host = rest.substr(0, rest.rfind(':'));
    int port = std::stoi(rest.substr(rest.rfind(':') + 1));
    thread_ = std::thread([this, host, port, interval] { run(host, port, interval); });
  }
  ~DashboardPoller() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t bytes() const { return bytes_; }
  /// The slowest single request, in seconds (the page must stay responsive).
  double slowest() const { return slowest_; }

 private:
  void run(const std::string& host, int port, std::chrono::milliseconds interval) {
    httplib::Client client(host, port);
    client.set_keep_alive(true);
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      for (const char* path : {"/api/status", "/api/workers", "/api/stream", "/metrics"}) {
        auto start = std::chrono::steady_clock::now();
        if (auto response = client.Get(path); response && response->status == 200) {
          ++requests_;
          bytes_ += response->body.size();
        }
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        slowest_ = std::max(slowest_.load(), seconds);
      }
      lock.lock();
      wake_.wait_for(lock, interval, [this] { return stop_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<double> slowest_{0};
  std::thread thread_;
};

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
  int poll_ms = 0;
  std::string scheduler;
  app.add_option("--tasks", tasks, "Tasks in the fan-out")->capture_default_str();
  app.add_option("--scheduler", scheduler, "Address of a running scheduler to use instead of a local cluster");
  app.add_option("--dashboard-poll-ms", poll_ms,
                 "Also time runs while a thread polls the dashboard every this many ms, and print the ratio (0: off)")
      ->capture_default_str();
  app.add_option("--workers", workers, "Local workers")->capture_default_str();
  app.add_option("--threads", threads, "Threads per worker")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed runs (the best is reported)")->capture_default_str();
  app.add_option("--worker-saturation", saturation, "Scheduler root-task queuing (inf: none)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<dtask::Client> owned =
      scheduler.empty() ? std::make_unique<dtask::Client>(dtask::LocalClusterOptions{
                              .n_workers = workers, .threads_per_worker = threads, .worker_saturation = saturation})
                        : std::make_unique<dtask::Client>(scheduler);
  dtask::Client& client = *owned;
  run_once(client, std::min<std::int64_t>(tasks, 10000));  // warm-up
  double best = 0, best_polled = 0;
  for (int r = 0; r < repeats; ++r) {
    double rate = run_once(client, tasks);
    std::printf("run %d: %.0f tasks/s\n", r + 1, rate);
    best = std::max(best, rate);
    if (poll_ms > 0) {
      // Interleaved with the plain runs, so that drift in the machine's load hits both alike.
      DashboardPoller poller(client.dashboard_link(), std::chrono::milliseconds(poll_ms));
      double polled = run_once(client, tasks);
      std::printf("run %d, dashboard polled every %d ms: %.0f tasks/s (%llu requests, %.1f MiB, slowest %.1f ms)\n",
                  r + 1, poll_ms, polled, static_cast<unsigned long long>(poller.requests()),
                  poller.bytes() / 1048576.0, 1000 * poller.slowest());
      best_polled = std::max(best_polled, polled);
    }
  }
  std::printf("dtask_tasks_per_s=%.0f\n", best);
  if (poll_ms > 0) {
    std::printf("dtask_polled_tasks_per_s=%.0f\n", best_polled);
    std::printf("dashboard_throughput_ratio=%.3f\n", best_polled / best);
  }
  return 0;
}
