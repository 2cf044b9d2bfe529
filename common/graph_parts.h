#pragma once

#include <cstddef>
#include <vector>

#include "common/messages.h"

namespace dtask {

/// Tasks per UpdateGraph message. A graph of millions of tasks goes in
/// parts, each far under the scheduler's --max-message-size (512 MiB by
/// default; 100,000 small tasks encode to about 15 MB), and the scheduler
/// decodes one part at a time instead of holding the whole graph twice.
inline constexpr std::size_t kTasksPerGraphPart = 100000;

/// `graph` as it goes on the wire: parts of at most `tasks_per_part` tasks,
/// in order (so each part's dependencies are in it or before it), every part
/// but the last with `more` set, the last with the wanted keys. Tasks are
/// moved, not copied. A graph that fits one part comes back as one part.
std::vector<msg::UpdateGraph> split_graph(msg::UpdateGraph graph, std::size_t tasks_per_part = kTasksPerGraphPart);

}  // namespace dtask
