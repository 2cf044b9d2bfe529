// The graph the fault-tolerance suites kill things in the middle of: leaves
// that each sleep and return their value, summed by a tree of fan-in 8.
#pragma once

#include <dtask/delayed.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace dtask::testing {

struct ReductionGraph {
  Delayed root;
  std::int64_t expected = 0;  // the sum the root must return
  std::size_t tasks = 0;      // leaves plus sums
};

/// `leaves` leaves returning offset, offset+1, ... after sleeping
/// `sleep_seconds` each; a distinct offset gives a graph distinct keys.
inline ReductionGraph reduction_graph(std::int64_t leaves, double sleep_seconds, std::int64_t offset) {
  std::int64_t expected = 0;
  std::vector<Delayed> level;
  for (std::int64_t i = 0; i < leaves; ++i) {
    expected += i + offset;
    level.push_back(delayed("sleep")(sleep_seconds, i + offset));
  }
  std::size_t tasks = level.size();
  while (level.size() > 1) {
    std::vector<Delayed> next;
    for (std::size_t i = 0; i < level.size(); i += 8) {
      std::vector<Delayed> group(level.begin() + static_cast<std::ptrdiff_t>(i),
                                 level.begin() + static_cast<std::ptrdiff_t>(std::min(level.size(), i + 8)));
      next.push_back(delayed("sum")(group));
    }
    tasks += next.size();
    level = std::move(next);
  }
  return {level.front(), expected, tasks};
}

}  // namespace dtask::testing
