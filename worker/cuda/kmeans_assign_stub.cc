// The CPU-only build's stand-in for kmeans_assign.cu: no device, and a clear
// error if a "_gpu" op runs anyway.
#include "worker/cuda/kmeans_assign.h"

namespace dtask::cuda {

bool device_available() { return false; }

std::string device_description() { return "dtask was built without CUDA (configure with -DDTASK_CUDA=ON)"; }

std::string assign_nearest(const double*, std::int64_t, std::int64_t, const double*, std::int64_t, std::int64_t*,
                           double*) {
  return device_description();
}

}  // namespace dtask::cuda
