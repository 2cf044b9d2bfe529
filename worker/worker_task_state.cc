#include "worker/worker_task_state.h"

namespace dtask::worker {

const char* worker_task_status_name(WorkerTaskStatus status) {
  switch (status) {
    case WorkerTaskStatus::kReleased: return "released";
    case WorkerTaskStatus::kWaiting: return "waiting";
    case WorkerTaskStatus::kFetching: return "fetching";
    case WorkerTaskStatus::kFetchCancelled: return "fetch-cancelled";
    case WorkerTaskStatus::kReady: return "ready";
    case WorkerTaskStatus::kExecuting: return "executing";
    case WorkerTaskStatus::kRunCancelled: return "run-cancelled";
    case WorkerTaskStatus::kMemory: return "memory";
    case WorkerTaskStatus::kErred: return "erred";
  }
  return "unknown";
}

}  // namespace dtask::worker
