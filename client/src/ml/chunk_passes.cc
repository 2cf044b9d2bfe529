// One graph per pass over row-chunked arrays: an op per chunk, then a tree or a gather.
#include "client/src/ml/chunk_passes_internal.h"

#include <algorithm>

#include "client/src/array_internal.h"
#include "dtask/client.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

using namespace array_internal;

namespace {

/// Chunk i's task: op(A_i, B_i, ..., args(i)...).
Delayed chunk_op(const std::vector<Array>& arrays, OpName op, const std::string& name, std::int64_t i,
                 const ChunkArgs& args, const ResourceList& resources) {
  std::vector<TaskArg> task_args;
  for (const Array& a : arrays) task_args.push_back(a.chunk(i));
  if (args) {
    for (Value& v : args(i)) task_args.emplace_back(std::move(v));
  }
  return chunk_task(op, name, i, std::move(task_args), resources);
}

}  // namespace

Value reduce_over_chunks(Client& client, const std::vector<Array>& arrays, OpName op, const ChunkArgs& args,
                         OpName combine_op, ResourceList resources, int split_every) {
  std::string name = new_name(op.str());
  const bool sum = combine_op.name() == ops::kReduceCombine.name;
  std::vector<TaskArg> parts;
  for (std::int64_t i = 0; i < arrays.front().n_chunks(); ++i) {
    parts.emplace_back(chunk_op(arrays, op, name, i, args, resources));
  }
  TaskArg root = tree_reduce(std::move(parts), split_every, [&](std::vector<TaskArg> group, int level, std::int64_t index) {
    std::vector<TaskArg> combine_args;
    if (sum) combine_args.emplace_back(std::string("sum"));  // reduce_combine's kind
    combine_args.push_back(list_arg(group));
    return chunk_task(combine_op, name + "-combine-" + std::to_string(level), index, std::move(combine_args));
  });
  return client.compute<Value>(root.delayed_deps().front()).result();
}

Value reduce_over_chunks(Client& client, const Array& X, OpName op, const std::vector<Value>& args,
                         OpName combine_op, ResourceList resources, int split_every) {
  return reduce_over_chunks(
      client, std::vector<Array>{X}, op, [&](std::int64_t) { return args; }, combine_op, std::move(resources),
      split_every);
}

std::vector<Value> map_over_chunks(Client& client, const std::vector<Array>& arrays, OpName op,
                                   const ChunkArgs& args, ResourceList resources) {
  std::string name = new_name(op.str());
  std::vector<Delayed> tasks;
  for (std::int64_t i = 0; i < arrays.front().n_chunks(); ++i) {
    tasks.push_back(chunk_op(arrays, op, name, i, args, resources));
  }
  auto values = client.gather_values(client.compute(tasks));
  if (!values.ok()) throw TaskError(values.status());
  return std::move(values).value();
}

NDArray find_classes(Client& client, const Array& y) {
  auto parts = map_over_chunks(client, {y}, ops::kGlmClasses, [&](std::int64_t chunk) {
    return std::vector<Value>{chunk, y.name()};
  });
  std::vector<double> labels;
  for (const Value& part : parts) {
    const NDArray& a = part.get<NDArray>();
    labels.insert(labels.end(), a.data<double>(), a.data<double>() + a.size());
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(labels.size())});
  std::copy(labels.begin(), labels.end(), out.mutable_data<double>());
  return out;
}

}  // namespace dtask::ml::internal
