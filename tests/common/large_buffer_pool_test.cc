// LargeBufferPool: chunk-sized buffers are recycled within the pool's byte
// limit, never across very different sizes, and go back to the OS when idle,
// when released, or when the limit is lowered.
#include "common/large_buffer_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "dtask/value.h"

namespace dtask {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

/// Every test starts from an empty pool with a known limit and leaves the default.
class LargeBufferPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool().release_all();
    pool().set_limit(64 * kMiB);
  }
  void TearDown() override {
    pool().release_all();
    pool().set_limit(LargeBufferPool::kDefaultLimit);
  }
  static LargeBufferPool& pool() { return LargeBufferPool::instance(); }
};

TEST_F(LargeBufferPoolTest, FreedBufferIsReusedForTheSameSize) {
  const std::byte* first = nullptr;
  {
    auto buffer = Buffer::allocate(10 * kMiB);
    first = buffer->data();
    std::memset(buffer->mutable_data(), 7, buffer->size());
  }
  EXPECT_GE(pool().cached_bytes(), 10 * kMiB);
  auto again = Buffer::allocate(10 * kMiB);
  EXPECT_EQ(again->data(), first);
  EXPECT_EQ(again->size(), 10 * kMiB);
  EXPECT_EQ(pool().cached_bytes(), 0u);
}

TEST_F(LargeBufferPoolTest, MuchSmallerRequestGetsItsOwnRegion) {
  const std::byte* big = nullptr;
  {
    auto buffer = Buffer::allocate(40 * kMiB);
    big = buffer->data();
  }
  auto small = Buffer::allocate(5 * kMiB);
  EXPECT_NE(small->data(), big);
  EXPECT_GE(pool().cached_bytes(), 40 * kMiB);  // the big region is still kept
}

TEST_F(LargeBufferPoolTest, NeverKeepsMoreThanItsLimit) {
  pool().set_limit(20 * kMiB);
  {
    auto a = Buffer::allocate(8 * kMiB);
    auto b = Buffer::allocate(8 * kMiB);
    auto c = Buffer::allocate(8 * kMiB);
  }
  EXPECT_LE(pool().cached_bytes(), 20 * kMiB);
  EXPECT_GT(pool().cached_bytes(), 0u);
  {
    auto too_big = Buffer::allocate(30 * kMiB);
  }
  EXPECT_LE(pool().cached_bytes(), 20 * kMiB);
}

TEST_F(LargeBufferPoolTest, ZeroLimitKeepsNothing) {
  pool().set_limit(0);
  { auto buffer = Buffer::allocate(8 * kMiB); }
  EXPECT_EQ(pool().cached_bytes(), 0u);
}

TEST_F(LargeBufferPoolTest, LoweringTheLimitUnmapsTheExcess) {
  {
    auto a = Buffer::allocate(8 * kMiB);
    auto b = Buffer::allocate(8 * kMiB);
  }
  ASSERT_GE(pool().cached_bytes(), 16 * kMiB);
  pool().set_limit(10 * kMiB);
  EXPECT_LE(pool().cached_bytes(), 10 * kMiB);
}

TEST_F(LargeBufferPoolTest, IdleRegionsAreReleasedRecentOnesKept) {
  { auto buffer = Buffer::allocate(8 * kMiB); }
  ASSERT_GT(pool().cached_bytes(), 0u);
  pool().release_idle(std::chrono::hours(1));  // nothing has been idle an hour
  EXPECT_GT(pool().cached_bytes(), 0u);
  pool().release_idle(std::chrono::seconds(0));
  EXPECT_EQ(pool().cached_bytes(), 0u);
}

TEST_F(LargeBufferPoolTest, SmallBuffersBypassThePool) {
  { auto buffer = Buffer::allocate(LargeBufferPool::kMinSize - 1); }
  EXPECT_EQ(pool().cached_bytes(), 0u);
}

}  // namespace
}  // namespace dtask
