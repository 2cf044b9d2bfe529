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
  account(observed_ && workers > last_workers_ ? workers - last_workers_ : 0, now);
  last_workers_ = workers;
  observed_ = true;
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

void AdaptPolicy::account(std::size_t joined, double now) {
  while (joined > 0 && !launches_.empty()) {
    const std::size_t taken = std::min(joined, launches_.front().waiting);
    launches_.front().waiting -= taken;
    joined -= taken;
    if (launches_.front().waiting == 0) launches_.pop_front();
  }
  while (!launches_.empty() && now - launches_.front().time > options_.startup_timeout_seconds) launches_.pop_front();
  pending_ = 0;
  for (const Launch& launch : launches_) pending_ += launch.waiting;
}

void AdaptPolicy::launched(std::size_t count, double now) {
  if (count == 0) return;
  launches_.push_back({now, count});
  pending_ += count;
  last_scale_up_ = now;
}

Status AdaptPolicy::validate() const {
  if (pending_ > options_.maximum) return Status::invalid("more workers pending than --maximum");
  if (down_streak_ >= options_.wait_count) return Status::invalid("scale-down streak not reset");
  std::size_t waiting = 0;
  for (const Launch& launch : launches_) waiting += launch.waiting;
  if (waiting != pending_) return Status::invalid("pending is not what the launches wait for");
  return Status::success();
}

}  // namespace dtask::adapt
