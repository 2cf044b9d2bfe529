// The dtask-scheduler daemon's network side: accepts clients and workers,
// decodes their messages into GraphState events, and sends what the state
// machine's Outbox holds. Everything runs on one io_context thread, which is
// the scheduler strand: no locks guard the graph.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/address.h"
#include "common/connection.h"
#include "common/frame.h"
#include "dtask/security.h"
#include "dtask/status.h"
#include "scheduler/dashboard_snapshot.h"
#include "scheduler/graph_state.h"

namespace asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace dtask::scheduler {

struct SchedulerOptions {
  Address listen{"0.0.0.0", 8786};
  SchedulerConfig graph;
  FrameLimits limits;
  std::uint32_t heartbeat_interval_ms = 500;
  /// How often a round of work stealing runs (GraphState::steal_round),
  /// while SchedulerConfig::work_stealing is on.
  std::chrono::milliseconds work_stealing_interval{100};
  /// A worker silent for this long is removed (its connection closing removes it at once).
  double worker_ttl_seconds = 60;
  /// A retiring worker leaves after this long even if its unique results
  /// could not all be copied (they are then recomputed from lineage).
  std::chrono::milliseconds retire_timeout{30'000};
  std::string name = "dtask-scheduler";
  /// Where the web dashboard (/, /api/*, /metrics) listens: "host:port",
  /// ":port" for all interfaces, port 0 for any free port; "none" for no dashboard.
  std::string dashboard_address = "127.0.0.1:8787";
  /// How often the strand publishes a snapshot for the dashboard.
  std::chrono::milliseconds dashboard_interval{250};
  SnapshotOptions snapshot;
  /// TLS for the listener (clients and workers): a certificate and key are
  /// required; with a CA, peers must present a certificate it signed.
  TlsOptions tls;
  /// When not empty, every connection's Handshake must carry this token
  /// (compared in constant time) before any other message is read.
  std::string auth_token;
  /// The dashboard (every page but /health) requires auth_token too, as
  /// "Authorization: Bearer TOKEN", "?token=TOKEN" or the cookie the latter sets.
  bool dashboard_requires_token = false;
  /// Where the write-ahead journal lives (scheduler/journal.h); empty: none.
  /// With one, a restarted scheduler rebuilds its graphs and clients, and
  /// clients and workers that lose it reconnect instead of giving up.
  std::string journal_directory;
  /// How often journal writes are fdatasync'd; 0 syncs every event.
  std::chrono::milliseconds journal_sync_interval{100};
  /// The journal is rewritten as a snapshot of the present state once it
  /// passes this size (and 4x its size after the last rewrite).
  std::uint64_t journal_compact_bytes = 64ull << 20;
  /// After a restart, how long to wait for the workers that held results
  /// before recomputing what they have not brought back.
  std::chrono::milliseconds recovery_timeout{30'000};
  /// After a restart, how long a restored client has to reconnect before its
  /// futures are dropped.
  std::chrono::milliseconds client_resume_timeout{120'000};
  /// A connection whose peer has not passed its handshake (TLS, then an
  /// accepted Handshake) this long after it was accepted is closed, so idle,
  /// stalled or byte-a-second peers cannot hold sockets forever.
  std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout;
};

class SchedulerServer {
 public:
  /// Binds the listening socket and the dashboard's; fails when either address is taken.
  static Result<std::unique_ptr<SchedulerServer>> make(asio::io_context& io, SchedulerOptions options,
                                                       std::shared_ptr<spdlog::logger> logger);
  ~SchedulerServer();

  /// "tcp://127.0.0.1:8786" ("tls://..." with TLS), with the port actually bound.
  std::string address() const;
  /// "http://127.0.0.1:8787/", with the port actually bound; empty without a dashboard.
  std::string dashboard_address() const;
  /// Starts accepting and the heartbeat check. Call before running `io`.
  void start();
  /// Stops the dashboard, closes the listener and every connection. Thread-safe.
  void stop();
  /// Waits until no client is connected, or `timeout` passes (false then).
  /// Thread-safe. A LocalCluster calls it before stopping its workers: the
  /// results its own client held are then released, not lost with them.
  bool wait_for_no_clients(std::chrono::milliseconds timeout);

 private:
  class Impl;
  explicit SchedulerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtask::scheduler
