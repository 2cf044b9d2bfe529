// dtask-bench-grid-search: the dtask side of bench/grid_search.sh, in two
// subcommands, each on the files and grid.json that
// `sklearn_grid_search.py prepare` wrote:
//   logreg  GridSearchCV(LogisticRegression(tol, max_iter, solver "auto":
//           lbfgs for l2, proximal_grad for l1), {"C": grid.json's logreg_C,
//           "penalty": ["l1", "l2"]}, {.cv = 5, .refit = false}) on X.npy, y.npy
//   svc     GridSearchCV(SVC(gamma "auto"), {"C": grid.json's svc_C},
//           {.cv = 5, .refit = false}) on svc_X.npy, svc_y.npy
// X and y are loaded with Array::from_npy and persisted first; fit() alone
// is timed. Each prints dtask_s=<seconds> and dtask_best=<JSON of
// best_params_>, and --results writes [{"params", "mean_test_score"}] JSON.
// Both connect to a running cluster (--scheduler) or start a LocalCluster.
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/ml/linear_model.h>
#include <dtask/ml/model_selection.h>
#include <dtask/ml/svm.h>

#include "bench/bench_client.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using dtask::bench::Clock;
using dtask::bench::persisted;
using dtask::bench::seconds_since;
using nlohmann::json;

json to_json(const dtask::ml::Params& params) {
  json out = json::object();
  for (const auto& [name, value] : params) {
    std::visit([&](const auto& v) { out[name] = v; }, value.variant());
  }
  return out;
}

std::vector<dtask::ml::ParamValue> grid_values(const std::string& dir, const char* key) {
  std::ifstream in(dir + "/grid.json");
  if (!in) throw std::runtime_error("cannot read " + dir + "/grid.json (run sklearn_grid_search.py prepare)");
  json grids = json::parse(in);  // named: a range-for over parse(in).at(key) would dangle
  std::vector<dtask::ml::ParamValue> values;
  for (double c : grids.at(key)) values.emplace_back(c);
  return values;
}

int run_search(const char* what, dtask::Client& client, const dtask::ml::Estimator& estimator,
               const dtask::ml::ParamGrid& grid, const std::string& dir, const std::string& prefix,
               std::int64_t chunk_rows, const std::string& results_path) {
  auto start = Clock::now();
  dtask::Array X = persisted(client, dtask::Array::from_npy(dir + "/" + prefix + "X.npy", chunk_rows));
  dtask::Array y = persisted(client, dtask::Array::from_npy(dir + "/" + prefix + "y.npy", chunk_rows));
  std::printf("dtask: persisted %s and y in %.2f s\n", X.describe().c_str(), seconds_since(start));
  std::fflush(stdout);

  dtask::ml::GridSearchCV search(estimator, grid, {.cv = 5, .refit = false});
  auto t0 = Clock::now();
  search.fit(client, X, y);
  double seconds = seconds_since(t0);

  const auto& res = search.cv_results_;
  const auto& mean_test = res["mean_test_score"];
  const auto& fit_time = res["mean_fit_time"];
  double mean_fit = 0;
  for (double t : fit_time) mean_fit += t / static_cast<double>(fit_time.size());
  if (!results_path.empty()) {
    json records = json::array();
    for (std::size_t i = 0; i < res.size(); ++i) {
      records.push_back({{"params", to_json(res.params[i])}, {"mean_test_score", mean_test[i]}, {"mean_fit_time", fit_time[i]}});
    }
    std::ofstream(results_path) << records.dump() << "\n";
  }
  std::printf("dtask: %s: %zu candidates x %lld folds in %.3f s (%lld fits run); best %s mean_test_score %.6f; "
              "mean fit time %.3f s\n",
              what, res.size(), static_cast<long long>(search.n_splits_), seconds,
              static_cast<long long>(search.n_fits_run_), dtask::ml::describe(search.best_params_).c_str(),
              search.best_score_, mean_fit);
  std::printf("dtask_s=%.6f\n", seconds);
  std::printf("dtask_best=%s\n", to_json(search.best_params_).dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-grid-search: the dtask side of bench/grid_search.sh (GridSearchCV vs scikit-learn)"};
  app.require_subcommand(1);
  std::string scheduler, dir, results_path;
  unsigned workers = 2;
  std::int64_t chunk_rows = 0;
  double tol = 1e-4;
  int max_iter = 100;
  auto* logreg = app.add_subcommand("logreg", "GridSearchCV(LogisticRegression) over C x penalty");
  logreg->add_option("--tol", tol, "LogisticRegression's tol")->capture_default_str();
  logreg->add_option("--max-iter", max_iter, "LogisticRegression's max_iter")->capture_default_str();
  auto* svc = app.add_subcommand("svc", "GridSearchCV(SVC(gamma=auto)) over C");
  for (auto* sub : {logreg, svc}) {
    sub->add_option("--dir", dir, "Directory of the .npy files and grid.json")->required();
    sub->add_option("--scheduler", scheduler, "Scheduler address (default: start a LocalCluster)");
    sub->add_option("--workers", workers, "Workers to wait for (or to start locally)")->capture_default_str();
    sub->add_option("--chunk-rows", chunk_rows, "Rows per chunk (0: about 128 MiB)")->capture_default_str();
    sub->add_option("--results", results_path, "Where [{params, mean_test_score}] goes (JSON)");
  }
  CLI11_PARSE(app, argc, argv);
  try {
    auto client = dtask::bench::connect("grid_search", scheduler, workers);
    if (*logreg) {
      dtask::ml::LogisticRegression estimator({.solver = "auto", .max_iter = max_iter, .tol = tol});
      dtask::ml::ParamGrid grid{{"C", grid_values(dir, "logreg_C")}, {"penalty", {"l1", "l2"}}};
      return run_search("LogisticRegression", *client, estimator, grid, dir, "", chunk_rows, results_path);
    }
    dtask::ml::SVC estimator({.gamma = "auto"});
    dtask::ml::ParamGrid grid{{"C", grid_values(dir, "svc_C")}};
    return run_search("SVC", *client, estimator, grid, dir, "svc_", chunk_rows, results_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grid_search: %s\n", e.what());
    return 1;
  }
}
