// Rebuilds a GraphState from the journal of a scheduler that died (see
// scheduler/journal.h): the results workers held, then every client input
// in order. Runs before any worker or client connects. And the inverse:
// the records a compacted journal holds.
#pragma once

#include <cstddef>
#include <vector>

#include "scheduler/graph_state.h"
#include "scheduler/journal.h"

namespace dtask::scheduler {

struct ReplaySummary {
  std::size_t records = 0;
  std::size_t clients = 0;       // restored, waiting for their client to reconnect
  std::size_t tasks = 0;         // in the rebuilt graph
  std::size_t held_results = 0;  // results expected back from workers
};

/// Leaves `graph` in recovery (GraphState::begin_recovery) with every
/// restored client detached; the outbox the replay produced is discarded.
ReplaySummary replay_journal(GraphState& graph, const std::vector<JournalRecord>& records);

/// The records that replay into `graph`'s present state: the results in
/// memory with their holders, each client's scattered data, every task (in
/// dependency order) and every client's wanted keys. What Journal::rewrite
/// compacts the journal to; results a restarted scheduler still expects
/// back from workers stay expected.
std::vector<JournalRecord> journal_snapshot(const GraphState& graph);

}  // namespace dtask::scheduler
