// Small helpers shared by the end-to-end suites: the arguments of a test
// scheduler, and the scheduler's JSON snapshot parsed for assertions.
#pragma once

#include <gtest/gtest.h>

#include <dtask/client.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dtask::testing {

/// A scheduler on an ephemeral loopback port (its dashboard too, so suites
/// run in parallel), quiet, with 100 ms heartbeats so that memory reports
/// arrive quickly.
inline std::vector<std::string> test_scheduler_args() {
  return {"--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
          "--log-level", "warn", "--heartbeat-interval-ms", "100"};
}

/// Client::scheduler_info() parsed; an empty object (and a test failure) if it fails.
inline nlohmann::json scheduler_info(Client& client) {
  auto json = client.scheduler_info();
  EXPECT_TRUE(json.ok()) << json.status().to_string();
  return json.ok() ? nlohmann::json::parse(*json) : nlohmann::json::object();
}

/// The snapshot of the worker called `name`, or an empty object.
inline nlohmann::json worker_info(Client& client, const std::string& name) {
  nlohmann::json snapshot = scheduler_info(client);  // must outlive the loop over its workers
  for (const auto& worker : snapshot["workers"]) {
    if (worker["name"] == name) return worker;
  }
  return nlohmann::json::object();
}

}  // namespace dtask::testing
