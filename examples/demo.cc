// dtask-demo: the README's first command. Starts a local cluster, generates
// a random array chunk by chunk on the workers (never whole in memory), and
// reduces it to its mean and standard deviation with a tree of tasks, showing
// progress as chunks finish.
#include <dtask/client.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include <unistd.h>

#include "worker/op_registry.h"

namespace {

/// Ops this program adds to its in-process workers.
void register_demo_ops(dtask::OpRegistry& registry) {
  // A chunk of standard normal numbers, reproducible from its seed.
  (void)registry.add_function("demo.random_chunk", [](std::int64_t seed, std::int64_t rows, std::int64_t cols) {
    dtask::NDArray chunk = dtask::NDArray::zeros(dtask::DType::kFloat64, {rows, cols});
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::normal_distribution<double> normal;
    double* x = chunk.mutable_data<double>();
    for (std::int64_t i = 0; i < rows * cols; ++i) x[i] = normal(rng);
    return chunk;
  });
  // [count, sum, sum of squares] of a chunk: all a mean and std need.
  (void)registry.add_function("demo.moments", [](const dtask::NDArray& chunk) {
    double sum = 0, squares = 0;
    for (std::int64_t i = 0; i < chunk.size(); ++i) {
      double v = chunk.data<double>()[i];
      sum += v;
      squares += v * v;
    }
    return dtask::ValueList{dtask::Value(static_cast<double>(chunk.size())), dtask::Value(sum), dtask::Value(squares)};
  });
  // Adds moment triples: the combine step of the tree reduction.
  (void)registry.add("demo.combine", [](const std::vector<dtask::Value>& parts) {
    double total[3] = {0, 0, 0};
    for (const dtask::Value& part : parts) {
      const auto& list = part.get<dtask::ValueList>();
      for (int i = 0; i < 3; ++i) total[i] += list.at(i).get<double>();
    }
    return dtask::Value(dtask::ValueList{total[0], total[1], total[2]});
  });
}

/// A redrawn bar on a terminal; a line per 10% when piped to a file or CI log.
void draw_progress(std::size_t done, std::size_t total, double seconds) {
  static const bool tty = isatty(fileno(stdout));
  if (!tty) {
    if (done == total || done % std::max<std::size_t>(total / 10, 1) == 0) {
      std::printf("%zu/%zu chunks, %.1f s\n", done, total, seconds);
    }
    return;
  }
  int width = 40;
  int filled = static_cast<int>(width * done / std::max<std::size_t>(total, 1));
  std::printf("\r[%.*s%*s] %zu/%zu chunks, %.1f s", filled, "########################################", width - filled,
              "", done, total, seconds);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-demo: mean and std of a generated chunked array on a local cluster"};
  int chunks = 200;
  std::int64_t chunk_rows = 100000;
  std::int64_t cols = 10;
  unsigned workers = 0;
  unsigned threads = 1;
  int split_every = 8;
  app.add_option("--chunks", chunks, "Number of chunks")->capture_default_str();
  app.add_option("--chunk-rows", chunk_rows, "Rows per chunk")->capture_default_str();
  app.add_option("--cols", cols, "Columns")->capture_default_str();
  app.add_option("--workers", workers, "Local workers (0: one per core)")->capture_default_str();
  app.add_option("--threads", threads, "Threads per worker")->capture_default_str();
  app.add_option("--split-every", split_every, "Fan-in of the reduction tree")->check(CLI::Range(2, 1000));
  CLI11_PARSE(app, argc, argv);

  dtask::LocalClusterOptions cluster{.n_workers = workers, .threads_per_worker = threads};
  cluster.register_ops = register_demo_ops;
  dtask::Client client(cluster);
  double gib = static_cast<double>(chunks) * chunk_rows * cols * 8 / (1 << 30);
  std::printf("local cluster at %s with %zu workers\n", client.scheduler_address().c_str(),
              client.cluster()->worker_names().size());
  std::printf("array: %lld x %lld float64 in %d chunks (%.2f GiB, generated on the workers)\n",
              static_cast<long long>(chunks * chunk_rows), static_cast<long long>(cols), chunks, gib);

  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  // One graph per chunk: generate, then reduce to moments. Only the moments
  // (three numbers) stay in memory; each chunk is freed once reduced.
  std::vector<dtask::Delayed> moments;
  for (int i = 0; i < chunks; ++i) {
    moments.push_back(dtask::delayed("demo.moments")(dtask::delayed("demo.random_chunk")(i, chunk_rows, cols)));
  }
  std::vector<dtask::FutureBase> futures = client.compute(moments);
  std::vector<dtask::Future<dtask::Value>> typed(futures.begin(), futures.end());
  std::size_t done = 0;
  for (const auto& f : dtask::as_completed(client, typed)) {
    if (!f.wait().ok()) {
      std::fprintf(stderr, "\nchunk failed: %s\n", f.wait().message().c_str());
      return 1;
    }
    draw_progress(++done, futures.size(), elapsed());
  }
  if (isatty(fileno(stdout))) std::printf("\n");

  // Tree reduction of the moments: split_every at a time until one is left.
  std::vector<dtask::TaskArg> level(futures.begin(), futures.end());
  std::vector<dtask::Delayed> nodes;
  while (level.size() > 1 || nodes.empty()) {
    std::vector<dtask::TaskArg> next;
    for (std::size_t i = 0; i < level.size(); i += split_every) {
      std::vector<dtask::TaskArg> group(level.begin() + i, level.begin() + std::min(level.size(), i + split_every));
      nodes.push_back(dtask::DelayedOp("demo.combine").make(group));
      next.emplace_back(nodes.back());
    }
    level = std::move(next);
    if (level.size() == 1) break;
  }
  auto total = client.compute(nodes.back()).result().get<dtask::ValueList>();
  double n = total[0].get<double>(), sum = total[1].get<double>(), squares = total[2].get<double>();
  double mean = sum / n;
  double stddev = std::sqrt(squares / n - mean * mean);
  std::printf("mean = %.6f (expect ~0), std = %.6f (expect ~1) over %.0f numbers in %.2f s (%.2f GiB/s)\n", mean,
              stddev, n, elapsed(), gib / elapsed());
  bool plausible = std::abs(mean) < 0.05 && std::abs(stddev - 1) < 0.05;
  return plausible ? 0 : 1;
}
