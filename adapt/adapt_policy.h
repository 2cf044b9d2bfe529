// When dtask-adapt grows or shrinks the pool, from the scheduler's adaptive
// target (GET /api/v1/adaptive_target) observed every interval. What keeps it
// from flapping, as Dask's Adaptive does:
//  - it scales down only after `wait_count` observations in a row all asked
//    for fewer workers, and not within `cooldown` of the last scale-up;
//  - workers it launched and that have not joined yet count as present, so
//    it does not launch them again while they start (until `startup_timeout`:
//    then it stops waiting for them);
//  - the target is clamped to [minimum, maximum].
// Socket-free and clock-free (time is passed in), so tests drive it directly.
#pragma once

#include <cstddef>
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
  /// The invariants: pending within maximum, the streak below wait_count.
  Status validate() const;

 private:
  explicit AdaptPolicy(AdaptPolicyOptions options) : options_(options) {}

  AdaptPolicyOptions options_;
  std::size_t expected_ = 0;   // workers there will be once the pending ones join
  std::size_t pending_ = 0;    // expected_ - workers, while waiting for them
  double pending_since_ = 0;
  double last_scale_up_ = -1e300;
  std::size_t down_streak_ = 0;
};

}  // namespace dtask::adapt
