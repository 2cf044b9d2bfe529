// as_completed over many futures: the completion queue against the rescan it
// replaced (wait_any over every remaining future for each one taken, as
// as_completed did before). Both take N futures of `inc` tasks from
// Client::map on a LocalCluster, timed from submission to the last taken.
//
//   dtask-bench-as-completed [N] [N for the rescan, default N]
#include <dtask/client.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::vector<dtask::Future<std::int64_t>> submit(dtask::Client& client, std::size_t n) {
  std::vector<std::int64_t> xs(n, 1);
  return client.map<std::int64_t>("inc", xs);
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// The loop as_completed ran before: one wait_any over all that remain per future.
std::size_t take_by_rescan(dtask::Client& client, std::vector<dtask::Future<std::int64_t>> remaining) {
  std::size_t taken = 0;
  while (!remaining.empty()) {
    std::vector<dtask::FutureBase> bases(remaining.begin(), remaining.end());
    auto index = client.wait_any(bases);
    if (!index.ok()) std::exit(1);
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(*index));
    ++taken;
  }
  return taken;
}

std::size_t take_by_queue(dtask::Client& client, std::vector<dtask::Future<std::int64_t>> futures) {
  std::size_t taken = 0;
  for (const auto& f : dtask::as_completed(client, std::move(futures))) taken += f.done() ? 1 : 0;
  return taken;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t rescan_n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : n;
  dtask::Client client(dtask::LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1});

  // Baseline: the tasks alone (submit, wait for the last), so the take cost shows apart.
  auto start = Clock::now();
  auto futures = submit(client, n);
  if (!client.wait({futures.begin(), futures.end()}).ok()) return 1;
  const double run_only = seconds_since(start);
  futures.clear();

  start = Clock::now();
  const std::size_t queued = take_by_queue(client, submit(client, n));
  const double queue_s = seconds_since(start);

  start = Clock::now();
  const std::size_t rescanned = take_by_rescan(client, submit(client, rescan_n));
  const double rescan_s = seconds_since(start);

  std::printf("tasks only      : %zu futures in %.2f s\n", n, run_only);
  std::printf("completion queue: %zu futures in %.2f s\n", queued, queue_s);
  std::printf("rescan (before) : %zu futures in %.2f s\n", rescanned, rescan_s);
  return queued == n && rescanned == rescan_n ? 0 : 1;
}
