// The moment a blocking client call must be done by, with the budget it was
// given, so that a timeout error can say how long the call waited. Internal.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

namespace dtask::internal {

struct Deadline {
  using Clock = std::chrono::steady_clock;

  /// `budget` from now. Budgets past ten years are cut there (they mean
  /// "no hurry", and now + duration::max() would overflow).
  static Deadline in(std::chrono::milliseconds budget) {
    budget = std::clamp(budget, std::chrono::milliseconds(0), std::chrono::milliseconds(std::chrono::hours(24 * 3650)));
    return {Clock::now() + budget, budget};
  }

  Clock::time_point at;
  std::chrono::milliseconds budget{0};

  /// Time left, never negative.
  std::chrono::milliseconds left() const {
    auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now());
    return std::max(rest, std::chrono::milliseconds(0));
  }
  bool passed() const { return Clock::now() >= at; }
  /// The earlier of this deadline and `cap` from now (a network exchange
  /// inside a long wait gets no more than `cap`).
  Deadline capped(std::chrono::milliseconds cap) const {
    Deadline other = in(cap);
    return other.at < at ? other : *this;
  }
  /// "750 ms", "30 s", "2 h": the budget, for error messages.
  std::string describe() const {
    const auto ms = budget.count();
    if (ms < 10'000) return std::to_string(ms) + " ms";
    if (ms < 7'200'000) return std::to_string(ms / 1000) + " s";
    return std::to_string(ms / 3'600'000) + " h";
  }
};

}  // namespace dtask::internal
