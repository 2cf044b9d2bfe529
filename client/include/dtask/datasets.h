// Synthetic datasets generated on the workers, shaped like scikit-learn's
// make_blobs, make_classification and make_regression (and dask-ml's
// chunked versions). Rows are reproducible by random_state whatever the
// chunking. The small parameters (centers, coefficients) are drawn on the
// client and returned too.
//
//   auto blobs = dtask::datasets::make_blobs({.n_samples = 2'000'000, .n_features = 20, .centers = 12});
//   // blobs.X: float64 [2M, 20], blobs.y: int64 [2M], blobs.centers: NDArray [12, 20]
#pragma once

#include <cstdint>

#include "dtask/array.h"

namespace dtask::datasets {

struct BlobsOptions {
  std::int64_t n_samples = 100;
  std::int64_t n_features = 2;
  std::int64_t centers = 3;          // drawn uniformly in center_box
  NDArray center_points;             // or explicit centers [k, n_features]
  double cluster_std = 1.0;
  double center_box_low = -10.0;
  double center_box_high = 10.0;
  std::int64_t random_state = 0;
  std::int64_t chunk_rows = 0;       // 0: about 128 MiB per chunk
};

struct Blobs {
  Array X;         // float64 [n_samples, n_features]
  Array y;         // int64 [n_samples]: the index of each row's center
  NDArray centers;  // float64 [k, n_features]
};

/// Isotropic Gaussian blobs; each row's center is drawn uniformly.
Blobs make_blobs(const BlobsOptions& options);

struct ClassificationOptions {
  std::int64_t n_samples = 100;
  std::int64_t n_features = 20;
  std::int64_t n_informative = 2;
  std::int64_t n_classes = 2;
  double class_sep = 1.0;
  double flip_y = 0.01;  // fraction of labels replaced at random
  std::int64_t random_state = 0;
  std::int64_t chunk_rows = 0;
};

struct Classification {
  Array X;  // float64 [n_samples, n_features]
  Array y;  // int64 [n_samples] in [0, n_classes)
};

/// Classes on the vertices of a hypercube of side 2 * class_sep in the first
/// n_informative features, unit normal noise everywhere, as scikit-learn
/// (without its redundant and repeated features).
Classification make_classification(const ClassificationOptions& options);

struct RegressionOptions {
  std::int64_t n_samples = 100;
  std::int64_t n_features = 100;
  std::int64_t n_informative = 10;  // capped at n_features
  double bias = 0.0;
  double noise = 0.0;
  std::int64_t random_state = 0;
  std::int64_t chunk_rows = 0;
};

struct Regression {
  Array X;       // float64 [n_samples, n_features], standard normal
  Array y;       // float64 [n_samples] = X @ coef + bias + noise * N(0, 1)
  NDArray coef;  // float64 [n_features]: the first n_informative are 100 * U(0, 1), the rest 0
};

Regression make_regression(const RegressionOptions& options);

}  // namespace dtask::datasets
