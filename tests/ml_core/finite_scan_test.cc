// all_finite: the vectorised scan finds one NaN or infinity wherever it is,
// at block edges included, and passes every finite value.
#include "ml_core/finite_scan.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace dtask::ml_core {
namespace {

TEST(FiniteScanTest, FindsOneBadValueAnywhere) {
  const double bad_values[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::quiet_NaN()};
  const std::int64_t n = 3 * 4096 + 17;
  for (std::int64_t at : {std::int64_t{0}, std::int64_t{1}, std::int64_t{4095}, std::int64_t{4096},
                          std::int64_t{8191}, n - 1}) {
    for (double bad : bad_values) {
      std::vector<double> v(static_cast<std::size_t>(n), 1.5);
      v[static_cast<std::size_t>(at)] = bad;
      EXPECT_FALSE(all_finite(v.data(), n)) << "at " << at << " value " << bad;
    }
  }
}

TEST(FiniteScanTest, PassesEveryFiniteValue) {
  std::vector<double> v = {0.0,
                           -0.0,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::min(),
                           -1e300};
  EXPECT_TRUE(all_finite(v.data(), static_cast<std::int64_t>(v.size())));
  EXPECT_TRUE(all_finite(v.data(), 0));
}

}  // namespace
}  // namespace dtask::ml_core
