#include "scheduler/retirement.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace dtask::scheduler {

Retirements::Retirements(GraphState& graph, Effects effects, std::chrono::milliseconds timeout,
                         std::shared_ptr<spdlog::logger> logger)
    : graph_(graph), effects_(std::move(effects)), timeout_(timeout), logger_(std::move(logger)) {}

Status Retirements::start(const std::vector<std::string>& names, ClientState& client, std::uint64_t request_id) {
  return start(names, &client, [this, client = &client, request_id](std::vector<std::string> retired) {
    effects_.reply(*client, {request_id, std::move(retired), ""});
  });
}

Status Retirements::start(const std::vector<std::string>& names, Done done) {
  return start(names, nullptr, std::move(done));
}

Status Retirements::start(const std::vector<std::string>& names, ClientState* client, Done done) {
  Pending pending{{}, {}, client, std::move(done), Clock::now() + timeout_};
  for (const std::string& name : names) {
    WorkerState* worker = graph_.find_worker(name);
    if (worker == nullptr) return Status::not_found("no worker named or at '" + name + "'");
    if (std::find(pending.workers.begin(), pending.workers.end(), worker) == pending.workers.end()) {
      pending.workers.push_back(worker);
    }
  }
  begin(std::move(pending));
  return Status::success();
}

void Retirements::start(WorkerState& worker) { begin({{&worker}, {}, nullptr, {}, Clock::now() + timeout_}); }

void Retirements::begin(Pending pending) {
  // Mark them all first, so that no retiring worker is chosen as a copy target.
  for (WorkerState* worker : pending.workers) {
    logger_->info("retiring worker {} ({})", worker->name, worker->address);
    graph_.set_retiring(*worker);
  }
  for (WorkerState* worker : pending.workers) copy_unique_results(*worker);
  pending_.push_back(std::move(pending));
  poll(Clock::now());
}

bool Retirements::has_other_workers() const {
  for (const auto& worker : graph_.workers()) {
    if (!worker->retiring) return true;
  }
  return false;
}

void Retirements::copy_unique_results(WorkerState& worker) {
  std::vector<WorkerState*> targets;
  for (const auto& w : graph_.workers()) {
    if (!w->retiring) targets.push_back(w.get());
  }
  if (targets.empty()) return;
  // Spread the copies: each key to the target holding the fewest bytes so far.
  std::map<WorkerState*, msg::AcquireReplicas> requests;
  std::map<WorkerState*, std::uint64_t> planned;
  for (TaskState* task : graph_.held_only_by(worker)) {
    WorkerState* target = *std::min_element(targets.begin(), targets.end(), [&](WorkerState* a, WorkerState* b) {
      return a->nbytes + planned[a] < b->nbytes + planned[b];
    });
    planned[target] += task->nbytes;
    requests[target].holder = worker.address;
    requests[target].keys.push_back(task->key);
  }
  for (auto& [target, request] : requests) {
    logger_->info("copying {} results from retiring worker {} to {}", request.keys.size(), worker.name, target->name);
    effects_.acquire(*target, std::move(request));
  }
}

void Retirements::poll(Clock::time_point now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = *it;
    for (auto w = p.workers.begin(); w != p.workers.end();) {
      WorkerState& worker = **w;
      const bool copied = graph_.held_only_by(worker).empty();
      if (!copied && now < p.deadline && has_other_workers()) {
        ++w;
        continue;
      }
      std::string reason = copied ? "retired" : now >= p.deadline ? "retired after its copies timed out"
                                                                  : "retired with no other worker to copy to";
      if (!copied) logger_->warn("worker {}: {}; its unique results will be recomputed", worker.name, reason);
      p.retired.push_back(worker.name);
      w = p.workers.erase(w);
      effects_.close(worker, reason);
    }
    if (!p.workers.empty()) {
      ++it;
      continue;
    }
    Done done = std::move(p.done);
    std::vector<std::string> retired = std::move(p.retired);
    it = pending_.erase(it);
    if (done) done(std::move(retired));
  }
}

void Retirements::worker_gone(WorkerState& worker) {
  for (Pending& p : pending_) {
    auto w = std::find(p.workers.begin(), p.workers.end(), &worker);
    if (w == p.workers.end()) continue;
    p.retired.push_back(worker.name);
    p.workers.erase(w);
  }
}

void Retirements::client_gone(ClientState& client) {
  for (Pending& p : pending_) {
    if (p.client == &client) {
      p.client = nullptr;
      p.done = nullptr;
    }
  }
}

}  // namespace dtask::scheduler
