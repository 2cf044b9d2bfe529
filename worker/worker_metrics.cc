#include "worker/worker_metrics.h"

#include "common/prometheus.h"

namespace dtask::worker {

std::string worker_metrics_text(const WorkerMetrics& m) {
  PrometheusText out;
  const PrometheusLabels worker{{"worker", m.name}};
  auto gauge = [&](const char* name, const char* help, double value) {
    out.family(name, "gauge", help);
    out.sample(name, value, worker);
  };
  auto counter = [&](const char* name, const char* help, double value) {
    out.family(name, "counter", help);
    out.sample(name, value, worker);
  };
  gauge("dtask_worker_threads", "Executor threads", m.nthreads);
  gauge("dtask_worker_executing_tasks", "Tasks running now", m.executing);
  gauge("dtask_worker_ready_tasks", "Tasks queued or waiting for dependencies", m.ready);
  gauge("dtask_worker_stored_keys", "Results held, in RAM or on disk", static_cast<double>(m.stored_keys));
  out.family("dtask_worker_memory_bytes", "gauge", "Memory by kind: managed (results in RAM), spilled (on disk), process (RSS)");
  out.sample("dtask_worker_memory_bytes", static_cast<double>(m.managed_bytes), {{"worker", m.name}, {"kind", "managed"}});
  out.sample("dtask_worker_memory_bytes", static_cast<double>(m.spilled_bytes), {{"worker", m.name}, {"kind", "spilled"}});
  out.sample("dtask_worker_memory_bytes", static_cast<double>(m.process_memory), {{"worker", m.name}, {"kind", "process"}});
  gauge("dtask_worker_memory_limit_bytes", "Memory limit (0: none)", static_cast<double>(m.memory_limit));
  gauge("dtask_worker_spilled_keys", "Results on disk", static_cast<double>(m.spilled_keys));
  gauge("dtask_worker_paused", "1 while paused for memory", m.paused ? 1 : 0);
  counter("dtask_worker_spills_total", "Results written to disk", static_cast<double>(m.spills));
  counter("dtask_worker_unspills_total", "Results read back from disk", static_cast<double>(m.unspills));
  counter("dtask_worker_tasks_finished_total", "Tasks run to completion or failure",
          static_cast<double>(m.tasks_finished));
  counter("dtask_worker_tasks_run_on_io_thread_total",
          "Tasks of an op measured tiny run on the worker's io thread, not an executor thread",
          static_cast<double>(m.tasks_run_on_io_thread));
  counter("dtask_worker_transfer_bytes_total", "Bytes fetched from peer workers", static_cast<double>(m.transfer_bytes));
  counter("dtask_worker_transfers_total", "Fetches from peer workers", static_cast<double>(m.transfers));
  return out.text();
}

}  // namespace dtask::worker
