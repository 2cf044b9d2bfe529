// dtask-bench-worker-state: the worker's state machine alone, no sockets:
// one wide task (a `sum` over N inputs, half held here, half on a peer)
// played through WorkerState the way the worker drives it: the assignment,
// the fetched copies arriving in replies of kMaxKeysPerFetch, the task
// finishing, and the held inputs freed. Prints microseconds per input for
// each phase: the cost a 1M-input task adds to a worker, without the noise
// of processes and the network.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "worker/worker_state.h"

namespace {

using dtask::worker::WorkerState;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string input_key(std::int64_t i) { return "inc-0123456789abcdef0123456789abcdef-" + std::to_string(i); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The worker's state machine alone: one task over N inputs, microseconds per input by phase"};
  std::int64_t inputs = 1000000;
  app.add_option("--inputs", inputs, "Inputs of the wide task (half held here, half fetched)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  WorkerState state(1, {});
  const std::string peer = "tcp://127.0.0.1:40001";
  auto start = Clock::now();
  std::vector<std::string> local;
  for (std::int64_t i = 0; i < inputs; i += 2) {
    local.push_back(input_key(i));
    (void)state.data_put(local.back(), 8, "int64");
  }
  double held = seconds_since(start);

  dtask::msg::ComputeTask sum;
  sum.key = "sum-0123456789abcdef0123456789abcdef";
  sum.op = "sum";
  sum.dependencies.reserve(static_cast<std::size_t>(inputs));
  for (std::int64_t i = 0; i < inputs; ++i) {
    dtask::msg::DependencyLocation dep{input_key(i), {static_cast<std::uint32_t>(i % 2)}, 8};
    sum.dependencies.push_back(std::move(dep));
  }
  dtask::msg::ComputeTaskBatch batch;
  batch.tasks.push_back(std::move(sum));
  batch.holders = {"tcp://127.0.0.1:40000", peer};
  start = Clock::now();
  dtask::worker::Instructions assigned = state.compute(std::move(batch));
  double compute = seconds_since(start);

  start = Clock::now();
  std::size_t fetched = 0;
  std::size_t started = 0;
  for (auto& request : assigned.fetch) {
    std::vector<dtask::worker::FetchedCopy> reply;  // one DataReply, one event (as worker.cc does)
    for (std::string& key : request.keys) {
      if (state.fetch_wanted(key)) reply.push_back({std::move(key), 8, "int64"});
    }
    fetched += reply.size();
    started += state.fetched(std::move(reply)).execute.size();
  }
  double arrive = seconds_since(start);

  start = Clock::now();
  dtask::worker::TaskOutcome outcome;
  outcome.key = "sum-0123456789abcdef0123456789abcdef";
  outcome.op = "sum";
  outcome.nbytes = 8;
  outcome.type_name = "int64";
  dtask::worker::Instructions done = state.task_done(outcome);
  double finish = seconds_since(start);

  start = Clock::now();
  local.push_back(outcome.key);
  dtask::worker::Instructions freed = state.free_keys(local);
  double release = seconds_since(start);

  const double n = static_cast<double>(inputs);
  std::printf("inputs=%lld fetched=%zu started=%zu dropped=%zu left=%zu\n", static_cast<long long>(inputs), fetched,
              started, done.drop.size() + freed.drop.size(), state.size());
  std::printf(
      "held_us_per_input=%.3f\ncompute_us_per_input=%.3f\nfetched_us_per_input=%.3f\ntask_done_us_per_input=%.3f\n"
      "release_us_per_input=%.3f\ntotal_us_per_input=%.3f\n",
      1e6 * held / n, 1e6 * compute / n, 1e6 * arrive / n, 1e6 * finish / n, 1e6 * release / n,
      1e6 * (compute + arrive + finish + release) / n);
  return state.size() == 0 && started == 1 && state.validate().ok() ? 0 : 1;
}
