// The CPU-only build's stand-in for device_query.cu: there is never a device.
#include "worker/cuda/device_query.h"

namespace dtask::cuda {

Result<DeviceProperties> query_device0() {
  return Status::not_found("dtask was built without CUDA (configure with -DDTASK_CUDA=ON)");
}

}  // namespace dtask::cuda
