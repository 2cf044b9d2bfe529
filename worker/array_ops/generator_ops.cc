// Random data generated on the workers, reproducible by seed. Every row draws
// from its own counter-based stream (seed, stream, global row), so the data do
// not depend on the chunking or on which worker made them: the same seed gives
// the same array for any chunk size.
//   random_uniform(seed, row_begin, rows, cols, low, high, dtype)   cols 0: 1-d
//   random_normal(seed, row_begin, rows, cols, loc, scale, dtype)
//   blobs_x(seed, row_begin, rows, centers[k, d], cluster_std)      float64
//   blobs_y(seed, row_begin, rows, k)                               int64 labels
//   classification_x(seed, row_begin, rows, n_features, n_informative, n_classes, class_sep)
//   classification_y(seed, row_begin, rows, n_classes, flip_y)
//   regression_y(x_chunk, coef[d], bias, noise, seed, row_begin)    float64
#include <cmath>

#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/row_rng_internal.h"
#include "worker/array_ops/array_ops.h"

namespace dtask::array_ops {

namespace {

// Streams: which quantity a row's generator draws.
constexpr std::uint64_t kValues = 1;
constexpr std::uint64_t kLabel = 2;
constexpr std::uint64_t kFlip = 3;
constexpr std::uint64_t kNoise = 4;
constexpr std::uint64_t kCentroid = 5;

std::vector<std::int64_t> shape_of(std::int64_t rows, std::int64_t cols) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("negative dimensions are not allowed");
  return cols == 0 ? std::vector<std::int64_t>{rows} : std::vector<std::int64_t>{rows, cols};
}

template <typename Draw>
NDArray generate(std::int64_t seed, std::int64_t row_begin, std::int64_t rows, std::int64_t cols,
                 const std::string& dtype_name_arg, Draw draw) {
  auto dtype = dtype_from_name(dtype_name_arg);
  if (!dtype.ok() || !is_float(*dtype)) throw std::invalid_argument("random arrays are float32 or float64, got " + dtype_name_arg);
  NDArray out = NDArray::uninitialized(DType::kFloat64, shape_of(rows, cols));
  double* o = out.mutable_data<double>();
  std::int64_t width = std::max<std::int64_t>(cols, 1);
  for (std::int64_t r = 0; r < rows; ++r) {
    RowRng rng(seed, kValues, row_begin + r);
    for (std::int64_t c = 0; c < width; ++c) o[r * width + c] = draw(rng);
  }
  return cast(out, *dtype);
}

std::int64_t row_label(std::int64_t seed, std::int64_t row, std::int64_t k) {
  if (k <= 0) throw std::invalid_argument("the number of classes must be positive");
  return static_cast<std::int64_t>(RowRng(seed, kLabel, row).next() % static_cast<std::uint64_t>(k));
}

NDArray blobs_x(std::int64_t seed, std::int64_t row_begin, std::int64_t rows, const NDArray& centers_in,
                double cluster_std) {
  NDArray centers = cast(centers_in, DType::kFloat64);
  if (centers.shape.size() != 2) throw std::invalid_argument("blobs_x: centers must be 2-d, got " + centers.describe());
  std::int64_t k = centers.rows(), d = centers.cols();
  NDArray out = NDArray::uninitialized(DType::kFloat64, {rows, d});
  double* o = out.mutable_data<double>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* center = centers.data<double>() + row_label(seed, row_begin + r, k) * d;
    RowRng rng(seed, kValues, row_begin + r);
    for (std::int64_t c = 0; c < d; ++c) o[r * d + c] = center[c] + cluster_std * rng.normal();
  }
  return out;
}

NDArray labels(std::int64_t seed, std::int64_t row_begin, std::int64_t rows, std::int64_t k) {
  NDArray out = NDArray::uninitialized(DType::kInt64, {rows});
  for (std::int64_t r = 0; r < rows; ++r) out.mutable_data<std::int64_t>()[r] = row_label(seed, row_begin + r, k);
  return out;
}

/// Dimensions that tell the classes apart: ceil(log2(n_classes)).
std::int64_t label_bits(std::int64_t n_classes) {
  std::int64_t bits = 0;
  while ((std::int64_t{1} << bits) < n_classes) ++bits;
  return bits;
}

/// A class's centroid: a vertex of the hypercube of side 2 * class_sep in the
/// informative dimensions. As in scikit-learn, no two classes share a
/// vertex: in the first label_bits dimensions the vertex is the label's
/// binary code XOR a random mask; the other dimensions are random per class.
double centroid(std::int64_t seed, std::int64_t label, std::int64_t dim, std::int64_t n_classes, double class_sep) {
  bool bit = false;
  if (dim < label_bits(n_classes)) {
    bit = ((RowRng(seed, kCentroid, dim).next() & 1) != 0) != (((label >> dim) & 1) != 0);
  } else {
    bit = (RowRng(seed, kCentroid, label * 4096 + dim).next() & 1) != 0;
  }
  return bit ? class_sep : -class_sep;
}

NDArray classification_x(std::int64_t seed, std::int64_t row_begin, std::int64_t rows, std::int64_t n_features,
                         std::int64_t n_informative, std::int64_t n_classes, double class_sep) {
  if (n_informative < 1 || n_informative > n_features) {
    throw std::invalid_argument("n_informative must be in [1, n_features]");
  }
  if (label_bits(n_classes) > n_informative) {
    throw std::invalid_argument("n_classes must be <= 2 ** n_informative");
  }
  NDArray out = NDArray::uninitialized(DType::kFloat64, {rows, n_features});
  double* o = out.mutable_data<double>();
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t label = row_label(seed, row_begin + r, n_classes);
    RowRng rng(seed, kValues, row_begin + r);
    for (std::int64_t c = 0; c < n_features; ++c) {
      double shift = c < n_informative ? centroid(seed, label, c, n_classes, class_sep) : 0.0;
      o[r * n_features + c] = shift + rng.normal();
    }
  }
  return out;
}

NDArray classification_y(std::int64_t seed, std::int64_t row_begin, std::int64_t rows, std::int64_t n_classes,
                         double flip_y) {
  NDArray out = labels(seed, row_begin, rows, n_classes);
  for (std::int64_t r = 0; r < rows; ++r) {
    RowRng rng(seed, kFlip, row_begin + r);
    // As scikit-learn: a flipped label is drawn at random (it may be the same).
    if (rng.uniform() < flip_y) {
      out.mutable_data<std::int64_t>()[r] = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(n_classes));
    }
  }
  return out;
}

NDArray regression_y(const NDArray& x_in, const NDArray& coef_in, double bias, double noise, std::int64_t seed,
                     std::int64_t row_begin) {
  NDArray x = cast(x_in, DType::kFloat64);
  NDArray coef = cast(coef_in, DType::kFloat64);
  if (x.shape.size() != 2 || coef.size() != x.cols()) {
    throw std::invalid_argument("regression_y: " + x.describe() + " does not match coefficients " + coef.describe());
  }
  NDArray out = NDArray::uninitialized(DType::kFloat64, {x.rows()});
  for (std::int64_t r = 0; r < x.rows(); ++r) {
    double y = bias;
    for (std::int64_t c = 0; c < x.cols(); ++c) y += x.data<double>()[r * x.cols() + c] * coef.data<double>()[c];
    if (noise > 0) y += noise * RowRng(seed, kNoise, row_begin + r).normal();
    out.mutable_data<double>()[r] = y;
  }
  return out;
}

}  // namespace

void register_generator_ops(OpRegistry& registry) {
  must_register(registry.add(
      ops::kRandomUniform, [](std::int64_t seed, std::int64_t row_begin, std::int64_t rows, std::int64_t cols, double low,
                           double high, std::string dtype) {
        return generate(seed, row_begin, rows, cols, dtype, [=](RowRng& rng) { return low + (high - low) * rng.uniform(); });
      }));
  must_register(registry.add(
      ops::kRandomNormal, [](std::int64_t seed, std::int64_t row_begin, std::int64_t rows, std::int64_t cols, double loc,
                          double scale, std::string dtype) {
        return generate(seed, row_begin, rows, cols, dtype, [=](RowRng& rng) { return loc + scale * rng.normal(); });
      }));
  must_register(registry.add(ops::kBlobsX, blobs_x));
  must_register(registry.add(ops::kBlobsY, labels));
  must_register(registry.add(ops::kClassificationX, classification_x));
  must_register(registry.add(ops::kClassificationY, classification_y));
  must_register(registry.add(ops::kRegressionY, regression_y));
}

}  // namespace dtask::array_ops
