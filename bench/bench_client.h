// What the bench drivers (kmeans_bench.cc, glm_bench.cc) share: connecting
// to the cluster the script started (or a LocalCluster), waiting for its
// workers, persisting inputs, and timing.
#pragma once

#include <dtask/array.h>
#include <dtask/client.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace dtask::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The number of workers the scheduler knows, or -1 if it cannot say.
inline int worker_count(Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) return -1;
  return static_cast<int>(nlohmann::json::parse(*info)["workers"].size());
}

/// A client of the cluster at `scheduler`, or of a fresh LocalCluster
/// (`workers` x 1 thread) when it is empty, with all `workers` registered
/// (bounded wait). Exits with a message prefixed by `name` on failure.
inline std::unique_ptr<Client> connect(const char* name, const std::string& scheduler, unsigned workers) {
  std::unique_ptr<Client> client;
  if (scheduler.empty()) {
    client = std::make_unique<Client>(LocalClusterOptions{.n_workers = workers, .threads_per_worker = 1});
    std::printf("%s: LocalCluster, %u workers x 1 thread (in-process)\n", name, workers);
  } else {
    auto connected = Client::connect(scheduler);
    if (!connected.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, connected.status().to_string().c_str());
      std::exit(1);
    }
    client = std::move(*connected);
  }
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (worker_count(*client) < static_cast<int>(workers)) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "%s: %d of %u workers after 30 s\n", name, worker_count(*client), workers);
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return client;
}

/// `a` persisted, once every chunk is in memory (persist() returns once submitted).
inline Array persisted(Client& client, const Array& a) {
  Array p = a.persist(client);
  std::vector<FutureBase> chunks;
  for (std::int64_t i = 0; i < p.n_chunks(); ++i) {
    for (const auto& f : p.chunk(i).future_deps()) chunks.push_back(f);
  }
  Status loaded = client.wait(chunks);
  if (!loaded.ok()) throw TaskError(loaded);
  return p;
}

}  // namespace dtask::bench
