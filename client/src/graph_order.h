// Turns Delayed graphs into the task list one UpdateGraph carries, with each
// task's priority from a depth-first post-order of the graph (the idea behind
// dask.order): a branch's inputs run just before the task that consumes them,
// so branches finish and free memory before new ones start.
#pragma once

#include <cstdint>
#include <vector>

#include "common/messages.h"
#include "dtask/delayed.h"

namespace dtask::internal {

/// Every node reachable from `outputs`, dependencies first, each once.
/// `generation` orders this graph after earlier submissions.
std::vector<msg::TaskDef> order_graph(const std::vector<Delayed>& outputs, int user_priority,
                                      std::uint64_t generation);

}  // namespace dtask::internal
