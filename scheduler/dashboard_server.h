// The scheduler's web dashboard: the status page, the JSON API and /metrics,
// served by an HttpServer on its own threads. Handlers read the latest
// DashboardSnapshot the scheduler strand published; they never touch the
// live GraphState. The exceptions are posted to the strand (as every other
// thread talks to it) and answered within a deadline: /api/task/<key>, a
// single hash lookup, and POST /api/v1/retire_workers, which answers once the
// workers are gone.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/snapshot_slot.h"
#include "dtask/status.h"
#include "scheduler/dashboard_snapshot.h"

namespace spdlog {
class logger;
}

namespace dtask::scheduler {

/// Runs the lookup of one task on the scheduler strand; the future holds its
/// JSON, or nullopt when no such task exists.
using TaskLookup = std::function<std::future<std::optional<std::string>>(const std::string& key)>;
/// Retires workers on the strand: those named, or `n` idle ones it picks
/// (workers_to_close). The future holds the retired workers' names once
/// they are gone, or the error (an unknown worker).
using RetireAction = std::function<std::future<Result<std::vector<std::string>>>(
    const std::vector<std::string>& names, std::size_t n)>;

/// What the dashboard asks of the scheduler strand.
struct DashboardActions {
  TaskLookup lookup;
  RetireAction retire;
  /// How long POST /api/v1/retire_workers waits for the workers to go.
  std::chrono::milliseconds retire_deadline{35'000};
};

class DashboardServer {
 public:
  /// Binds `address` (see HttpServer::make). `snapshots` must outlive the server.
  static Result<std::unique_ptr<DashboardServer>> make(const std::string& address,
                                                       const SnapshotSlot<DashboardSnapshot>& snapshots,
                                                       DashboardActions actions,
                                                       std::shared_ptr<spdlog::logger> logger);
  /// Every page but /health answers 401 without `token` (see HttpServer::require_token).
  /// Call before start().
  void require_token(std::string token) { http_->require_token(std::move(token)); }
  /// Serves on the HTTP server's own threads. Thread-safe.
  void start() { http_->start(); }
  /// Stops serving and joins its threads; a request waiting on the strand
  /// gives up at once. Idempotent; thread-safe.
  void stop() {
    stopping_ = true;
    http_->stop();
  }
  /// "http://HOST:PORT/"; a wildcard host shows as `public_host` (else 127.0.0.1).
  std::string url(const std::string& public_host = "") const { return http_->url(public_host); }

 private:
  DashboardServer(std::unique_ptr<HttpServer> http, const SnapshotSlot<DashboardSnapshot>& snapshots,
                  DashboardActions actions);
  void add_routes();
  void add_scaling_routes();
  /// Runs `render` on the latest snapshot, or answers 503 before the first one.
  HttpResponse with_snapshot(const std::function<HttpResponse(const DashboardSnapshot&)>& render) const;

  std::unique_ptr<HttpServer> http_;
  const SnapshotSlot<DashboardSnapshot>& snapshots_;
  DashboardActions actions_;
  std::atomic<bool> stopping_{false};
};

}  // namespace dtask::scheduler
