// A tour of model selection, run by CI: every public call in
// dtask/ml/model_selection.h (searches, splitters, parameter spaces,
// cv_results_ export, checkpoints), dtask/ml/svm.h, dtask/ml/pipeline.h and
// dtask/ml/estimator.h once, on a LocalCluster of two workers. Exits
// non-zero if anything is off.
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/estimator.h>
#include <dtask/ml/linear_model.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/pipeline.h>
#include <dtask/ml/preprocessing.h>
#include <dtask/ml/svm.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#define EXPECT(cond)                                                                        \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "model_selection_tour: %s failed at line %d\n", #cond, __LINE__); \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (false)

int main() {
  namespace fs = std::filesystem;
  using namespace dtask;
  const fs::path dir = fs::temp_directory_path() / ("dtask-model-selection-tour-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Client client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1});
  auto data = datasets::make_classification(
      {.n_samples = 1000, .n_features = 4, .n_informative = 2, .random_state = 0, .chunk_rows = 250});

  // Parameters by name, as scikit-learn's get_params / set_params, and unfitted clones.
  ml::SVC svc({.gamma = "auto"});
  svc.set_params({{"C", 2.5}});
  EXPECT(svc.get_params().at("C") == ml::ParamValue(2.5));
  EXPECT(svc.get_params().at("gamma") == ml::ParamValue("auto"));
  std::unique_ptr<ml::Estimator> copy = svc.clone_estimator();
  EXPECT(copy->estimator_name() == "SVC" && copy->is_classifier());

  // The Dask-ML tutorial's grid search: every candidate x fold is a task on a worker.
  ml::GridSearchCV search(ml::SVC({.gamma = "auto"}), {{"C", {0.001, 0.1, 1.0, 2.5, 10.0}}},
                          {.cv = 5, .return_train_score = true, .verbose = 2});
  search.fit(client, data.X, data.y);
  std::printf("best_params_ = {%s}, best_score_ = %.3f, best_index_ = %lld\n", ml::describe(search.best_params_).c_str(),
              search.best_score_, static_cast<long long>(search.best_index_));
  EXPECT(search.cv_results_.size() == 5 && search.n_splits_ == 5);
  EXPECT(search.cv_results_["rank_test_score"][static_cast<std::size_t>(search.best_index_)] == 1);
  EXPECT(search.score(client, data.X, data.y) > 0.7);
  EXPECT(search.predict(data.X).compute(client).size() == 1000);
  search.cv_results_.to_csv((dir / "cv_results.csv").string());   // pandas.read_csv
  search.cv_results_.to_json((dir / "cv_results.json").string()); // pandas.read_json
  EXPECT(search.cv_results_.param("C").front()->number() == 0.001);

  // A pipeline: candidates that share the scaler's parameters share its fit on each fold.
  auto pipeline = ml::make_pipeline(ml::StandardScaler(), ml::LogisticRegression());
  EXPECT(pipeline.get_params().count("logisticregression__C") == 1);
  ml::GridSearchCV piped(pipeline, {{"logisticregression__C", {0.01, 1.0}}, {"logisticregression__penalty", {"l1", "l2"}}},
                         {.cv = ml::StratifiedKFold{.n_splits = 3, .shuffle = true, .random_state = 0},
                          .scoring = {"roc_auc", "accuracy"}});
  piped.fit(client, data.X, data.y);
  EXPECT(piped.best_estimator_ && piped.best_estimator_->estimator_name() == "Pipeline");
  EXPECT(piped.cv_results_.values.count("mean_test_roc_auc") == 1);

  // Random search with scipy.stats-like distributions, drawn as scikit-learn draws them.
  ml::RandomizedSearchCV random(ml::LinearSVC(), {{"C", ml::LogUniform{0.01, 10.0}}}, 4, 0,
                                {.cv = ml::ShuffleSplit{.n_splits = 3, .test_size = 0.25, .random_state = 1}});
  random.fit(client, data.X, data.y);
  EXPECT(random.candidates().size() == 4);
  auto several = ml::GridSearchCV::from_grids(ml::SVC(), {{{"kernel", {"linear"}}}, {{"kernel", {"rbf"}}, {"C", {1.0, 2.0}}}});
  EXPECT(several.candidates().size() == 3);
  auto sampled = ml::RandomizedSearchCV::from_distributions(ml::SVC(), {{{"C", ml::Uniform{0.5, 2.0}}}}, 2, 3);
  EXPECT(sampled.candidates().size() == 2);

  // Cross-validation of one estimator, and a checkpoint a rerun resumes from.
  const std::string checkpoint = (dir / "cv.ckpt").string();
  auto scores = ml::cross_val_score(client, ml::SVC(), data.X, data.y, {.cv = 5, .checkpoint = checkpoint});
  auto again = ml::cross_validate(client, ml::SVC(), data.X, data.y, {.cv = 5, .checkpoint = checkpoint});
  EXPECT(scores.size() == 5 && again.at("test_score") == scores && again.at("fit_time").size() == 5);

  // Splitters and parameter spaces on their own, with scikit-learn's folds and candidates.
  auto folds = ml::split(ml::KFold{.n_splits = 4, .shuffle = true, .random_state = 42}, 10);
  EXPECT(folds.size() == 4 && folds[0].test.size() == 3);
  auto stratified = ml::split(ml::StratifiedShuffleSplit{.n_splits = 2, .test_size = 0.5, .random_state = 0}, 6,
                              {0, 0, 0, 1, 1, 1});
  EXPECT(stratified.size() == 2 && stratified[0].test.size() == 3);
  EXPECT(ml::parameter_grid({{{"a", {1, 2}}, {"b", {"x", "y", "z"}}}}).size() == 6);
  EXPECT(ml::parameter_sampler({{{"C", ml::RandInt{1, 10}}}}, 3, 0).size() == 3);

  // SVMs on their own: fit on a worker, predict blockwise, save and load.
  ml::LinearSVC linear({.C = 0.5});
  linear.fit(client, data.X, data.y);
  EXPECT(linear.coef_.size() == 4 && linear.score(client, data.X, data.y) > 0.7);
  svc.fit(client, data.X, data.y);
  EXPECT(svc.support_vectors_.rows() > 0 && svc.decision_function(data.X).compute(client).size() == 1000);
  svc.save((dir / "svc.json").string());
  ml::SVC loaded = ml::SVC::load((dir / "svc.json").string());
  EXPECT(loaded.predict(data.X).compute(client).size() == 1000);
  ml::SVC probable({.probability = true});
  probable.fit(client, data.X, data.y);
  EXPECT(probable.predict_proba(data.X).compute(client).cols() == 2);
  linear.save((dir / "linear_svc.json").string());
  EXPECT(ml::LinearSVC::load((dir / "linear_svc.json").string()).coef_.size() == 4);
  fs::remove_all(dir);
  std::printf("model_selection_tour: ok\n");
  return 0;
}
