// One graph per pass over row-chunked arrays, shared by the estimators:
// an op per chunk (taking chunk i of every input array), then a tree
// reduction or a gather. Only the per-chunk results travel.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dtask/array.h"
#include "dtask/builtin_ops.h"
#include "dtask/op_def.h"

namespace dtask::ml::internal {

/// The extra arguments of chunk i's task (after the arrays' chunks).
using ChunkArgs = std::function<std::vector<Value>(std::int64_t chunk)>;

/// Runs op(A_i, B_i, ..., args(i)...) on every chunk i of `arrays` (all on
/// the same chunk grid) and combines the results with a tree of combine
/// tasks: ops::kReduceCombine adds arrays elementwise (its kind "sum"), any
/// other op takes the list alone. Blocks until the root is computed. An op
/// that does not take that many arguments is a bug (DTASK_CHECK).
Value reduce_over_chunks(Client& client, const std::vector<Array>& arrays, OpName op, const ChunkArgs& args,
                         OpName combine_op = ops::kReduceCombine, ResourceList resources = {}, int split_every = 8);
/// The same with the same extra arguments for every chunk of one array.
Value reduce_over_chunks(Client& client, const Array& X, OpName op, const std::vector<Value>& args,
                         OpName combine_op, ResourceList resources = {}, int split_every = 8);

/// Runs op(A_i, B_i, ..., args(i)...) on every chunk and gathers the
/// per-chunk results in chunk order.
std::vector<Value> map_over_chunks(Client& client, const std::vector<Array>& arrays, OpName op,
                                   const ChunkArgs& args, ResourceList resources = {});

/// y's sorted distinct labels, float64 [k]: one pass (an op per chunk, only
/// the labels travel), merged here. Workers reject NaN and infinity, naming the row.
NDArray find_classes(Client& client, const Array& y);

}  // namespace dtask::ml::internal
