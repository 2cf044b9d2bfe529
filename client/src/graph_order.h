// Turns Delayed graphs into the task list one UpdateGraph carries, with each
// task's priority from a depth-first post-order of the graph (the idea behind
// dask.order): a branch's inputs run just before the task that consumes them,
// so branches finish and free memory before new ones start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/messages.h"
#include "dtask/delayed.h"

namespace dtask::internal {

/// Every node reachable from `outputs`, dependencies first, each once.
/// `generation` orders this graph after earlier submissions.
std::vector<msg::TaskDef> order_graph(const std::vector<Delayed>& outputs, int user_priority,
                                      std::uint64_t generation);

/// The same tasks in the same order, handed to `part` in runs of at most
/// `tasks_per_part` as they are made: a graph of millions of tasks is sent
/// while the rest of it is still being turned into tasks, and only one
/// part's TaskDefs exist at a time.
void order_graph_in_parts(const std::vector<Delayed>& outputs, int user_priority, std::uint64_t generation,
                          std::size_t tasks_per_part, const std::function<void(std::vector<msg::TaskDef>)>& part);

}  // namespace dtask::internal
