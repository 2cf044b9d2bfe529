// A ResourceList as a JSON object ({"GPU": 2}), written the same way by the
// dashboard's API (dashboard_json.cc) and by scheduler_info()'s snapshot
// (snapshot.cc).
#pragma once

#include <nlohmann/json.hpp>

#include "common/messages.h"

namespace dtask::scheduler::internal {

/// One member per resource, in the list's order. Thread-safe (pure).
inline nlohmann::json resources_json(const ResourceList& resources) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, amount] : resources) out[name] = amount;
  return out;
}

}  // namespace dtask::scheduler::internal
