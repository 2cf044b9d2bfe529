// MemoryTrimmer's rule: trim after enough churn, or once the churn stops.
#include "common/memory_trim.h"

#include <gtest/gtest.h>

namespace dtask {
namespace {

TEST(MemoryTrimmerTest, TrimsAfterTheThresholdWhileBusy) {
  MemoryTrimmer trimmer(100);
  EXPECT_FALSE(trimmer.maybe_trim(0));    // nothing freed yet
  EXPECT_FALSE(trimmer.maybe_trim(50));   // busy, under the threshold
  EXPECT_TRUE(trimmer.maybe_trim(150));   // busy, over it
  EXPECT_FALSE(trimmer.maybe_trim(200));  // busy again, 50 since the trim
}

TEST(MemoryTrimmerTest, TrimsOnceWhenTheChurnStops) {
  MemoryTrimmer trimmer(100);
  EXPECT_FALSE(trimmer.maybe_trim(10));  // busy
  EXPECT_TRUE(trimmer.maybe_trim(10));   // quiet since the last call: trim the 10
  EXPECT_FALSE(trimmer.maybe_trim(10));  // still quiet, nothing new to give back
}

// What carried a burst (frames, queues) is freed after the objects it
// counts: a trim during the burst leaves one more for when it is over.
TEST(MemoryTrimmerTest, TrimsOnceMoreWhenABurstItTrimmedIsOver) {
  MemoryTrimmer trimmer(100);
  EXPECT_FALSE(trimmer.maybe_trim(10));   // busy
  EXPECT_TRUE(trimmer.maybe_trim(150));   // busy, over the threshold
  EXPECT_TRUE(trimmer.maybe_trim(150));   // quiet: the burst is over
  EXPECT_FALSE(trimmer.maybe_trim(150));  // still quiet, trimmed already
}

TEST(MemoryTrimmerTest, ACounterThatRestartsIsNotChurn) {
  MemoryTrimmer trimmer(100);
  EXPECT_TRUE(trimmer.maybe_trim(500));
  EXPECT_FALSE(trimmer.maybe_trim(5));  // restarted below the last trim: new baseline, busy
}

}  // namespace
}  // namespace dtask
