// A JSON picture of the scheduler's live state for the client's
// scheduler_info() and the tests. Built on the scheduler strand, on request.
// (The dashboard reads DashboardSnapshot instead, see dashboard_snapshot.h.)
#pragma once

#include <string>

#include "scheduler/graph_state.h"

namespace dtask::scheduler {

/// CPU seconds the scheduler spent, ever: handling events (the graph's
/// transitions), and decoding and encoding messages (common/message_codec.h).
struct SchedulerCpuCounters {
  double transition_seconds = 0;
  double decode_seconds = 0;
  double encode_seconds = 0;
};

/// Task counts by state, workers with their load and memory, totals, and
/// "counters" (SchedulerCpuCounters).
std::string snapshot_json(const GraphState& graph, const std::string& scheduler_address,
                          const std::string& dashboard_address, const SchedulerCpuCounters& counters = {});

}  // namespace dtask::scheduler
