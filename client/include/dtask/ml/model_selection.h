// Splitting chunked data for validation, shaped like dask-ml's
// train_test_split: blockwise, so no data moves between workers. Each row
// chunk is split on its own (ceil(test_size x rows) test rows, at least one
// row left for training), the rows picked by a (random_state, chunk) stream,
// so X and y split alike and the split does not depend on the workers.
//
//   auto split = dtask::ml::train_test_split(X, y, {.test_size = 0.2, .random_state = 0});
//   model.fit(client, split.X_train, split.y_train);
//   double accuracy = model.score(client, split.X_test, split.y_test);
#pragma once

#include <cstdint>

#include "dtask/array.h"

namespace dtask::ml {

struct TrainTestSplitOptions {
  double test_size = 0.25;  // the share of each chunk's rows in the test set, in (0, 1)
  std::int64_t random_state = 0;
  bool shuffle = true;  // false: the last rows of each chunk are the test set
};

struct TrainTestSplit {
  Array X_train, X_test, y_train, y_test;
};

/// Splits X [n, ...] and y [n] (rechunked to X's chunks if they differ)
/// into train and test parts; lazy. Throws ArrayError on mismatched rows or
/// a test_size outside (0, 1).
TrainTestSplit train_test_split(const Array& X, const Array& y, const TrainTestSplitOptions& options = {});

}  // namespace dtask::ml
