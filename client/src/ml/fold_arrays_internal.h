// Cross-validation folds of chunked arrays that stay where they are: the
// rows of a fold, chunk by chunk, as a lazy Array whose tasks pick them
// from each chunk (worker op take_block_rows). Used when the data is too
// large to gather onto one worker, so each candidate runs the distributed
// estimator on its fold.
#pragma once

#include <cstdint>
#include <vector>

#include "dtask/array.h"
#include "dtask/future.h"

namespace dtask::ml::internal {

/// Which rows of each chunk a fold takes, scattered once and shared by X and y.
struct FoldRows {
  std::vector<std::int64_t> sizes;   // rows per kept chunk
  std::vector<std::int64_t> chunks;  // the source chunk of each kept chunk
  std::vector<FutureBase> rows;      // int64 local row indices, one per kept chunk
};

/// `rows` (global indices, taken in increasing order) split by `grid`'s chunks.
FoldRows fold_rows(Client& client, const ChunkGrid& grid, std::vector<std::int64_t> rows);

/// The fold's rows of A (chunked as `fold_rows` was given); lazy.
Array take_fold(const Array& A, const FoldRows& fold);

}  // namespace dtask::ml::internal
