// Chunk-grid arithmetic and the shape of reduction trees, without a cluster.
#include "dtask/chunk_grid.h"

#include <gtest/gtest.h>

#include <set>

#include "client/src/array_internal.h"

namespace dtask {
namespace {

// A regular grid ends with a shorter chunk and knows each chunk's offset.
TEST(ChunkGridTest, RegularGridHasShortLastChunk) {
  ChunkGrid grid = ChunkGrid::regular(10, 4);
  EXPECT_EQ(grid.sizes(), (std::vector<std::int64_t>{4, 4, 2}));
  EXPECT_EQ(grid.rows(), 10);
  EXPECT_EQ(grid.offset(2), 8);
  EXPECT_TRUE(grid.is_regular());
  EXPECT_FALSE(ChunkGrid({3, 5}).is_regular());
  EXPECT_EQ(ChunkGrid::regular(0, 4).n_chunks(), 0);
}

// chunk_of_row maps every row to the chunk holding it, and rejects rows outside.
TEST(ChunkGridTest, ChunkOfRow) {
  ChunkGrid grid({3, 1, 5});
  std::vector<std::int64_t> expected{0, 0, 0, 1, 2, 2, 2, 2, 2};
  for (std::int64_t row = 0; row < 9; ++row) EXPECT_EQ(grid.chunk_of_row(row), expected[row]) << row;
  EXPECT_THROW(grid.chunk_of_row(9), std::out_of_range);
  EXPECT_THROW(grid.chunk_of_row(-1), std::out_of_range);
}

// A row range spanning chunks is cut into pieces counted inside each chunk.
TEST(ChunkGridTest, PiecesOfARowRange) {
  ChunkGrid grid({4, 4, 2});
  EXPECT_EQ(grid.pieces(2, 9), (std::vector<ChunkPiece>{{0, 2, 4}, {1, 0, 4}, {2, 0, 1}}));
  EXPECT_EQ(grid.pieces(4, 8), (std::vector<ChunkPiece>{{1, 0, 4}}));
  EXPECT_TRUE(grid.pieces(5, 5).empty());
  EXPECT_THROW(grid.pieces(3, 11), std::out_of_range);
}

// Bad sizes are rejected with a clear error.
TEST(ChunkGridTest, RejectsNonPositiveSizes) {
  EXPECT_THROW(ChunkGrid({2, 0}), std::invalid_argument);
  EXPECT_THROW(ChunkGrid::regular(10, 0), std::invalid_argument);
}

// Auto chunking aims at the byte target and never exceeds the rows.
TEST(ChunkGridTest, AutoChunkRows) {
  EXPECT_EQ(ChunkGrid::auto_chunk_rows(1'000'000'000, 160), (std::int64_t{128} << 20) / 160);
  EXPECT_EQ(ChunkGrid::auto_chunk_rows(10, 160), 10);
  EXPECT_EQ(ChunkGrid::auto_chunk_rows(10, std::int64_t{1} << 40), 1);
}

/// Builds a tree over n leaves and returns (depth, max fan-in, combine tasks).
struct TreeShape {
  int depth = 0;
  std::size_t max_fan_in = 0;
  int combines = 0;
};

TreeShape tree_shape(int leaves, int split_every) {
  std::vector<TaskArg> parts;
  for (int i = 0; i < leaves; ++i) parts.emplace_back(delayed("inc")(i));
  TreeShape shape;
  array_internal::tree_reduce(parts, split_every, [&](std::vector<TaskArg> group, int level, std::int64_t) {
    shape.depth = std::max(shape.depth, level + 1);
    shape.max_fan_in = std::max(shape.max_fan_in, group.size());
    ++shape.combines;
    return delayed("sum")(array_internal::list_arg(group));
  });
  return shape;
}

// A tree over n leaves has depth ceil(log_k n) and fan-in at most k.
TEST(TreeReduceTest, DepthAndFanIn) {
  TreeShape t = tree_shape(100, 8);  // 100 -> 13 -> 2 -> 1
  EXPECT_EQ(t.depth, 3);
  EXPECT_EQ(t.max_fan_in, 8u);
  EXPECT_EQ(t.combines, 13 + 2 + 1);
  TreeShape binary = tree_shape(16, 2);
  EXPECT_EQ(binary.depth, 4);
  EXPECT_EQ(binary.combines, 15);
  EXPECT_EQ(tree_shape(1, 8).combines, 0);  // one leaf is its own root
}

// The root depends, through the tree, on every leaf exactly once.
TEST(TreeReduceTest, RootCoversEveryLeaf) {
  std::vector<TaskArg> parts;
  std::set<std::string> leaves;
  for (int i = 0; i < 37; ++i) {
    Delayed leaf = delayed("inc")(i);
    leaves.insert(leaf.key());
    parts.emplace_back(leaf);
  }
  TaskArg root = array_internal::tree_reduce(parts, 4, [](std::vector<TaskArg> group, int, std::int64_t) {
    return delayed("sum")(array_internal::list_arg(group));
  });
  std::multiset<std::string> reached;
  std::vector<Delayed> stack = root.delayed_deps();
  while (!stack.empty()) {
    Delayed node = stack.back();
    stack.pop_back();
    if (node.op() == "inc") reached.insert(node.key());
    for (const Delayed& dep : node.node()->delayed_deps) stack.push_back(dep);
  }
  EXPECT_EQ(reached.size(), leaves.size());
  EXPECT_EQ(std::set<std::string>(reached.begin(), reached.end()), leaves);
  EXPECT_THROW(array_internal::tree_reduce(parts, 1, nullptr), ArrayError);
}

}  // namespace
}  // namespace dtask
