// When dtask-adapt grows or shrinks the pool, from the scheduler's adaptive
// target (GET /api/v1/adaptive_target) observed every interval. What keeps it
// from flapping, as Dask's Adaptive does:
//  - it scales down only after `wait_count` observations in a row all asked
//    for fewer workers, and not within `cooldown` of the last scale-up;
//  - workers it launched and that have not joined yet count as present, so
//    it does not launch them again while they start (until `startup_timeout`:
//    then it stops waiting for them). Joins are counted from the rise in the
//    worker count, so workers that leave (retired, or lost) never look like
//    launches still on their way;
//  - the target is clamped to [minimum, maximum].
// Socket-free and clock-free (time is passed in), so tests drive it directly.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "dtask/status.h"

namespace dtask::adapt {

struct AdaptPolicyOptions {
  std::size_t minimum = 0;
  std::size_t maximum = 16;
  std::size_t wait_count = 3;
  double cooldown_seconds = 30;
  double startup_timeout_seconds = 120;
};

struct ScaleDecision {
  enum class Kind { kNone, kUp, kDown };
  Kind kind = Kind::kNone;
  std::size_t count = 0;  // workers to add or to retire
  std::string reason;     // for the log
};

class AdaptPolicy {
 public:
  /// Fails on minimum > maximum or a zero wait_count.
  static Result<AdaptPolicy> make(AdaptPolicyOptions options);

  /// One observation: the scheduler wants `target` workers and has `workers`.
  /// Returns what to do; call launched() / retired() once it is done.
  ScaleDecision observe(std::size_t target, std::size_t workers, double now);
  /// `count` workers were asked for at `now` (the scale-up command ran).
  void launched(std::size_t count, double now);

  /// Workers launched and not yet seen, as of the last observation.
  std::size_t pending() const { return pending_; }
  /// The invariants: pending is what the launches still wait for, within
  /// maximum; the streak is below wait_count.
  Status validate() const;

 private:
  explicit AdaptPolicy(AdaptPolicyOptions options) : options_(options) {}

  struct Launch {
    double time = 0;
    std::size_t waiting = 0;  // workers of this launch not seen yet
  };
  /// Takes `joined` new workers off the oldest launches, and forgets the
  /// launches older than the startup timeout.
  void account(std::size_t joined, double now);

  AdaptPolicyOptions options_;
  std::deque<Launch> launches_;  // oldest first
  std::size_t pending_ = 0;      // the sum of launches_' waiting
  std::size_t last_workers_ = 0;
  bool observed_ = false;
  double last_scale_up_ = -1e300;
  std::size_t down_streak_ = 0;
};

}  // namespace dtask::adapt
