// A tour of adaptive hyperparameter search, run by CI: HyperbandSearchCV
// and IncrementalSearchCV (dtask/ml/hyperband.h, dtask/ml/incremental_search.h)
// over SGDClassifier on a small synthetic dataset, on a LocalCluster of two
// workers, with dask-ml's progress lines. Exits non-zero if anything is off.
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/hyperband.h>
#include <dtask/ml/incremental_search.h>
#include <dtask/ml/sgd.h>

#include <cstdio>
#include <cstdlib>

#define EXPECT(cond)                                                                    \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "hyperband_tour: %s failed at line %d\n", #cond, __LINE__); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (false)

int main() {
  using namespace dtask;
  Client client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1});
  // 4000 rows in 10 chunks: each partial_fit call is one epoch over one chunk.
  auto data = datasets::make_classification(
      {.n_samples = 4000, .n_features = 10, .n_informative = 4, .random_state = 0, .chunk_rows = 400});
  Array X = data.X.persist(client), y = data.y.persist(client);

  ml::ParamDistributions space = {{"alpha", ml::LogUniform{1e-6, 1.0}},
                                  {"loss", std::vector<ml::ParamValue>{"hinge", "log_loss", "modified_huber", "squared_hinge"}},
                                  {"average", std::vector<ml::ParamValue>{true, false}}};

  // What Hyperband will run before it runs: brackets of many short and few long trainings.
  ml::HyperbandSearchCV search(ml::SGDClassifier({.random_state = 0}), space,
                               {.max_iter = 27, .random_state = 0, .verbose = true});
  ml::HyperbandMetadata plan = search.metadata();
  std::printf("Hyperband, max_iter=27, aggressiveness=3: %lld models, %lld partial_fit calls\n",
              static_cast<long long>(plan.n_models), static_cast<long long>(plan.partial_fit_calls));
  for (const ml::BracketMetadata& b : plan.brackets) {
    std::printf("  bracket %lld: %lld models starting with %lld calls, %lld calls in all\n",
                static_cast<long long>(b.bracket), static_cast<long long>(b.n_models),
                static_cast<long long>(b.params.n_initial_iter), static_cast<long long>(b.partial_fit_calls));
  }
  std::fflush(stdout);  // the plan before the progress lines on stderr

  search.fit(client, X, y);
  std::printf("best_params_ = {%s}, best_score_ = %.4f (model %s)\n", ml::describe(search.best_params_).c_str(),
              search.best_score_, search.cv_results_.model_id[static_cast<std::size_t>(search.best_index_)].c_str());
  std::printf("partial_fit tasks run: %lld (metadata_: %lld)\n", static_cast<long long>(search.n_partial_fit_calls_),
              static_cast<long long>(search.metadata_.partial_fit_calls));
  EXPECT(search.n_partial_fit_calls_ == plan.partial_fit_calls);
  EXPECT(search.metadata_.n_models == plan.n_models);
  EXPECT(search.best_score_ > 0.6);
  EXPECT(search.score(client, X, y) > 0.6);
  EXPECT(search.predict(X).compute(client).size() == 4000);
  EXPECT(!search.cv_results_.json().empty());

  // IncrementalSearchCV: models left decay as n / (1 + calls) ** decay_rate.
  ml::IncrementalSearchCV incremental(ml::SGDClassifier({.random_state = 0}), space,
                                      {.n_initial_parameters = 16, .decay_rate = 0.5, .max_iter = 20, .random_state = 0});
  incremental.fit(client, X, y);
  std::printf("IncrementalSearchCV: best_score_ = %.4f after %lld partial_fit calls in all\n", incremental.best_score_,
              static_cast<long long>(incremental.n_partial_fit_calls_));
  EXPECT(incremental.cv_results_.size() == 16);
  EXPECT(incremental.best_score_ > 0.6);
  return 0;
}
