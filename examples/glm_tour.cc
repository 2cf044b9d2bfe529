// A tour of the GLM API, run by CI: every public call in
// dtask/ml/linear_model.h, dtask/ml/preprocessing.h and
// dtask/ml/model_selection.h once, on a LocalCluster of two workers: scale,
// split, fit logistic, linear and Poisson regressions, score on held-out
// rows, save and load. Exits non-zero if anything is off.
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/linear_model.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/preprocessing.h>
#include <dtask/random.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#define EXPECT(cond)                                                               \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "glm_tour: %s failed at line %d\n", #cond, __LINE__);  \
      std::exit(1);                                                                \
    }                                                                              \
  } while (false)

int main() {
  namespace fs = std::filesystem;
  using namespace dtask;
  const fs::path dir = fs::temp_directory_path() / ("dtask-glm-tour-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Client client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1});

  // Classification: standardise, split 80/20 blockwise, fit, score held-out rows.
  auto data = datasets::make_classification(
      {.n_samples = 20000, .n_features = 10, .n_informative = 4, .random_state = 0, .chunk_rows = 2500});
  ml::StandardScaler scaler;
  Array X = scaler.fit_transform(client, data.X);
  NDArray round_trip = scaler.inverse_transform(scaler.transform(data.X)).compute(client);
  NDArray original = data.X.compute(client);
  EXPECT(std::abs(round_trip.data<double>()[123] - original.data<double>()[123]) < 1e-9);
  auto split = ml::train_test_split(X, data.y, {.test_size = 0.2, .random_state = 0});
  std::printf("glm_tour: train %lld rows, test %lld rows\n", static_cast<long long>(split.X_train.rows()),
              static_cast<long long>(split.X_test.rows()));

  ml::LogisticRegression logistic({.C = 1.0, .solver = "lbfgs", .verbose = true});
  logistic.fit(client, split.X_train, split.y_train);
  double accuracy = logistic.score(client, split.X_test, split.y_test);
  std::printf("glm_tour: logistic regression: %d iterations, converged %d, held-out accuracy %.3f\n",
              logistic.n_iter_, logistic.converged_ ? 1 : 0, accuracy);
  EXPECT(logistic.converged_ && accuracy > 0.8);
  NDArray proba = logistic.predict_proba(split.X_test).compute(client);
  NDArray labels = logistic.predict(split.X_test).compute(client);
  NDArray decision = logistic.decision_function(split.X_test).compute(client);
  EXPECT((proba.data<double>()[0] > 0.5) == (labels.data<std::int64_t>()[0] == 1));
  EXPECT((decision.data<double>()[0] > 0) == (labels.data<std::int64_t>()[0] == 1));
  logistic.save((dir / "logistic.json").string());
  auto loaded = ml::LogisticRegression::load((dir / "logistic.json").string());
  EXPECT(loaded.score(client, split.X_test, split.y_test) == accuracy);

  // Sparse linear regression with an l1 penalty (the lasso): the 15
  // uninformative coefficients come out exactly zero.
  auto regression = datasets::make_regression(
      {.n_samples = 20000, .n_features = 20, .n_informative = 5, .noise = 1.0, .random_state = 1, .chunk_rows = 4000});
  ml::LinearRegression lasso({.penalty = "l1", .C = 0.001});
  lasso.fit(client, regression.X, regression.y);
  int zeros = 0;
  for (std::int64_t j = 0; j < lasso.coef_.size(); ++j) zeros += lasso.coef_.data<double>()[j] == 0.0 ? 1 : 0;
  double r2 = lasso.score(client, regression.X, regression.y);
  std::printf("glm_tour: lasso (%s): %d of 20 coefficients zero, R^2 %.4f\n", lasso.solver_.c_str(), zeros, r2);
  EXPECT(zeros == 15 && r2 > 0.99);
  NDArray fitted = lasso.predict(regression.X.slice_rows(0, 5)).compute(client);
  EXPECT(fitted.size() == 5);
  lasso.save((dir / "lasso.json").string());
  EXPECT(ml::LinearRegression::load((dir / "lasso.json").string()).coef_.size() == 20);

  // Poisson regression on rates y = exp(0.3 x0 - 0.2 x1 + 1) (y >= 0 need
  // not be whole numbers, as in scikit-learn): the fit recovers the model.
  Array Z = random::normal({20000, 2}, {.seed = 2, .chunk_rows = 5000});
  Array counts = exp(Z.column(0) * 0.3 - Z.column(1) * 0.2 + 1.0);
  ml::PoissonRegression poisson({.penalty = "none", .solver = "newton"});
  poisson.fit(client, Z, counts);
  double d2 = poisson.score(client, Z, counts);
  std::printf("glm_tour: Poisson regression: coef [%.3f, %.3f], intercept %.3f, D^2 %.3f\n",
              poisson.coef_.data<double>()[0], poisson.coef_.data<double>()[1], poisson.intercept_, d2);
  EXPECT(std::abs(poisson.coef_.data<double>()[0] - 0.3) < 1e-6 && std::abs(poisson.intercept_ - 1.0) < 1e-6);
  EXPECT(d2 > 0.999999);
  EXPECT(poisson.predict(Z).compute(client).size() == 20000);
  poisson.save((dir / "poisson.json").string());
  EXPECT(ml::PoissonRegression::load((dir / "poisson.json").string()).intercept_ == poisson.intercept_);

  fs::remove_all(dir);
  std::printf("glm_tour: ok\n");
  return 0;
}
