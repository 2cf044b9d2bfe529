#include "scheduler/journal_replay.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace dtask::scheduler {

namespace {

using Kind = JournalRecord::Kind;
using HeldResults = std::unordered_map<std::string, std::vector<std::string>>;  // key -> holder addresses

/// Which results were in memory, and where, when the journal ends.
HeldResults held_results(const std::vector<JournalRecord>& records) {
  HeldResults held;
  for (const JournalRecord& record : records) {
    const auto* completed = record.message ? std::get_if<msg::KeysScattered>(&*record.message) : nullptr;
    const auto* forgotten = record.message ? std::get_if<msg::FreeKeys>(&*record.message) : nullptr;
    if (record.kind == Kind::kCompleted && completed != nullptr) {
      for (const msg::KeyInfo& result : completed->keys) {
        auto& holders = held[result.key];
        if (std::find(holders.begin(), holders.end(), completed->worker) == holders.end()) {
          holders.push_back(completed->worker);
        }
      }
    } else if (record.kind == Kind::kForgotten && forgotten != nullptr) {
      for (const std::string& key : forgotten->keys) held.erase(key);
    } else if (record.kind == Kind::kWorkerGone) {
      for (auto it = held.begin(); it != held.end();) {
        std::erase(it->second, record.subject);
        it = it->second.empty() ? held.erase(it) : std::next(it);
      }
    }
  }
  return held;
}

/// Applies one client input as the live scheduler did, minus the replies.
void apply_client_input(GraphState& graph, ClientState& client, const Message& message) {
  if (const auto* update = std::get_if<msg::UpdateGraph>(&message)) {
    graph.update_graph(client, *update);
  } else if (const auto* release = std::get_if<msg::ReleaseKeys>(&message)) {
    graph.release_keys(client, release->keys);
  } else if (const auto* cancel = std::get_if<msg::CancelKeys>(&message)) {
    graph.release_keys(client, cancel->keys);
  } else if (const auto* scattered = std::get_if<msg::KeysScattered>(&message)) {
    graph.restore_scattered(client, *scattered);
  } else if (const auto* resume = std::get_if<msg::ResumeSession>(&message)) {
    graph.resume_client(client, resume->keys);
  }
}

}  // namespace

ReplaySummary replay_journal(GraphState& graph, const std::vector<JournalRecord>& records) {
  ReplaySummary summary;
  summary.records = records.size();
  HeldResults held = held_results(records);
  summary.held_results = held.size();
  // First, so that replayed tasks whose results may come back do not run.
  graph.begin_recovery(std::move(held));
  for (const JournalRecord& record : records) {
    if (record.kind == Kind::kClientInput && record.message) {
      ClientState* client = graph.find_client(record.subject);
      if (client == nullptr) client = graph.add_client(record.subject, record.subject);
      apply_client_input(graph, *client, *record.message);
    } else if (record.kind == Kind::kClientGone) {
      if (ClientState* client = graph.find_client(record.subject)) graph.remove_client(client);
    }
  }
  (void)graph.take_outbox();  // nobody is connected to hear it
  summary.clients = graph.client_count();
  summary.tasks = graph.task_count();
  return summary;
}

namespace {

msg::TaskDef task_def_of(const TaskState& task) {
  msg::TaskDef def;
  def.key = task.key;
  def.op = task.op();
  def.args = task.args;
  for (const TaskState* dep : task.dependencies) def.dependencies.push_back(dep->key);
  def.priority = task.priority;
  def.resources = task.resources();
  def.workers = task.worker_restrictions();
  def.allow_other_workers = task.loose_restrictions();
  def.retries = task.retries;
  return def;
}

/// The computed tasks `roots` need, each after its dependencies, skipping
/// those already `emitted` (iterative DFS: graphs can be deeper than the stack).
std::vector<msg::TaskDef> tasks_in_dependency_order(const TaskSet& roots,
                                                    std::unordered_set<const TaskState*>& emitted) {
  std::vector<msg::TaskDef> out;
  for (const TaskState* root : roots) {
    std::vector<std::pair<const TaskState*, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [task, next_dep] = stack.back();
      if (emitted.count(task) > 0) {
        stack.pop_back();
      } else if (next_dep < task->dependencies.size()) {
        const TaskState* dep = task->dependencies[next_dep++];
        if (emitted.count(dep) == 0) stack.emplace_back(dep, 0);
      } else {
        emitted.insert(task);
        if (!task->is_scattered()) out.push_back(task_def_of(*task));
        stack.pop_back();
      }
    }
  }
  return out;
}

}  // namespace

std::vector<JournalRecord> journal_snapshot(const GraphState& graph) {
  std::vector<JournalRecord> records;
  // Results by holder, one record per worker.
  std::unordered_map<std::string, std::vector<msg::KeyInfo>> by_holder;
  for (const auto& [key, task] : graph.tasks()) {
    if (task->status != TaskStatus::kMemory) continue;
    for (const WorkerState* holder : task->who_has) by_holder[holder->address].push_back({task->key, task->nbytes, *task->type_name});
  }
  // Results a restarted scheduler still waits for stay expected.
  for (const auto& [key, holders] : graph.recovering_results()) {
    for (const std::string& holder : holders) by_holder[holder].push_back({key, 0, ""});
  }
  for (auto& [holder, keys] : by_holder) {
    records.push_back({Kind::kCompleted, "", Message(msg::KeysScattered{holder, std::move(keys)})});
  }

  std::vector<ClientState*> clients = graph.clients();
  for (ClientState* client : clients) {
    msg::KeysScattered scattered;
    for (const TaskState* task : client->wants) {
      if (task->is_scattered()) scattered.keys.push_back({task->key, task->nbytes, *task->type_name});
    }
    if (!scattered.keys.empty()) records.push_back({Kind::kClientInput, client->session, Message(std::move(scattered))});
  }
  // Each client's graph holds what its wants need and no earlier graph
  // defined: every task replays wanted, or needed by a wanted one.
  std::unordered_set<const TaskState*> emitted;
  for (ClientState* client : clients) {
    msg::UpdateGraph update{tasks_in_dependency_order(client->wants, emitted), {}};
    for (const TaskState* task : client->wants) {
      if (!task->is_scattered()) update.wanted_keys.push_back(task->key);
    }
    records.push_back({Kind::kClientInput, client->session, Message(std::move(update))});
  }
  return records;
}

}  // namespace dtask::scheduler
