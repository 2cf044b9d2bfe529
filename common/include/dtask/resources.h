// Abstract resources, as Dask's: a worker declares what it has
// (`dtask-worker --resources "GPU=1 MEM=16e9"`) and a task what it needs
// (SubmitOptions::resources); the scheduler runs a task only where enough
// is free.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dtask {

/// Name and amount pairs, e.g. {{"GPU", 1}}.
using ResourceList = std::vector<std::pair<std::string, double>>;

}  // namespace dtask
