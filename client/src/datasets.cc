// Graph builders for dtask::random and dtask::datasets: one generator task
// per chunk (ops in worker/array_ops/generator_ops.cc).
#include "dtask/datasets.h"

#include <algorithm>
#include <random>

#include "client/src/array_internal.h"
#include "dtask/random.h"
#include "dtask/builtin_ops.h"

namespace dtask {

using namespace array_internal;

namespace {

void check_shape(const std::vector<std::int64_t>& shape, const char* what) {
  if (shape.empty() || shape.size() > 2 || shape[0] <= 0 || (shape.size() == 2 && shape[1] <= 0)) {
    fail(std::string(what) + ": the shape must be {rows} or {rows, cols} with positive sizes");
  }
}

ChunkGrid grid_for(std::int64_t rows, std::int64_t cols, std::int64_t chunk_rows) {
  if (chunk_rows <= 0) chunk_rows = ChunkGrid::auto_chunk_rows(rows, cols * 8);
  return ChunkGrid::regular(rows, chunk_rows);
}

/// An array whose chunk i is op(args_for(row_begin, rows)...).
Array generated(const std::string& label, OpName op, std::vector<std::int64_t> shape, DType dtype,
                std::int64_t chunk_rows, const std::function<std::vector<TaskArg>(std::int64_t, std::int64_t)>& args_for) {
  ChunkGrid grid = grid_for(shape[0], shape.size() == 2 ? shape[1] : 1, chunk_rows);
  std::string name = new_name(label);
  std::vector<TaskArg> chunks;
  for (std::int64_t i = 0; i < grid.n_chunks(); ++i) {
    chunks.emplace_back(chunk_task(op, name, i, args_for(grid.offset(i), grid.size(i))));
  }
  return Array::from_chunks(std::move(shape), dtype, std::move(grid), std::move(chunks), std::move(name));
}

Array random_array(OpName op, const std::vector<std::int64_t>& shape, const random::RandomOptions& options,
                   double a, double b) {
  const std::string label = op.str();
  check_shape(shape, label.c_str());
  if (!is_floating(options.dtype)) fail(label + ": the dtype must be float32 or float64");
  std::int64_t cols = shape.size() == 2 ? shape[1] : 0;
  return generated(label, op, shape, options.dtype, options.chunk_rows, [&](std::int64_t begin, std::int64_t rows) {
    return std::vector<TaskArg>{options.seed, begin, rows, cols, a, b, std::string(dtype_name(options.dtype))};
  });
}

void check_samples(std::int64_t n_samples, std::int64_t n_features, const char* what) {
  if (n_samples <= 0 || n_features <= 0) fail(std::string(what) + ": n_samples and n_features must be positive");
}

}  // namespace

namespace random {

Array normal(const std::vector<std::int64_t>& shape, RandomOptions options, double loc, double scale) {
  if (scale < 0) fail("random::normal: scale must be >= 0");
  return random_array(ops::kRandomNormal, shape, options, loc, scale);
}

Array uniform(const std::vector<std::int64_t>& shape, RandomOptions options, double low, double high) {
  return random_array(ops::kRandomUniform, shape, options, low, high);
}

}  // namespace random

namespace datasets {

Blobs make_blobs(const BlobsOptions& o) {
  check_samples(o.n_samples, o.n_features, "make_blobs");
  NDArray centers = o.center_points;
  if (centers.buffer) {
    if (centers.shape.size() != 2 || centers.shape[1] != o.n_features || centers.dtype != DType::kFloat64) {
      fail("make_blobs: center_points must be float64 [k, n_features], got " + centers.describe());
    }
  } else {
    if (o.centers < 1) fail("make_blobs: centers must be >= 1");
    std::mt19937_64 rng(static_cast<std::uint64_t>(o.random_state));
    std::uniform_real_distribution<double> box(o.center_box_low, o.center_box_high);
    centers = NDArray::uninitialized(DType::kFloat64, {o.centers, o.n_features});
    for (std::int64_t i = 0; i < centers.size(); ++i) centers.mutable_data<double>()[i] = box(rng);
  }
  std::int64_t k = centers.shape[0];
  Blobs out;
  out.centers = centers;
  out.X = generated("make_blobs_x", ops::kBlobsX, {o.n_samples, o.n_features}, DType::kFloat64, o.chunk_rows,
                    [&](std::int64_t begin, std::int64_t rows) {
                      return std::vector<TaskArg>{o.random_state, begin, rows, Value(centers), o.cluster_std};
                    });
  out.y = generated("make_blobs_y", ops::kBlobsY, {o.n_samples}, DType::kInt64, out.X.chunks().size(0),
                    [&](std::int64_t begin, std::int64_t rows) {
                      return std::vector<TaskArg>{o.random_state, begin, rows, k};
                    });
  return out;
}

Classification make_classification(const ClassificationOptions& o) {
  check_samples(o.n_samples, o.n_features, "make_classification");
  if (o.n_informative < 1 || o.n_informative > o.n_features) fail("make_classification: n_informative must be in [1, n_features]");
  if (o.n_classes < 2) fail("make_classification: n_classes must be >= 2");
  if (o.n_informative < 62 && o.n_classes > (std::int64_t{1} << o.n_informative)) {
    fail("make_classification: n_classes=" + std::to_string(o.n_classes) + " must be <= 2 ** n_informative=" +
         std::to_string(std::int64_t{1} << o.n_informative) + " (each class takes its own hypercube vertex)");
  }
  if (o.flip_y < 0 || o.flip_y > 1) fail("make_classification: flip_y must be in [0, 1]");
  Classification out;
  out.X = generated("make_classification_x", ops::kClassificationX, {o.n_samples, o.n_features}, DType::kFloat64,
                    o.chunk_rows, [&](std::int64_t begin, std::int64_t rows) {
                      return std::vector<TaskArg>{o.random_state, begin, rows, o.n_features, o.n_informative,
                                                  o.n_classes, o.class_sep};
                    });
  out.y = generated("make_classification_y", ops::kClassificationY, {o.n_samples}, DType::kInt64,
                    out.X.chunks().size(0), [&](std::int64_t begin, std::int64_t rows) {
                      return std::vector<TaskArg>{o.random_state, begin, rows, o.n_classes, o.flip_y};
                    });
  return out;
}

Regression make_regression(const RegressionOptions& o) {
  check_samples(o.n_samples, o.n_features, "make_regression");
  if (o.n_informative < 0) fail("make_regression: n_informative must be >= 0");
  std::int64_t informative = std::min(o.n_informative, o.n_features);  // as scikit-learn
  Regression out;
  out.coef = NDArray::zeros(DType::kFloat64, {o.n_features});
  std::mt19937_64 rng(static_cast<std::uint64_t>(o.random_state));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::int64_t j = 0; j < informative; ++j) out.coef.mutable_data<double>()[j] = 100.0 * unit(rng);
  out.X = random::normal({o.n_samples, o.n_features}, {.seed = o.random_state, .chunk_rows = o.chunk_rows});
  std::string name = new_name("make_regression_y");
  std::vector<TaskArg> chunks;
  for (std::int64_t i = 0; i < out.X.n_chunks(); ++i) {
    chunks.emplace_back(chunk_task_of(ops::kRegressionY, name, i, out.X.chunk(i), out.coef, o.bias, o.noise,
                                      o.random_state, out.X.chunks().offset(i)));
  }
  out.y = Array::from_chunks({o.n_samples}, DType::kFloat64, out.X.chunks(), std::move(chunks), std::move(name));
  return out;
}

}  // namespace datasets

}  // namespace dtask
