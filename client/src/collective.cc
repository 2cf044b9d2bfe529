// tree_allreduce: level by level, groups of fan_in futures combined by one task.
#include "dtask/collective.h"

#include "client/src/array_internal.h"
#include "dtask/client.h"

namespace dtask {

Future<Value> tree_allreduce(Client& client, const std::vector<FutureBase>& parts, const std::string& combine_op,
                             int fan_in) {
  if (parts.empty()) array_internal::fail("tree_allreduce: no parts to reduce");
  if (fan_in < 2) array_internal::fail("tree_allreduce: fan_in must be >= 2, got " + std::to_string(fan_in));
  std::vector<FutureBase> level = parts;
  std::vector<double> weights(parts.size(), 1.0);
  while (level.size() > 1) {
    std::vector<FutureBase> next;
    std::vector<double> next_weights;
    for (std::size_t begin = 0; begin < level.size(); begin += static_cast<std::size_t>(fan_in)) {
      const std::size_t end = std::min(level.size(), begin + static_cast<std::size_t>(fan_in));
      if (end - begin == 1) {  // an odd one out goes up a level as it is
        next.push_back(level[begin]);
        next_weights.push_back(weights[begin]);
        continue;
      }
      std::vector<TaskArg> group(level.begin() + static_cast<std::ptrdiff_t>(begin),
                                 level.begin() + static_cast<std::ptrdiff_t>(end));
      NDArray group_weights = NDArray::from_vector(
          std::vector<double>(weights.begin() + static_cast<std::ptrdiff_t>(begin),
                              weights.begin() + static_cast<std::ptrdiff_t>(end)));
      double total = 0;
      for (std::size_t i = begin; i < end; ++i) total += weights[i];
      next.push_back(client.submit(combine_op, TaskArg(group), group_weights));
      next_weights.push_back(total);
    }
    level = std::move(next);
    weights = std::move(next_weights);
  }
  return Future<Value>(level.front());
}

}  // namespace dtask
