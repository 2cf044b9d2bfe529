// Scheduler restart (driven by the journal, scheduler/journal.h): results
// workers bring back, the wait for them, and clients resuming their sessions.
#include "scheduler/graph_state.h"

#include <spdlog/spdlog.h>

#include "common/check.h"

namespace dtask::scheduler {

using S = TaskStatus;

void GraphState::take_held_results(WorkerState& worker, const std::vector<msg::KeyInfo>& held, Recommendations& out) {
  if (held.empty()) return;
  std::size_t kept = 0;
  reporting_worker_ = &worker;
  for (const msg::KeyInfo& info : held) {
    auto it = tasks_.find(info.key);
    TaskState* task = it == tasks_.end() ? nullptr : it->second.get();
    // Unknown, failed, or already running elsewhere: the copy is not needed.
    if (task == nullptr || task->status == S::kErred || is_processing(task->status)) {
      outbox_.free[&worker].keys.push_back(info.key);
      continue;
    }
    recovering_keys_.erase(info.key);
    ++kept;
    if (task->status == S::kMemory) {
      add_replica(*task, worker);
      notify_wanted(*task);
      continue;
    }
    // Waiting, queued or no-worker: it need not run, its result is here.
    task->nbytes = info.nbytes;
    task->type_name = type_names_.intern(info.type_name);
    transition(*task, S::kReleased, out);
    transition(*task, S::kMemory, out);
  }
  reporting_worker_ = nullptr;
  logger_->info("worker {} came back with {} results: {} still needed", worker.name, held.size(), kept);
}

void GraphState::begin_recovery(std::unordered_map<std::string, std::vector<std::string>> held) {
  recovering_ = true;
  for (const auto& [key, holders] : held) recovering_holders_.insert(holders.begin(), holders.end());
  recovering_keys_ = std::move(held);
  logger_->info("recovering: waiting for {} workers to bring back {} results", recovering_holders_.size(),
                recovering_keys_.size());
  if (recovering_holders_.empty()) end_recovery();
}

void GraphState::end_recovery() {
  if (!recovering_) return;
  std::size_t missing = recovering_keys_.size();
  recovering_ = false;
  recovering_keys_.clear();
  recovering_holders_.clear();
  Recommendations out;
  for (TaskState* task : std::vector<TaskState*>(unrunnable_.begin(), unrunnable_.end())) {
    if (!task->is_scattered()) continue;
    // Its worker did not come back: released -> waiting reports it lost.
    transition(*task, S::kReleased, out);
    transition(*task, S::kWaiting, out);
  }
  retry_unrunnable(out);
  transitions(std::move(out));
  logger_->info("recovery over; results no worker brought back are recomputed from their lineage (up to {})",
                missing);
}

void GraphState::restore_scattered(ClientState& client, const msg::KeysScattered& scattered) {
  Recommendations out;
  for (const msg::KeyInfo& info : scattered.keys) {
    TaskState* task = get_or_create(info.key);
    if (task->group == nullptr) join_group(*task, "scattered");
    insert_unique(task->who_wants, &client);
    client.wants.insert(task);
    if (task->status != S::kReleased) continue;
    task->nbytes = info.nbytes;
    task->type_name = type_names_.intern(info.type_name);
    out.emplace_back(task, S::kWaiting);
  }
  transitions(std::move(out));
}

void GraphState::resume_client(ClientState& client, const std::vector<std::string>& keys) {
  std::unordered_set<std::string> wanted(keys.begin(), keys.end());
  std::vector<std::string> dropped;
  for (const TaskState* task : client.wants) {
    if (wanted.count(task->key) == 0) dropped.push_back(task->key);
  }
  release_keys(client, dropped);  // released while the scheduler was away
  Recommendations out;
  for (const std::string& key : keys) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) {
      notify(client, {key, KeyOutcome::kLost, {}, "", key,
                      "the scheduler does not know this key after the client reconnected (it restarted without "
                      "its --journal, or the graph never reached it)",
                      0, ""});
      continue;
    }
    TaskState& task = *it->second;
    if (client.wants.insert(&task).second) {
      insert_unique(task.who_wants, &client);
      if (task.status == S::kReleased) out.emplace_back(&task, S::kWaiting);
    }
    if (task.status == S::kMemory || task.status == S::kErred) notify(client, status_of(task));
  }
  transitions(std::move(out));
}

}  // namespace dtask::scheduler
