#include "scheduler/journal_replay.h"

#include <algorithm>
#include <unordered_map>

namespace dtask::scheduler {

namespace {

using Kind = JournalRecord::Kind;
using HeldResults = std::unordered_map<std::string, std::vector<std::string>>;  // key -> holder addresses

/// Which results were in memory, and where, when the journal ends.
HeldResults held_results(const std::vector<JournalRecord>& records) {
  HeldResults held;
  for (const JournalRecord& record : records) {
    const auto* completed = record.message ? std::get_if<msg::KeyStatusBatch>(&*record.message) : nullptr;
    const auto* forgotten = record.message ? std::get_if<msg::FreeKeys>(&*record.message) : nullptr;
    if (record.kind == Kind::kCompleted && completed != nullptr) {
      for (const msg::KeyStatus& status : completed->statuses) {
        auto& holders = held[status.key];
        for (const std::string& holder : status.who_has) {
          if (std::find(holders.begin(), holders.end(), holder) == holders.end()) holders.push_back(holder);
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

}  // namespace dtask::scheduler
