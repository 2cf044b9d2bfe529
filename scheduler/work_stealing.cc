#include "scheduler/work_stealing.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace dtask::scheduler {

double steal_cost_multiplier(const StealCandidate& candidate, const StealConfig& config) {
  if (!(candidate.duration > 0)) return std::numeric_limits<double>::infinity();
  const double transfer = static_cast<double>(candidate.transfer_bytes) / config.bandwidth + config.latency;
  return (candidate.duration + transfer) / candidate.duration;
}

std::vector<StealMove> choose_steals(std::vector<StealWorker> workers, const std::vector<StealCandidate>& candidates,
                                     const std::function<bool(std::size_t, std::size_t)>& eligible,
                                     const StealConfig& config) {
  std::vector<StealMove> moves;
  if (workers.size() < 2 || candidates.empty()) return moves;
  std::vector<double> multiplier(candidates.size());
  std::vector<std::size_t> order;
  order.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    multiplier[i] = steal_cost_multiplier(candidates[i], config);
    if (multiplier[i] <= config.max_cost_multiplier && candidates[i].victim < workers.size()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return multiplier[a] < multiplier[b]; });
  auto per_thread = [](const StealWorker& w) { return w.occupancy / std::max<std::uint32_t>(w.nthreads, 1); };
  for (std::size_t i : order) {
    const StealCandidate& candidate = candidates[i];
    StealWorker& victim = workers[candidate.victim];
    if (victim.processing <= victim.nthreads) continue;  // nothing of it waits: every task may be running
    std::size_t best = workers.size();
    for (std::size_t w = 0; w < workers.size(); ++w) {
      if (w == candidate.victim || !workers[w].can_receive || (eligible && !eligible(i, w))) continue;
      if (best == workers.size() || per_thread(workers[w]) < per_thread(workers[best])) best = w;
    }
    if (best == workers.size()) continue;
    StealWorker& thief = workers[best];
    const double thief_after = (thief.occupancy + candidate.duration * multiplier[i]) / std::max(thief.nthreads, 1u);
    const double victim_left = per_thread(victim) - candidate.duration / 2 / std::max(victim.nthreads, 1u);
    if (thief_after > victim_left) continue;
    moves.push_back({i, candidate.victim, best});
    victim.occupancy = std::max(0.0, victim.occupancy - candidate.duration);
    --victim.processing;
    thief.occupancy += candidate.duration;
    ++thief.processing;
  }
  return moves;
}

}  // namespace dtask::scheduler
