// Distributed KMeans on chunked arrays, shaped like scikit-learn's and
// dask-ml's KMeans: k-means|| initialisation (Bahmani et al. 2012) done
// blockwise on the workers, then Lloyd iterations, each one map over the
// chunks (per-cluster sums, counts and inertia; only k x d numbers travel
// per chunk) and a tree reduction. Works on a persisted array and on one
// streamed from disk at every iteration.
//
//   dtask::ml::KMeans km({.n_clusters = 8, .random_state = 0});
//   km.fit(client, X);
//   dtask::NDArray centers = km.cluster_centers_;
//   dtask::Array labels = km.labels_;            // lazy, one task per chunk
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

#include "dtask/value.h"
#include "dtask/array.h"
#include "dtask/ml/params.h"

namespace dtask {
class Client;
}

namespace dtask::ml {

/// What one Lloyd iteration did, for KMeansOptions::on_iteration.
struct KMeansIteration {
  int iteration = 0;   // 1-based
  int max_iter = 0;
  double inertia = 0;  // under the centers the iteration started from
  double center_shift = 0;  // squared distance the centers moved
  double seconds = 0;  // since fit() started
};

struct KMeansOptions {
  std::int64_t n_clusters = 8;
  /// "k-means||" (default, as dask-ml), "k-means++", "random", or the
  /// initial centers themselves (float64 [n_clusters, n_features]).
  std::variant<std::string, NDArray> init = std::string("k-means||");
  double oversampling_factor = 2.0;  // k-means||: l = oversampling_factor * n_clusters points per round
  int init_max_iter = 0;             // k-means|| rounds; 0: round(log(initial cost)) as dask-ml, at most 2 (Spark's default)
  int max_iter = 300;
  /// Stop when the centers move less than tol x the mean feature variance
  /// (scikit-learn's rule); 0 runs max_iter iterations.
  double tol = 1e-4;
  std::int64_t random_state = 0;
  /// "cpu", or "gpu": the distance steps (Lloyd, k-means|| cost, sampling and
  /// weights) run as CUDA ops on workers started with --resources GPU=1, in
  /// a build configured with -DDTASK_CUDA=ON.
  std::string device = "cpu";
  bool verbose = false;  // one line per iteration on stderr
  /// Called after every Lloyd iteration (for progress bars).
  std::function<void(const KMeansIteration&)> on_iteration;
};

class KMeans {
 public:
  explicit KMeans(KMeansOptions options = {});

  /// Fits on a 2-d float array chunked along rows. Throws ArrayError on bad
  /// input found up front (k < 1, k > rows, not 2-d) and TaskError when a
  /// task fails (NaN or infinite values: the error names the chunk's key).
  KMeans& fit(Client& client, const Array& X);

  /// Index of the closest center for every row (int64, X's chunks; lazy).
  Array predict(const Array& X) const;
  /// Distances to every center, [rows, n_clusters] float64 (lazy).
  Array transform(const Array& X) const;
  /// Minus the inertia of X under the fitted centers (scikit-learn's score).
  double score(Client& client, const Array& X) const;

  /// Writes the fitted model as JSON (Python: json.load(open(path))).
  void save(const std::string& path) const;
  static KMeans load(const std::string& path);

  const KMeansOptions& options() const { return options_; }
  /// scikit-learn's parameters: n_clusters, init (when a method name),
  /// oversampling_factor, init_max_iter, max_iter, tol, random_state, device.
  Params get_params() const;
  /// Sets parameters by name (init only to a method name); throws ArrayError
  /// on an unknown name or a wrong type, listing the parameters.
  KMeans& set_params(const Params& params);
  /// An unfitted copy with the same parameters.
  KMeans clone() const { return KMeans(options_); }

  // Fitted attributes, named as scikit-learn's.
  NDArray cluster_centers_;  // float64 [n_clusters, n_features]
  Array labels_;             // int64 [rows] for the X given to fit (lazy)
  double inertia_ = 0;       // sum of squared distances to the closest center
  int n_iter_ = 0;           // Lloyd iterations run
  bool converged_ = false;   // stopped by tol before max_iter

 private:
  void require_fitted(const char* what) const;
  KMeansOptions options_;
};

}  // namespace dtask::ml
