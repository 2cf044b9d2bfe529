// The workers a cluster has, as the scheduler lists them in
// scheduler_info(): what the estimators size their work by (a search's
// slots per thread, one SGD replica per worker, a GPU for KMeans). One
// parser of that JSON for all of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/client.h"
#include "dtask/resources.h"

namespace dtask::internal {

struct ClusterWorker {
  std::string name;
  std::string address;
  std::int64_t nthreads = 1;
  std::uint64_t memory_limit = 0;  // 0: unlimited
  ResourceList resources;

  /// The amount of resource `name` it declares (0 when none).
  double resource(const std::string& name) const;
};

/// The connected workers, in the scheduler's order. Throws TaskError when
/// the scheduler cannot be asked.
std::vector<ClusterWorker> cluster_workers(Client& client);

}  // namespace dtask::internal
