#include "client/src/cluster_workers.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace dtask::internal {

double ClusterWorker::resource(const std::string& wanted) const {
  for (const auto& [name, amount] : resources) {
    if (name == wanted) return amount;
  }
  return 0;
}

std::vector<ClusterWorker> cluster_workers(Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) throw TaskError(info.status());
  const nlohmann::json snapshot = nlohmann::json::parse(*info);  // outlives the loop over its workers
  std::vector<ClusterWorker> out;
  for (const auto& w : snapshot.value("workers", nlohmann::json::array())) {
    ClusterWorker worker;
    worker.name = w.value("name", std::string());
    worker.address = w.at("address").get<std::string>();
    worker.nthreads = std::max<std::int64_t>(1, w.value("nthreads", 1));
    worker.memory_limit = w.value("memory_limit", std::uint64_t{0});
    if (w.contains("resources") && w["resources"].is_object()) {
      for (const auto& [name, amount] : w["resources"].items()) {
        if (amount.is_number()) worker.resources.emplace_back(name, amount.get<double>());
      }
    }
    out.push_back(std::move(worker));
  }
  return out;
}

}  // namespace dtask::internal
