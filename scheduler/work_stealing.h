// Work stealing's policy (Dask's rule), with no sockets and no GraphState:
// given each worker's occupancy and the tasks that could move (their
// measured duration and the bytes a thief would have to fetch), it picks
// which task moves from which victim to which thief. GraphState::steal_round
// feeds it and carries the moves out transactionally (scheduler/graph_state.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace dtask::scheduler {

struct StealConfig {
  /// Bytes per second assumed between workers, to cost a move's transfer
  /// (Dask's distributed.scheduler.bandwidth).
  double bandwidth = 100e6;
  /// Seconds a move costs beyond its bytes: the round trips of the steal
  /// request, its answer and the task's new ComputeTask. Conservative, as
  /// Dask's, so that short tasks are not bounced around.
  double latency = 0.1;
  /// A task whose (duration + transfer) / duration exceeds this never moves
  /// (Dask's 100: it would cost far more to move than to run).
  double max_cost_multiplier = 100;
};

/// One worker as the policy sees it.
struct StealWorker {
  /// Estimated seconds of work sent to it (and not done), steals in flight
  /// counted where they are going.
  double occupancy = 0;
  std::uint32_t nthreads = 1;
  /// Tasks sent to it and not done: those beyond nthreads wait in its queue.
  std::size_t processing = 0;
  /// May take tasks (not retiring, not paused).
  bool can_receive = true;
};

/// A task that could move off its worker: not started there as far as the
/// scheduler knows, and not already being stolen.
struct StealCandidate {
  std::size_t victim = 0;       // index into the workers
  double duration = 0;          // its op's measured mean (or the default)
  std::uint64_t transfer_bytes = 0;  // its dependencies' bytes a thief must fetch
};

struct StealMove {
  std::size_t candidate = 0;  // index into the candidates
  std::size_t victim = 0;
  std::size_t thief = 0;
};

/// (duration + transfer time) / duration: what running the task elsewhere
/// costs relative to running it where it is. Infinity for a zero duration.
double steal_cost_multiplier(const StealCandidate& candidate, const StealConfig& config);

/// Dask's rule: take candidates cheapest to move first (lowest cost
/// multiplier; ties keep the caller's order, which should be least urgent
/// first); move one from its victim, while the victim has tasks waiting
/// beyond its threads, to the least occupied worker that may run it when
///   thief occupancy + duration * cost multiplier  <=  victim occupancy - duration / 2
/// with occupancies per thread. Each move updates both occupancies before
/// the next is weighed, so one round never overshoots. `eligible(candidate,
/// thief)` says whether the thief may run it (restrictions, resources).
/// Pure and deterministic. Thread-safe.
std::vector<StealMove> choose_steals(std::vector<StealWorker> workers, const std::vector<StealCandidate>& candidates,
                                     const std::function<bool(std::size_t candidate, std::size_t thief)>& eligible,
                                     const StealConfig& config);

}  // namespace dtask::scheduler
