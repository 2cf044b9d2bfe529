// tree_allreduce: level by level, groups of fan_in futures combined by one task.
// ring_allreduce: reduce-scatter of row segments along the ring, then one
// join of the reduced segments per part.
#include "dtask/collective.h"

#include "client/src/array_internal.h"
#include "dtask/builtin_ops.h"
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

namespace {

/// Row bounds of `n` near-equal segments of `rows` rows.
std::vector<std::int64_t> segment_bounds(std::int64_t rows, std::int64_t n) {
  std::vector<std::int64_t> bounds;
  for (std::int64_t s = 0; s <= n; ++s) bounds.push_back(rows * s / n);
  return bounds;
}

}  // namespace

std::vector<Future<Value>> ring_allreduce(Client& client, const std::vector<FutureBase>& parts, RingOptions options) {
  if (parts.empty()) array_internal::fail("ring_allreduce: no parts to reduce");
  if (options.rows < 1) array_internal::fail("ring_allreduce: rows must be >= 1, got " + std::to_string(options.rows));
  if (options.cols < 0) array_internal::fail("ring_allreduce: cols must be >= 0, got " + std::to_string(options.cols));
  const auto p = static_cast<std::int64_t>(parts.size());
  if (p == 1) return {Future<Value>(parts.front())};
  const std::int64_t n_segments = std::min(p, options.rows);
  const std::vector<std::int64_t> bounds = segment_bounds(options.rows, n_segments);
  auto segment_of = [&](std::int64_t part, std::int64_t s) {
    return client.submit(ops::kSliceBlock, parts[static_cast<std::size_t>(part)], bounds[s], bounds[s + 1],
                         std::int64_t{0}, options.cols, false);
  };
  // Reduce-scatter: segment s starts at part s + 1 and travels the ring, each
  // step adding the next part's piece where one of the two inputs already is.
  std::vector<FutureBase> reduced;
  for (std::int64_t s = 0; s < n_segments; ++s) {
    FutureBase sum = segment_of((s + 1) % p, s);
    for (std::int64_t k = 2; k <= p; ++k) {
      sum = client.submit(ops::kElemwise, std::string("add"), sum, segment_of((s + k) % p, s));
    }
    if (options.mean) sum = client.submit(ops::kElemwise, std::string("div"), sum, static_cast<double>(p));
    reduced.push_back(sum);
  }
  // Allgather: each part's result joins every reduced segment.
  ValueList ranges;  // each reduced segment whole: [0, its rows)
  for (std::int64_t s = 0; s < n_segments; ++s) {
    ranges.emplace_back(std::int64_t{0});
    ranges.emplace_back(bounds[s + 1] - bounds[s]);
  }
  const TaskArg segments(std::vector<TaskArg>(reduced.begin(), reduced.end()));
  std::vector<Future<Value>> out;
  for (std::int64_t i = 0; i < p; ++i) {
    out.emplace_back(client.submit(ops::kAssembleRows, segments, ranges));
  }
  return out;
}

}  // namespace dtask
