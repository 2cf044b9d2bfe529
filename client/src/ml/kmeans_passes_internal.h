// The distributed passes KMeans makes over X, and its initialisations.
// Each pass is one graph: an op per chunk, then (for reductions) a tree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dtask/array.h"
#include "dtask/ml/kmeans.h"
#include "client/src/ml/chunk_passes_internal.h"

namespace dtask::ml::internal {

/// Where the distance-step ops run: the op on any worker, or its "_gpu"
/// twin (ops::kKMeansPartialGpu, ...) on a worker declaring the GPU
/// resource (KMeansOptions::device).
struct Device {
  bool gpu = false;
  template <typename Signature>
  const OpDef<Signature>& op(const OpDef<Signature>& cpu, const OpDef<Signature>& on_gpu) const {
    return gpu ? on_gpu : cpu;
  }
  ResourceList resources() const { return gpu ? ResourceList{{"GPU", 1.0}} : ResourceList{}; }
};

/// Rows of X, gathered into one float64 [rows.size(), d] array.
NDArray fetch_rows(Client& client, const Array& X, const std::vector<std::int64_t>& rows);

NDArray init_random(Client& client, const Array& X, std::int64_t k, std::uint64_t seed);
NDArray init_kmeans_plus_plus(Client& client, const Array& X, std::int64_t k, std::uint64_t seed, Device device);
/// k-means||: oversampled candidates, weighted by the rows closest to each,
/// reduced to k by weighted k-means++ and Lloyd on the client.
NDArray init_scalable(Client& client, const Array& X, const KMeansOptions& options);

/// Weighted k-means (k-means++ seeding, then Lloyd) on a small local point
/// set; the weights are kept (dask-ml drops them).
NDArray weighted_kmeans(const NDArray& points, const std::vector<double>& weights, std::int64_t k,
                        std::uint64_t seed);

}  // namespace dtask::ml::internal
