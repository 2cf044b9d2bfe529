// dtask-adapt's decisions (adapt/adapt_policy.h), driven with a fake clock:
// grow at once, count launched workers until they join, shrink only after
// wait_count observations and outside the cooldown, stay in [min, max].
#include "adapt/adapt_policy.h"

#include <gtest/gtest.h>

namespace dtask::adapt {
namespace {

using Kind = ScaleDecision::Kind;

AdaptPolicy make(AdaptPolicyOptions options) {
  auto policy = AdaptPolicy::make(options);
  EXPECT_TRUE(policy.ok()) << policy.status().message();
  return std::move(policy).value();
}

ScaleDecision observe(AdaptPolicy& policy, std::size_t target, std::size_t workers, double now) {
  ScaleDecision decision = policy.observe(target, workers, now);
  Status valid = policy.validate();
  EXPECT_TRUE(valid.ok()) << valid.message();
  return decision;
}

TEST(AdaptPolicyTest, GrowsAtOnceAndCountsWorkersThatAreStillStarting) {
  AdaptPolicy policy = make({.maximum = 10});
  ScaleDecision up = observe(policy, 4, 0, 0);
  ASSERT_EQ(up.kind, Kind::kUp);
  EXPECT_EQ(up.count, 4u);
  policy.launched(4, 0);
  EXPECT_EQ(observe(policy, 4, 0, 1).kind, Kind::kNone);  // the four are on their way
  EXPECT_EQ(policy.pending(), 4u);
  EXPECT_EQ(observe(policy, 4, 2, 2).kind, Kind::kNone);
  EXPECT_EQ(policy.pending(), 2u);
  ScaleDecision more = observe(policy, 6, 4, 3);  // all joined; the target grew
  ASSERT_EQ(more.kind, Kind::kUp);
  EXPECT_EQ(more.count, 2u);
}

TEST(AdaptPolicyTest, GivesUpOnWorkersThatNeverJoin) {
  AdaptPolicy policy = make({.maximum = 10, .startup_timeout_seconds = 60});
  policy.launched(observe(policy, 2, 0, 0).count, 0);
  EXPECT_EQ(observe(policy, 2, 0, 59).kind, Kind::kNone);
  ScaleDecision again = observe(policy, 2, 0, 61);
  ASSERT_EQ(again.kind, Kind::kUp);
  EXPECT_EQ(again.count, 2u);
}

TEST(AdaptPolicyTest, ShrinksOnlyAfterWaitCountObservationsInARow) {
  AdaptPolicy policy = make({.maximum = 10, .wait_count = 3, .cooldown_seconds = 0});
  EXPECT_EQ(observe(policy, 1, 4, 0).kind, Kind::kNone);
  EXPECT_EQ(observe(policy, 1, 4, 1).kind, Kind::kNone);
  EXPECT_EQ(observe(policy, 4, 4, 2).kind, Kind::kNone);  // a burst in between resets the count
  EXPECT_EQ(observe(policy, 1, 4, 3).kind, Kind::kNone);
  EXPECT_EQ(observe(policy, 1, 4, 4).kind, Kind::kNone);
  ScaleDecision down = observe(policy, 1, 4, 5);
  ASSERT_EQ(down.kind, Kind::kDown);
  EXPECT_EQ(down.count, 3u);
}

TEST(AdaptPolicyTest, NoShrinkWithinTheCooldownOfAScaleUp) {
  AdaptPolicy policy = make({.maximum = 10, .wait_count = 1, .cooldown_seconds = 30});
  policy.launched(observe(policy, 2, 0, 0).count, 0);
  EXPECT_EQ(observe(policy, 0, 2, 10).kind, Kind::kNone);
  EXPECT_EQ(observe(policy, 0, 2, 29).kind, Kind::kNone);
  EXPECT_EQ(observe(policy, 0, 2, 31).kind, Kind::kDown);
}

TEST(AdaptPolicyTest, NoShrinkWhileLaunchedWorkersAreOnTheirWay) {
  AdaptPolicy policy = make({.maximum = 10, .wait_count = 1, .cooldown_seconds = 0});
  policy.launched(observe(policy, 3, 1, 0).count, 0);  // 2 launched
  EXPECT_EQ(observe(policy, 0, 2, 1).kind, Kind::kNone);  // one joined, one still starting
  EXPECT_EQ(observe(policy, 0, 3, 2).kind, Kind::kDown);
}

TEST(AdaptPolicyTest, KeepsTheTargetWithinMinimumAndMaximum) {
  AdaptPolicy policy = make({.minimum = 2, .maximum = 5, .wait_count = 1, .cooldown_seconds = 0});
  ScaleDecision up = observe(policy, 0, 0, 0);
  ASSERT_EQ(up.kind, Kind::kUp);
  EXPECT_EQ(up.count, 2u);
  policy.launched(2, 0);
  ScaleDecision capped = observe(policy, 100, 2, 1);
  ASSERT_EQ(capped.kind, Kind::kUp);
  EXPECT_EQ(capped.count, 3u);
  policy.launched(3, 1);
  ScaleDecision down = observe(policy, 0, 5, 2);
  ASSERT_EQ(down.kind, Kind::kDown);
  EXPECT_EQ(down.count, 3u);  // down to the minimum, not to zero
}

// Workers that leave are not launches still on their way: after a burst was
// retired, the next burst scales up at once.
TEST(AdaptPolicyTest, RetiredWorkersDoNotCountAsStarting) {
  AdaptPolicy policy = make({.maximum = 10, .wait_count = 1, .cooldown_seconds = 0, .startup_timeout_seconds = 600});
  policy.launched(observe(policy, 4, 0, 0).count, 0);
  EXPECT_EQ(observe(policy, 4, 4, 1).kind, Kind::kNone);  // all four joined
  ScaleDecision down = observe(policy, 0, 4, 2);
  ASSERT_EQ(down.kind, Kind::kDown);
  EXPECT_EQ(down.count, 4u);
  EXPECT_EQ(observe(policy, 0, 0, 3).kind, Kind::kNone);  // they left
  EXPECT_EQ(policy.pending(), 0u);
  ScaleDecision again = observe(policy, 3, 0, 4);
  ASSERT_EQ(again.kind, Kind::kUp);
  EXPECT_EQ(again.count, 3u);
}

TEST(AdaptPolicyTest, RefusesBadOptions) {
  EXPECT_FALSE(AdaptPolicy::make({.minimum = 3, .maximum = 2}).ok());
  EXPECT_FALSE(AdaptPolicy::make({.wait_count = 0}).ok());
}

}  // namespace
}  // namespace dtask::adapt
