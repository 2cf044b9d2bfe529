// dtask-bench-glm: the dtask side of bench/glm.sh, in two subcommands that
// the script runs around scikit-learn:
//   prepare  make_classification on the workers -> X.npy (float64) and y.npy (float64)
//   fit      Array::from_npy(...).persist() for X and y, then
//            LogisticRegression(l2, C, lbfgs, tol, max_iter).fit(), timing fit()
//            only, best of --repeats; the best model saved as JSON (--model)
// Both connect to a running cluster (--scheduler) or start a LocalCluster.
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/linear_model.h>

#include "bench/bench_client.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <limits>
#include <string>

namespace {

using dtask::bench::Clock;
using dtask::bench::persisted;
using dtask::bench::seconds_since;

int run_prepare(dtask::Client& client, const std::string& dir, std::int64_t rows, std::int64_t features,
                std::int64_t informative, std::int64_t chunk_rows) {
  auto start = Clock::now();
  auto data = dtask::datasets::make_classification({.n_samples = rows,
                                                    .n_features = features,
                                                    .n_informative = informative,
                                                    .random_state = 0,
                                                    .chunk_rows = chunk_rows});
  data.X.to_npy(client, dir + "/X.npy");
  data.y.astype(dtask::DType::kFloat64).to_npy(client, dir + "/y.npy");
  std::printf("prepare: make_classification(n_samples=%lld, n_features=%lld, n_informative=%lld, random_state=0) "
              "-> %s/X.npy (%.0f MB), y.npy in %.2f s\n",
              static_cast<long long>(rows), static_cast<long long>(features), static_cast<long long>(informative),
              dir.c_str(), static_cast<double>(data.X.nbytes()) / 1e6, seconds_since(start));
  return 0;
}

int run_fit(dtask::Client& client, const std::string& dir, double C, double tol, int max_iter, int repeats,
            std::int64_t chunk_rows, const std::string& model_path) {
  auto start = Clock::now();
  dtask::Array X = persisted(client, dtask::Array::from_npy(dir + "/X.npy", chunk_rows));
  dtask::Array y = persisted(client, dtask::Array::from_npy(dir + "/y.npy", chunk_rows));
  std::printf("dtask: persisted %s and y in %.2f s\n", X.describe().c_str(), seconds_since(start));
  double best = std::numeric_limits<double>::infinity();
  for (int r = 1; r <= repeats; ++r) {
    int evaluations = 0;
    dtask::ml::LogisticRegression model(
        {.penalty = "l2", .C = C, .solver = "lbfgs", .max_iter = max_iter, .tol = tol,
         .on_iteration = [&](const dtask::ml::GlmIteration&) { ++evaluations; }});
    auto t0 = Clock::now();
    model.fit(client, X, y);
    double seconds = seconds_since(t0);
    std::printf("dtask: fit %d/%d: %.3f s, n_iter=%d, converged=%d, max |gradient| %.3g\n", r, repeats, seconds,
                model.n_iter_, model.converged_ ? 1 : 0, model.grad_norm_);
    std::fflush(stdout);
    if (seconds < best) {
      best = seconds;
      model.save(model_path);
      std::printf("dtask_n_iter=%d\n", model.n_iter_);
    }
  }
  std::printf("dtask_fit_s=%.6f\n", best);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-glm: the dtask side of bench/glm.sh (LogisticRegression vs scikit-learn)"};
  app.require_subcommand(1);
  std::string scheduler, dir;
  unsigned workers = 2;
  std::int64_t chunk_rows = 62500;
  auto* prepare = app.add_subcommand("prepare", "make_classification -> DIR/X.npy, DIR/y.npy");
  std::int64_t rows = 1'000'000, features = 100, informative = 10;
  prepare->add_option("--rows", rows, "n_samples")->capture_default_str();
  prepare->add_option("--features", features, "n_features")->capture_default_str();
  prepare->add_option("--informative", informative, "n_informative")->capture_default_str();
  auto* fit = app.add_subcommand("fit", "persist X.npy, y.npy and time LogisticRegression.fit");
  double C = 1.0, tol = 1e-4;
  int max_iter = 100, repeats = 3;
  std::string model_path;
  fit->add_option("--C", C, "Inverse regularisation strength")->capture_default_str();
  fit->add_option("--tol", tol, "Stopping tolerance (scikit-learn's lbfgs gtol)")->capture_default_str();
  fit->add_option("--max-iter", max_iter, "Iterations at most")->capture_default_str();
  fit->add_option("--repeats", repeats, "Timed fits (the best is reported)")->capture_default_str();
  fit->add_option("--model", model_path, "Where the best fit's model JSON goes")->required();
  for (auto* sub : {prepare, fit}) {
    sub->add_option("--dir", dir, "Directory of X.npy and y.npy")->required();
    sub->add_option("--scheduler", scheduler, "Scheduler address (default: start a LocalCluster)");
    sub->add_option("--workers", workers, "Workers to wait for (or to start locally)")->capture_default_str();
    sub->add_option("--chunk-rows", chunk_rows, "Rows per chunk")->capture_default_str();
  }
  CLI11_PARSE(app, argc, argv);
  try {
    auto client = dtask::bench::connect("glm", scheduler, workers);
    if (*prepare) return run_prepare(*client, dir, rows, features, informative, chunk_rows);
    return run_fit(*client, dir, C, tol, max_iter, repeats, chunk_rows, model_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glm: %s\n", e.what());
    return 1;
  }
}
