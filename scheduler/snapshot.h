// A JSON picture of the scheduler's state: the client's scheduler_info(), the
// tests, and later the dashboard read it. Built on the scheduler strand.
#pragma once

#include <string>

#include "scheduler/graph_state.h"

namespace dtask::scheduler {

/// Task counts by state, workers with their load and memory, totals.
std::string snapshot_json(const GraphState& graph, const std::string& scheduler_address);

}  // namespace dtask::scheduler
