// A client program for search_resume_test: runs one GridSearchCV of SVC on
// DIR/X.npy and DIR/y.npy against a running scheduler, with a checkpoint
// (or "-" for none), writes the scores of cv_results_ as JSON and prints
// "fits_run=N". The test kills it mid-search and runs it again.
//
//   search_resume_client SCHEDULER DIR CHECKPOINT|- OUT.json [other|glm]
//   ("other": a different grid, whose search must refuse the checkpoint;
//   "glm": LogisticRegression over C with cv=3, in 2,000-row
//   chunks, printing where the search ran)
#include <dtask/client.h>
#include <dtask/ml/linear_model.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/svm.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s SCHEDULER DIR CHECKPOINT|- OUT.json [other]\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[2], checkpoint = argv[3], out = argv[4];
    const std::string mode = argc > 5 ? argv[5] : "";
    dtask::Client client(argv[1]);
    const std::int64_t chunk_rows = mode == "glm" ? 2000 : 0;
    auto X = dtask::Array::from_npy(dir + "/X.npy", chunk_rows);
    auto y = dtask::Array::from_npy(dir + "/y.npy", chunk_rows);
    dtask::ml::ParamGrid grid = {{"C", {0.1, 0.3, 1.0, 3.0, 10.0, 30.0}}, {"gamma", {0.01, 0.1}}};
    if (mode == "other") grid["C"] = {0.2};
    dtask::ml::SearchOptions options{.cv = 5, .verbose = 1, .checkpoint = checkpoint == "-" ? "" : checkpoint};
    std::unique_ptr<dtask::ml::GridSearchCV> search;
    if (mode == "glm") {
      options.cv = 3;
      search = std::make_unique<dtask::ml::GridSearchCV>(
          dtask::ml::LogisticRegression({.max_iter = 1000, .tol = 1e-8}),
          dtask::ml::ParamGrid{{"C", {0.01, 1.0}}}, options);
    } else {
      search = std::make_unique<dtask::ml::GridSearchCV>(dtask::ml::SVC(), grid, options);
    }
    search->fit(client, X, y);
    std::printf("execution=%s\n",
                search->execution_ == dtask::ml::SearchExecution::kDistributed ? "distributed" : "in_memory");
    nlohmann::json scores;
    for (const auto& column : search->cv_results_.columns) {
      if (column.find("test_score") != std::string::npos) scores[column] = search->cv_results_[column];
    }
    scores["best_index"] = search->best_index_;
    std::ofstream(out) << scores.dump();
    std::printf("fits_run=%lld\n", static_cast<long long>(search->n_fits_run_));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "search_resume_client: %s\n", e.what());
    return 1;
  }
}
