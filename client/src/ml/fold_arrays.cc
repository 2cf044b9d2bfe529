#include "client/src/ml/fold_arrays_internal.h"

#include <algorithm>

#include "client/src/array_internal.h"
#include "dtask/client.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

using namespace array_internal;

FoldRows fold_rows(Client& client, const ChunkGrid& grid, std::vector<std::int64_t> rows) {
  std::sort(rows.begin(), rows.end());
  FoldRows out;
  std::vector<Value> parts;
  auto next = rows.begin();
  for (std::int64_t c = 0; c < grid.n_chunks(); ++c) {
    const std::int64_t begin = grid.offset(c), end = begin + grid.size(c);
    auto stop = std::lower_bound(next, rows.end(), end);
    if (stop == next) continue;  // the fold has no row in this chunk
    NDArray local = NDArray::uninitialized(DType::kInt64, {stop - next});
    std::transform(next, stop, local.mutable_data<std::int64_t>(), [begin](std::int64_t r) { return r - begin; });
    out.sizes.push_back(stop - next);
    out.chunks.push_back(c);
    parts.emplace_back(std::move(local));
    next = stop;
  }
  auto scattered = client.scatter(parts);
  if (!scattered.ok()) throw TaskError(scattered.status());
  out.rows.assign(scattered->begin(), scattered->end());
  return out;
}

Array take_fold(const Array& A, const FoldRows& fold) {
  const std::string name = new_name("fold");
  std::vector<TaskArg> chunks;
  for (std::size_t i = 0; i < fold.chunks.size(); ++i) {
    chunks.emplace_back(chunk_task_of(ops::kTakeBlockRows, name, static_cast<std::int64_t>(i), A.chunk(fold.chunks[i]),
                                      TaskArg(fold.rows[i])));
  }
  std::vector<std::int64_t> shape = A.shape();
  shape[0] = 0;
  for (std::int64_t s : fold.sizes) shape[0] += s;
  return make_array(shape, A.dtype(), ChunkGrid(fold.sizes), std::move(chunks), name);
}

}  // namespace dtask::ml::internal
