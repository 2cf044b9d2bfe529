// What the CUDA runtime says about this process's device 0: for a worker
// bound to one GPU (dtask-worker --device), that is the bound device. Built
// from device_query.cu with -DDTASK_CUDA=ON, from device_query_stub.cc
// otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "dtask/status.h"

namespace dtask::cuda {

struct DeviceProperties {
  std::string name;          // e.g. "NVIDIA H200"
  std::uint64_t memory = 0;  // total device memory, bytes
};

/// Name and total memory of CUDA device 0, or NotFound saying why there is
/// none (built without CUDA, no device visible, the CUDA error). The CUDA
/// runtime reads CUDA_VISIBLE_DEVICES once, at its first call: set it
/// before calling this. Thread-safe.
Result<DeviceProperties> query_device0();

}  // namespace dtask::cuda
