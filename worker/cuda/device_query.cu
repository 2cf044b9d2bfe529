#include "worker/cuda/device_query.h"

#include <cuda_runtime.h>

namespace dtask::cuda {

Result<DeviceProperties> query_device0() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return Status::not_found(std::string("no CUDA device: ") + cudaGetErrorString(err));
  if (count == 0) return Status::not_found("no CUDA device");
  cudaDeviceProp prop;
  err = cudaGetDeviceProperties(&prop, 0);
  if (err != cudaSuccess) {
    return Status::not_found(std::string("CUDA device 0: cudaGetDeviceProperties: ") + cudaGetErrorString(err));
  }
  return DeviceProperties{prop.name, static_cast<std::uint64_t>(prop.totalGlobalMem)};
}

}  // namespace dtask::cuda
