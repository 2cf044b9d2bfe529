// A tour of out-of-core SGD, run by CI: SGDClassifier and SGDRegressor
// (dtask/ml/sgd.h: fit, partial_fit, predict, predict_proba, save/load),
// Incremental (dtask/ml/incremental.h) streaming a .npy file, and then a
// client-side generator, through partial_fit, ParameterAveraging
// (dtask/ml/parameter_averaging.h) with one replica per worker, the
// tree_allreduce collective it uses and the ring_allreduce one for large
// arrays (dtask/collective.h). On a LocalCluster of two workers; exits
// non-zero if anything is off.
#include <dtask/client.h>
#include <dtask/collective.h>
#include <dtask/datasets.h>
#include <dtask/ml/incremental.h>
#include <dtask/ml/parameter_averaging.h>
#include <dtask/ml/sgd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>
#include <string>

#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "sgd_tour: %s failed at line %d\n", #cond, __LINE__); \
      std::exit(1);                                                               \
    }                                                                             \
  } while (false)

int main() {
  using namespace dtask;
  Client client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1});
  const auto dir = std::filesystem::temp_directory_path() / ("dtask_sgd_tour_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  // 20,000 rows written to .npy files, read back in 2,000-row chunks by the workers.
  auto data = datasets::make_classification(
      {.n_samples = 20'000, .n_features = 20, .n_informative = 6, .random_state = 0, .chunk_rows = 2'000});
  data.X.to_npy(client, (dir / "X.npy").string());
  data.y.astype(DType::kFloat64).to_npy(client, (dir / "y.npy").string());
  Array X = Array::from_npy((dir / "X.npy").string(), 2'000);
  Array y = Array::from_npy((dir / "y.npy").string(), 2'000);

  // 1. SGDClassifier.fit: scikit-learn's fit (epochs until the loss stops improving), in one task.
  ml::SGDClassifier clf({.loss = "log_loss", .alpha = 1e-4, .random_state = 0});
  clf.fit(client, X, y);
  const double fit_accuracy = clf.score(client, X, y);
  std::printf("SGDClassifier.fit: %lld epochs, accuracy %.4f\n", static_cast<long long>(clf.n_iter_), fit_accuracy);
  NDArray proba = clf.predict_proba(X).compute(client);
  EXPECT(proba.shape == (std::vector<std::int64_t>{20'000, 2}));

  // 2. partial_fit: one more epoch over these rows, continuing from the model.
  const double t_before = clf.t_;
  clf.partial_fit(client, X, y);
  EXPECT(clf.t_ == t_before + 20'000);

  // 3. Incremental: one chain of partial_fit tasks over the chunks, 2 epochs in shuffled chunk order.
  ml::Incremental inc(ml::SGDClassifier({.random_state = 0}), {.epochs = 2, .random_state = 0, .verbose = true});
  inc.fit(client, X, y);
  const double inc_accuracy = inc.score(client, X, y);
  std::printf("Incremental: %lld partial_fit calls, accuracy %.4f\n",
              static_cast<long long>(inc.n_partial_fit_calls_), inc_accuracy);
  EXPECT(inc.n_partial_fit_calls_ == 2 * X.n_chunks());
  EXPECT(inc_accuracy > 0.7);

  // 3b. Incremental over a generator: chunks made on the client (here cut
  // from the same rows; a database cursor or a decoder in real use), each sent
  // to a worker and fitted there, one pass in the generator's order.
  const NDArray X_local = X.compute(client);
  const NDArray y_local = y.compute(client);
  const std::int64_t piece = 2'000, width = X_local.cols();
  std::int64_t next_row = 0;
  auto generator = [&]() -> std::optional<ml::XyChunk> {
    if (next_row >= X_local.rows()) return std::nullopt;
    const std::int64_t n = std::min(piece, X_local.rows() - next_row);
    const double* x = X_local.data<double>() + next_row * width;
    const double* t = y_local.data<double>() + next_row;
    ml::XyChunk chunk{NDArray::from_vector(std::vector<double>(x, x + n * width), {n, width}),
                      NDArray::from_vector(std::vector<double>(t, t + n), {n})};
    next_row += n;
    return chunk;
  };
  ml::Incremental streamed(ml::SGDClassifier({.random_state = 0}));
  streamed.fit(client, generator, {0, 1});
  const double streamed_accuracy = streamed.score(client, X, y);
  std::printf("Incremental over a generator: %lld chunks, accuracy %.4f\n",
              static_cast<long long>(streamed.n_partial_fit_calls_), streamed_accuracy);
  EXPECT(streamed.n_partial_fit_calls_ == (X_local.rows() + piece - 1) / piece);
  EXPECT(streamed_accuracy > 0.7);

  // 4. ParameterAveraging: a replica per worker, averaged every 2 chunks.
  ml::ParameterAveraging avg(ml::SGDClassifier({.random_state = 0}), {.epochs = 2, .sync_every = 2, .random_state = 0});
  avg.fit(client, X, y);
  const double avg_accuracy = avg.score(client, X, y);
  std::printf("ParameterAveraging: %lld replicas, %lld averages, accuracy %.4f\n",
              static_cast<long long>(avg.n_replicas_), static_cast<long long>(avg.n_rounds_), avg_accuracy);
  EXPECT(avg.n_replicas_ == 2);
  EXPECT(avg_accuracy > inc_accuracy - 0.02);

  // 5. tree_allreduce by hand: three replicas, one fitted per chunk, averaged among the workers.
  const std::string start = ml::SGDClassifier({.random_state = 0}).model_state();
  const NDArray classes = NDArray::from_vector(std::vector<double>{0, 1});
  std::vector<FutureBase> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(client.submit<Bytes>("sgd_partial_fit", Bytes::from_string(start), X.chunk(i), y.chunk(i), classes));
  }
  Future<Value> mean = tree_allreduce(client, replicas, "sgd_average");
  ml::SGDClassifier averaged;
  averaged.set_model_state(std::string(mean.result().get<Bytes>().view()));
  std::printf("tree_allreduce of 3 replicas: t_ = %.0f (the mean of theirs)\n", averaged.t_);
  EXPECT(averaged.t_ == 2'001);

  // 5b. ring_allreduce, the collective for large arrays (small ones here):
  // three vectors on the workers, summed along a ring among them; each of the
  // three results holds the whole sum.
  std::vector<FutureBase> vectors;
  std::vector<double> want(1'000, 0.0);
  for (int i = 0; i < 3; ++i) {
    std::vector<double> v(want.size());
    for (std::size_t j = 0; j < v.size(); ++j) want[j] += v[j] = static_cast<double>(i * 1'000 + j);
    vectors.push_back(client.scatter(Value(NDArray::from_vector(v))));
  }
  std::vector<Future<Value>> sums = ring_allreduce(client, vectors, {.rows = 1'000});
  for (auto& sum : sums) {
    const NDArray got = sum.result().get<NDArray>();
    EXPECT(got.size() == 1'000 && std::equal(want.begin(), want.end(), got.data<double>()));
  }
  std::printf("ring_allreduce of 3 vectors: %zu results, each the sum\n", sums.size());

  // 6. SGDRegressor, and a model saved and loaded.
  auto reg_data = datasets::make_regression({.n_samples = 5'000, .n_features = 10, .noise = 1.0, .random_state = 0,
                                              .chunk_rows = 1'000});
  ml::SGDRegressor reg({.penalty = "elasticnet", .random_state = 0});
  reg.fit(client, reg_data.X, reg_data.y);
  std::printf("SGDRegressor: R^2 %.4f\n", reg.score(client, reg_data.X, reg_data.y));
  clf.save((dir / "clf.json").string());
  ml::SGDClassifier back = ml::SGDClassifier::load((dir / "clf.json").string());
  EXPECT(back.score(client, X, y) == clf.score(client, X, y));

  std::filesystem::remove_all(dir);
  std::printf("sgd_tour: ok\n");
  return 0;
}
