// dtask::ml::KMeans: validation, Lloyd iterations as map + tree-reduce,
// empty-cluster relocation, fitted attributes, JSON save/load.
#include "dtask/ml/kmeans.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/src/array_internal.h"
#include "client/src/cluster_workers.h"
#include "client/src/ml/estimator_internal.h"
#include "client/src/ml/kmeans_passes_internal.h"
#include "dtask/client.h"
#include "ml_core/param_binding.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml {

namespace {

using array_internal::fail;

/// The per-cluster totals one Lloyd pass reduces to.
struct LloydTotals {
  NDArray sums;       // [k, d]
  NDArray counts;     // [k]
  double inertia = 0;
  NDArray far_points;  // the rows farthest from their centers, farthest first
  NDArray far_labels;
};

LloydTotals lloyd_pass(Client& client, const Array& X, const NDArray& centers, internal::Device device) {
  Value combined = internal::reduce_over_chunks(client, X, device.op(ops::kKMeansPartial, ops::kKMeansPartialGpu), {Value(centers)},
                                                ops::kKMeansCombine, device.resources());
  const ValueList& parts = combined.get<ValueList>();
  return {parts.at(0).get<NDArray>(), parts.at(1).get<NDArray>(), parts.at(2).get<double>(),
          parts.at(3).get<NDArray>(), parts.at(5).get<NDArray>()};
}

/// New centers = sums / counts. A cluster left empty takes the next farthest
/// row, which leaves its old cluster (as scikit-learn relocates them).
NDArray update_centers(LloydTotals& t, const NDArray& old_centers) {
  const std::int64_t k = t.counts.size(), d = t.sums.cols();
  double* sums = t.sums.mutable_data<double>();
  double* counts = t.counts.mutable_data<double>();
  NDArray centers = NDArray::uninitialized(DType::kFloat64, {k, d});
  double* c = centers.mutable_data<double>();
  std::int64_t next_far = 0;
  for (std::int64_t j = 0; j < k; ++j) {
    if (counts[j] > 0 || next_far >= t.far_points.rows()) continue;
    const double* point = t.far_points.data<double>() + next_far * d;
    std::int64_t from = t.far_labels.data<std::int64_t>()[next_far++];
    if (counts[from] > 1) {
      for (std::int64_t f = 0; f < d; ++f) sums[from * d + f] -= point[f];
      counts[from] -= 1;
      for (std::int64_t f = 0; f < d; ++f) sums[j * d + f] = point[f];
      counts[j] = 1;
    }
  }
  for (std::int64_t j = 0; j < k; ++j) {
    for (std::int64_t f = 0; f < d; ++f) {
      c[j * d + f] = counts[j] > 0 ? sums[j * d + f] / counts[j] : old_centers.data<double>()[j * d + f];
    }
  }
  return centers;
}

double squared_shift(const NDArray& a, const NDArray& b) {
  double total = 0;
  for (std::int64_t i = 0; i < a.size(); ++i) total += std::pow(a.data<double>()[i] - b.data<double>()[i], 2);
  return total;
}

void validate(const Array& X, const KMeansOptions& o) {
  if (!X.valid()) fail("KMeans.fit: X is an empty Array");
  if (X.ndim() != 2) fail("KMeans.fit: X must be 2-d (samples x features), got " + X.describe());
  if (!is_floating(X.dtype())) fail("KMeans.fit: X must be float32 or float64, got " + X.describe());
  if (o.n_clusters < 1) fail("KMeans: n_clusters must be >= 1, got " + std::to_string(o.n_clusters));
  if (o.n_clusters > X.rows()) {
    fail("KMeans.fit: n_samples=" + std::to_string(X.rows()) + " should be >= n_clusters=" +
         std::to_string(o.n_clusters));
  }
  if (o.max_iter < 1) fail("KMeans: max_iter must be >= 1");
  if (o.tol < 0) fail("KMeans: tol must be >= 0");
  if (o.oversampling_factor <= 0) fail("KMeans: oversampling_factor must be > 0");
  if (o.device != "cpu" && o.device != "gpu") fail("KMeans: device must be \"cpu\" or \"gpu\", got \"" + o.device + "\"");
}

/// device = "gpu" needs a worker declaring the GPU resource; without one
/// the tasks would wait in no-worker forever.
void require_gpu_worker(Client& client) {
  for (const ::dtask::internal::ClusterWorker& worker : ::dtask::internal::cluster_workers(client)) {
    if (worker.resource("GPU") >= 1) return;
  }
  fail("KMeans(device=\"gpu\"): no worker declares the GPU resource (start one with dtask-worker --resources GPU=1)");
}

NDArray initial_centers(Client& client, const Array& X, const KMeansOptions& o) {
  if (const auto* given = std::get_if<NDArray>(&o.init)) {
    if (given->shape != std::vector<std::int64_t>{o.n_clusters, X.cols()}) {
      fail("KMeans: init centers have shape " + given->describe() + ", expected [" + std::to_string(o.n_clusters) +
           ", " + std::to_string(X.cols()) + "]");
    }
    if (given->dtype == DType::kFloat64) return *given;
    if (given->dtype != DType::kFloat32) fail("KMeans: init centers must be float64 or float32, got " + given->describe());
    NDArray converted = NDArray::uninitialized(DType::kFloat64, given->shape);
    std::copy(given->data<float>(), given->data<float>() + given->size(), converted.mutable_data<double>());
    return converted;
  }
  const std::string& name = std::get<std::string>(o.init);
  auto seed = static_cast<std::uint64_t>(o.random_state);
  if (name == "k-means||") return internal::init_scalable(client, X, o);
  if (name == "k-means++") {
    return internal::init_kmeans_plus_plus(client, X, o.n_clusters, seed, internal::Device{o.device == "gpu"});
  }
  if (name == "random") return internal::init_random(client, X, o.n_clusters, seed);
  fail("KMeans: init must be \"k-means||\", \"k-means++\", \"random\" or a centers array, got \"" + name + "\"");
}

/// scikit-learn's tolerance: tol x the mean of the per-feature variances.
double absolute_tolerance(Client& client, const Array& X, double tol) {
  if (tol == 0) return 0;
  NDArray variances = X.var(0).compute(client);
  double mean = 0;
  for (std::int64_t j = 0; j < variances.size(); ++j) mean += variances.data<double>()[j];
  return tol * mean / static_cast<double>(variances.size());
}

}  // namespace

KMeans::KMeans(KMeansOptions options) : options_(std::move(options)) {}

namespace {

/// The parameters with one type each; init (a name or an array) is handled apart.
const ml_core::ParamBinding<KMeansOptions>& kmeans_binding() {
  static const ml_core::ParamBinding<KMeansOptions> binding(
      "KMeans", {{"n_clusters", &KMeansOptions::n_clusters},
                 {"oversampling_factor", &KMeansOptions::oversampling_factor},
                 {"init_max_iter", &KMeansOptions::init_max_iter},
                 {"max_iter", &KMeansOptions::max_iter},
                 {"tol", &KMeansOptions::tol},
                 {"random_state", &KMeansOptions::random_state},
                 {"device", &KMeansOptions::device}},
      {"init"});
  return binding;
}

}  // namespace

Params KMeans::get_params() const {
  Params out = kmeans_binding().get(options_);
  if (const auto* method = std::get_if<std::string>(&options_.init)) out["init"] = *method;
  return out;
}

KMeans& KMeans::set_params(const Params& params) {
  for (const auto& [name, value] : params) {
    if (name == "init") {
      if (!value.is<std::string>()) fail("KMeans: parameter 'init' must be str, got " + std::string(value.type_name()));
      options_.init = value.get<std::string>();
      continue;
    }
    Status status = kmeans_binding().set(options_, name, value);
    if (!status.ok()) fail(status.message());
  }
  return *this;
}

KMeans& KMeans::fit(Client& client, const Array& X) {
  validate(X, options_);
  if (options_.device == "gpu") require_gpu_worker(client);
  auto start = std::chrono::steady_clock::now();
  NDArray centers = initial_centers(client, X, options_);
  if (options_.verbose) std::fprintf(stderr, "KMeans: initialised %lld centers in %.2fs\n",
                                     static_cast<long long>(options_.n_clusters), internal::seconds_since(start));
  double tol = absolute_tolerance(client, X, options_.tol);
  converged_ = false;
  n_iter_ = 0;
  for (int iteration = 1; iteration <= options_.max_iter; ++iteration) {
    LloydTotals totals = lloyd_pass(client, X, centers, internal::Device{options_.device == "gpu"});
    NDArray updated = update_centers(totals, centers);
    double shift = squared_shift(updated, centers);
    centers = updated;
    n_iter_ = iteration;
    KMeansIteration progress{iteration, options_.max_iter, totals.inertia, shift, internal::seconds_since(start)};
    if (options_.verbose) {
      std::fprintf(stderr, "KMeans: iteration %d, inertia %.6g, center shift %.3g (%.2fs)\n", iteration,
                   progress.inertia, progress.center_shift, progress.seconds);
    }
    if (options_.on_iteration) options_.on_iteration(progress);
    if (shift <= tol) {
      converged_ = true;
      break;
    }
  }
  cluster_centers_ = centers;
  inertia_ = -score(client, X);
  labels_ = predict(X);
  return *this;
}

void KMeans::require_fitted(const char* what) const {
  if (!cluster_centers_.buffer) fail(std::string("KMeans.") + what + ": the model is not fitted yet");
}

Array KMeans::predict(const Array& X) const {
  require_fitted("predict");
  if (X.ndim() != 2 || X.cols() != cluster_centers_.cols()) {
    fail("KMeans.predict: X " + X.describe() + " does not have the model's " + std::to_string(cluster_centers_.cols()) +
         " features");
  }
  return map_blocks(ops::kKMeansPredict, {X}, {Value(cluster_centers_)}, DType::kInt64, 0);
}

Array KMeans::transform(const Array& X) const {
  require_fitted("transform");
  if (X.ndim() != 2 || X.cols() != cluster_centers_.cols()) {
    fail("KMeans.transform: X " + X.describe() + " does not have the model's " +
         std::to_string(cluster_centers_.cols()) + " features");
  }
  return map_blocks(ops::kKMeansTransform, {X}, {Value(cluster_centers_)}, DType::kFloat64, cluster_centers_.rows());
}

double KMeans::score(Client& client, const Array& X) const {
  require_fitted("score");
  internal::Device device{options_.device == "gpu"};
  Value cost = internal::reduce_over_chunks(client, X, device.op(ops::kKMeansCost, ops::kKMeansCostGpu), {Value(cluster_centers_)}, ops::kReduceCombine,
                                            device.resources());
  return -cost.get<NDArray>().data<double>()[0];
}

void KMeans::save(const std::string& path) const {
  require_fitted("save");
  nlohmann::json centers = nlohmann::json::array();
  for (std::int64_t j = 0; j < cluster_centers_.rows(); ++j) {
    const double* row = cluster_centers_.data<double>() + j * cluster_centers_.cols();
    centers.push_back(std::vector<double>(row, row + cluster_centers_.cols()));
  }
  nlohmann::json model = {{"model", "dtask.ml.KMeans"},
                          {"n_clusters", options_.n_clusters},
                          {"cluster_centers", centers},
                          {"inertia", inertia_},
                          {"n_iter", n_iter_},
                          {"converged", converged_},
                          {"max_iter", options_.max_iter},
                          {"tol", options_.tol},
                          {"random_state", options_.random_state}};
  std::ofstream out(path);
  if (!(out << model.dump(2) << "\n")) throw TaskError(Status::io_error("cannot write " + path));
}

KMeans KMeans::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw TaskError(Status::io_error("cannot open " + path));
  nlohmann::json model;
  try {
    model = nlohmann::json::parse(in);
    const auto& centers = model.at("cluster_centers");
    KMeans km({.n_clusters = model.at("n_clusters").get<std::int64_t>(),
               .max_iter = model.value("max_iter", 300),
               .tol = model.value("tol", 1e-4),
               .random_state = model.value("random_state", std::int64_t{0})});
    std::int64_t k = static_cast<std::int64_t>(centers.size());
    std::int64_t d = k > 0 ? static_cast<std::int64_t>(centers.at(0).size()) : 0;
    if (k != km.options_.n_clusters || d == 0) throw std::invalid_argument("cluster_centers do not match n_clusters");
    km.cluster_centers_ = NDArray::uninitialized(DType::kFloat64, {k, d});
    for (std::int64_t j = 0; j < k; ++j) {
      if (static_cast<std::int64_t>(centers.at(j).size()) != d) throw std::invalid_argument("ragged cluster_centers");
      for (std::int64_t f = 0; f < d; ++f) km.cluster_centers_.mutable_data<double>()[j * d + f] = centers[j][f].get<double>();
    }
    km.inertia_ = model.value("inertia", 0.0);
    km.n_iter_ = model.value("n_iter", 0);
    km.converged_ = model.value("converged", false);
    return km;
  } catch (const std::exception& e) {
    throw TaskError(Status::invalid(path + ": not a dtask KMeans model: " + e.what()));
  }
}

}  // namespace dtask::ml
