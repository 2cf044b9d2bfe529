// A worker's declared resources as JSON ({"GPU": 2}) and the GPU it is bound
// to, written the same way by the dashboard's API (dashboard_json.cc) and by
// scheduler_info()'s snapshot (snapshot.cc).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "common/messages.h"

namespace dtask::scheduler::internal {

/// One member per resource, in the list's order. Thread-safe (pure).
inline nlohmann::json resources_json(const ResourceList& resources) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, amount] : resources) out[name] = amount;
  return out;
}

/// {"index": 0, "name": "NVIDIA H200", "memory": bytes} for a worker bound to
/// a GPU (name "" and memory 0 when the worker could not ask CUDA), null for
/// one that is not. Thread-safe (pure).
inline nlohmann::json gpu_json(const std::optional<msg::GpuDevice>& gpu) {
  if (!gpu) return nullptr;
  return {{"index", gpu->index}, {"name", gpu->name}, {"memory", gpu->memory}};
}

}  // namespace dtask::scheduler::internal
