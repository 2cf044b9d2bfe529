// The dtask-worker daemon: registers with the scheduler, runs the tasks it is
// sent on an Executor, fetches dependencies from peer workers, keeps results
// in a DataStore, and serves them to peers and clients on its data port.
// Network work runs on one io_context thread; ops run on executor threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/address.h"
#include "common/connection.h"
#include "common/frame.h"
#include "common/messages.h"
#include "dtask/security.h"
#include "dtask/status.h"
#include "worker/data_store.h"
#include "worker/op_registry.h"

namespace asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace dtask::worker {

struct WorkerOptions {
  Address scheduler;
  /// Interface for the data port. Empty: all interfaces, advertising the
  /// local IP this worker uses to reach the scheduler.
  std::string host;
  std::uint16_t port = 0;
  std::string name;
  unsigned nthreads = 1;
  /// Bytes this worker may use; 0: unlimited (nothing spills, never pauses).
  std::uint64_t memory_limit = 0;
  /// When to spill and pause, as fractions of memory_limit.
  MemoryPolicy memory_policy;
  /// Where the worker makes its own spill directory (removed when it stops).
  /// Empty: the system's temporary directory.
  std::string local_directory;
  /// Workers sharing this process (an in-process LocalCluster). Each one
  /// counts an even share of the process's RSS against its own limit, so n
  /// workers in one process spill and pause as n separate processes would.
  unsigned workers_in_process = 1;
  /// How often process memory is checked (spill, pause, resume).
  std::chrono::milliseconds memory_monitor_interval{100};
  ResourceList resources;
  /// The GPU this worker's process is bound to (dtask-worker --device; see
  /// worker/gpu_binding.h), reported to the scheduler when it registers.
  /// The worker does nothing else with it. Empty: none.
  std::optional<msg::GpuDevice> gpu;
  FrameLimits limits;
  std::chrono::milliseconds connect_timeout{30000};
  /// A scheduler that keeps a journal (--journal) may come back after dying:
  /// the worker keeps its results and reconnects with back-off for this
  /// long, then stops. 0: stop at once. Schedulers without a journal: stop at once.
  std::chrono::milliseconds reconnect_timeout{60000};
  /// Where this worker serves its own /metrics: "host:port", ":port", port 0
  /// for any free port. Empty or "none" (the default): no HTTP server, so
  /// that many workers on one host need no port planning.
  std::string dashboard_address;
  /// TLS for every link: to the scheduler, to peers, and the data port (which
  /// then needs a certificate and key). With a CA, certificates are verified
  /// both ways.
  TlsOptions tls;
  /// Sent in every handshake this worker makes, and required (constant-time
  /// compare) from peers and clients on its data port when not empty.
  std::string auth_token;
  /// A data-port connection whose peer has not passed its handshake (TLS,
  /// then an accepted Handshake) this long after it was accepted is closed.
  std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout;
  /// A task handed over alone, of an op whose recent runs here all took less
  /// than this, runs on the worker's io thread instead of waking an executor
  /// thread (WorkerState::runs_on_io_thread). 0: never.
  std::chrono::microseconds io_thread_task_limit{50};
};

class Worker {
 public:
  /// Binds the data port and connects to the scheduler (blocking the caller,
  /// not an io thread). `registry` must outlive the worker.
  static Result<std::unique_ptr<Worker>> make(asio::io_context& io, WorkerOptions options,
                                              const OpRegistry& registry, std::shared_ptr<spdlog::logger> logger);
  ~Worker();

  /// "tcp://10.0.0.5:40123" ("tls://..." with TLS): where peers and clients fetch results.
  const std::string& data_address() const;
  const std::string& name() const;
  /// "http://127.0.0.1:PORT/" of its /metrics; empty when it serves none.
  std::string dashboard_address() const;
  /// Registers and starts serving. `on_stopped` runs on the io thread if the
  /// worker stops on its own (scheduler gone, registration refused);
  /// `on_registered` once the scheduler has accepted it.
  void start(std::function<void(const Status&)> on_stopped, std::function<void()> on_registered = {});
  /// Closes every connection and stops the executor. Thread-safe.
  void stop();
  /// Leaves gracefully: asks the scheduler to retire this worker (its unique
  /// results are copied elsewhere first) and stops when told to, or after
  /// `timeout`; a second call, or no scheduler, stops at once. Thread-safe.
  void retire(std::chrono::milliseconds timeout);

 private:
  class Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtask::worker
