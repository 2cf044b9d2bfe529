#include "ml_core/finite_scan.h"

#include <algorithm>
#include <cstring>

#include "ml_core/kernel_clones.h"

namespace dtask::ml_core {

namespace {

/// A double is NaN or infinite exactly when its 11 exponent bits are all set.
constexpr std::uint64_t kExponentBits = 0x7ff0000000000000ULL;
/// Elements scanned between early exits: small enough to stop soon after a
/// bad value, large enough that the test costs nothing.
constexpr std::int64_t kBlock = 4096;

/// Integer compares and an OR, no branch per element: the loop vectorises.
DTASK_KERNEL_CLONES bool block_finite(const double* v, std::int64_t n) {
  std::uint64_t bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bad |= static_cast<std::uint64_t>((bits & kExponentBits) == kExponentBits);
  }
  return bad == 0;
}

}  // namespace

bool all_finite(const double* v, std::int64_t n) {
  for (std::int64_t start = 0; start < n; start += kBlock) {
    if (!block_finite(v + start, std::min(kBlock, n - start))) return false;
  }
  return true;
}

}  // namespace dtask::ml_core
