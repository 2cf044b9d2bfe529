// Binding a worker process to one GPU (dtask-worker --device N): the
// option's checks, the CUDA_VISIBLE_DEVICES value that leaves that device
// alone visible (so that it is CUDA device 0 inside the process), and the
// device the worker reports to the scheduler.
#pragma once

#include <cstdint>
#include <string>

#include "common/messages.h"
#include "dtask/status.h"

namespace dtask::worker {

/// Checks --device's value: a decimal index from 0, on a worker that
/// declares a GPU resource (`resources` has GPU > 0). Invalid, naming the
/// value and the fix, otherwise. Thread-safe.
Result<std::uint32_t> parse_device_option(const std::string& text, const ResourceList& resources);

/// What CUDA_VISIBLE_DEVICES must be so that the process sees device
/// `index` alone. `inherited` is the variable's present value (nullptr:
/// unset): when it is set, `index` counts among the devices it lists, as
/// CUDA numbers them (under Slurm's "2,3", --device 1 is "3"); unset, it
/// is `index` itself. Invalid when the list is shorter. Thread-safe.
Result<std::string> cuda_visible_devices_for(std::uint32_t index, const char* inherited);

/// A worker bound to a GPU, as bind_to_gpu() left it.
struct GpuBinding {
  msg::GpuDevice device;        // what the worker reports to the scheduler
  std::string visible_devices;  // the CUDA_VISIBLE_DEVICES it set
  std::string no_device;        // why device.name is empty (no CUDA build, no device); empty when it is known
};

/// Sets CUDA_VISIBLE_DEVICES for device `index` (see
/// cuda_visible_devices_for), then asks CUDA for the device's name and
/// memory; without CUDA or a device the binding keeps the index alone.
/// Call once, before any CUDA call and before other threads start (it
/// changes the environment). Not thread-safe.
Result<GpuBinding> bind_to_gpu(std::uint32_t index);

}  // namespace dtask::worker
