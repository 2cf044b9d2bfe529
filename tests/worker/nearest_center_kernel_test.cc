// The KMeans CPU kernel against a direct double loop: nearest centers,
// distances and per-center sums for shapes that are not whole tiles (rows
// not a multiple of 8, centers not a multiple of 4, one feature), exact ties
// (the lowest center wins, as in a scalar argmin), a row's result not
// depending on where it sits in the block, and non-finite rows reported.
#include "worker/ml_ops/nearest_center_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace dtask::ml_ops {
namespace {

struct Case {
  std::int64_t n, k, d;
};

std::vector<double> random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (double& v : out) v = normal(rng);
  return out;
}

double direct_d2(const double* x, const double* c, std::int64_t d) {
  double sum = 0;
  for (std::int64_t f = 0; f < d; ++f) sum += (x[f] - c[f]) * (x[f] - c[f]);
  return sum;
}

class NearestCenterKernelTest : public ::testing::TestWithParam<Case> {};

TEST_P(NearestCenterKernelTest, MatchesDirectDistances) {
  const auto [n, k, d] = GetParam();
  std::vector<double> x = random_matrix(n, d, 1), centers = random_matrix(k, d, 2);
  CenterPanel panel(centers.data(), k, d);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  std::vector<double> best(static_cast<std::size_t>(n)), distances(static_cast<std::size_t>(n * k));
  ASSERT_EQ(nearest_centers(panel, x.data(), n, labels.data(), best.data(), distances.data()), -1);
  for (std::int64_t r = 0; r < n; ++r) {
    std::int64_t expected = 0;
    double expected_d2 = std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < k; ++j) {
      double d2 = direct_d2(&x[r * d], &centers[j * d], d);
      EXPECT_NEAR(distances[r * k + j], d2, 1e-9 * (1 + d2)) << "row " << r << " center " << j;
      if (d2 < expected_d2) {
        expected_d2 = d2;
        expected = j;
      }
    }
    EXPECT_EQ(labels[r], expected) << "row " << r;
    EXPECT_NEAR(best[r], expected_d2, 1e-9 * (1 + expected_d2)) << "row " << r;
  }
}

TEST_P(NearestCenterKernelTest, RowResultDoesNotDependOnItsPositionInTheBlock) {
  const auto [n, k, d] = GetParam();
  std::vector<double> x = random_matrix(n, d, 3), centers = random_matrix(k, d, 4);
  CenterPanel panel(centers.data(), k, d);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  std::vector<double> best(static_cast<std::size_t>(n));
  nearest_centers(panel, x.data(), n, labels.data(), best.data(), nullptr);
  // The same rows one at a time (the kernel's tail path) give bit-identical results.
  for (std::int64_t r = 0; r < n; ++r) {
    std::int64_t label = -1;
    double d2 = -1;
    nearest_centers(panel, &x[r * d], 1, &label, &d2, nullptr);
    EXPECT_EQ(label, labels[r]) << "row " << r;
    EXPECT_EQ(d2, best[r]) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, NearestCenterKernelTest,
                         ::testing::Values(Case{1, 1, 1}, Case{7, 3, 1}, Case{8, 4, 4}, Case{37, 12, 20},
                                           Case{100, 5, 3}, Case{64, 33, 17}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "n" + std::to_string(info.param.n) + "_k" + std::to_string(info.param.k) + "_d" +
                                  std::to_string(info.param.d);
                         });

TEST(NearestCenterKernel, TiesGoToTheLowestCenter) {
  // Centers 1, 2, 5 and 6 are the same point; so are 0 and 3 (farther).
  const std::int64_t d = 2;
  std::vector<double> centers = {5, 5, 1, 1, 1, 1, 5, 5, 9, 9, 1, 1, 1, 1};
  std::vector<double> x = {1, 1, 1.5, 1.5, 0, 0, 5, 5, 6, 6, 1, 1, 2, 2, 0.5, 0.5, 1, 1};
  const std::int64_t n = static_cast<std::int64_t>(x.size()) / d, k = static_cast<std::int64_t>(centers.size()) / d;
  CenterPanel panel(centers.data(), k, d);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  std::vector<double> best(static_cast<std::size_t>(n));
  ASSERT_EQ(nearest_centers(panel, x.data(), n, labels.data(), best.data(), nullptr), -1);
  const std::vector<std::int64_t> expected = {1, 1, 1, 0, 0, 1, 1, 1, 1};
  EXPECT_EQ(labels, expected);
}

TEST(NearestCenterKernel, ReportsTheFirstNonFiniteRow) {
  const std::int64_t n = 20, k = 3, d = 5;
  std::vector<double> x = random_matrix(n, d, 5), centers = random_matrix(k, d, 6);
  x[13 * d + 2] = std::nan("");
  x[17 * d] = std::numeric_limits<double>::infinity();
  CenterPanel panel(centers.data(), k, d);
  std::vector<std::int64_t> labels(n);
  std::vector<double> best(n);
  EXPECT_EQ(nearest_centers(panel, x.data(), n, labels.data(), best.data(), nullptr), 13);
  EXPECT_EQ(nearest_centers(panel, x.data() + 14 * d, n - 14, labels.data(), best.data(), nullptr), 3);
}

TEST(NearestCenterKernel, AddsRowsByLabel) {
  const std::int64_t d = 3;
  std::vector<double> x = {1, 2, 3, 10, 20, 30, 100, 200, 300, 4, 5, 6};
  std::vector<std::int64_t> labels = {1, 0, 1, 1};
  std::vector<double> sums(2 * d, 0.0), counts(2, 0.0);
  add_rows_by_label(x.data(), 4, d, labels.data(), sums.data(), counts.data());
  EXPECT_EQ(sums, (std::vector<double>{10, 20, 30, 105, 207, 309}));
  EXPECT_EQ(counts, (std::vector<double>{1, 3}));
}

}  // namespace
}  // namespace dtask::ml_ops
