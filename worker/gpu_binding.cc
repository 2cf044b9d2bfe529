#include "worker/gpu_binding.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>
#include <vector>

#include "worker/cuda/device_query.h"

namespace dtask::worker {

namespace {

/// `text` without leading and trailing blanks.
std::string trimmed(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

}  // namespace

Result<std::uint32_t> parse_device_option(const std::string& text, const ResourceList& resources) {
  const std::string value = trimmed(text);
  if (!value.empty() && value[0] == '-' && value.size() > 1 && std::isdigit(static_cast<unsigned char>(value[1]))) {
    return Status::invalid("--device " + value + " is negative: devices are numbered from 0");
  }
  std::uint32_t index = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), index);
  if (value.empty() || error == std::errc::invalid_argument || end != value.data() + value.size()) {
    return Status::invalid("--device '" + text + "' is not a device index (give a number from 0, e.g. --device 0)");
  }
  if (error == std::errc::result_out_of_range) return Status::invalid("--device " + value + " is out of range");
  bool has_gpu = false;
  for (const auto& [name, amount] : resources) has_gpu |= name == "GPU" && amount > 0;
  if (!has_gpu) {
    return Status::invalid("--device " + value + " binds a GPU, but this worker declares none: add --resources GPU=1");
  }
  return index;
}

Result<std::string> cuda_visible_devices_for(std::uint32_t index, const char* inherited) {
  if (inherited == nullptr) return std::to_string(index);
  std::vector<std::string> devices;
  const std::string_view list(inherited);
  for (std::size_t start = 0; start <= list.size();) {
    std::size_t comma = std::min(list.find(',', start), list.size());
    std::string entry = trimmed(list.substr(start, comma - start));
    if (!entry.empty()) devices.push_back(std::move(entry));
    start = comma + 1;
  }
  if (index >= devices.size()) {
    return Status::invalid("--device " + std::to_string(index) + ": CUDA_VISIBLE_DEVICES=\"" + std::string(list) +
                           "\" lets this process see " + std::to_string(devices.size()) +
                           (devices.size() == 1 ? " device" : " devices") +
                           " (--device counts among them, from 0; unset it to number all devices)");
  }
  return devices[index];
}

Result<GpuBinding> bind_to_gpu(std::uint32_t index) {
  DTASK_ASSIGN_OR_RETURN(std::string visible, cuda_visible_devices_for(index, ::getenv("CUDA_VISIBLE_DEVICES")));
  if (::setenv("CUDA_VISIBLE_DEVICES", visible.c_str(), 1) != 0) {
    return Status::internal("cannot set CUDA_VISIBLE_DEVICES");
  }
  GpuBinding binding;
  binding.device.index = index;
  binding.visible_devices = std::move(visible);
  Result<cuda::DeviceProperties> properties = cuda::query_device0();
  if (properties.ok()) {
    binding.device.name = properties->name;
    binding.device.memory = properties->memory;
  } else {
    binding.no_device = properties.status().message();
  }
  return binding;
}

}  // namespace dtask::worker
