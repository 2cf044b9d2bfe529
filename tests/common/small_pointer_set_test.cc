// SmallPointerSet: the same members as a std::set under any sequence of
// inserts and erases, inline or past its inline capacity.
#include "common/small_pointer_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace dtask {
namespace small_pointer_set_test {  // named, not anonymous: the unity build puts a folder's tests in one file

std::set<int*> members(const SmallPointerSet<int>& set) {
  std::set<int*> out(set.begin(), set.end());
  EXPECT_EQ(out.size(), static_cast<std::size_t>(std::distance(set.begin(), set.end()))) << "a member walked twice";
  return out;
}

TEST(SmallPointerSetTest, InsertAndEraseSayWhetherTheyChangedIt) {
  int a = 0, b = 0, c = 0;
  SmallPointerSet<int> set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.begin(), set.end());
  EXPECT_TRUE(set.insert(&a));
  EXPECT_FALSE(set.insert(&a));
  EXPECT_TRUE(set.insert(&b));
  EXPECT_TRUE(set.insert(&c));  // past the inline two
  EXPECT_FALSE(set.insert(&b));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(members(set), (std::set<int*>{&a, &b, &c}));
  EXPECT_EQ(set.erase(&b), 1u);
  EXPECT_EQ(set.erase(&b), 0u);
  EXPECT_FALSE(set.contains(&b));
  EXPECT_EQ(set.count(&a), 1u);
  set.clear();
  EXPECT_TRUE(set.empty());
  EXPECT_TRUE(set.insert(&b));
  EXPECT_EQ(members(set), (std::set<int*>{&b}));
}

TEST(SmallPointerSetTest, MatchesAStdSetUnderRandomOperations) {
  std::vector<int> pool(6);
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    SmallPointerSet<int> set;
    std::set<int*> want;
    for (int step = 0; step < 30; ++step) {
      int* p = &pool[random() % pool.size()];
      if (random() % 3 == 0) {
        ASSERT_EQ(set.erase(p), want.erase(p));
      } else {
        ASSERT_EQ(set.insert(p), want.insert(p).second);
      }
      ASSERT_EQ(set.size(), want.size());
      ASSERT_EQ(set.empty(), want.empty());
      ASSERT_EQ(members(set), want);
      for (int& q : pool) ASSERT_EQ(set.contains(&q), want.count(&q) == 1);
    }
  }
}

}  // namespace small_pointer_set_test
}  // namespace dtask
