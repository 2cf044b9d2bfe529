// split_graph: the parts a big graph goes to the scheduler in.
#include "common/graph_parts.h"

#include <gtest/gtest.h>

#include <string>

namespace dtask {
namespace {

msg::UpdateGraph graph_of(std::size_t tasks) {
  msg::UpdateGraph graph;
  for (std::size_t i = 0; i < tasks; ++i) graph.tasks.push_back(msg::TaskDef{.key = "t" + std::to_string(i)});
  graph.wanted_keys = {"t0"};
  return graph;
}

TEST(GraphPartsTest, ASmallGraphIsOnePart) {
  auto parts = split_graph(graph_of(3), 10);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].tasks.size(), 3u);
  EXPECT_FALSE(parts[0].more);
  EXPECT_EQ(parts[0].wanted_keys, std::vector<std::string>{"t0"});
}

TEST(GraphPartsTest, ABigGraphGoesInOrderedPartsWithTheWantedKeysLast) {
  auto parts = split_graph(graph_of(25), 10);
  ASSERT_EQ(parts.size(), 3u);
  std::size_t next = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    EXPECT_EQ(parts[p].more, p + 1 < parts.size()) << "part " << p;
    EXPECT_EQ(parts[p].wanted_keys.empty(), p + 1 < parts.size()) << "part " << p;
    for (const auto& task : parts[p].tasks) EXPECT_EQ(task.key, "t" + std::to_string(next++));
  }
  EXPECT_EQ(next, 25u);
  EXPECT_EQ(parts[2].tasks.size(), 5u);
}

TEST(GraphPartsTest, AGraphOfExactlyOnePartIsNotSplit) {
  auto parts = split_graph(graph_of(10), 10);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_FALSE(parts[0].more);
}

}  // namespace
}  // namespace dtask
