#include "common/graph_parts.h"

#include <algorithm>
#include <iterator>

namespace dtask {

std::vector<msg::UpdateGraph> split_graph(msg::UpdateGraph graph, std::size_t tasks_per_part) {
  std::vector<msg::UpdateGraph> parts;
  if (graph.tasks.size() <= tasks_per_part) {
    parts.push_back(std::move(graph));  // not `return {graph}`: an initializer list would copy it
    return parts;
  }
  parts.reserve((graph.tasks.size() + tasks_per_part - 1) / tasks_per_part);
  for (std::size_t start = 0; start < graph.tasks.size(); start += tasks_per_part) {
    std::size_t end = std::min(graph.tasks.size(), start + tasks_per_part);
    msg::UpdateGraph& part = parts.emplace_back();
    part.tasks.assign(std::make_move_iterator(graph.tasks.begin() + static_cast<std::ptrdiff_t>(start)),
                      std::make_move_iterator(graph.tasks.begin() + static_cast<std::ptrdiff_t>(end)));
    part.more = end < graph.tasks.size();
  }
  parts.back().wanted_keys = std::move(graph.wanted_keys);
  return parts;
}

}  // namespace dtask
