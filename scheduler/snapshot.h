// A JSON picture of the scheduler's live state for the client's
// scheduler_info() and the tests. Built on the scheduler strand, on request.
// (The dashboard reads DashboardSnapshot instead, see dashboard_snapshot.h.)
#pragma once

#include <string>

#include "scheduler/graph_state.h"

namespace dtask::scheduler {

/// Task counts by state, workers with their load and memory, totals.
std::string snapshot_json(const GraphState& graph, const std::string& scheduler_address,
                          const std::string& dashboard_address);

}  // namespace dtask::scheduler
