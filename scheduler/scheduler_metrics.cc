#include "scheduler/scheduler_metrics.h"

#include <algorithm>

#include "common/prometheus.h"

namespace dtask::scheduler {

namespace {

void task_metrics(const DashboardSnapshot& s, PrometheusText& out) {
  out.family("dtask_scheduler_tasks", "gauge", "Tasks known to the scheduler, by state");
  for (int i = 0; i < kTaskStatusCount; ++i) {
    if (i == static_cast<int>(TaskStatus::kForgotten)) continue;
    out.sample("dtask_scheduler_tasks", static_cast<double>(s.counts[i]),
               {{"state", task_status_name(static_cast<TaskStatus>(i))}});
  }
  out.family("dtask_scheduler_group_tasks", "gauge", "Tasks by task group (op) and state");
  for (const GroupProgress& group : s.groups) {
    for (int i = 0; i < kTaskStatusCount; ++i) {
      if (i == static_cast<int>(TaskStatus::kForgotten) || group.counts[i] == 0) continue;
      out.sample("dtask_scheduler_group_tasks", static_cast<double>(group.counts[i]),
                 {{"group", group.name}, {"state", task_status_name(static_cast<TaskStatus>(i))}});
    }
  }
  out.single("dtask_scheduler_tasks_completed_total", "counter", "Tasks that finished in memory",
             static_cast<double>(s.tasks_completed));
  out.single("dtask_scheduler_tasks_erred_total", "counter", "Tasks whose op raised (after retries)",
             static_cast<double>(s.tasks_erred));
  out.single("dtask_scheduler_tasks_per_second", "gauge", "Tasks completed per second, smoothed over about a second",
             s.tasks_per_second);
  out.single("dtask_scheduler_transfer_bytes_total", "counter", "Bytes workers fetched from each other",
             static_cast<double>(s.transfer_bytes));
  out.single("dtask_scheduler_event_loop_latency_seconds", "gauge",
             "How late the scheduler's periodic timer fired, latest", s.event_loop_latency);
  out.single("dtask_scheduler_event_loop_latency_max_seconds", "gauge",
             "How late the scheduler's periodic timer fired, worst since the previous snapshot",
             s.event_loop_latency_max);
  out.single("dtask_scheduler_clients", "gauge", "Connected clients", static_cast<double>(s.clients));
  out.single("dtask_scheduler_workers", "gauge", "Connected workers", static_cast<double>(s.workers.size()));
}

/// One gauge family with a sample per worker.
template <typename F>
void per_worker(const DashboardSnapshot& s, PrometheusText& out, const char* name, const char* type,
                const char* help, F value) {
  out.family(name, type, help);
  for (const WorkerRow& worker : s.workers) out.sample(name, value(worker), {{"worker", worker.name}});
}

void worker_metrics(const DashboardSnapshot& s, PrometheusText& out) {
  out.family("dtask_scheduler_worker_memory_bytes", "gauge",
             "Worker memory by kind: managed (results in RAM), spilled (on disk), process (RSS)");
  for (const WorkerRow& worker : s.workers) {
    const msg::Heartbeat& beat = worker.heartbeat;
    out.sample("dtask_scheduler_worker_memory_bytes", static_cast<double>(beat.managed_bytes),
               {{"worker", worker.name}, {"kind", "managed"}});
    out.sample("dtask_scheduler_worker_memory_bytes", static_cast<double>(beat.spilled_bytes),
               {{"worker", worker.name}, {"kind", "spilled"}});
    out.sample("dtask_scheduler_worker_memory_bytes", static_cast<double>(beat.process_memory),
               {{"worker", worker.name}, {"kind", "process"}});
  }
  per_worker(s, out, "dtask_scheduler_worker_memory_limit_bytes", "gauge", "Worker memory limit (0: none)",
             [](const WorkerRow& w) { return static_cast<double>(w.memory_limit); });
  per_worker(s, out, "dtask_scheduler_worker_processing_tasks", "gauge", "Tasks the scheduler has sent the worker",
             [](const WorkerRow& w) { return static_cast<double>(w.processing); });
  per_worker(s, out, "dtask_scheduler_worker_threads", "gauge", "Worker executor threads",
             [](const WorkerRow& w) { return static_cast<double>(w.nthreads); });
  per_worker(s, out, "dtask_scheduler_worker_tasks_done_total", "counter", "Tasks the worker finished",
             [](const WorkerRow& w) { return static_cast<double>(w.tasks_done); });
  per_worker(s, out, "dtask_scheduler_worker_paused", "gauge", "1 while the worker is paused for memory",
             [](const WorkerRow& w) { return w.heartbeat.paused ? 1.0 : 0.0; });
  per_worker(s, out, "dtask_scheduler_worker_heartbeat_age_seconds", "gauge", "Seconds since the worker last reported",
             [&s](const WorkerRow& w) { return w.last_seen > 0 ? std::max(0.0, s.time - w.last_seen) : 0.0; });
}

}  // namespace

std::string scheduler_metrics_text(const DashboardSnapshot& snapshot) {
  PrometheusText out;
  task_metrics(snapshot, out);
  worker_metrics(snapshot, out);
  return out.text();
}

}  // namespace dtask::scheduler
