// dtask-bench-work-stealing: the graph work stealing is for, on a running
// cluster of two workers. One chunk of data is made on the first worker,
// then --tasks `sleep` tasks of --seconds each read it: placement sends them
// all to that worker (it holds their input), where they run one after the
// other unless the other worker steals some. bench/work_stealing.sh runs it
// against a scheduler with stealing on and one started --no-work-stealing.
// Prints KEY=VALUE lines: seconds (submit to last result), stolen (steals
// the scheduler confirmed), on_first / on_second (tasks each worker ran).
#include <dtask/client.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"Long tasks piled onto the worker holding their input, with or without work stealing"};
  std::string scheduler;
  int tasks = 40;
  double seconds = 0.25;
  app.add_option("--scheduler", scheduler, "Scheduler address")->required();
  app.add_option("--tasks", tasks, "Long tasks reading the one chunk")->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds each long task runs")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto connected = dtask::Client::connect(scheduler);
  if (!connected.ok()) {
    std::fprintf(stderr, "connect: %s\n", connected.status().to_string().c_str());
    return 1;
  }
  dtask::Client& client = **connected;
  auto info = [&] { return nlohmann::json::parse(*client.scheduler_info()); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (info()["workers"].size() < 2) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "the two workers did not register within 30 s\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::string> names;
  const nlohmann::json registered = info();  // kept: a loop over info()["workers"] would read a dead temporary
  for (const auto& w : registered["workers"]) names.push_back(w["name"].get<std::string>());
  auto data = client.submit<dtask::Value>(dtask::SubmitOptions{.workers = {names[0]}}, "arange", std::int64_t{1000});
  if (!data.wait().ok()) return 1;

  const auto start = std::chrono::steady_clock::now();
  std::vector<dtask::Future<dtask::Value>> results;
  for (int i = 0; i < tasks; ++i) results.push_back(client.submit<dtask::Value>("sleep", seconds, data));
  for (auto& r : results) {
    if (!r.wait().ok()) {
      std::fprintf(stderr, "a task failed\n");
      return 1;
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json state = info();
  std::printf("seconds=%.3f\n", elapsed);
  std::printf("stolen=%d\n", state["stealing"]["confirmed"].get<int>());
  for (const auto& w : state["workers"]) {
    std::printf("%s=%d\n", w["name"] == names[0] ? "on_first" : "on_second", w["tasks_done"].get<int>());
  }
  return 0;
}
