// dtask::ml GLMs on a LocalCluster (in-process scheduler and workers over
// loopback TCP), checked against direct single-process solutions: the normal
// equations, a local Newton/IRLS, each other, and scikit-learn-style scores
// computed from the predictions.
#include <dtask/ml/linear_model.h>
#include <gtest/gtest.h>

#include <cmath>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <random>
#include <vector>

#include "tests/formats/temp_dir.h"
#include "tests/support/local_cluster_suite.h"

namespace dtask::ml {
namespace {

using formats::testing::TempDir;
using Vec = std::vector<double>;

/// Solves A x = b (n x n, row-major) by Gaussian elimination with partial
/// pivoting in long double: the reference the distributed solvers must meet.
Vec solve(std::vector<long double> a, std::vector<long double> b) {
  const std::size_t n = b.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t pivot = c;
    for (std::size_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
    }
    for (std::size_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[pivot * n + j]);
    std::swap(b[c], b[pivot]);
    for (std::size_t r = c + 1; r < n; ++r) {
      long double factor = a[r * n + c] / a[c * n + c];
      for (std::size_t j = c; j < n; ++j) a[r * n + j] -= factor * a[c * n + j];
      b[r] -= factor * b[c];
    }
  }
  Vec x(n);
  for (std::size_t r = n; r-- > 0;) {
    long double sum = b[r];
    for (std::size_t j = r + 1; j < n; ++j) sum -= a[r * n + j] * x[j];
    x[r] = static_cast<double>(sum / a[r * n + r]);
  }
  return x;
}

/// [w..., b] of a fitted model.
Vec coefficients(const GeneralizedLinearModel& m) {
  Vec out(m.coef_.data<double>(), m.coef_.data<double>() + m.coef_.size());
  out.push_back(m.intercept_);
  return out;
}

/// max_j |got_j - want_j| / max(1, max_j |want_j|).
double relative_difference(const Vec& got, const Vec& want) {
  double diff = 0, scale = 1;
  for (std::size_t j = 0; j < want.size(); ++j) {
    diff = std::max(diff, std::abs(got.at(j) - want[j]));
    scale = std::max(scale, std::abs(want[j]));
  }
  return diff / scale;
}

/// Unpenalised Newton (IRLS) for a Poisson GLM with intercept on local data.
Vec local_poisson_newton(const NDArray& x, const NDArray& y) {
  const std::size_t n = static_cast<std::size_t>(x.rows()), d = static_cast<std::size_t>(x.cols()), p = d + 1;
  Vec beta(p, 0.0);
  for (int iteration = 0; iteration < 50; ++iteration) {
    std::vector<long double> h(p * p, 0), g(p, 0);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<long double> row(p, 1.0L);
      for (std::size_t j = 0; j < d; ++j) row[j] = x.data<double>()[i * d + j];
      long double eta = 0;
      for (std::size_t j = 0; j < p; ++j) eta += row[j] * beta[j];
      long double mu = std::exp(eta);
      for (std::size_t j = 0; j < p; ++j) {
        g[j] -= (mu - y.data<double>()[i]) * row[j];
        for (std::size_t k = 0; k < p; ++k) h[j * p + k] += mu * row[j] * row[k];
      }
    }
    Vec step = solve(h, g);
    for (std::size_t j = 0; j < p; ++j) beta[j] += step[j];
  }
  return beta;
}

class LinearModelTest : public testing::LocalClusterSuite {
 protected:

  static datasets::Classification classification(std::int64_t chunk_rows = 500) {
    return datasets::make_classification({.n_samples = 3000, .n_features = 6, .n_informative = 3,
                                          .class_sep = 0.8, .flip_y = 0.05, .random_state = 3,
                                          .chunk_rows = chunk_rows});
  }
};

// Linear regression without a penalty is the least-squares solution of the
// normal equations [X 1]^T [X 1] β = [X 1]^T y, to 1e-8.
TEST_F(LinearModelTest, LinearRegressionMatchesNormalEquations) {
  auto data = datasets::make_regression(
      {.n_samples = 2000, .n_features = 8, .n_informative = 5, .bias = 3.0, .noise = 2.0, .random_state = 1,
       .chunk_rows = 300});
  LinearRegression model;
  model.fit(client(), data.X, data.y);
  EXPECT_EQ(model.solver_, "newton");
  EXPECT_EQ(model.penalty_, "none");
  EXPECT_TRUE(model.converged_);

  NDArray x = data.X.compute(client()), y = data.y.compute(client());
  const std::size_t n = static_cast<std::size_t>(x.rows()), d = static_cast<std::size_t>(x.cols()), p = d + 1;
  std::vector<long double> gram(p * p, 0), rhs(p, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<long double> row(p, 1.0L);
    for (std::size_t j = 0; j < d; ++j) row[j] = x.data<double>()[i * d + j];
    for (std::size_t j = 0; j < p; ++j) {
      rhs[j] += row[j] * y.data<double>()[i];
      for (std::size_t k = 0; k < p; ++k) gram[j * p + k] += row[j] * row[k];
    }
  }
  EXPECT_LT(relative_difference(coefficients(model), solve(gram, rhs)), 1e-8);
}

// Every solver reaches the same l2-penalised logistic regression optimum (1e-5).
TEST_F(LinearModelTest, AllSolversAgreeOnL2Logistic) {
  auto data = classification();
  LogisticRegression reference({.C = 0.5, .solver = "newton", .tol = 1e-10});
  reference.fit(client(), data.X, data.y);
  ASSERT_TRUE(reference.converged_);
  const Vec want = coefficients(reference);
  for (std::string solver : {"lbfgs", "gradient_descent", "proximal_grad", "admm"}) {
    SCOPED_TRACE(solver);
    // First-order methods compare objective values, so rounding stops them
    // near a gradient of 1e-5 here: ask for 1e-4 (1e-7 relative accuracy).
    const double tol = solver == "admm" ? 1e-9 : solver == "lbfgs" ? 1e-6 : 1e-4;
    LogisticRegression model({.C = 0.5, .solver = solver, .max_iter = 5000, .tol = tol});
    model.fit(client(), data.X, data.y);
    EXPECT_TRUE(model.converged_);
    EXPECT_LT(relative_difference(coefficients(model), want), 1e-5) << "after " << model.n_iter_ << " iterations";
  }
}

// An l1 penalty zeroes exactly the coefficients of the uninformative features.
TEST_F(LinearModelTest, L1GivesExactZerosOnSparseTruth) {
  auto data = datasets::make_regression(
      {.n_samples = 2000, .n_features = 10, .n_informative = 3, .noise = 1.0, .random_state = 5, .chunk_rows = 400});
  for (std::string solver : {"proximal_grad", "admm"}) {
    SCOPED_TRACE(solver);
    LinearRegression model({.penalty = "l1", .C = 0.002, .solver = solver, .max_iter = 3000, .tol = 1e-6});
    model.fit(client(), data.X, data.y);
    EXPECT_TRUE(model.converged_);
    for (std::int64_t j = 0; j < 10; ++j) {
      double truth = data.coef.data<double>()[j], got = model.coef_.data<double>()[j];
      if (truth == 0.0) {
        EXPECT_EQ(got, 0.0) << "feature " << j;
      } else {
        // Shrunk towards 0 by about (1 / C) / n = 0.25, not zeroed.
        EXPECT_NE(got, 0.0) << "feature " << j;
        EXPECT_NEAR(got, truth, 0.5) << "feature " << j;
      }
    }
  }
}

// The fit does not depend on the chunking or the number of workers (1e-8).
TEST_F(LinearModelTest, IndependentOfChunkingAndWorkers) {
  GlmOptions options{.C = 2.0, .solver = "newton", .tol = 1e-10};
  LogisticRegression a(options), b(options), c(options);
  a.fit(client(), classification(500).X, classification(500).y);
  b.fit(client(), classification(1300).X, classification(1300).y.rechunk(700));  // y chunked unlike X
  Client one_worker(LocalClusterOptions{.n_workers = 1, .threads_per_worker = 1});
  c.fit(one_worker, classification(3000).X, classification(3000).y);
  EXPECT_LT(relative_difference(coefficients(b), coefficients(a)), 1e-8);
  EXPECT_LT(relative_difference(coefficients(c), coefficients(a)), 1e-8);
}

// Poisson regression meets a local IRLS on counts drawn from a known model.
TEST_F(LinearModelTest, PoissonMatchesLocalNewton) {
  const std::int64_t n = 2500, d = 4;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 0.5);
  NDArray x = NDArray::uninitialized(DType::kFloat64, {n, d});
  NDArray y = NDArray::uninitialized(DType::kFloat64, {n});
  const double truth[d] = {0.3, -0.2, 0.5, 0.0};
  for (std::int64_t i = 0; i < n; ++i) {
    double eta = 0.7;
    for (std::int64_t j = 0; j < d; ++j) {
      x.mutable_data<double>()[i * d + j] = normal(rng);
      eta += truth[j] * x.data<double>()[i * d + j];
    }
    y.mutable_data<double>()[i] = static_cast<double>(std::poisson_distribution<int>(std::exp(eta))(rng));
  }
  Array X = Array::from_ndarray(client(), x, 600), Y = Array::from_ndarray(client(), y, 600);
  for (std::string solver : {"lbfgs", "newton"}) {
    SCOPED_TRACE(solver);
    PoissonRegression model({.penalty = "none", .solver = solver, .tol = 1e-9});
    model.fit(client(), X, Y);
    EXPECT_TRUE(model.converged_);
    EXPECT_LT(relative_difference(coefficients(model), local_poisson_newton(x, y)), 1e-6);
  }
}

// predict, predict_proba, decision_function and score agree with each other
// and with the labels; save/load round-trips; loading the wrong family fails.
TEST_F(LinearModelTest, PredictScoreSaveLoad) {
  auto data = classification();
  LogisticRegression model;
  model.fit(client(), data.X, data.y);
  NDArray labels = model.predict(data.X).compute(client());
  NDArray proba = model.predict_proba(data.X).compute(client());
  NDArray decision = model.decision_function(data.X).compute(client());
  NDArray y = data.y.compute(client());
  ASSERT_EQ(labels.dtype, DType::kInt64);
  double correct = 0;
  for (std::int64_t i = 0; i < y.size(); ++i) {
    double z = decision.data<double>()[i];
    EXPECT_NEAR(proba.data<double>()[i], 1.0 / (1.0 + std::exp(-z)), 1e-12);
    EXPECT_EQ(labels.data<std::int64_t>()[i], z > 0 ? 1 : 0);
    correct += labels.data<std::int64_t>()[i] == y.data<std::int64_t>()[i] ? 1 : 0;
  }
  const double accuracy = correct / static_cast<double>(y.size());
  EXPECT_GT(accuracy, 0.75);
  EXPECT_DOUBLE_EQ(model.score(client(), data.X, data.y), accuracy);

  TempDir dir;
  model.save(dir.file("model.json"));
  LogisticRegression loaded = LogisticRegression::load(dir.file("model.json"));
  NDArray again = loaded.predict_proba(data.X).compute(client());
  for (std::int64_t i = 0; i < y.size(); ++i) EXPECT_EQ(again.data<double>()[i], proba.data<double>()[i]);
  EXPECT_THROW(LinearRegression::load(dir.file("model.json")), TaskError);
}

// R² of linear regression as scikit-learn computes it from the predictions.
TEST_F(LinearModelTest, LinearScoreIsRSquared) {
  auto data = datasets::make_regression({.n_samples = 1500, .n_features = 5, .noise = 20.0, .random_state = 2,
                                         .chunk_rows = 400});
  LinearRegression model({.penalty = "l2", .C = 0.01});
  model.fit(client(), data.X, data.y);
  NDArray predicted = model.predict(data.X).compute(client()), y = data.y.compute(client());
  double mean = 0, ss_res = 0, ss_tot = 0;
  for (std::int64_t i = 0; i < y.size(); ++i) mean += y.data<double>()[i] / static_cast<double>(y.size());
  for (std::int64_t i = 0; i < y.size(); ++i) {
    ss_res += std::pow(y.data<double>()[i] - predicted.data<double>()[i], 2);
    ss_tot += std::pow(y.data<double>()[i] - mean, 2);
  }
  EXPECT_NEAR(model.score(client(), data.X, data.y), 1.0 - ss_res / ss_tot, 1e-10);
}

// Bad input: clear errors naming the arrays, found up front or by the workers.
TEST_F(LinearModelTest, RejectsBadInput) {
  auto data = classification();
  auto message = [](auto&& fit) -> std::string {
    try {
      fit();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  };
  // y of the wrong length: found while building the graph.
  std::string what = message([&] { LogisticRegression().fit(client(), data.X, data.y.slice_rows(0, 2999)); });
  EXPECT_NE(what.find("2999"), std::string::npos) << what;
  // newton cannot do l1: the valid solvers are listed.
  what = message([&] { LogisticRegression({.penalty = "l1", .solver = "newton"}).fit(client(), data.X, data.y); });
  EXPECT_NE(what.find("proximal_grad"), std::string::npos) << what;
  what = message([&] { LogisticRegression({.C = 0}).fit(client(), data.X, data.y); });
  EXPECT_NE(what.find("C must be > 0"), std::string::npos) << what;

  // NaN in y: not a class label; the error names y, its chunk and row (found by the labels pass).
  NDArray y = data.y.astype(DType::kFloat64).compute(client());
  y.mutable_data<double>()[1234] = std::nan("");
  Array bad_y = Array::from_ndarray(client(), y, 500);
  what = message([&] { LogisticRegression().fit(client(), data.X, bad_y); });
  EXPECT_NE(what.find("y (" + bad_y.name() + "), chunk 2, row 234"), std::string::npos) << what;
  EXPECT_NE(what.find("NaN or infinity"), std::string::npos) << what;

  // Negative counts for Poisson.
  y.mutable_data<double>()[1234] = -1.0;
  Array negative = Array::from_ndarray(client(), y, 500);
  what = message([&] { PoissonRegression().fit(client(), data.X, negative); });
  EXPECT_NE(what.find("y >= 0"), std::string::npos) << what;

  // NaN in X: named with its chunk, row and column.
  NDArray x = data.X.compute(client());
  x.mutable_data<double>()[2100 * 6 + 4] = std::nan("");
  Array bad_x = Array::from_ndarray(client(), x, 500);
  what = message([&] { LinearRegression().fit(client(), bad_x, data.y.astype(DType::kFloat64)); });
  EXPECT_NE(what.find("X (" + bad_x.name() + "), chunk 4, row 100: NaN or infinity in column 4"), std::string::npos)
      << what;
}

}  // namespace
}  // namespace dtask::ml
