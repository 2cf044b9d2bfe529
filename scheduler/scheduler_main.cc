// dtask-scheduler: the daemon one cluster runs. See --help.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "common/byte_size.h"
#include "common/daemon_config.h"
#include "common/logging.h"
#include "common/scheduler_file.h"
#include "dtask/security.h"
#include "scheduler/scheduler_server.h"

int main(int argc, char** argv) {
  using namespace dtask;
  CLI::App app{"dtask-scheduler: places task graphs from dtask clients on dtask workers"};
  std::string host = "0.0.0.0";
  int port = 8786;
  std::string dashboard_address = "127.0.0.1:8787";
  int dashboard_interval_ms = 250;
  std::string log_level = "info";
  std::string max_message = "512MiB";
  double saturation = 1.1;
  scheduler::SchedulerOptions options;
  app.add_option("--host", host, "Interface to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port for clients and workers (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--dashboard-address", dashboard_address,
                 "Where the web dashboard, /api and /metrics listen: HOST:PORT, :PORT for all interfaces, "
                 "port 0 for any free port, none to turn it off")
      ->capture_default_str();
  app.add_option("--dashboard-interval-ms", dashboard_interval_ms,
                 "How often the dashboard's snapshot of the scheduler is refreshed")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")->capture_default_str();
  app.add_option("--worker-saturation", saturation,
                 "Root tasks sent per worker thread before the rest wait in 'queued' (inf: no queuing)")
      ->capture_default_str();
  app.add_option("--adaptive-target-duration", options.snapshot.adaptive.target_duration,
                 "Adaptive scaling (GET /api/v1/adaptive_target, dtask-adapt): seconds of queued work per worker "
                 "thread it aims for")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--heartbeat-interval-ms", options.heartbeat_interval_ms, "How often workers report")
      ->capture_default_str();
  app.add_option("--worker-ttl", options.worker_ttl_seconds, "Seconds without a heartbeat before a worker is removed")
      ->capture_default_str();
  app.add_option("--max-message-size", max_message, "Largest message accepted before reading it")
      ->capture_default_str();
  double handshake_timeout = 10;
  app.add_option("--handshake-timeout", handshake_timeout,
                 "Seconds a new connection has to complete its handshake (TLS, then dtask's) before it is closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bool no_work_stealing = false;
  app.add_flag("--no-work-stealing", no_work_stealing,
               "Never move queued tasks from busy workers to idle ones (work stealing is on by default)");
  std::uint32_t work_stealing_interval_ms = 100;
  app.add_option("--work-stealing-interval-ms", work_stealing_interval_ms,
                 "How often work stealing weighs moving queued tasks between workers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--allowed-failures", options.graph.allowed_failures,
                 "Worker deaths a task may cause before it errs with 'worker killed while running'")
      ->capture_default_str();
  std::string auth_token_file;
  app.add_option("--tls-cert", options.tls.cert_file, "PEM certificate (chain) this scheduler presents; turns on TLS");
  app.add_option("--tls-key", options.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-ca", options.tls.ca_file,
                 "PEM CA certificate(s): clients and workers must present a certificate it signed (mutual TLS)");
  app.add_option("--auth-token-file", auth_token_file,
                 "File holding a shared token that every client and worker must send in its handshake");
  app.add_flag("--dashboard-require-token", options.dashboard_requires_token,
               "The dashboard and /metrics require the --auth-token-file token too "
               "(Authorization: Bearer TOKEN, or ?token=TOKEN)");
  int journal_sync_ms = 100;
  double recovery_timeout = 30;
  double client_resume_timeout = 120;
  std::string scheduler_file;
  app.add_option("--scheduler-file", scheduler_file,
                 "Write the address (JSON, as Dask's) to this file once listening, for dtask-worker --scheduler-file "
                 "on a shared file system; removed on a clean stop");
  app.add_option("--journal", options.journal_directory,
                 "Directory for a write-ahead journal of graphs, client futures and finished results: a scheduler "
                 "restarted with the same directory carries on where the last one stopped, and clients and workers "
                 "that lose it reconnect");
  app.add_option("--journal-sync-ms", journal_sync_ms,
                 "How often journal writes are flushed to disk (fdatasync); 0: after every event")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  std::string journal_compact_size = "64MiB";
  app.add_option("--journal-compact-size", journal_compact_size,
                 "Rewrite the journal as a snapshot of the present state once it grows past this size")
      ->capture_default_str();
  app.add_option("--recovery-timeout", recovery_timeout,
                 "Seconds a restarted scheduler waits for the workers that held results before recomputing them")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--client-resume-timeout", client_resume_timeout,
                 "Seconds a restarted scheduler keeps the futures of clients that have not reconnected")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  DaemonConfig config(app, "dtask-scheduler", "DTASK_SCHEDULER_");
  if (auto exit_code = config.parse(argc, argv)) return *exit_code;
  options.journal_sync_interval = std::chrono::milliseconds(journal_sync_ms);
  auto compact_bytes = parse_byte_size(journal_compact_size);
  if (!compact_bytes.ok()) {
    std::fprintf(stderr, "dtask-scheduler: --journal-compact-size: %s\n", compact_bytes.status().message().c_str());
    return 2;
  }
  options.journal_compact_bytes = *compact_bytes;
  options.recovery_timeout = std::chrono::milliseconds(static_cast<long long>(recovery_timeout * 1000));
  options.client_resume_timeout =
      std::chrono::milliseconds(static_cast<long long>(std::max(client_resume_timeout, recovery_timeout) * 1000));

  auto logger = make_logger("scheduler", log_level);
  if (!logger.ok()) {
    std::fprintf(stderr, "dtask-scheduler: %s\n", logger.status().message().c_str());
    return 2;
  }
  auto max_bytes = parse_byte_size(max_message);
  if (!max_bytes.ok()) {
    std::fprintf(stderr, "dtask-scheduler: --max-message-size: %s\n", max_bytes.status().message().c_str());
    return 2;
  }
  if (!auth_token_file.empty()) {
    auto token = read_auth_token_file(auth_token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "dtask-scheduler: --auth-token-file: %s\n", token.status().message().c_str());
      return 2;
    }
    options.auth_token = *token;
  }
  options.listen = Address{host, static_cast<std::uint16_t>(port)};
  options.graph.worker_saturation = saturation;
  options.graph.work_stealing = !no_work_stealing;
  options.work_stealing_interval = std::chrono::milliseconds(work_stealing_interval_ms);
  options.limits.max_message_bytes = *max_bytes;
  options.handshake_timeout = std::chrono::milliseconds(std::llround(handshake_timeout * 1000));
  options.dashboard_address = dashboard_address;
  options.dashboard_interval = std::chrono::milliseconds(std::max(10, dashboard_interval_ms));

  asio::io_context io(1);
  auto server = scheduler::SchedulerServer::make(io, options, *logger);
  if (!server.ok()) {
    std::fprintf(stderr, "dtask-scheduler: %s\n", server.status().message().c_str());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signal) {
    if (ec) return;
    (*logger)->info("signal {} received, shutting down", signal);
    (*server)->stop();
    io.stop();
  });
  (*server)->start();
  // Tests and scripts read these lines to learn the bound ports (the dashboard's first).
  if (!(*server)->dashboard_address().empty()) {
    std::printf("dtask-scheduler dashboard at %s\n", (*server)->dashboard_address().c_str());
  }
  std::printf("dtask-scheduler listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  if (!scheduler_file.empty()) {
    Status written = write_scheduler_file(scheduler_file, (*server)->address(), (*server)->dashboard_address());
    if (!written.ok()) {
      std::fprintf(stderr, "dtask-scheduler: --scheduler-file: %s\n", written.message().c_str());
      return 1;
    }
  }
  (*logger)->info("scheduler at {}, dashboard at {}", (*server)->address(),
                  (*server)->dashboard_address().empty() ? "none" : (*server)->dashboard_address());
  io.run();
  if (!scheduler_file.empty()) {
    std::error_code ignored;  // already gone is fine
    std::filesystem::remove(scheduler_file, ignored);
  }
  (*logger)->info("scheduler stopped");
  return 0;
}
