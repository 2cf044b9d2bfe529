// order_graph and order_graph_in_parts: every node once, dependencies
// first, and the parts in the same order as the whole.
#include "client/src/graph_order.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace dtask::internal {
namespace {

// Three branches of two tasks each, summed: seven nodes.
Delayed three_branches() {
  std::vector<Delayed> branches;
  for (int i = 0; i < 3; ++i) branches.push_back(delayed("inc")(delayed("inc")(i)));
  return delayed("sum")(branches);
}

TEST(GraphOrderTest, EveryNodeOnceAfterItsDependencies) {
  Delayed sum = three_branches();
  std::vector<msg::TaskDef> tasks = order_graph({sum, sum}, 0, 1);  // named twice: still once
  ASSERT_EQ(tasks.size(), 7u);
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    position[tasks[i].key] = i;
    EXPECT_EQ(tasks[i].priority.order, i);
    for (const std::string& dep : tasks[i].dependencies) {
      ASSERT_TRUE(position.count(dep)) << tasks[i].key << " comes before its dependency " << dep;
    }
  }
  EXPECT_EQ(tasks.back().key, sum.key());
}

TEST(GraphOrderTest, PartsAreTheWholeInTheSameOrder) {
  Delayed sum = three_branches();
  std::vector<msg::TaskDef> whole = order_graph({sum}, 0, 1);
  std::vector<std::size_t> sizes;
  std::vector<msg::TaskDef> joined;
  order_graph_in_parts({sum}, 0, 1, 3, [&](std::vector<msg::TaskDef> part) {
    sizes.push_back(part.size());
    for (msg::TaskDef& task : part) joined.push_back(std::move(task));
  });
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));
  ASSERT_EQ(joined.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(joined[i].key, whole[i].key);
    EXPECT_EQ(joined[i].priority.order, whole[i].priority.order);
  }
}

}  // namespace
}  // namespace dtask::internal
