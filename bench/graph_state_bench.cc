// dtask-bench-graph-state: the scheduler's state machine alone, no sockets:
// a fan-out of N `inc` tasks and one `sum`, played through GraphState the way
// the server drives it (update_graph, workers' reports in batches, release).
// Prints microseconds per task for each phase, so a change to the state
// machine can be measured without the noise of processes and the network.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/graph_parts.h"
#include "common/logging.h"
#include "scheduler/graph_state.h"

namespace {

using dtask::scheduler::GraphState;
using dtask::scheduler::WorkerState;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

dtask::msg::UpdateGraph fanout_graph(std::int64_t n) {
  dtask::msg::UpdateGraph graph;
  graph.tasks.reserve(static_cast<std::size_t>(n) + 1);
  dtask::msg::TaskDef sum;
  sum.key = "sum-0123456789abcdef";
  sum.op = "sum";
  for (std::int64_t i = 0; i < n; ++i) {
    dtask::msg::TaskDef def;
    def.key = "inc-0123456789ab" + std::to_string(i);
    def.op = "inc";
    def.args.emplace_back(i);
    def.priority.order = static_cast<std::uint64_t>(i);
    sum.args.emplace_back(dtask::TaskRef{def.key});
    sum.dependencies.push_back(def.key);
    graph.tasks.push_back(std::move(def));
  }
  sum.priority.order = static_cast<std::uint64_t>(n);
  graph.wanted_keys.push_back(sum.key);
  graph.tasks.push_back(std::move(sum));
  return graph;
}

/// Reports every task the outbox sent as finished, in batches as workers do;
/// returns how many finished.
std::size_t run_to_completion(GraphState& graph, std::size_t batch) {
  std::size_t finished = 0;
  for (;;) {
    dtask::scheduler::Outbox outbox = graph.take_outbox();
    if (outbox.compute.empty()) return finished;
    for (auto& [worker, tasks] : outbox.compute) {
      for (std::size_t i = 0; i < tasks.tasks.size(); i += batch) {
        dtask::msg::WorkerReport report;
        for (std::size_t j = i; j < std::min(tasks.tasks.size(), i + batch); ++j) {
          report.finished.push_back({tasks.tasks[j]->key, 8, "int64", 0, 0, 0});
        }
        finished += report.finished.size();
        graph.worker_report(*worker, report);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-graph-state: the scheduler's state machine alone, per task"};
  std::int64_t tasks = 1000000;
  unsigned workers = 2;
  std::size_t batch = 64;
  std::size_t part = 100000;  // as the client sends a big graph (client_core.cc)
  app.add_option("--tasks", tasks, "Tasks in the fan-out")->capture_default_str();
  app.add_option("--workers", workers, "Workers (1 thread each)")->capture_default_str();
  app.add_option("--batch", batch, "Completions per worker report")->capture_default_str();
  app.add_option("--part", part, "Tasks per UpdateGraph message")->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  auto logger = dtask::make_logger("bench", "warn");
  if (!logger.ok()) return 1;
  dtask::scheduler::SchedulerConfig config;
  config.worker_saturation = std::numeric_limits<double>::infinity();  // all at once: no slot bookkeeping
  GraphState graph(config, *logger);
  for (unsigned w = 0; w < workers; ++w) {
    dtask::msg::RegisterWorker registration;
    registration.name = "w" + std::to_string(w);
    registration.data_address = "tcp://127.0.0.1:" + std::to_string(9000 + w);
    if (!graph.add_worker(registration).ok()) return 1;
  }
  auto* client = graph.add_client("bench");

  auto parts = dtask::split_graph(fanout_graph(tasks), part);
  auto start = Clock::now();
  for (auto& graph_part : parts) graph.update_graph(*client, std::move(graph_part));
  double update = seconds_since(start);
  start = Clock::now();
  std::size_t finished = run_to_completion(graph, batch);
  double run = seconds_since(start);
  start = Clock::now();
  graph.release_keys(*client, {"sum-0123456789abcdef"});
  graph.take_outbox();
  double release = seconds_since(start);
  double n = static_cast<double>(tasks + 1);
  std::printf("tasks=%lld finished=%zu left=%zu\n", static_cast<long long>(tasks + 1), finished, graph.task_count());
  std::printf("update_graph_us_per_task=%.3f\nrun_us_per_task=%.3f\nrelease_us_per_task=%.3f\ntotal_us_per_task=%.3f\n",
              1e6 * update / n, 1e6 * run / n, 1e6 * release / n, 1e6 * (update + run + release) / n);
  return graph.task_count() == 0 && finished == static_cast<std::size_t>(tasks + 1) ? 0 : 1;
}
