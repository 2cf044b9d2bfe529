// One graph per pass over row-chunked arrays, shared by the estimators:
// an op per chunk (taking chunk i of every input array), then a tree
// reduction or a gather. Only the per-chunk results travel.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dtask/array.h"

namespace dtask::ml::internal {

/// The extra arguments of chunk i's task (after the arrays' chunks).
using ChunkArgs = std::function<std::vector<Value>(std::int64_t chunk)>;

/// Runs op(A_i, B_i, ..., args(i)...) on every chunk i of `arrays` (all on
/// the same chunk grid) and combines the results with a tree of
/// combine(list) tasks: "sum" adds arrays elementwise (reduce_combine), any
/// other name is an op taking the list. Blocks until the root is computed.
Value reduce_over_chunks(Client& client, const std::vector<Array>& arrays, const std::string& op, const ChunkArgs& args,
                         const std::string& combine_op = "sum", ResourceList resources = {}, int split_every = 8);
/// The same with the same extra arguments for every chunk of one array.
Value reduce_over_chunks(Client& client, const Array& X, const std::string& op, const std::vector<Value>& args,
                         const std::string& combine_op, ResourceList resources = {}, int split_every = 8);

/// Runs op(A_i, B_i, ..., args(i)...) on every chunk and gathers the
/// per-chunk results in chunk order.
std::vector<Value> map_over_chunks(Client& client, const std::vector<Array>& arrays, const std::string& op,
                                   const ChunkArgs& args, ResourceList resources = {});

/// y's sorted distinct labels, float64 [k]: one pass (an op per chunk, only
/// the labels travel), merged here. Workers reject NaN and infinity, naming the row.
NDArray find_classes(Client& client, const Array& y);

}  // namespace dtask::ml::internal
