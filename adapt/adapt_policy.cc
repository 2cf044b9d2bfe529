#include "adapt/adapt_policy.h"

#include <algorithm>

namespace dtask::adapt {

Result<AdaptPolicy> AdaptPolicy::make(AdaptPolicyOptions options) {
  if (options.minimum > options.maximum) {
    return Status::invalid("--minimum " + std::to_string(options.minimum) + " is above --maximum " +
                           std::to_string(options.maximum));
  }
  if (options.wait_count == 0) return Status::invalid("--wait-count must be at least 1");
  return AdaptPolicy(options);
}

ScaleDecision AdaptPolicy::observe(std::size_t target, std::size_t workers, double now) {
  // Launched workers that joined are no longer pending; ones that never came
  // are given up on after the startup timeout.
  if (workers >= expected_ || now - pending_since_ > options_.startup_timeout_seconds) expected_ = workers;
  pending_ = expected_ - workers;
  const std::size_t wanted = std::clamp(target, options_.minimum, options_.maximum);
  const std::size_t present = workers + pending_;

  if (wanted > present) {
    down_streak_ = 0;
    return {ScaleDecision::Kind::kUp, wanted - present,
            "target " + std::to_string(target) + ", " + std::to_string(workers) + " workers, " +
                std::to_string(pending_) + " starting"};
  }
  if (wanted >= workers || pending_ > 0) {
    down_streak_ = 0;  // never retire while launched workers are still on their way
    return {};
  }
  if (++down_streak_ < options_.wait_count) return {};
  if (now - last_scale_up_ < options_.cooldown_seconds) {
    down_streak_ = options_.wait_count - 1;  // ask again at the next observation
    return {};
  }
  down_streak_ = 0;
  return {ScaleDecision::Kind::kDown, workers - wanted,
          "target " + std::to_string(target) + " for " + std::to_string(options_.wait_count) +
              " observations, " + std::to_string(workers) + " workers"};
}

void AdaptPolicy::launched(std::size_t count, double now) {
  if (pending_ == 0) pending_since_ = now;
  expected_ += count;
  pending_ += count;
  last_scale_up_ = now;
}

Status AdaptPolicy::validate() const {
  if (pending_ > options_.maximum) return Status::invalid("more workers pending than --maximum");
  if (down_streak_ >= options_.wait_count) return Status::invalid("scale-down streak not reset");
  if (expected_ < pending_) return Status::invalid("fewer workers expected than pending");
  return Status::success();
}

}  // namespace dtask::adapt
