// One graph per pass over X: an op per chunk, then a tree or a gather.
#include <functional>

#include "client/src/array_internal.h"
#include "client/src/ml/kmeans_passes_internal.h"
#include "dtask/client.h"

namespace dtask::ml::internal {

using namespace array_internal;

Value reduce_over_chunks(Client& client, const Array& X, const std::string& part_op, const std::vector<Value>& args,
                         const std::string& combine_op, ResourceList resources, int split_every) {
  std::string name = new_name(part_op);
  std::vector<TaskArg> parts;
  for (std::int64_t i = 0; i < X.n_chunks(); ++i) {
    std::vector<TaskArg> task_args{X.chunk(i)};
    for (const Value& v : args) task_args.emplace_back(v);
    parts.emplace_back(chunk_task(part_op, name, i, std::move(task_args), resources));
  }
  TaskArg root = tree_reduce(std::move(parts), split_every, [&](std::vector<TaskArg> group, int level, std::int64_t index) {
    std::vector<TaskArg> combine_args;
    if (combine_op == "sum") combine_args.emplace_back(std::string("sum"));  // reduce_combine's kind
    combine_args.push_back(list_arg(group));
    return chunk_task(combine_op == "sum" ? "reduce_combine" : combine_op,
                      name + "-combine-" + std::to_string(level), index, std::move(combine_args));
  });
  return client.compute<Value>(root.delayed_deps().front()).result();
}

std::vector<Value> map_over_chunks(Client& client, const Array& X, const std::string& op,
                                   const std::function<std::vector<Value>(std::int64_t chunk)>& args,
                                   ResourceList resources) {
  std::string name = new_name(op);
  std::vector<Delayed> tasks;
  for (std::int64_t i = 0; i < X.n_chunks(); ++i) {
    std::vector<TaskArg> task_args{X.chunk(i)};
    for (Value& v : args(i)) task_args.emplace_back(std::move(v));
    tasks.push_back(chunk_task(op, name, i, std::move(task_args), resources));
  }
  auto values = client.gather_values(client.compute(tasks));
  if (!values.ok()) throw TaskError(values.status());
  return std::move(values).value();
}

NDArray fetch_rows(Client& client, const Array& X, const std::vector<std::int64_t>& rows) {
  std::vector<Array> picked;
  for (std::int64_t row : rows) picked.push_back(X.slice_rows(row, row + 1));
  return concatenate(picked).astype(DType::kFloat64).compute(client);
}

}  // namespace dtask::ml::internal
