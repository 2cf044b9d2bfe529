#include "scheduler/adaptive.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dtask::scheduler {

namespace {

// Sums the estimated durations of up to `sample` tasks in `status` and
// scales the sum to all of them (Dask's adaptive_target does the same).
double waiting_seconds(const GraphState& graph, TaskStatus status, const AdaptiveConfig& config) {
  const std::size_t total = graph.count(status);
  if (total == 0) return 0;
  double seconds = 0;
  std::size_t seen = 0;
  for (const TaskState* task = graph.first_with_status(status); task != nullptr && seen < config.duration_sample;
       task = task->status_next, ++seen) {
    seconds += graph.measured_duration(*task).value_or(config.unknown_task_duration);
  }
  return seen == 0 ? 0 : seconds * static_cast<double>(total) / static_cast<double>(seen);
}

std::size_t ceil_div(double a, double b) { return b <= 0 ? 0 : static_cast<std::size_t>(std::ceil(a / b)); }

}  // namespace

std::vector<WorkerLoad> worker_loads(const GraphState& graph) {
  std::vector<WorkerLoad> loads;
  loads.reserve(graph.workers().size());
  for (const auto& w : graph.workers()) {
    loads.push_back({w->name, w->address, w->nthreads, w->processing.size(), w->nbytes, w->memory_limit,
                     w->retiring});
  }
  return loads;
}

AdaptiveLoad measure_adaptive_load(const GraphState& graph, const AdaptiveConfig& config) {
  AdaptiveLoad load;
  load.workers = worker_loads(graph);
  for (const auto& w : graph.workers()) {
    load.occupancy += w->occupancy;
    load.ready_tasks += w->processing.size();
  }
  load.occupancy += waiting_seconds(graph, TaskStatus::kQueued, config) +
                    waiting_seconds(graph, TaskStatus::kNoWorker, config);
  load.no_worker_tasks = graph.count(TaskStatus::kNoWorker);
  load.ready_tasks += graph.count(TaskStatus::kQueued) + load.no_worker_tasks;
  return load;
}

AdaptiveTarget adaptive_target(const AdaptiveLoad& load, const AdaptiveConfig& config,
                               std::uint32_t threads_per_worker) {
  AdaptiveTarget out;
  std::uint64_t threads_now = 0, memory_limit = 0, nbytes = 0;
  bool unlimited = false;
  for (const WorkerLoad& w : load.workers) {
    if (w.retiring) continue;
    ++out.workers;
    threads_now += w.nthreads;
    nbytes += w.nbytes;
    memory_limit += w.memory_limit;
    unlimited = unlimited || w.memory_limit == 0;
  }
  if (threads_per_worker == 0) {
    threads_per_worker = out.workers == 0 ? 1 : static_cast<std::uint32_t>(ceil_div(static_cast<double>(threads_now),
                                                                                    static_cast<double>(out.workers)));
  }

  // Enough threads for the work to take target_duration, but no more than
  // there are tasks to run: a few long tasks must not ask for many workers.
  out.threads = std::min(ceil_div(load.occupancy, config.target_duration), load.ready_tasks);
  // Work that no worker can take yet always asks for one.
  if (load.no_worker_tasks > 0 && out.workers == 0) out.threads = std::max<std::size_t>(out.threads, 1);
  const std::size_t for_cpu = ceil_div(static_cast<double>(out.threads), threads_per_worker);

  out.memory_pressure = !unlimited && memory_limit > 0 &&
                        static_cast<double>(nbytes) > config.memory_fraction * static_cast<double>(memory_limit);
  const std::size_t for_memory = out.memory_pressure ? 2 * out.workers : 0;

  out.target = std::max(for_cpu, for_memory);
  if (out.target < out.workers) {
    out.to_close = workers_to_close(load.workers, out.workers - out.target);
    out.target = out.workers - out.to_close.size();
  }
  return out;
}

std::vector<WorkerLoad> workers_to_close(const std::vector<WorkerLoad>& workers, std::size_t n) {
  std::vector<const WorkerLoad*> idle;
  for (const WorkerLoad& w : workers) {
    if (!w.retiring && w.processing == 0) idle.push_back(&w);
  }
  std::stable_sort(idle.begin(), idle.end(), [](const WorkerLoad* a, const WorkerLoad* b) { return a->nbytes < b->nbytes; });

  // What the workers that stay could take: free memory, and whether one has no limit.
  auto free_of = [](const WorkerLoad& w) { return w.memory_limit > w.nbytes ? w.memory_limit - w.nbytes : 0; };
  std::size_t active = 0, unlimited = 0;
  std::uint64_t free = 0;
  for (const WorkerLoad& w : workers) {
    if (w.retiring) continue;
    ++active;
    if (w.memory_limit == 0) ++unlimited; else free += free_of(w);
  }
  std::vector<WorkerLoad> chosen;
  std::uint64_t moving = 0;  // results the chosen workers hold, to be copied to the others
  for (const WorkerLoad* candidate : idle) {
    if (chosen.size() == n) break;
    const bool staying_exist = active - chosen.size() > 1;
    const std::size_t staying_unlimited = unlimited - (candidate->memory_limit == 0 ? 1 : 0);
    const std::uint64_t staying_free = free - (candidate->memory_limit == 0 ? 0 : free_of(*candidate));
    const std::uint64_t after = moving + candidate->nbytes;
    // The last worker goes only when it holds nothing; the others only while
    // the ones that stay have room for what moves.
    if (!staying_exist ? after > 0 : staying_unlimited == 0 && after > staying_free) break;
    moving = after;
    free = staying_free;
    unlimited = staying_unlimited;
    chosen.push_back(*candidate);
  }
  return chosen;
}

}  // namespace dtask::scheduler
