#include "client/src/graph_order.h"

#include <absl/container/flat_hash_set.h>

#include <limits>
#include <utility>

namespace dtask::internal {

namespace {

msg::TaskDef to_task_def(const DelayedNode& node, int user_priority, std::uint64_t generation, std::uint64_t order) {
  msg::TaskDef def;
  def.key = node.key;
  def.op = node.op;
  def.args = node.args;
  def.dependencies.reserve(node.delayed_deps.size() + node.future_deps.size());
  for (const Delayed& dep : node.delayed_deps) def.dependencies.push_back(dep.key());
  for (const FutureBase& dep : node.future_deps) def.dependencies.push_back(dep.key());
  def.priority = Priority{node.options.priority != 0 ? node.options.priority : user_priority, generation, order};
  def.resources = node.options.resources;
  def.workers = node.options.workers;
  def.allow_other_workers = node.options.allow_other_workers;
  def.retries = node.options.retries;
  return def;
}

}  // namespace

void order_graph_in_parts(const std::vector<Delayed>& outputs, int user_priority, std::uint64_t generation,
                          std::size_t tasks_per_part, const std::function<void(std::vector<msg::TaskDef>)>& part) {
  std::vector<msg::TaskDef> tasks;
  std::uint64_t order = 0;  // the post-order position: the task's priority
  auto emit = [&](const DelayedNode& node) {
    tasks.push_back(to_task_def(node, user_priority, generation, order++));
    if (tasks.size() >= tasks_per_part) part(std::exchange(tasks, {}));
  };
  // Open addressing: a million-node graph inserts a million pointers, and a
  // node-based set allocated one node for each.
  absl::flat_hash_set<const DelayedNode*> visited;
  // Iterative post-order: deep chains must not overflow the stack.
  struct Frame {
    const DelayedNode* node;
    std::size_t next_child;
  };
  std::vector<Frame> stack;
  for (const Delayed& output : outputs) {
    if (!visited.insert(output.node().get()).second) continue;
    stack.push_back({output.node().get(), 0});
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next_child < top.node->delayed_deps.size()) {
        const DelayedNode* child = top.node->delayed_deps[top.next_child++].node().get();
        if (visited.insert(child).second) stack.push_back({child, 0});
        continue;
      }
      emit(*top.node);
      stack.pop_back();
    }
  }
  if (!tasks.empty()) part(std::move(tasks));
}

std::vector<msg::TaskDef> order_graph(const std::vector<Delayed>& outputs, int user_priority,
                                      std::uint64_t generation) {
  std::vector<msg::TaskDef> all;
  order_graph_in_parts(outputs, user_priority, generation, std::numeric_limits<std::size_t>::max(),
                       [&](std::vector<msg::TaskDef> tasks) { all = std::move(tasks); });
  return all;
}

}  // namespace dtask::internal
