// dtask-demo: the README's first command. Starts a local cluster whose
// workers have less memory than the data, generates a blob dataset on the
// workers and writes it to a .npy file, then fits KMeans (k-means|| init,
// Lloyd iterations) streaming the file from disk at every pass, with
// progress, and checks that the blobs were recovered. Also shows predict,
// transform, score and save/load of the fitted model.
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ml/kmeans.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "common/byte_size.h"

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// A redrawn bar on a terminal; one line per iteration otherwise (CI logs).
void draw_iteration(const dtask::ml::KMeansIteration& it) {
  static const bool tty = isatty(fileno(stdout));
  int width = 30;
  int filled = static_cast<int>(width * it.iteration / std::max(it.max_iter, 1));
  if (tty) {
    std::printf("\r  Lloyd [%.*s%*s] iteration %d/%d  inertia %.6g  shift %.2e  %.1f s", filled,
                "##############################", width - filled, "", it.iteration, it.max_iter, it.inertia,
                it.center_shift, it.seconds);
    std::fflush(stdout);
  } else {
    std::printf("  iteration %d/%d  inertia %.6g  shift %.2e  %.1f s\n", it.iteration, it.max_iter, it.inertia,
                it.center_shift, it.seconds);
  }
}

/// How well found clusters match the true ones: the fraction of rows whose
/// cluster's majority true label is their own (1.0 when blobs are recovered).
double purity(const dtask::NDArray& found, const dtask::NDArray& truth) {
  std::map<std::int64_t, std::map<std::int64_t, std::int64_t>> votes;
  for (std::int64_t i = 0; i < found.size(); ++i) votes[found.data<std::int64_t>()[i]][truth.data<std::int64_t>()[i]]++;
  std::int64_t agreeing = 0;
  for (auto& [cluster, counts] : votes) {
    std::int64_t best = 0;
    for (auto& [label, count] : counts) best = std::max(best, count);
    agreeing += best;
  }
  return static_cast<double>(agreeing) / static_cast<double>(found.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-demo: KMeans on a generated dataset larger than the cluster's memory, on a local cluster"};
  std::int64_t rows = 6'000'000;
  std::int64_t features = 20;
  std::int64_t centers = 12;
  std::int64_t chunk_rows = 100'000;
  unsigned workers = 2;
  std::string memory_limit = "256MiB";
  int max_iter = 30;
  std::string dir;
  bool keep = false;
  bool verbose = false;
  app.add_option("--rows", rows, "Rows of the dataset")->capture_default_str();
  app.add_option("--features", features, "Columns")->capture_default_str();
  app.add_option("--centers", centers, "Blobs, and clusters to find")->capture_default_str();
  app.add_option("--chunk-rows", chunk_rows, "Rows per chunk")->capture_default_str();
  app.add_option("--workers", workers, "Local workers (one thread each)")->capture_default_str();
  app.add_option("--memory-limit", memory_limit, "Memory limit per worker")->capture_default_str();
  app.add_option("--max-iter", max_iter, "Lloyd iterations at most")->capture_default_str();
  app.add_option("--dir", dir, "Where to write the .npy file (default: a temporary directory)");
  app.add_flag("--keep", keep, "Keep the .npy file and the model");
  app.add_flag("--verbose", verbose, "KMeans prints its initialisation rounds");
  CLI11_PARSE(app, argc, argv);
  auto limit = dtask::parse_byte_size(memory_limit);
  if (!limit.ok()) {
    std::fprintf(stderr, "dtask-demo: --memory-limit: %s\n", limit.status().message().c_str());
    return 2;
  }
  fs::path work = dir.empty() ? fs::temp_directory_path() / ("dtask-demo-" + std::to_string(::getpid())) : fs::path(dir);
  fs::create_directories(work);

  dtask::Client client(dtask::LocalClusterOptions{.n_workers = workers, .threads_per_worker = 1, .memory_limit = *limit,
                                                  .local_directory = work.string()});
  double data_gib = static_cast<double>(rows) * features * 8 / (1 << 30);
  std::printf("local cluster at %s: %u workers x %s (%.2f GiB in all)\n", client.scheduler_address().c_str(), workers,
              memory_limit.c_str(), static_cast<double>(*limit) * workers / (1 << 30));
  auto start = std::chrono::steady_clock::now();

  // 1. The data: blobs generated chunk by chunk on the workers and written to
  //    disk. It is never whole in memory, here or on the workers.
  auto blobs = dtask::datasets::make_blobs({.n_samples = rows, .n_features = features, .centers = centers,
                                            .random_state = 42, .chunk_rows = chunk_rows});
  std::string path = (work / "blobs.npy").string();
  std::printf("writing %lld x %lld float64 blobs (%.2f GiB) to %s ...\n", static_cast<long long>(rows),
              static_cast<long long>(features), data_gib, path.c_str());
  blobs.X.to_npy(client, path);
  std::printf("  written in %.1f s\n", seconds_since(start));

  // 2. KMeans, reading the file from disk at every pass.
  dtask::Array X = dtask::Array::from_npy(path, chunk_rows);
  std::printf("fitting KMeans(n_clusters=%lld, init=k-means||) on %s\n", static_cast<long long>(centers),
              X.describe().c_str());
  auto fit_start = std::chrono::steady_clock::now();
  dtask::ml::KMeans km({.n_clusters = centers, .max_iter = max_iter, .random_state = 0, .verbose = verbose, .on_iteration = draw_iteration});
  km.fit(client, X);
  if (isatty(fileno(stdout))) std::printf("\n");
  double fit_seconds = seconds_since(fit_start);
  std::printf("  fitted in %.1f s: %d Lloyd iterations%s, inertia %.6g\n", fit_seconds, km.n_iter_,
              km.converged_ ? " (converged)" : "", km.inertia_);

  // 3. The fitted model: labels against the truth, distances, score, save/load.
  double agreement = purity(km.labels_.compute(client), blobs.y.compute(client));
  dtask::NDArray distances = km.transform(X.slice_rows(0, 5)).compute(client);
  std::int64_t first_label = km.predict(X.slice_rows(0, 5)).compute(client).data<std::int64_t>()[0];
  std::string model = (work / "kmeans.json").string();
  km.save(model);
  auto loaded = dtask::ml::KMeans::load(model);
  double reloaded_score = loaded.score(client, X);
  std::printf("cluster purity vs. the true blobs: %.4f; row 0 is in cluster %lld at distance %.3f; model saved to "
              "%s (reloaded score %.6g)\n",
              agreement, static_cast<long long>(first_label), distances.data<double>()[first_label], model.c_str(),
              reloaded_score);
  std::printf("done in %.1f s\n", seconds_since(start));
  if (!keep) fs::remove_all(work);
  bool ok = agreement > 0.99 && std::abs(reloaded_score + km.inertia_) <= 1e-9 * km.inertia_;
  if (!ok) std::fprintf(stderr, "dtask-demo: the fitted model does not look right\n");
  return ok ? 0 : 1;
}
