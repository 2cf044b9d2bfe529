// KMeans initialisations: random rows, k-means++ (one pass per center), and
// k-means|| (a few oversampling passes, then a weighted k-means on the small
// candidate set, here on the client).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "client/src/array_internal.h"
#include "client/src/ml/kmeans_passes_internal.h"
#include "dtask/client.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

namespace {

double squared_distance(const double* a, const double* b, std::int64_t d) {
  double total = 0;
  for (std::int64_t j = 0; j < d; ++j) total += (a[j] - b[j]) * (a[j] - b[j]);
  return total;
}

/// Rows of `a` followed by rows of `b` (both float64 [*, d]).
NDArray stack(const NDArray& a, const NDArray& b) {
  NDArray out = NDArray::uninitialized(DType::kFloat64, {a.rows() + b.rows(), a.cols()});
  std::copy(a.data<double>(), a.data<double>() + a.size(), out.mutable_data<double>());
  std::copy(b.data<double>(), b.data<double>() + b.size(), out.mutable_data<double>() + a.size());
  return out;
}

double scalar(const Value& v) {
  if (v.is<NDArray>()) return v.get<NDArray>().data<double>()[0];
  return v.get<double>();
}

double total_cost(Client& client, const Array& X, const NDArray& centers, Device device) {
  return scalar(
      reduce_over_chunks(client, X, device.op(ops::kKMeansCost, ops::kKMeansCostGpu), {Value(centers)}, ops::kReduceCombine, device.resources()));
}

std::int64_t random_row(std::mt19937_64& rng, std::int64_t rows) {
  return std::uniform_int_distribution<std::int64_t>(0, rows - 1)(rng);
}

/// round(log(initial cost)) rounds, as dask-ml, but at most 2, Spark MLlib's
/// default: each round is two passes over the data against ever more
/// candidates (on 6M x 20 blobs, 5 rounds took longer than the whole Lloyd
/// phase), and the greedy weighted k-means++ on the ~1 + 2l candidates
/// recovers the blobs already.
int default_rounds(double phi) {
  return std::clamp(static_cast<int>(std::lround(std::log(std::max(phi, 1.0)))), 1, 2);
}

}  // namespace

NDArray init_random(Client& client, const Array& X, std::int64_t k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> rows;
  while (static_cast<std::int64_t>(rows.size()) < k) {
    std::int64_t row = random_row(rng, X.rows());
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
  }
  return fetch_rows(client, X, rows);
}

NDArray init_kmeans_plus_plus(Client& client, const Array& X, std::int64_t k, std::uint64_t seed, Device device) {
  std::mt19937_64 rng(seed);
  NDArray centers = fetch_rows(client, X, {random_row(rng, X.rows())});
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  while (centers.rows() < k) {
    // Pick a chunk in proportion to its cost, then a row inside it in
    // proportion to its squared distance: exactly k-means++'s D^2 sampling.
    std::vector<double> costs;
    auto chunk_costs = map_over_chunks(
        client, {X}, device.op(ops::kKMeansCost, ops::kKMeansCostGpu), [&](std::int64_t) { return std::vector<Value>{Value(centers)}; },
        device.resources());
    for (const Value& v : chunk_costs) {
      costs.push_back(scalar(v));
    }
    std::discrete_distribution<std::int64_t> by_cost(costs.begin(), costs.end());
    std::int64_t chunk = by_cost(rng);
    Delayed pick = delayed(ops::kKMeansPick)(X.chunk(chunk), Value(centers), unit(rng));
    centers = stack(centers, client.compute<NDArray>(pick).result());
  }
  return centers;
}

NDArray init_scalable(Client& client, const Array& X, const KMeansOptions& options) {
  const std::int64_t k = options.n_clusters;
  const Device device{options.device == "gpu"};
  std::mt19937_64 rng(static_cast<std::uint64_t>(options.random_state));
  NDArray candidates = fetch_rows(client, X, {random_row(rng, X.rows())});
  double phi = total_cost(client, X, candidates, device);
  int rounds = options.init_max_iter > 0 ? options.init_max_iter : default_rounds(phi);
  const double l = options.oversampling_factor * static_cast<double>(k);
  for (int round = 0; round < rounds && phi > 0; ++round) {
    auto samples = map_over_chunks(
        client, {X}, device.op(ops::kKMeansSample, ops::kKMeansSampleGpu),
        [&](std::int64_t chunk) {
          return std::vector<Value>{Value(candidates), l, phi, options.random_state, std::int64_t{round},
                                    X.chunks().offset(chunk)};
        },
        device.resources());
    for (const Value& s : samples) {
      if (s.get<NDArray>().rows() > 0) candidates = stack(candidates, s.get<NDArray>());
    }
    if (options.verbose) {
      std::fprintf(stderr, "KMeans: k-means|| round %d/%d: %lld candidates (cost before it %.6g)\n", round + 1,
                   rounds, static_cast<long long>(candidates.rows()), phi);
    }
    if (round + 1 < rounds) phi = total_cost(client, X, candidates, device);  // the last round's cost is never used
  }
  // Fewer candidates than clusters (tiny or degenerate data): top up with random rows.
  if (candidates.rows() < k) candidates = stack(candidates, init_random(client, X, k - candidates.rows(), rng()));
  Value counts = reduce_over_chunks(client, X, device.op(ops::kKMeansClosestCounts, ops::kKMeansClosestCountsGpu), {Value(candidates)}, ops::kReduceCombine,
                                    device.resources());
  const NDArray& c = counts.get<NDArray>();
  std::vector<double> weights(c.data<double>(), c.data<double>() + c.size());
  return weighted_kmeans(candidates, weights, k, rng());
}

NDArray weighted_kmeans(const NDArray& points, const std::vector<double>& weights, std::int64_t k,
                        std::uint64_t seed) {
  const std::int64_t n = points.rows(), d = points.cols();
  const double* p = points.data<double>();
  std::mt19937_64 rng(seed);
  // Greedy weighted k-means++ seeding, as scikit-learn's: the first center by
  // weight; then, each time, 2 + log(k) draws by weight x D^2, keeping the
  // one that lowers the weighted potential most (plain k-means++ falls into
  // merged-blob minima far more often).
  std::vector<std::int64_t> chosen{std::discrete_distribution<std::int64_t>(weights.begin(), weights.end())(rng)};
  std::vector<double> d2(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) d2[i] = squared_distance(p + i * d, p + chosen[0] * d, d);
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  while (static_cast<std::int64_t>(chosen.size()) < k) {
    std::vector<double> score(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) score[i] = weights[i] * d2[i];
    if (std::all_of(score.begin(), score.end(), [](double v) { return v == 0; })) {
      chosen.push_back(static_cast<std::int64_t>(chosen.size() % n));  // fewer distinct points than k
      continue;
    }
    std::discrete_distribution<std::int64_t> draw(score.begin(), score.end());
    std::int64_t best = -1;
    double best_potential = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      std::int64_t candidate = draw(rng);
      double potential = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        potential += weights[i] * std::min(d2[i], squared_distance(p + i * d, p + candidate * d, d));
      }
      if (potential < best_potential) {
        best_potential = potential;
        best = candidate;
      }
    }
    chosen.push_back(best);
    for (std::int64_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], squared_distance(p + i * d, p + best * d, d));
  }
  std::vector<double> centers(static_cast<std::size_t>(k * d));
  for (std::int64_t j = 0; j < k; ++j) std::copy(p + chosen[j] * d, p + (chosen[j] + 1) * d, centers.begin() + j * d);
  // Weighted Lloyd on the candidates until the assignment settles.
  std::vector<std::int64_t> label(static_cast<std::size_t>(n), -1);
  for (int iteration = 0; iteration < 300; ++iteration) {
    bool changed = false;
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t best = 0;
      double best_d2 = std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < k; ++j) {
        double dist = squared_distance(p + i * d, centers.data() + j * d, d);
        if (dist < best_d2) {
          best_d2 = dist;
          best = j;
        }
      }
      changed = changed || label[i] != best;
      label[i] = best;
    }
    if (!changed) break;
    std::vector<double> sums(static_cast<std::size_t>(k * d), 0.0), mass(static_cast<std::size_t>(k), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < d; ++j) sums[label[i] * d + j] += weights[i] * p[i * d + j];
      mass[label[i]] += weights[i];
    }
    for (std::int64_t j = 0; j < k; ++j) {
      if (mass[j] == 0) continue;  // an empty candidate cluster keeps its seed
      for (std::int64_t c = 0; c < d; ++c) centers[j * d + c] = sums[j * d + c] / mass[j];
    }
  }
  NDArray out = NDArray::uninitialized(DType::kFloat64, {k, d});
  std::copy(centers.begin(), centers.end(), out.mutable_data<double>());
  return out;
}

}  // namespace dtask::ml::internal
