// Graceful retire: a client's RetireWorkers, or a worker retiring itself on
// SIGTERM. Each retiring worker first gets no new tasks; the results only it
// holds that are still needed are copied to other workers (AcquireReplicas
// to the target, which fetches them from the retiring worker); once nothing
// unique is left, or the deadline passes, or no other worker exists, the
// worker is removed without counting its running tasks as failures (they are
// rescheduled), told to close (CloseWorker), and the requester gets its reply:
// a client (RetireWorkers), or the dashboard's POST /api/v1/retire_workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/messages.h"
#include "dtask/status.h"
#include "scheduler/graph_state.h"

namespace dtask::scheduler {

class Retirements {
 public:
  using Clock = std::chrono::steady_clock;
  /// How retirements reach the outside: the server sends and removes.
  struct Effects {
    std::function<void(WorkerState&, msg::AcquireReplicas)> acquire;
    /// Removes the worker from the graph (gracefully) and closes its connection.
    std::function<void(WorkerState&, const std::string& reason)> close;
    std::function<void(ClientState&, msg::RetireWorkersReply)> reply;
  };

  Retirements(GraphState& graph, Effects effects, std::chrono::milliseconds timeout,
              std::shared_ptr<spdlog::logger> logger);

  /// Called once every worker of a request is gone, with their names.
  using Done = std::function<void(std::vector<std::string> retired)>;

  /// Starts retiring the workers named (names or addresses; an unknown one is
  /// an error and nothing starts); the client gets a RetireWorkersReply.
  Status start(const std::vector<std::string>& names, ClientState& client, std::uint64_t request_id);
  /// The same for a requester that is not a client (the dashboard's API).
  Status start(const std::vector<std::string>& names, Done done);
  /// Retires `worker` itself (its own request).
  void start(WorkerState& worker);
  /// Finishes the retirements that can finish: after reports, and on a timer.
  void poll(Clock::time_point now);
  /// The worker disconnected (or died) mid-retire: count it as retired.
  void worker_gone(WorkerState& worker);
  /// The client left: no reply is owed any more.
  void client_gone(ClientState& client);
  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    std::vector<WorkerState*> workers;  // still to go
    std::vector<std::string> retired;   // names, for the reply
    ClientState* client = nullptr;      // the requesting client, if one (client_gone drops `done`)
    Done done;                          // empty: no reply owed
    Clock::time_point deadline;
  };

  Status start(const std::vector<std::string>& names, ClientState* client, Done done);
  void begin(Pending pending);
  /// Asks live, non-retiring workers to copy what only `worker` holds.
  void copy_unique_results(WorkerState& worker);
  bool has_other_workers() const;

  GraphState& graph_;
  Effects effects_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<spdlog::logger> logger_;
  std::vector<Pending> pending_;
};

}  // namespace dtask::scheduler
