// A scheduler and workers started inside this process, talking over
// loopback TCP through the same code as separate daemons. Client() with no
// address starts one, so a single machine needs no set-up.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dtask/resources.h"
#include "dtask/security.h"
#include "dtask/status.h"

namespace dtask {

class OpRegistry;

struct LocalClusterOptions {
  unsigned n_workers = 0;           // 0: one per core
  unsigned threads_per_worker = 1;
  std::uint64_t memory_limit = 0;   // per worker; 0: this machine's memory / n_workers
  std::string local_directory;      // where workers spill; empty: the system temp directory
  ResourceList resources;           // declared by every worker
  /// Registers extra ops on the workers' registry (built-in ops are always there).
  std::function<void(OpRegistry&)> register_ops;
  std::string log_level = "warn";
  double worker_saturation = 1.1;
  /// Idle workers take queued tasks from busy ones (the scheduler's
  /// --no-work-stealing turns it off). On by default, as in Dask.
  bool work_stealing = true;
  /// The scheduler's dashboard ("host:port"; "none": off). Port 0 by default,
  /// so that several local clusters (test suites, notebooks) never collide;
  /// Client::dashboard_link() tells where it is.
  std::string dashboard_address = "127.0.0.1:0";
  /// TLS for every connection of the cluster (the scheduler and the workers
  /// share these files, so the certificate serves both ways); a Client made
  /// from these options uses them too unless its ClientOptions set their own.
  TlsOptions tls;
  /// Shared token the scheduler and workers require; a Client made from these
  /// options sends it unless its ClientOptions set another.
  std::string auth_token;
};

/// Owns the in-process scheduler and workers; stops them when destroyed.
class LocalCluster {
 public:
  static Result<std::unique_ptr<LocalCluster>> start(LocalClusterOptions options = {});
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  const std::string& scheduler_address() const;
  /// "http://127.0.0.1:PORT/", or empty without a dashboard.
  std::string dashboard_address() const;
  std::vector<std::string> worker_addresses() const;
  std::vector<std::string> worker_names() const;

 private:
  class Impl;
  explicit LocalCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtask
