// Status and Result: a Result holds a value or an error, never neither.
#include "dtask/status.h"

#include <gtest/gtest.h>

#include <string>

namespace dtask {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return Status::invalid("not positive: " + std::to_string(x));
  return x;
}

Result<int> doubled(int x) {
  DTASK_ASSIGN_OR_RETURN(int v, parse_positive(x));
  return 2 * v;
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> good = doubled(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 8);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(bad.status().message(), "not positive: -1");
  EXPECT_EQ(bad.value_or(7), 7);
}

using ResultDeathTest = ::testing::Test;

TEST_F(ResultDeathTest, BuildingOneFromAnOkStatusAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH({ Result<int> r(Status::success()); (void)r; }, "built from an OK Status");
}

TEST_F(ResultDeathTest, ReadingTheValueOfAnErrorAbortsWithItsText) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<std::string> r = Status::io_error("disk gone");
  EXPECT_DEATH((void)*r, "holds an error.*IOError: disk gone");
  EXPECT_DEATH((void)r.value(), "holds an error");
  EXPECT_DEATH((void)r->size(), "holds an error");
}

}  // namespace
}  // namespace dtask
