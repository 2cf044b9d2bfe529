// release_if_empty: an emptied big table gives its buckets back; others keep theirs.
#include "common/hash_tables.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace dtask {
namespace {

TEST(HashTablesTest, AnEmptiedBigTableLosesItsBuckets) {
  std::unordered_set<int> table;
  for (int i = 0; i < 100000; ++i) table.insert(i);
  table.clear();
  ASSERT_GT(table.bucket_count(), 1024u);
  release_if_empty(table);
  EXPECT_LE(table.bucket_count(), 1024u);
}

TEST(HashTablesTest, ATableStillInUseKeepsItsBuckets) {
  std::unordered_set<int> table;
  for (int i = 0; i < 100000; ++i) table.insert(i);
  for (int i = 1; i < 100000; ++i) table.erase(i);
  auto buckets = table.bucket_count();
  release_if_empty(table);
  EXPECT_EQ(table.bucket_count(), buckets);
  EXPECT_EQ(table.count(0), 1u);
}

}  // namespace
}  // namespace dtask
