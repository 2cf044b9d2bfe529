// A counter-based random stream per (seed, stream, row): the same numbers
// for a row whatever chunk or worker draws it. Used by the generators and by
// sampling in the ML ops.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace dtask::array_ops {

inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// SplitMix64 seeded from (seed, stream, row): small, fast and well mixed.
class RowRng {
 public:
  RowRng(std::int64_t seed, std::uint64_t stream, std::int64_t row)
      // Every input goes through mix(): shifting the stream into high bits
      // would lose all but its lowest byte.
      : state_(mix(mix(static_cast<std::uint64_t>(seed) + mix(stream)) + static_cast<std::uint64_t>(row))) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Standard normal by Box-Muller; the second value of each pair is kept.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    double u2 = uniform();
    double radius = std::sqrt(-2.0 * std::log(u1));
    spare_ = radius * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return radius * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace dtask::array_ops
