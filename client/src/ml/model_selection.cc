// dtask::ml::train_test_split: each chunk split in place by the split_block op.
#include "dtask/ml/model_selection.h"

#include <cmath>

#include "client/src/array_internal.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml {

namespace {

using namespace array_internal;

/// Test rows of a chunk of n rows: ceil(test_size n), leaving one for training.
std::int64_t test_rows(std::int64_t n, double test_size) {
  auto t = static_cast<std::int64_t>(std::ceil(test_size * static_cast<double>(n) - 1e-9));
  return std::min(t, n - 1);
}

/// One side of the split of `a`; chunks left empty are dropped from the grid.
Array split_side(const Array& a, const TrainTestSplitOptions& o, bool test) {
  const std::string name = new_name(test ? "test" : "train");
  std::vector<std::int64_t> sizes;
  std::vector<TaskArg> chunks;
  for (std::int64_t i = 0; i < a.n_chunks(); ++i) {
    std::int64_t n = a.chunks().size(i), n_test = test_rows(n, o.test_size);
    std::int64_t rows = test ? n_test : n - n_test;
    if (rows == 0) continue;
    sizes.push_back(rows);
    chunks.emplace_back(chunk_task_of(ops::kSplitBlock, name, static_cast<std::int64_t>(chunks.size()), a.chunk(i),
                                      o.random_state, i, n_test, test, o.shuffle));
  }
  std::int64_t total = 0;
  for (std::int64_t s : sizes) total += s;
  if (total == 0) fail(std::string("train_test_split: the ") + (test ? "test" : "train") + " set would be empty");
  std::vector<std::int64_t> shape = a.shape();
  shape[0] = total;
  return Array::from_chunks(shape, a.dtype(), ChunkGrid(sizes), std::move(chunks), name);
}

}  // namespace

TrainTestSplit train_test_split(const Array& X, const Array& y_in, const TrainTestSplitOptions& options) {
  if (!X.valid() || !y_in.valid() || X.ndim() < 1 || y_in.ndim() < 1) {
    fail("train_test_split: X and y must be arrays of at least one dimension");
  }
  if (X.rows() != y_in.rows()) {
    fail("train_test_split: X " + X.describe() + " and y " + y_in.describe() + " have different numbers of rows");
  }
  if (!(options.test_size > 0 && options.test_size < 1)) {
    fail("train_test_split: test_size must be in (0, 1), got " + std::to_string(options.test_size));
  }
  require_plain(X, "train_test_split");
  Array y = y_in.chunks().sizes() == X.chunks().sizes() ? y_in : y_in.rechunk(X.chunks());
  return {split_side(X, options, false), split_side(X, options, true), split_side(y, options, false),
          split_side(y, options, true)};
}

}  // namespace dtask::ml
