// StandardScaler on a LocalCluster against direct column moments, and
// train_test_split's invariants: every row once, X and y aligned, per-chunk
// sizes, reproducible by random_state.
#include <dtask/client.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/preprocessing.h>
#include <gtest/gtest.h>

#include "tests/support/local_cluster_suite.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace dtask::ml {
namespace {

class PreprocessingTest : public testing::LocalClusterSuite {};

/// X[i] = (i, 2i, 7), y[i] = i: every row says where it came from.
NDArray indexed_rows(std::int64_t n) {
  NDArray x = NDArray::uninitialized(DType::kFloat64, {n, 3});
  for (std::int64_t i = 0; i < n; ++i) {
    x.mutable_data<double>()[i * 3] = static_cast<double>(i);
    x.mutable_data<double>()[i * 3 + 1] = 2.0 * static_cast<double>(i);
    x.mutable_data<double>()[i * 3 + 2] = 7.0;
  }
  return x;
}

// The scaler's moments match a direct computation; transform standardises
// (a constant column is centred, not divided by zero); inverse_transform undoes it.
TEST_F(PreprocessingTest, StandardScalerStandardises) {
  const std::int64_t n = 1000;
  NDArray x = indexed_rows(n);
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal(5.0, 3.0);
  for (std::int64_t i = 0; i < n; ++i) x.mutable_data<double>()[i * 3 + 1] = normal(rng);
  Array X = Array::from_ndarray(client(), x, 170);
  StandardScaler scaler;
  NDArray z = scaler.fit_transform(client(), X).compute(client());
  EXPECT_EQ(scaler.n_samples_seen_, n);
  for (std::int64_t j = 0; j < 3; ++j) {
    long double mean = 0, var = 0;
    for (std::int64_t i = 0; i < n; ++i) mean += x.data<double>()[i * 3 + j];
    mean /= n;
    for (std::int64_t i = 0; i < n; ++i) var += std::pow(x.data<double>()[i * 3 + j] - mean, 2);
    var /= n;
    EXPECT_NEAR(scaler.mean_.data<double>()[j], static_cast<double>(mean), 1e-12 * (1 + std::abs(mean)));
    EXPECT_NEAR(scaler.var_.data<double>()[j], static_cast<double>(var), 1e-10 * (1 + var));
    double z_mean = 0, z_var = 0;
    for (std::int64_t i = 0; i < n; ++i) z_mean += z.data<double>()[i * 3 + j] / n;
    for (std::int64_t i = 0; i < n; ++i) z_var += std::pow(z.data<double>()[i * 3 + j] - z_mean, 2) / n;
    EXPECT_NEAR(z_mean, 0.0, 1e-12);
    EXPECT_NEAR(z_var, j == 2 ? 0.0 : 1.0, 1e-10) << "column " << j;
  }
  EXPECT_EQ(scaler.scale_.data<double>()[2], 1.0);
  NDArray back = scaler.inverse_transform(scaler.transform(X)).compute(client());
  for (std::int64_t i = 0; i < x.size(); ++i) EXPECT_NEAR(back.data<double>()[i], x.data<double>()[i], 1e-9);
  EXPECT_THROW(scaler.transform(X.slice_cols(0, 2)), ArrayError);
}

// Every row lands in exactly one side, X and y stay aligned, each chunk
// gives ceil(test_size x rows) test rows, and the split is reproducible.
TEST_F(PreprocessingTest, TrainTestSplitKeepsRowsAligned) {
  const std::int64_t n = 1003;
  NDArray x = indexed_rows(n);
  NDArray y = NDArray::uninitialized(DType::kInt64, {n});
  for (std::int64_t i = 0; i < n; ++i) y.mutable_data<std::int64_t>()[i] = i;
  Array X = Array::from_ndarray(client(), x, 250), Y = Array::from_ndarray(client(), y, 300);  // y chunked unlike X
  auto split = train_test_split(X, Y, {.test_size = 0.2, .random_state = 9});
  EXPECT_EQ(split.X_test.rows(), 50 + 50 + 50 + 50 + 1);  // ceil(0.2 x 250) x 4 + ceil(0.2 x 3)
  EXPECT_EQ(split.X_train.rows() + split.X_test.rows(), n);
  std::set<std::int64_t> seen;
  for (bool test : {false, true}) {
    NDArray xs = (test ? split.X_test : split.X_train).compute(client());
    NDArray ys = (test ? split.y_test : split.y_train).compute(client());
    ASSERT_EQ(xs.rows(), ys.rows());
    for (std::int64_t i = 0; i < xs.rows(); ++i) {
      auto row = static_cast<std::int64_t>(xs.data<double>()[i * 3]);
      EXPECT_EQ(ys.data<std::int64_t>()[i], row);
      EXPECT_EQ(xs.data<double>()[i * 3 + 1], 2.0 * static_cast<double>(row));
      EXPECT_TRUE(seen.insert(row).second) << "row " << row << " twice";
    }
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), n);

  NDArray again = train_test_split(X, Y, {.test_size = 0.2, .random_state = 9}).y_test.compute(client());
  NDArray other = train_test_split(X, Y, {.test_size = 0.2, .random_state = 10}).y_test.compute(client());
  NDArray first = split.y_test.compute(client());
  EXPECT_TRUE(std::equal(first.data<std::int64_t>(), first.data<std::int64_t>() + first.size(),
                         again.data<std::int64_t>()));
  EXPECT_FALSE(std::equal(first.data<std::int64_t>(), first.data<std::int64_t>() + first.size(),
                          other.data<std::int64_t>()));

  // shuffle = false: the last rows of each chunk are the test set, in order.
  NDArray tail = train_test_split(X, Y, {.test_size = 0.2, .shuffle = false}).y_test.compute(client());
  EXPECT_EQ(tail.data<std::int64_t>()[0], 200);
  EXPECT_EQ(tail.data<std::int64_t>()[49], 249);
  EXPECT_EQ(tail.data<std::int64_t>()[50], 450);

  EXPECT_THROW(train_test_split(X, Y.slice_rows(0, 1000)), ArrayError);
  EXPECT_THROW(train_test_split(X, Y, {.test_size = 1.5}), ArrayError);
}

}  // namespace
}  // namespace dtask::ml
