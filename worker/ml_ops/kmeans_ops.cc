// KMeans on row chunks. Distances use ||x||^2 - 2 x.c + ||c||^2 with the
// cross terms from a register-tiled kernel (nearest_center_kernel.h), so a
// Lloyd pass costs about 2 n d k flops plus one read of the chunk.
//   kmeans_partial(X, C)          -> [sums k x d, counts k, inertia, far_points m x d, far_dist m, far_label m]
//   kmeans_combine([partials])    -> the same, summed (the far points: the m farthest overall)
//   kmeans_predict(X, C)          -> int64 labels
//   kmeans_transform(X, C)        -> float64 distances n x k
//   kmeans_cost(X, C)             -> 0-d float64: sum of squared distances to the closest center
//   kmeans_sample(X, C, l, phi, seed, round, row_offset) -> rows picked with probability min(1, l d^2 / phi)
//   kmeans_closest_counts(X, C)   -> float64 [|C|]: how many rows each center is closest to
//   kmeans_pick(X, C, u)          -> the row k-means++ picks in this chunk for uniform u
// kmeans_partial, _cost, _sample and _closest_counts also come as "<op>_gpu"
// (worker/cuda/). NaN or infinite input is an error naming the row.
#include <algorithm>
#include <cmath>
#include <limits>

#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"
#include "worker/array_ops/row_rng_internal.h"
#include "worker/cuda/kmeans_assign.h"
#include "worker/ml_ops/ml_ops.h"
#include "worker/ml_ops/nearest_center_kernel.h"

namespace dtask::ml_ops {

namespace {

using array_ops::arg;
using array_ops::as_array;
using array_ops::cast;
using array_ops::expect_arity;

constexpr std::int64_t kBlockRows = 2048;  // rows per kernel call: labels and distances stay in cache
constexpr std::uint64_t kSampleStream = 11;

struct Points {
  NDArray data;  // float64 [n, d]
  std::int64_t n = 0, d = 0;
};

Points points(const NDArray& x, const char* op) {
  if (x.shape.size() != 2) throw std::invalid_argument(std::string(op) + ": X must be 2-d, got " + x.describe());
  NDArray data = cast(x, DType::kFloat64);
  return {data, data.rows(), data.cols()};
}

NDArray centers_of(const NDArray& c, std::int64_t d, const char* op) {
  if (c.shape.size() != 2 || c.cols() != d || c.rows() < 1) {
    throw std::invalid_argument(std::string(op) + ": centers " + c.describe() + " do not match " + std::to_string(d) +
                                " features");
  }
  return cast(c, DType::kFloat64);
}

void throw_non_finite(std::int64_t row) {
  throw std::invalid_argument("X contains NaN or infinity in row " + std::to_string(row) + " of this chunk");
}

/// Calls visit(first_row, rows, labels, best_squared_distances) for each block
/// of at most kBlockRows rows (nearest_center_kernel.h). Throws on a
/// non-finite row.
template <typename VisitBlock>
void for_each_cpu_block(const Points& x, const NDArray& centers, VisitBlock visit) {
  CenterPanel panel(centers.data<double>(), centers.rows(), x.d);
  const std::int64_t block = std::min(kBlockRows, std::max<std::int64_t>(x.n, 1));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(block));
  std::vector<double> d2(static_cast<std::size_t>(block));
  const double* data = x.data.data<double>();
  for (std::int64_t begin = 0; begin < x.n; begin += kBlockRows) {
    std::int64_t rows = std::min(kBlockRows, x.n - begin);
    std::int64_t bad = nearest_centers(panel, data + begin * x.d, rows, labels.data(), d2.data(), nullptr);
    if (bad >= 0) throw_non_finite(begin + bad);
    visit(begin, rows, labels.data(), d2.data());
  }
}

/// Calls visit(first_row, rows, labels, best_squared_distances) for blocks of
/// rows covering the chunk: on the GPU when `gpu` (the ops' "_gpu" variants,
/// placed on workers with a GPU resource) in one block, else with the CPU
/// kernel block by block. Throws on a non-finite row.
template <typename VisitBlock>
void for_each_nearest_block(const Points& x, const NDArray& centers, bool gpu, VisitBlock visit) {
  if (!gpu) {
    for_each_cpu_block(x, centers, visit);
    return;
  }
  std::vector<std::int64_t> labels(static_cast<std::size_t>(x.n));
  std::vector<double> d2(static_cast<std::size_t>(x.n));
  std::string error = cuda::assign_nearest(x.data.data<double>(), x.n, x.d, centers.data<double>(), centers.rows(),
                                           labels.data(), d2.data());
  if (!error.empty()) throw std::runtime_error("GPU nearest-center step failed: " + error);
  for (std::int64_t r = 0; r < x.n; ++r) {
    if (!std::isfinite(d2[static_cast<std::size_t>(r)])) throw_non_finite(r);
  }
  visit(0, x.n, labels.data(), d2.data());
}

/// Calls visit(row, best_center, best_squared_distance) for every row.
template <typename Visit>
void for_each_nearest(const Points& x, const NDArray& centers, bool gpu, Visit visit) {
  for_each_nearest_block(x, centers, gpu,
                         [&](std::int64_t begin, std::int64_t rows, const std::int64_t* labels, const double* d2) {
                           for (std::int64_t r = 0; r < rows; ++r) visit(begin + r, labels[r], d2[r]);
                         });
}

/// Row `row` of x into row `to` of `out` (float64 [*, x.d]).
void copy_row(const Points& x, std::int64_t row, NDArray& out, std::int64_t to) {
  const double* from = x.data.data<double>() + row * x.d;
  std::copy(from, from + x.d, out.mutable_data<double>() + to * x.d);
}

/// The m rows farthest from their centers, kept as a small min-heap by distance.
struct Farthest {
  struct Entry {
    double distance;
    std::int64_t row, label;
    bool operator>(const Entry& other) const { return distance > other.distance; }
  };
  std::int64_t m;
  std::vector<Entry> heap;
  void offer(double distance, std::int64_t row, std::int64_t label) {
    auto cmp = std::greater<>();
    if (static_cast<std::int64_t>(heap.size()) < m) {
      heap.push_back({distance, row, label});
      std::push_heap(heap.begin(), heap.end(), cmp);
    } else if (m > 0 && distance > heap.front().distance) {
      std::pop_heap(heap.begin(), heap.end(), cmp);
      heap.back() = {distance, row, label};
      std::push_heap(heap.begin(), heap.end(), cmp);
    }
  }
};

Value partial(const NDArray& x_in, const NDArray& c_in, bool gpu) {
  Points x = points(x_in, "kmeans_partial");
  NDArray centers = centers_of(c_in, x.d, "kmeans_partial");
  const std::int64_t k = centers.rows();
  NDArray sums = NDArray::zeros(DType::kFloat64, {k, x.d});
  NDArray counts = NDArray::zeros(DType::kFloat64, {k});
  double inertia = 0;
  Farthest far{std::min(k, x.n), {}};
  const double* data = x.data.data<double>();
  for_each_nearest_block(x, centers, gpu,
                         [&](std::int64_t begin, std::int64_t rows, const std::int64_t* labels, const double* d2) {
                           add_rows_by_label(data + begin * x.d, rows, x.d, labels, sums.mutable_data<double>(),
                                             counts.mutable_data<double>());
                           for (std::int64_t r = 0; r < rows; ++r) {
                             inertia += d2[r];
                             far.offer(d2[r], begin + r, labels[r]);
                           }
                         });
  std::sort(far.heap.begin(), far.heap.end(), std::greater<>());
  std::int64_t m = static_cast<std::int64_t>(far.heap.size());
  NDArray far_points = NDArray::uninitialized(DType::kFloat64, {m, x.d});
  NDArray far_dist = NDArray::uninitialized(DType::kFloat64, {m});
  NDArray far_label = NDArray::uninitialized(DType::kInt64, {m});
  for (std::int64_t i = 0; i < m; ++i) {
    const Farthest::Entry& e = far.heap[static_cast<std::size_t>(i)];
    copy_row(x, e.row, far_points, i);
    far_dist.mutable_data<double>()[i] = e.distance;
    far_label.mutable_data<std::int64_t>()[i] = e.label;
  }
  return ValueList{sums, counts, inertia, far_points, far_dist, far_label};
}

const NDArray& part(const ValueList& list, std::size_t i) { return as_array(list.at(i)); }

/// total += other, elementwise (both float64 of the same size).
void add_to(NDArray& total, const NDArray& other) {
  double* t = total.mutable_data<double>();
  const double* o = other.data<double>();
  for (std::int64_t i = 0; i < total.size(); ++i) t[i] += o[i];
}

Value combine(const ValueList& partials) {
  if (partials.empty()) throw std::invalid_argument("kmeans_combine: no partials");
  const ValueList& first = partials.front().get<ValueList>();
  NDArray sums = NDArray::zeros(DType::kFloat64, part(first, 0).shape);
  NDArray counts = NDArray::zeros(DType::kFloat64, part(first, 1).shape);
  const std::int64_t k = counts.size(), d = sums.cols();
  double inertia = 0;
  std::vector<std::tuple<double, const double*, std::int64_t>> far;  // (distance, point, label)
  for (const Value& value : partials) {
    const ValueList& p = value.get<ValueList>();
    if (part(p, 0).shape != sums.shape) throw std::invalid_argument("kmeans_combine: partials of different shapes");
    add_to(sums, part(p, 0));
    add_to(counts, part(p, 1));
    inertia += array_ops::number(p.at(2));
    const NDArray& points = part(p, 3);
    for (std::int64_t i = 0; i < points.rows(); ++i) {
      far.emplace_back(part(p, 4).data<double>()[i], points.data<double>() + i * d, part(p, 5).data<std::int64_t>()[i]);
    }
  }
  std::int64_t m = std::min<std::int64_t>(k, static_cast<std::int64_t>(far.size()));
  std::partial_sort(far.begin(), far.begin() + m, far.end(),
                    [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  NDArray far_points = NDArray::uninitialized(DType::kFloat64, {m, d});
  NDArray far_dist = NDArray::uninitialized(DType::kFloat64, {m});
  NDArray far_label = NDArray::uninitialized(DType::kInt64, {m});
  for (std::int64_t i = 0; i < m; ++i) {
    auto& [distance, point, label] = far[static_cast<std::size_t>(i)];
    std::copy(point, point + d, far_points.mutable_data<double>() + i * d);
    far_dist.mutable_data<double>()[i] = distance;
    far_label.mutable_data<std::int64_t>()[i] = label;
  }
  return ValueList{sums, counts, inertia, far_points, far_dist, far_label};
}

NDArray predict(const NDArray& x_in, const NDArray& c_in) {
  Points x = points(x_in, "kmeans_predict");
  NDArray centers = centers_of(c_in, x.d, "kmeans_predict");
  NDArray labels = NDArray::uninitialized(DType::kInt64, {x.n});
  for_each_nearest(x, centers, false, [&](std::int64_t row, std::int64_t best, double) {
    labels.mutable_data<std::int64_t>()[row] = best;
  });
  return labels;
}

NDArray transform(const NDArray& x_in, const NDArray& c_in) {
  Points x = points(x_in, "kmeans_transform");
  NDArray centers = centers_of(c_in, x.d, "kmeans_transform");
  NDArray out = NDArray::uninitialized(DType::kFloat64, {x.n, centers.rows()});
  std::vector<std::int64_t> labels(static_cast<std::size_t>(x.n));
  std::vector<double> best(static_cast<std::size_t>(x.n));
  double* distances = out.mutable_data<double>();
  CenterPanel panel(centers.data<double>(), centers.rows(), x.d);
  std::int64_t bad = nearest_centers(panel, x.data.data<double>(), x.n, labels.data(), best.data(), distances);
  if (bad >= 0) throw_non_finite(bad);
  for (std::int64_t i = 0; i < out.size(); ++i) distances[i] = std::sqrt(distances[i]);
  return out;
}

NDArray cost(const NDArray& x_in, const NDArray& c_in, bool gpu) {
  Points x = points(x_in, "kmeans_cost");
  NDArray centers = centers_of(c_in, x.d, "kmeans_cost");
  double total = 0;
  for_each_nearest(x, centers, gpu, [&](std::int64_t, std::int64_t, double d2) { total += d2; });
  NDArray out = NDArray::uninitialized(DType::kFloat64, {});
  out.mutable_data<double>()[0] = total;
  return out;
}

/// k-means|| oversampling: each row is kept with probability min(1, l d^2 / phi),
/// drawn from its own (seed, round, row) stream so the sample does not
/// depend on the chunking.
NDArray sample(const NDArray& x_in, const NDArray& c_in, double l, double phi, std::int64_t seed, std::int64_t round,
               std::int64_t row_offset, bool gpu) {
  Points x = points(x_in, "kmeans_sample");
  NDArray centers = centers_of(c_in, x.d, "kmeans_sample");
  std::vector<std::int64_t> picked;
  for_each_nearest(x, centers, gpu, [&](std::int64_t row, std::int64_t, double d2) {
    array_ops::RowRng rng(seed, kSampleStream + (static_cast<std::uint64_t>(round) << 8), row_offset + row);
    double p = phi > 0 ? l * d2 / phi : 1.0;
    if (rng.uniform() < p) picked.push_back(row);
  });
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(picked.size()), x.d});
  for (std::size_t i = 0; i < picked.size(); ++i) copy_row(x, picked[i], out, static_cast<std::int64_t>(i));
  return out;
}

NDArray closest_counts(const NDArray& x_in, const NDArray& c_in, bool gpu) {
  Points x = points(x_in, "kmeans_closest_counts");
  NDArray centers = centers_of(c_in, x.d, "kmeans_closest_counts");
  NDArray counts = NDArray::zeros(DType::kFloat64, {centers.rows()});
  for_each_nearest(x, centers, gpu, [&](std::int64_t, std::int64_t best, double) {
    counts.mutable_data<double>()[best] += 1;
  });
  return counts;
}

/// k-means++ within one chunk: the row at which the running sum of squared
/// distances passes u x their total (u uniform in [0, 1)).
NDArray pick(const NDArray& x_in, const NDArray& c_in, double u) {
  Points x = points(x_in, "kmeans_pick");
  NDArray centers = centers_of(c_in, x.d, "kmeans_pick");
  std::vector<double> d2(static_cast<std::size_t>(x.n));
  double total = 0;
  for_each_nearest(x, centers, false, [&](std::int64_t row, std::int64_t, double distance) {
    d2[static_cast<std::size_t>(row)] = distance;
    total += distance;
  });
  std::int64_t chosen = x.n - 1;
  double running = 0;
  for (std::int64_t r = 0; r < x.n; ++r) {
    running += d2[static_cast<std::size_t>(r)];
    if (running > u * total) {
      chosen = r;
      break;
    }
  }
  return array_ops::copy_block(x.data, chosen, chosen + 1, 0, x.d);
}

}  // namespace

void register_kmeans_ops(OpRegistry& registry) {
  using array_ops::must_register;
  // Each distance-step op also comes as "<op>_gpu", run by CUDA (a clear
  // error in a build without it); the client picks it with KMeansOptions::device.
  for (bool gpu : {false, true}) {
    must_register(registry.add(gpu ? ops::kKMeansPartialGpu : ops::kKMeansPartial,
                               [gpu](const NDArray& x, const NDArray& c) { return partial(x, c, gpu); }));
    must_register(registry.add(gpu ? ops::kKMeansCostGpu : ops::kKMeansCost,
                               [gpu](const NDArray& x, const NDArray& c) { return cost(x, c, gpu); }));
    must_register(registry.add(
        gpu ? ops::kKMeansSampleGpu : ops::kKMeansSample,
        [gpu](const NDArray& x, const NDArray& c, double l, double phi, std::int64_t seed, std::int64_t round,
              std::int64_t row_offset) { return sample(x, c, l, phi, seed, round, row_offset, gpu); }));
    must_register(registry.add(gpu ? ops::kKMeansClosestCountsGpu : ops::kKMeansClosestCounts,
                               [gpu](const NDArray& x, const NDArray& c) { return closest_counts(x, c, gpu); }));
  }
  must_register(registry.add(ops::kKMeansCombine, combine));
  must_register(registry.add(ops::kKMeansPredict, predict));
  must_register(registry.add(ops::kKMeansTransform, transform));
  must_register(registry.add(ops::kKMeansPick, pick));
}

}  // namespace dtask::ml_ops
